"""nn.LayerNorm, as torch.nn.LayerNorm over the last axis (weight, bias)."""
import numpy as np

from .. import functional as F
from .module import Module, Parameter, add_grads, data, positive_ints


class LayerNorm(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last axis (formulas:
    numpygam/functional/layer_norm.py).  x: (..., D) -> (..., D).

    normalized_shape: D, or (D,) (PyTorch also takes several trailing axes; numpygam
    normalises over the last one only).  elementwise_affine=False: no weight and no
    bias; bias=False: a weight only.  weight starts at ones and bias at zeros.
    backward(dy) -> dx.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 dtype=np.float32):
        shape = tuple(normalized_shape) if isinstance(normalized_shape, (tuple, list)) \
            else (normalized_shape,)
        if len(shape) != 1:
            raise ValueError(f"LayerNorm: numpygam normalises over the last axis only; give "
                             f"normalized_shape as one integer, got {normalized_shape!r}")
        positive_ints("LayerNorm", normalized_shape=shape[0])
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be a number > 0, got {eps!r}")
        self.normalized_shape, self.eps = shape, eps
        self.weight = Parameter(np.ones(shape, dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dtype)) if elementwise_affine and bias else None

    def forward(self, x):
        y, cache = F.layer_norm_forward(x, data(self.weight), data(self.bias), self.eps)
        self.push_cache(cache)
        return y

    def backward(self, dy):
        dx, dweight, dbias = F.layer_norm_backward(dy, self.pop_cache())
        add_grads((self.weight, dweight), (self.bias, dbias))
        return dx

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}"
