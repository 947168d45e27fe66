"""The affine map y = x W^T + b (PyTorch's nn.Linear layout: W is (Dout, Din))."""
from typing import NamedTuple, Optional

import numpy as np

from ._checks import dim_equal, float_array, same_dtype


class LinearCache(NamedTuple):
    x: np.ndarray
    W: np.ndarray
    has_bias: bool


def linear_arguments(op, x, W, b):
    """Raise unless x W^T + b is a valid call: float arrays, x (..., Din), W (Dout, Din),
    b (Dout,) or None, one dtype.  op: the name the error starts with."""
    float_array(op, "x", x, min_ndim=1)
    float_array(op, "W", W, ndim=2)
    dim_equal(op, "x.shape[-1] must equal W.shape[1] (Din)", x.shape[-1], W.shape[1])
    if b is not None:
        float_array(op, "b", b, ndim=1)
        dim_equal(op, "b.shape[0] must equal W.shape[0] (Dout)", b.shape[0], W.shape[0])
    same_dtype(op, x=x, W=W, b=b)


def linear_forward(x, W, b=None):
    """y = x W^T + b.

    x: (..., Din)   W: (Dout, Din)   b: (Dout,) or None   ->   y: (..., Dout)

    Backward, with every leading axis of x treated as a batch axis:
        dx = dy W                       (..., Din)
        dW = sum over batch of dy^T x   (Dout, Din)
        db = sum over batch of dy       (Dout,)
    """
    linear_arguments("linear_forward", x, W, b)
    rows = x.reshape(-1, W.shape[1])         # every leading axis a batch axis: (N, Din)
    y = rows @ W.T
    if b is not None:
        y = y + b
    return y.reshape(x.shape[:-1] + (W.shape[0],)), LinearCache(x, W, b is not None)


def linear_backward(dy, cache):
    """Backward of y = x W^T + b.

    dy: (..., Dout)   cache: LinearCache(x (..., Din), W (Dout, Din), has_bias)
    -> dx = dy W                         (..., Din)
       dW = sum over batch of dy^T x     (Dout, Din)
       db = sum over batch of dy         (Dout,), or None when the forward had no bias
    """
    x, W = cache.x, cache.W
    rows, drows = x.reshape(-1, W.shape[1]), dy.reshape(-1, W.shape[0])   # (N, Din), (N, Dout)
    dx = (drows @ W).reshape(x.shape)
    dW = drows.T @ rows
    db: Optional[np.ndarray] = drows.sum(axis=0) if cache.has_bias else None
    return dx, dW, db
