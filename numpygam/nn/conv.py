"""nn.Conv2d and nn.BatchNorm2d, with PyTorch's parameters, buffers and semantics."""
import math

import numpy as np

from .. import fast
from .. import functional as F
from ..fast.conv import METHODS
from . import init
from .module import Module, Parameter, add_grads, data, positive_ints


class Conv2d(Module):
    """y = conv2d(x, weight) + bias.  x: (B, Cin, H, W) -> y: (B, Cout, Ho, Wo).

    weight: (out_channels, in_channels / groups, K, K), bias: (out_channels,),
    both U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels / groups * K^2,
    as PyTorch initialises them.  padding_mode: "zeros" or "replicate".
    self.fast (nn.Module's switch): True (default) numpygam.fast.conv2d_forward with
    `method`: "auto" (default: the DFT for stride 1 and kernels of 5 x 5 or more, 7 x 7
    in GAM's spatial gate, the GEMM path otherwise), "gemm" (im2col, channels-last,
    chunked), "dft" (the convolution theorem) or "reference" (the textbook);
    False: the textbook im2col, F.conv2d_forward.  The same numbers whichever is chosen.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 padding_mode="zeros", groups=1, bias=True, method="auto", dtype=np.float32,
                 rng=None):
        positive_ints("Conv2d", in_channels=in_channels, out_channels=out_channels,
                      kernel_size=kernel_size, stride=stride, groups=groups)
        if method not in METHODS:
            raise ValueError(f"Conv2d: method must be one of {METHODS}, got {method!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        if padding_mode not in ("zeros", "replicate"):
            raise ValueError(f"Conv2d: padding_mode must be 'zeros' or 'replicate', got "
                             f"{padding_mode!r}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding, self.padding_mode, self.groups = stride, padding, padding_mode, groups
        self.method = method
        fan_in = in_channels // groups * kernel_size ** 2
        bound = 1 / math.sqrt(fan_in)
        self.weight = Parameter(init.uniform(
            (out_channels, in_channels // groups, kernel_size, kernel_size), bound, rng, dtype))
        self.bias = Parameter(init.uniform((out_channels,), bound, rng, dtype)) if bias else None

    def forward(self, x):
        args = (x, self.weight.data, data(self.bias), self.stride, self.padding,
                self.padding_mode, self.groups)
        if self.fast:   # GEMM or DFT (method), the batch in shares where that pays
            y, cache = fast.conv2d_forward(*args, method=self.method)
        else:           # the textbook im2col
            y, cache = F.conv2d_forward(*args)
        self.push_cache((self.fast, cache))
        return y

    def backward(self, dy):
        was_fast, cache = self.pop_cache()
        backward = fast.conv2d_backward if was_fast else F.conv2d_backward
        dx, dW, db = backward(dy, cache)
        add_grads((self.weight, dW), (self.bias, db))
        return dx

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, padding_mode={self.padding_mode!r}, "
                f"groups={self.groups}")


class BatchNorm2d(Module):
    """Per-channel batch normalisation with learned scale (weight) and shift (bias).

    Buffers running_mean (zeros), running_var (ones), num_batches_tracked (int64),
    updated in train mode with `momentum` exactly as torch.nn.BatchNorm2d does;
    eval mode normalises with the running statistics.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, dtype=np.float32):
        positive_ints("BatchNorm2d", num_features=num_features)
        if not eps > 0:
            raise ValueError(f"BatchNorm2d: eps must be a number > 0, got {eps!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm2d: momentum must lie in [0, 1], got {momentum!r}")
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype))
        self.bias = Parameter(np.zeros(num_features, dtype))
        self.register_buffer("running_mean", np.zeros(num_features, dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype))
        self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def forward(self, x):
        y, cache = F.batch_norm2d_forward(
            x, self.weight.data, self.bias.data, running_mean=self.running_mean,
            running_var=self.running_var, training=self.training, momentum=self.momentum,
            eps=self.eps)
        if self.training:
            self.update_running_stats(cache.running_mean, cache.running_var)
        self.push_cache(cache)
        return y

    def update_running_stats(self, mean, var):
        self.running_mean, self.running_var = mean, var
        self.num_batches_tracked = self.num_batches_tracked + 1

    def backward(self, dy):
        dx, dgamma, dbeta = F.batch_norm2d_backward(dy, self.pop_cache())
        add_grads((self.weight, dgamma), (self.bias, dbeta))
        return dx

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"
