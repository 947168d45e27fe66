"""Batch normalisation over (B, H, W) for each channel, as torch.nn.BatchNorm2d."""
from typing import NamedTuple, Optional

import numpy as np

from ._checks import dim_equal, float_array


class BatchNormCache(NamedTuple):
    xhat: np.ndarray
    gamma: np.ndarray
    inv_std: np.ndarray     # 1 / sqrt(var + eps), (C,)
    training: bool
    running_mean: Optional[np.ndarray]  # the updated running statistics (new arrays)
    running_var: Optional[np.ndarray]


def updated_running_stats(running_mean, running_var, mu, var, N, momentum):
    """PyTorch's update from a batch of N values per channel with mean mu and biased
    variance var (all (C,)), as new arrays in the running statistics' dtype:
        running_mean <- (1 - momentum) running_mean + momentum mu
        running_var  <- (1 - momentum) running_var + momentum var N / (N - 1)
    """
    new_mean = (1 - momentum) * running_mean + momentum * mu
    new_var = (1 - momentum) * running_var + momentum * var * (N / (N - 1))
    return new_mean.astype(running_mean.dtype), new_var.astype(running_var.dtype)


def batch_norm2d_forward(x, gamma, beta, running_mean, running_var, training=True,
                         momentum=0.1, eps=1e-5):
    """y = gamma * (x - mu) / sqrt(var + eps) + beta, per channel.

    x: (B, C, H, W)   gamma, beta, running_mean, running_var: (C,)   ->   y: (B, C, H, W)
    training: mu, var are the batch's mean and biased variance over N = B H W
              values; the running statistics are updated as PyTorch does,
                  running_mean <- (1 - momentum) running_mean + momentum mu
                  running_var  <- (1 - momentum) running_var + momentum var N / (N - 1)
              and returned as new arrays in cache.running_mean / running_var
              (the inputs are not modified).
    eval:     mu, var are running_mean, running_var, and nothing is updated.
    Backward (training), with xhat = (x - mu) / sqrt(var + eps), g = dy gamma:
        dx = (g - mean(g) - xhat mean(g xhat)) / sqrt(var + eps)
        dgamma = sum dy xhat,   dbeta = sum dy      (sums and means over B, H, W)
    Backward (eval): dx = dy gamma / sqrt(running_var + eps).
    Returns (dx, dgamma, dbeta).
    """
    op = "batch_norm2d_forward"
    float_array(op, "x", x, ndim=4)
    C = x.shape[1]
    for name, v in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                    ("running_var", running_var)):
        float_array(op, name, v, ndim=1)
        dim_equal(op, f"{name}.shape[0] must equal the channels x.shape[1]", v.shape[0], C)
    if training:
        N = x.shape[0] * x.shape[2] * x.shape[3]
        if N < 2:
            raise ValueError(f"{op}: training needs more than one value per channel to "
                             f"estimate a variance, got x of shape {x.shape}; use eval mode "
                             "or a larger batch")
        mu = x.mean(axis=(0, 2, 3))
        centred = x - mu[:, None, None]
        var = np.mean(centred * centred, axis=(0, 2, 3))
        new_mean, new_var = updated_running_stats(running_mean, running_var, mu, var, N, momentum)
    else:
        mu, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
        centred = x - mu[:, None, None]
        new_mean = new_var = None
    inv_std = (1 / np.sqrt(var + eps)).astype(x.dtype)
    xhat = centred * inv_std[:, None, None]
    y = xhat * gamma[:, None, None] + beta[:, None, None]
    return y, BatchNormCache(xhat, gamma, inv_std, training, new_mean, new_var)


def batch_norm2d_backward(dy, cache):
    """Backward of batch normalisation (formulas: batch_norm2d_forward).

    dy: (B, C, H, W)   cache: BatchNormCache(xhat (B, C, H, W), gamma (C,), inv_std
    1/sqrt(var + eps) (C,), training, the updated running statistics)
    With g = dy gamma and means over N = B H W values per channel:
    -> dx = (g - mean(g) - xhat mean(g xhat)) inv_std   (training)    (B, C, H, W)
       dx = g inv_std                                    (eval)
       dgamma = sum dy xhat (C,),   dbeta = sum dy (C,)
    """
    # BEGIN SOLUTION
    xhat = cache.xhat
    dgamma = np.sum(dy * xhat, axis=(0, 2, 3))
    dbeta = dy.sum(axis=(0, 2, 3))
    g = dy * cache.gamma[:, None, None]
    if not cache.training:
        return g * cache.inv_std[:, None, None], dgamma, dbeta
    N = xhat.shape[0] * xhat.shape[2] * xhat.shape[3]
    mean_g = (dbeta * cache.gamma / N)[:, None, None]
    mean_gx = (dgamma * cache.gamma / N)[:, None, None]
    dx = (g - mean_g - xhat * mean_gx) * cache.inv_std[:, None, None]
    return dx, dgamma, dbeta
    # END SOLUTION
