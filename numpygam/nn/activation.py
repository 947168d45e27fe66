"""Activation modules (no parameters), for use in Sequential."""
from .. import functional as F
from .module import Module


class ReLU(Module):
    """y = max(x, 0)."""

    def forward(self, x):
        y, self._cache = F.relu_forward(x)
        return y

    def backward(self, dy):
        return F.relu_backward(dy, self._cache)


class Tanh(Module):
    """y = tanh(x)."""

    def forward(self, x):
        y, self._cache = F.tanh_forward(x)
        return y

    def backward(self, dy):
        return F.tanh_backward(dy, self._cache)


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x))."""

    def forward(self, x):
        y, self._cache = F.sigmoid_forward(x)
        return y

    def backward(self, dy):
        return F.sigmoid_backward(dy, self._cache)
