"""Adam (Kingma and Ba 2015), PyTorch's update exactly."""
import numpy as np


class Adam:
    """For each parameter p with gradient g, at step t = 1, 2, ... (torch.optim.Adam):

        g <- g + weight_decay * p
        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g^2
        p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if lr <= 0 or eps < 0 or weight_decay < 0:
            raise ValueError(f"Adam: need lr > 0, eps >= 0, weight_decay >= 0; got lr={lr}, "
                             f"eps={eps}, weight_decay={weight_decay}")
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f"Adam: betas must lie in [0, 1), got {betas}")
        self.params = list(params)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.t = 0
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = np.zeros_like(p.data)

    def step(self):
        self.t += 1
        beta1, beta2 = self.betas
        step_size = self.lr / (1 - beta1 ** self.t)
        root_correction = np.sqrt(1 - beta2 ** self.t)
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            p.data -= (step_size * m / (np.sqrt(v) / root_correction + self.eps)).astype(
                p.data.dtype, copy=False)

    def state_dict(self):
        """Moments and step count, for checkpoints that resume exactly."""
        return {"t": np.array(self.t), **{f"m.{i}": m for i, m in enumerate(self.m)},
                **{f"v.{i}": v for i, v in enumerate(self.v)}}

    def load_state_dict(self, state):
        self.t = int(state["t"])
        for i in range(len(self.params)):
            self.m[i] = np.array(state[f"m.{i}"], dtype=self.params[i].data.dtype)
            self.v[i] = np.array(state[f"v.{i}"], dtype=self.params[i].data.dtype)
