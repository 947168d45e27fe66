"""2-D convolution by channels-last im2col: the textbook path (conv.py) made fast.

Same op, signature and results as F.conv2d_forward (functional/conv.py) / _backward, with
three differences, all measured (benchmarks/bench_conv.py):
  1. im2col is one strided view of xp (np.lib.stride_tricks.sliding_window_view),
     copied one chunk of images at a time (at most 16 MB) into a (rows, K K Cin)
     matrix; chunks that size are recycled by the allocator, where a whole-batch
     im2col (100 MB at B=8, C=64, 32x32) is page-faulted in afresh on every call,
     which costs more than the copy saved by keeping it for the backward;
  2. channels-last: the copy moves runs of Cin contiguous values (2-3x faster
     than the runs of K a channels-first im2col moves), and each chunk is a
     single GEMM with W;
  3. dx never builds the (rows, Cin K K) column gradient that col2im scatters:
     it is either the flipped-kernel correlation (conv.py's docstring), computed
     by the forward code, or a sum over kernel offsets, whichever copies less
     (_input_grad).
"""
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..functional._checks import conv_arguments
from ..functional.conv import group_slices
from ..functional.padding import pad2d_backward, pad2d_forward

CHUNK_ELEMENTS = 1 << 22  # largest im2col chunk: 4M values (16 MB in float32)


def _to_rows(x):
    """(B, C, H, W) -> contiguous channels-last (B, H, W, C)."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def _chunks(B, per_image):
    step = max(1, CHUNK_ELEMENTS // max(per_image, 1))
    return [slice(start, start + step) for start in range(0, B, step)]


def _windows(xp, K, stride):
    """im2col as a view: (B, Ho, Wo, K, K, C) from channels-last xp (B, Hp, Wp, C)."""
    w = sliding_window_view(xp, (K, K), axis=(1, 2))[:, ::stride, ::stride]
    return w.transpose(0, 1, 2, 4, 5, 3)


def _kernel_matrix(W):
    """(O, C, K, K) -> (K K C, O), the row order of _windows."""
    return W.transpose(2, 3, 1, 0).reshape(-1, W.shape[0])


def _correlate(xp, W, stride):
    """y = xp (*) W, no padding, one group, channels-last in and out.

    xp: (B, Hp, Wp, C)   W: (O, C, K, K)   ->   y: (B, Ho, Wo, O)
    One GEMM per chunk of images: (rows, K K C) @ (K K C, O).
    """
    windows = _windows(xp, W.shape[2], stride)
    B, Ho, Wo = windows.shape[:3]
    Wm = _kernel_matrix(W)
    y = np.empty((B, Ho, Wo, W.shape[0]), dtype=xp.dtype)
    for chunk in _chunks(B, Ho * Wo * Wm.shape[0]):
        y[chunk] = (windows[chunk].reshape(-1, Wm.shape[0]) @ Wm).reshape(y[chunk].shape)
    return y


def _weight_grad(xp, dy, K, stride):
    """dW[o, c, u, v] = sum dy[b, i, j, o] xp[b, s i + u, s j + v, c], one group, chunked."""
    windows = _windows(xp, K, stride)
    B, C, O = xp.shape[0], xp.shape[3], dy.shape[3]
    dWm = np.zeros((K * K * C, O), dtype=xp.dtype)
    for chunk in _chunks(B, dy.shape[1] * dy.shape[2] * K * K * C):
        dWm += windows[chunk].reshape(-1, K * K * C).T @ dy[chunk].reshape(-1, O)
    return dWm.reshape(K, K, C, O).transpose(3, 2, 0, 1)


def _input_grad(dy, W, stride, padded_shape):
    """dxp, the gradient with respect to the padded input, one group, channels-last.

    Two equal formulas; the one that copies less is used (both measured):
      Cout <= Cin: the full correlation of (dilated) dy with the rotated,
                   transposed kernel, by _correlate (copies Cout K^2 values per pixel);
      Cout >  Cin: for each kernel offset (u, v), dxp[:, s i + u, s j + v] +=
                   dy[:, i, j] W[:, :, u, v]  (adds Cin K^2 values per pixel).
    """
    B, Ho, Wo, O = dy.shape
    C, K = W.shape[1], W.shape[2]
    Hp, Wp = padded_shape
    if O > C:
        dy_rows = dy.reshape(-1, O)
        dxp = np.zeros((B, Hp, Wp, C), dtype=dy.dtype)
        for u in range(K):
            for v in range(K):
                dxp[:, u:u + stride * Ho:stride, v:v + stride * Wo:stride] += \
                    (dy_rows @ W[:, :, u, v]).reshape(B, Ho, Wo, C)
        return dxp
    if stride > 1:  # put zeros between dy's entries so that stride 1 can be used
        dilated = np.zeros((B, (Ho - 1) * stride + 1, (Wo - 1) * stride + 1, O), dy.dtype)
        dilated[:, ::stride, ::stride] = dy
        dy = dilated
    # pad by K - 1 on the top/left, and on the bottom/right also by the rows the
    # strided forward never reached, so that the result covers all of xp
    extra_h, extra_w = Hp - (dy.shape[1] + K - 1), Wp - (dy.shape[2] + K - 1)
    dyp = np.pad(dy, ((0, 0), (K - 1, K - 1 + extra_h), (K - 1, K - 1 + extra_w), (0, 0)))
    return _correlate(dyp, W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3), 1)


class Conv2dGemmCache(NamedTuple):
    xp: np.ndarray        # the padded input, channels-last (B, Hp, Wp, Cin)
    W: np.ndarray
    has_bias: bool
    stride: int
    groups: int
    pad_cache: tuple


def conv2d_gemm_forward(x, W, b=None, stride=1, padding=0, padding_mode="zeros", groups=1):
    """y = conv2d(x, W) + b (conv2d_forward's op) by channels-last im2col, one GEMM per chunk.

    x: (B, Cin, H, W)   W: (Cout, Cin/groups, K, K)   b: (Cout,) or None
    -> y: (B, Cout, Ho, Wo),  Ho = (H + 2 padding - K) // stride + 1
    Per group, with cols the (rows, K K Cin_g) windows:  y = cols W_m,  dW_m = cols^T dy,
    dx by _input_grad.  Backward returns (dx, dW, db).
    """
    conv_arguments("conv2d_gemm_forward", x, W, b, stride, padding, padding_mode, groups)
    xp, pad_cache = pad2d_forward(x, padding, padding_mode)
    xp = _to_rows(xp)
    y = np.concatenate([_correlate(xp[..., ins], W[outs], stride)
                        for ins, outs in group_slices(x.shape[1], W.shape[0], groups)], axis=3)
    if b is not None:
        y += b
    return np.ascontiguousarray(y.transpose(0, 3, 1, 2)), \
        Conv2dGemmCache(xp, W, b is not None, stride, groups, pad_cache)


def conv2d_gemm_backward(dy, cache):
    """Backward of conv2d_gemm_forward (formulas: F.conv2d_forward (functional/conv.py)).

    dy: (B, Cout, Ho, Wo)   cache: Conv2dGemmCache (xp (B, Hp, Wp, Cin) channels-last, W,
    has_bias, stride, groups, pad_cache)
    -> dx (B, Cin, H, W), dW (Cout, Cin/groups, K, K), db (Cout,) or None without a bias.
    """
    xp, W, s = cache.xp, cache.W, cache.stride
    dy_rows = _to_rows(dy)
    dxp, dW = [], []
    for ins, outs in group_slices(xp.shape[3], W.shape[0], cache.groups):
        dxp.append(_input_grad(dy_rows[..., outs], W[outs], s, xp.shape[1:3]))
        dW.append(_weight_grad(xp[..., ins], dy_rows[..., outs], W.shape[2], s))
    dxp = np.concatenate(dxp, axis=3).transpose(0, 3, 1, 2)
    db = dy.sum(axis=(0, 2, 3)) if cache.has_bias else None
    return np.ascontiguousarray(pad2d_backward(dxp, cache.pad_cache)), \
        np.concatenate(dW, axis=0), db
