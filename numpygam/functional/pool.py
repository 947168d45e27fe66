"""Pooling over (B, C, H, W) maps: max, average, and global average."""
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import float_array


def _check_pool(op, x, kernel_size, stride):
    float_array(op, "x", x, ndim=4)
    if kernel_size < 1 or stride < 1:
        raise ValueError(f"{op}: kernel_size and stride must be >= 1, got {kernel_size}, {stride}")
    if x.shape[2] < kernel_size or x.shape[3] < kernel_size:
        raise ValueError(f"{op}: input {x.shape[2]}x{x.shape[3]} is smaller than the "
                         f"{kernel_size}x{kernel_size} window")


class PoolCache(NamedTuple):
    x_shape: tuple
    kernel_size: int
    stride: int
    argmax: np.ndarray  # max pooling: window offset (u K + v) of each max; None for average


def max_pool2d_forward(x, kernel_size, stride=None):
    """y[b, c, i, j] = max_{u, v < K} x[b, c, s i + u, s j + v]   (no padding).

    x: (B, C, H, W) -> y: (B, C, (H - K) // s + 1, (W - K) // s + 1); stride s defaults to K.
    Backward: dy goes to the (first) maximal element of each window; overlapping
    windows (s < K) add up.
    """
    stride = stride or kernel_size
    _check_pool("max_pool2d_forward", x, kernel_size, stride)
    K = kernel_size
    windows = sliding_window_view(x, (K, K), axis=(2, 3))[:, :, ::stride, ::stride]
    flat = windows.reshape(windows.shape[:4] + (K * K,))
    argmax = flat.argmax(axis=-1)
    y = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
    return y, PoolCache(x.shape, K, stride, argmax)


def avg_pool2d_forward(x, kernel_size, stride=None):
    """y[b, c, i, j] = mean_{u, v < K} x[b, c, s i + u, s j + v]   (no padding).

    x: (B, C, H, W) -> y: (B, C, (H - K) // s + 1, (W - K) // s + 1); stride s defaults to K.
    Backward: each element of a window receives dy / K^2; overlapping windows add up.
    """
    stride = stride or kernel_size
    _check_pool("avg_pool2d_forward", x, kernel_size, stride)
    windows = sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))[:, :, ::stride,
                                                                             ::stride]
    return windows.mean(axis=(-2, -1)), PoolCache(x.shape, kernel_size, stride, None)


def _pool_backward(dy, cache):
    K, s = cache.kernel_size, cache.stride
    Ho, Wo = dy.shape[2:]
    dx = np.zeros(cache.x_shape, dtype=dy.dtype)
    for u in range(K):
        for v in range(K):
            share = dy / (K * K) if cache.argmax is None else dy * (cache.argmax == u * K + v)
            dx[:, :, u:u + s * Ho:s, v:v + s * Wo:s] += share
    return dx


def max_pool2d_backward(dy, cache):
    """dx[window max] += dy: each output's gradient goes to the input that was its maximum.

    dy: (B, C, Ho, Wo)   cache: PoolCache(x's shape, K, stride, argmax (B, C, Ho, Wo))
    -> dx: (B, C, H, W); overlapping windows add up.
    """
    return _pool_backward(dy, cache)


def avg_pool2d_backward(dy, cache):
    """dx[window] += dy / K^2: each output's gradient spread evenly over its window.

    dy: (B, C, Ho, Wo)   cache: PoolCache(x's shape, K, stride, argmax None)
    -> dx: (B, C, H, W); overlapping windows add up.
    """
    return _pool_backward(dy, cache)


def global_avg_pool_forward(x):
    """y[b, c] = mean_{h, w} x[b, c, h, w].   x: (B, C, H, W) -> y: (B, C).

    Backward: dx[b, c, h, w] = dy[b, c] / (H W).
    """
    float_array("global_avg_pool_forward", "x", x, ndim=4)
    return x.mean(axis=(2, 3)), x.shape


def global_avg_pool_backward(dy, x_shape):
    """dx[b, c, h, w] = dy[b, c] / (H W).

    dy: (B, C)   cache: x's shape (B, C, H, W)
    -> dx: (B, C, H, W).
    """
    H, W = x_shape[2:]
    return np.broadcast_to((dy / (H * W))[:, :, None, None], x_shape).copy()
