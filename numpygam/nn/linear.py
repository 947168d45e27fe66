"""nn.Linear: y = x W^T + b, parameters named weight and bias as in PyTorch."""
import math

import numpy as np

from .. import functional as F
from . import init
from .module import Module, Parameter, add_grads, data, positive_ints


class Linear(Module):
    """y = x W^T + b.  x: (..., in_features) -> y: (..., out_features).

    weight: (out_features, in_features), bias: (out_features,), both drawn
    from U(-1/sqrt(in_features), 1/sqrt(in_features)) as PyTorch does.
    """

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32, rng=None):
        positive_ints("Linear", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)
        self.weight = Parameter(init.uniform((out_features, in_features), bound, rng, dtype))
        self.bias = Parameter(init.uniform((out_features,), bound, rng, dtype)) if bias else None

    def forward(self, x):
        y, cache = F.linear_forward(x, self.weight.data, data(self.bias))
        self.push_cache(cache)
        return y

    def backward(self, dy):
        dx, dW, db = F.linear_backward(dy, self.pop_cache())
        add_grads((self.weight, dW), (self.bias, db))
        return dx

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
