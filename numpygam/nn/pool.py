"""Pooling and flattening modules for small CNNs."""
from .. import functional as F
from .module import Module, PairModule, positive_ints


class MaxPool2d(Module):
    """y = the maximum of each K x K window (stride defaults to K), no padding.

    x: (B, C, H, W) -> y: (B, C, (H - K) // s + 1, (W - K) // s + 1).
    """

    def __init__(self, kernel_size, stride=None):
        positive_ints(type(self).__name__, kernel_size=kernel_size, stride=stride or kernel_size)
        self.kernel_size, self.stride = kernel_size, stride or kernel_size

    def forward(self, x):
        y, cache = F.max_pool2d_forward(x, self.kernel_size, self.stride)
        self.push_cache(cache)
        return y

    def backward(self, dy):
        return F.max_pool2d_backward(dy, self.pop_cache())


class AvgPool2d(Module):
    """y = the mean of each K x K window (stride defaults to K), no padding.

    x: (B, C, H, W) -> y: (B, C, (H - K) // s + 1, (W - K) // s + 1).
    """

    def __init__(self, kernel_size, stride=None):
        positive_ints(type(self).__name__, kernel_size=kernel_size, stride=stride or kernel_size)
        self.kernel_size, self.stride = kernel_size, stride or kernel_size

    def forward(self, x):
        y, cache = F.avg_pool2d_forward(x, self.kernel_size, self.stride)
        self.push_cache(cache)
        return y

    def backward(self, dy):
        return F.avg_pool2d_backward(dy, self.pop_cache())


class GlobalAvgPool2d(PairModule):
    """(B, C, H, W) -> (B, C), the mean over H and W (AdaptiveAvgPool2d(1) + flatten)."""
    op_forward = staticmethod(F.global_avg_pool_forward)
    op_backward = staticmethod(F.global_avg_pool_backward)
