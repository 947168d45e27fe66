"""Activation modules (no parameters), for use in Sequential."""
from .. import functional as F
from .module import Module


class ReLU(Module):
    """y = max(x, 0)."""

    def forward(self, x):
        y, cache = F.relu_forward(x)
        self.push_cache(cache)
        return y

    def backward(self, dy):
        return F.relu_backward(dy, self.pop_cache())


class Tanh(Module):
    """y = tanh(x)."""

    def forward(self, x):
        y, cache = F.tanh_forward(x)
        self.push_cache(cache)
        return y

    def backward(self, dy):
        return F.tanh_backward(dy, self.pop_cache())


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x))."""

    def forward(self, x):
        y, cache = F.sigmoid_forward(x)
        self.push_cache(cache)
        return y

    def backward(self, dy):
        return F.sigmoid_backward(dy, self.pop_cache())
