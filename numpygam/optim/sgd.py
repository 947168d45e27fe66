"""Stochastic gradient descent with momentum, PyTorch's update exactly."""
import numpy as np


class SGD:
    """For each parameter p with gradient g (torch.optim.SGD's formulas):

        g <- g + weight_decay * p
        buf <- g                                       (first step)
        buf <- momentum * buf + (1 - dampening) * g    (later steps)
        g <- g + momentum * buf  if nesterov  else  buf
        p <- p - lr * g
    """

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        if lr <= 0:
            raise ValueError(f"SGD: lr must be > 0, got {lr}")
        if momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: momentum and weight_decay must be >= 0, got "
                             f"{momentum} and {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening = 0")
        self.params = list(params)
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov
        self.buffers = [None] * len(self.params)

    def zero_grad(self):
        for p in self.params:
            p.grad = np.zeros_like(p.data)

    def step(self):
        for i, p in enumerate(self.params):
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                if self.buffers[i] is None:
                    self.buffers[i] = g.copy()
                else:
                    self.buffers[i] = self.momentum * self.buffers[i] + (1 - self.dampening) * g
                g = g + self.momentum * self.buffers[i] if self.nesterov else self.buffers[i]
            p.data -= (self.lr * g).astype(p.data.dtype, copy=False)
