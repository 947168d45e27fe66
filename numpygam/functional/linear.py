"""The affine map y = x W^T + b (PyTorch's nn.Linear layout: W is (Dout, Din))."""
from typing import NamedTuple, Optional

import numpy as np

from ._checks import dim_equal, float_array, same_dtype
from ._matmul import matmul_last


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
    y = matmul_last(x, W.T)
    if b is not None:
        y += b                   # y is a new array: adding in place saves a copy
    return y, LinearCache(x, W, b is not None)


def linear_backward(dy, cache):
    """Backward of y = x W^T + b.

    dy: (..., Dout)   cache: LinearCache(x (..., Din), W (Dout, Din), has_bias)
    -> dx = dy W                         (..., Din)
       dW = sum over batch of dy^T x     (Dout, Din)
       db = sum over batch of dy         (Dout,), or None when the forward had no bias
    """
    x, W = cache.x, cache.W
    dx = matmul_last(dy, W)
    dy2 = dy.reshape(-1, W.shape[0])
    dW = dy2.T @ x.reshape(-1, W.shape[1])
    # ones @ dy2 is dy2.sum(axis=0) as a BLAS product: 13 us against 34 us at (1280, 128)
    # (benchmarks/bench_idioms.py)
    db: Optional[np.ndarray] = np.ones(len(dy2), dy.dtype) @ dy2 if cache.has_bias else None
    return dx, dW, db
