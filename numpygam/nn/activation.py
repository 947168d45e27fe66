"""Activation modules (no parameters), for use in Sequential."""
from .. import functional as F
from .module import PairModule


class ReLU(PairModule):
    """y = max(x, 0)."""
    op_forward, op_backward = staticmethod(F.relu_forward), staticmethod(F.relu_backward)


class Tanh(PairModule):
    """y = tanh(x)."""
    op_forward, op_backward = staticmethod(F.tanh_forward), staticmethod(F.tanh_backward)


class Sigmoid(PairModule):
    """y = 1 / (1 + exp(-x))."""
    op_forward, op_backward = staticmethod(F.sigmoid_forward), staticmethod(F.sigmoid_backward)


class GELU(PairModule):
    """y = x Phi(x), Phi the standard normal's CDF (Hendrycks & Gimpel 2016), exact erf form."""
    op_forward, op_backward = staticmethod(F.gelu_forward), staticmethod(F.gelu_backward)
