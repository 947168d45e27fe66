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


AXES = (0, 2, 3)  # batch norm's sums and means: over images and pixels, one per channel


def batch_norm_moments(x):
    """mu = mean(x), var = mean((x - mu)^2) per channel, over N = B H W values.

    x: (B, C, H, W)  ->  mu (C,), var (C,) (the biased variance)
    """
    mu = x.mean(axis=AXES)
    centred = x - mu[:, None, None]
    return mu, np.mean(centred * centred, axis=AXES)


def batch_norm_apply(x, gamma, beta, mu, var, eps):
    """y = gamma xhat + beta, xhat = (x - mu) / sqrt(var + eps), per channel.

    x: (B, C, H, W)   gamma, beta, mu, var: (C,)
    -> y (B, C, H, W), xhat (B, C, H, W), inv_std = 1 / sqrt(var + eps) (C,), in x's dtype
    """
    inv_std = (1 / np.sqrt(var + eps)).astype(x.dtype)
    xhat = (x - mu[:, None, None].astype(x.dtype)) * inv_std[:, None, None]
    return xhat * gamma[:, None, None] + beta[:, None, None], xhat, inv_std


def batch_norm_arguments(op, x, gamma, beta, running_mean, running_var, training):
    """Raise unless x is (B, C, H, W), the four vectors are (C,) float arrays, and (in
    training) there is more than one value per channel to estimate a variance from."""
    float_array(op, "x", x, ndim=4)
    C = x.shape[1]
    for name, v in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean),
                    ("running_var", running_var)):
        float_array(op, name, v, ndim=1)
        dim_equal(op, f"{name}.shape[0] must equal the channels x.shape[1]", v.shape[0], C)
    if training and x.shape[0] * x.shape[2] * x.shape[3] < 2:
        raise ValueError(f"{op}: training needs more than one value per channel to "
                         f"estimate a variance, got x of shape {x.shape}; use eval mode "
                         "or a larger batch")


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
    batch_norm_arguments("batch_norm2d_forward", x, gamma, beta, running_mean, running_var,
                         training)
    if training:
        N = x.shape[0] * x.shape[2] * x.shape[3]
        mu, var = batch_norm_moments(x)
        new_mean, new_var = updated_running_stats(running_mean, running_var, mu, var, N, momentum)
    else:
        mu, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
        new_mean = new_var = None
    y, xhat, inv_std = batch_norm_apply(x, gamma, beta, mu, var, eps)
    return y, BatchNormCache(xhat, gamma, inv_std, training, new_mean, new_var)


def batch_norm_sums(dy, xhat):
    """The parameters' gradients, sums over N = B H W values per channel:

        dgamma = sum dy xhat,   dbeta = sum dy

    dy, xhat: (B, C, H, W)  ->  dgamma (C,), dbeta (C,)
    """
    # BEGIN SOLUTION
    return np.sum(dy * xhat, axis=AXES), dy.sum(axis=AXES)
    # END SOLUTION


def batch_norm_dx(dy, cache, dgamma, dbeta, N):
    """The input's gradient, given the sums dgamma = sum dy xhat and dbeta = sum dy:

        training:  dx = (g - mean(g) - xhat mean(g xhat)) inv_std,   g = dy gamma,
                   mean(g) = gamma dbeta / N,   mean(g xhat) = gamma dgamma / N
        eval:      dx = g inv_std   (mu and var are the running statistics: constants)

    dy: (B, C, H, W)   cache: BatchNormCache (xhat, gamma, inv_std, training)
    dgamma, dbeta: (C,)   N: the number of values per channel the sums ran over
    -> dx (B, C, H, W)
    """
    # BEGIN SOLUTION
    g = dy * cache.gamma[:, None, None]
    if not cache.training:
        return g * cache.inv_std[:, None, None]
    mean_g = (cache.gamma * dbeta / N)[:, None, None]
    mean_gx = (cache.gamma * dgamma / N)[:, None, None]
    return (g - mean_g - cache.xhat * mean_gx) * cache.inv_std[:, None, None]
    # END SOLUTION


def batch_norm2d_backward(dy, cache):
    """Backward of batch normalisation (formulas: batch_norm2d_forward).

    dy: (B, C, H, W)   cache: BatchNormCache(xhat (B, C, H, W), gamma (C,), inv_std
    1/sqrt(var + eps) (C,), training, the updated running statistics)
    With g = dy gamma and means over N = B H W values per channel:
    -> dx = (g - mean(g) - xhat mean(g xhat)) inv_std   (training)    (B, C, H, W)
       dx = g inv_std                                    (eval)
       dgamma = sum dy xhat (C,),   dbeta = sum dy (C,)
    In two pieces, batch_norm_sums then batch_norm_dx: a batch split into shares adds
    its shares' sums before the dx of any share (numpygam.fast.gam).
    """
    dgamma, dbeta = batch_norm_sums(dy, cache.xhat)
    N = dy.shape[0] * dy.shape[2] * dy.shape[3]
    return batch_norm_dx(dy, cache, dgamma, dbeta, N), dgamma, dbeta
