"""nn.Linear: y = x W^T + b, parameters named weight and bias as in PyTorch."""
import math

import numpy as np

from .. import fast
from .. import functional as F
from . import init
from .module import Module, Parameter, add_grads, data, positive_ints


class Linear(Module):
    """y = x W^T + b.  x: (..., in_features) -> y: (..., out_features).

    weight: (out_features, in_features), bias: (out_features,), both drawn
    from U(-1/sqrt(in_features), 1/sqrt(in_features)) as PyTorch does.
    self.fast (nn.Module's switch): True (default) numpygam.fast.linear_forward, False
    the textbook F.linear_forward; the same numbers.
    """

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32, rng=None):
        positive_ints("Linear", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)
        self.weight = Parameter(init.uniform((out_features, in_features), bound, rng, dtype))
        self.bias = Parameter(init.uniform((out_features,), bound, rng, dtype)) if bias else None

    def forward(self, x):
        if self.fast:   # the bias added in place, db as one BLAS product
            y, cache = fast.linear_forward(x, self.weight.data, data(self.bias))
        else:           # the textbook: y = x W^T + b
            y, cache = F.linear_forward(x, self.weight.data, data(self.bias))
        self.push_cache((self.fast, cache))
        return y

    def backward(self, dy):
        was_fast, cache = self.pop_cache()
        backward = fast.linear_backward if was_fast else F.linear_backward
        dx, dW, db = backward(dy, cache)
        add_grads((self.weight, dW), (self.bias, db))
        return dx

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
