"""Layer normalisation (Ba, Kiros, Hinton 2016) over the last axis, as torch.nn.LayerNorm.

Ba et al. (sec. 3) write a gain g and bias b and no eps; the exact form below, eps
and the names weight, bias are PyTorch's torch.nn.LayerNorm.

For each vector x of D features (one token, say):
    mu = mean(x),  var = mean((x - mu)^2)   (biased, as PyTorch)
    xhat = (x - mu) / sqrt(var + eps)
    y = xhat * weight + bias
Unlike batch norm nothing is shared across the batch, so training and eval
are the same computation and there are no running statistics.
"""
from typing import NamedTuple, Optional

import numpy as np

from ._checks import dim_equal, float_array, same_dtype


class LayerNormCache(NamedTuple):
    xhat: np.ndarray               # (..., D)
    inv_std: np.ndarray            # 1 / sqrt(var + eps), (..., 1)
    weight: Optional[np.ndarray]   # (D,) or None
    has_bias: bool


def layer_norm_forward(x, weight=None, bias=None, eps=1e-5):
    """y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias, over the last axis.

    x: (..., D)   weight, bias: (D,) or None (no scale / no shift)   -> y: (..., D)
    Backward: see layer_norm_backward.
    """
    op = "layer_norm_forward"
    float_array(op, "x", x)
    if x.ndim == 0:
        raise ValueError(f"{op}: x must have at least one axis (the D features), got a scalar")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None:
            dim_equal(op, f"{name}.shape must be (D,) with D = x.shape[-1]", p.shape,
                      (x.shape[-1],))
    same_dtype(op, x=x, weight=weight, bias=bias)
    if not eps > 0:
        raise ValueError(f"{op}: eps must be > 0, got {eps!r}")
    mu = x.mean(axis=-1, keepdims=True)
    centred = x - mu
    inv_std = 1 / np.sqrt(np.mean(centred * centred, axis=-1, keepdims=True) + eps)
    xhat = centred * inv_std
    y = xhat if weight is None else xhat * weight
    if bias is not None:
        y = y + bias
    return y, LayerNormCache(xhat, inv_std, weight, bias is not None)


def layer_norm_backward(dy, cache):
    """Backward of layer norm, with g = dy * weight (g = dy without a weight) and means
    over the D features of each vector:

        dx      = (g - mean(g) - xhat * mean(g * xhat)) * inv_std    (..., D)
        dweight = sum over every leading axis of dy * xhat           (D,)
        dbias   = sum over every leading axis of dy                  (D,)

    dy: (..., D)   cache: LayerNormCache(xhat (..., D), inv_std (..., 1), weight, has_bias)
    Returns (dx, dweight, dbias); dweight / dbias are None when weight / bias were None.
    (The same formula as batch norm's, with the mean over the features of one
    vector instead of over a channel's values in the batch.)
    """
    xhat, inv_std = cache.xhat, cache.inv_std
    g = dy if cache.weight is None else dy * cache.weight
    dx = (g - g.mean(axis=-1, keepdims=True)
          - xhat * np.mean(g * xhat, axis=-1, keepdims=True)) * inv_std
    lead = tuple(range(dy.ndim - 1))
    dweight = None if cache.weight is None else np.sum(dy * xhat, axis=lead)
    dbias = dy.sum(axis=lead) if cache.has_bias else None
    return dx, dweight, dbias
