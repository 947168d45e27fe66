"""2-D convolution (cross-correlation, as PyTorch computes it), fast and reference.

    y[b, o, i, j] = bias[o] + sum_{c, u, v} W[o, c, u, v] xp[b, g(o) + c, s i + u, s j + v]

x: (B, Cin, H, W)   W: (Cout, Cin / groups, K, K)   b: (Cout,)   stride s in {1, 2}
xp is x padded by `padding` ("zeros" or "replicate"), so the output is
(B, Cout, Ho, Wo) with Ho = (H + 2 padding - K) // s + 1 (likewise Wo).

Backward (per group):
    db = sum_{b,i,j} dy
    dW[o, c, u, v] = sum_{b,i,j} dy[b, o, i, j] xp[b, c, s i + u, s j + v]
    dxp = the "full" correlation of dy (zeros between its entries when s = 2)
          with the kernel rotated by 180 degrees and in/out channels swapped;
    dx  = the backward of the padding applied to dxp.

Three implementations with the same signature and results:
  conv2d_reference_forward / ..._backward   the textbook im2col, to read first
  conv2d_gemm_forward / ..._backward        im2col made fast (below)
  conv2d_dft_forward / ..._backward         the convolution theorem (conv_dft.py)
conv2d_forward / conv2d_backward, used by nn.Conv2d, run the DFT path for
stride 1 and K >= DFT_MIN_KERNEL (GAM's 7 x 7 convolutions: 1.7-2.4x faster than
the GEMM path, bench_conv.py) and the GEMM path otherwise (3 x 3, stride 2).
The GEMM path differs from the reference in three ways, all measured:
  1. im2col is one strided view of xp (np.lib.stride_tricks.sliding_window_view),
     copied one chunk of images at a time (at most 16 MB) into a (rows, K K Cin)
     matrix; chunks that size are recycled by the allocator, where a whole-batch
     im2col (100 MB at B=8, C=64, 32x32) is page-faulted in afresh on every call,
     which costs more than the copy saved by keeping it for the backward;
  2. channels-last: the copy moves runs of Cin contiguous values (2-3x faster
     than the runs of K a channels-first im2col moves), and each chunk is a
     single GEMM with W;
  3. dx never builds the (rows, Cin K K) column gradient that col2im scatters:
     it is either the flipped-kernel correlation above, computed by the forward
     code, or a sum over kernel offsets, whichever copies less (_input_grad).
"""
from typing import NamedTuple, Optional

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import conv_arguments
from .conv_dft import Conv2dDFTCache, conv2d_dft_backward, conv2d_dft_forward, group_slices
from .padding import pad2d_backward, pad2d_forward


# -- the GEMM path (channels-last im2col) ---------------------------------------------
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


class Conv2dCache(NamedTuple):
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
    dx as in the module docstring (_input_grad).  Backward returns (dx, dW, db).
    """
    conv_arguments("conv2d_gemm_forward", x, W, b, stride, padding, padding_mode, groups)
    xp, pad_cache = pad2d_forward(x, padding, padding_mode)
    xp = _to_rows(xp)
    y = np.concatenate([_correlate(xp[..., ins], W[outs], stride)
                        for ins, outs in group_slices(x.shape[1], W.shape[0], groups)], axis=3)
    if b is not None:
        y += b
    return np.ascontiguousarray(y.transpose(0, 3, 1, 2)), \
        Conv2dCache(xp, W, b is not None, stride, groups, pad_cache)


def conv2d_gemm_backward(dy, cache):
    """Returns (dx, dW, db); db is None without a bias (formulas: the module docstring)."""
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


DFT_MIN_KERNEL = 5  # from 5 x 5 up the DFT path is the faster one at stride 1


def conv2d_forward(x, W, b=None, stride=1, padding=0, padding_mode="zeros", groups=1):
    """y = conv2d(x, W) + b, as torch.nn.functional.conv2d.

        y[b, o, i, j] = bias[o] + sum_{c, u, v} W[o, c, u, v] xp[b, g(o) + c, s i + u, s j + v]

    x: (B, Cin, H, W)   W: (Cout, Cin/groups, K, K)   b: (Cout,) or None
    -> y: (B, Cout, Ho, Wo),  Ho = (H + 2 padding - K) // stride + 1
    Backward (conv2d_backward) returns (dx, dW, db):
        db = sum_{b,i,j} dy
        dW[o, c, u, v] = sum_{b,i,j} dy[b, o, i, j] xp[b, c, s i + u, s j + v]
        dxp[b, c, s i + u, s j + v] += dy[b, o, i, j] W[o, c, u, v],  dx = pad backward(dxp)

    Runs conv2d_dft_forward for stride 1 and K >= DFT_MIN_KERNEL, else
    conv2d_gemm_forward: the faster of the two, as measured by
    benchmarks/bench_conv.py.
    """
    conv_arguments("conv2d_forward", x, W, b, stride, padding, padding_mode, groups)
    if stride == 1 and W.shape[2] >= DFT_MIN_KERNEL:
        return conv2d_dft_forward(x, W, b, stride, padding, padding_mode, groups)
    return conv2d_gemm_forward(x, W, b, stride, padding, padding_mode, groups)


def conv2d_backward(dy, cache):
    """Returns (dx, dW, db) for conv2d_forward's cache; db is None without a bias."""
    if isinstance(cache, Conv2dDFTCache):
        return conv2d_dft_backward(dy, cache)
    return conv2d_gemm_backward(dy, cache)


# -- the textbook reference ---------------------------------------------------------

def im2col(xp, K, stride):
    """cols[(c, u, v), (b, i, j)] = xp[b, c, s i + u, s j + v], one kernel offset at a time.

    xp: (B, C, Hp, Wp) -> cols: (C K K, B Ho Wo)
    """
    B, C, Hp, Wp = xp.shape
    Ho, Wo = (Hp - K) // stride + 1, (Wp - K) // stride + 1
    cols = np.empty((C, K, K, B, Ho, Wo), dtype=xp.dtype)
    for u in range(K):
        for v in range(K):
            patch = xp[:, :, u:u + stride * Ho:stride, v:v + stride * Wo:stride]
            cols[:, u, v] = patch.transpose(1, 0, 2, 3)
    return cols.reshape(C * K * K, B * Ho * Wo)


def col2im(cols, xp_shape, K, stride):
    """The adjoint of im2col: add every column entry back where it was read from."""
    B, C, Hp, Wp = xp_shape
    Ho, Wo = (Hp - K) // stride + 1, (Wp - K) // stride + 1
    cols = cols.reshape(C, K, K, B, Ho, Wo)
    dxp = np.zeros(xp_shape, dtype=cols.dtype)
    for u in range(K):
        for v in range(K):
            dxp[:, :, u:u + stride * Ho:stride, v:v + stride * Wo:stride] += \
                cols[:, u, v].transpose(1, 0, 2, 3)
    return dxp


class Conv2dReferenceCache(NamedTuple):
    cols: list            # per group, (Cin_g K K, B Ho Wo)
    W: np.ndarray
    has_bias: bool
    stride: int
    groups: int
    xp_shape: tuple
    pad_cache: tuple


def conv2d_reference_forward(x, W, b=None, stride=1, padding=0, padding_mode="zeros",
                             groups=1):
    """The textbook convolution: pad, im2col, one matrix product per group.

    y[o, (b, i, j)] = sum_{(c, u, v)} W[o, (c, u, v)] cols[(c, u, v), (b, i, j)] + bias[o]

    x: (B, Cin, H, W)   W: (Cout, Cin/groups, K, K)   b: (Cout,) or None
    -> y: (B, Cout, Ho, Wo).  Same signature and results as conv2d_forward; slower,
    and im2col holds Cin K^2 B Ho Wo values at once.
    Backward: dW = dy cols^T, dcols = W^T dy, dx = col2im(dcols) then the padding's
    backward, db = sum dy.  Returns (dx, dW, db).
    """
    conv_arguments("conv2d_reference_forward", x, W, b, stride, padding, padding_mode, groups)
    xp, pad_cache = pad2d_forward(x, padding, padding_mode)
    B, K = x.shape[0], W.shape[2]
    Ho, Wo = (xp.shape[2] - K) // stride + 1, (xp.shape[3] - K) // stride + 1
    Cin_g, Cout_g = x.shape[1] // groups, W.shape[0] // groups
    outs, cols = [], []
    for g in range(groups):
        cols.append(im2col(xp[:, g * Cin_g:(g + 1) * Cin_g], K, stride))
        outs.append(W[g * Cout_g:(g + 1) * Cout_g].reshape(Cout_g, -1) @ cols[-1])
    y = np.concatenate(outs).reshape(W.shape[0], B, Ho, Wo).transpose(1, 0, 2, 3)
    if b is not None:
        y = y + b[:, None, None]
    return np.ascontiguousarray(y), Conv2dReferenceCache(cols, W, b is not None, stride, groups,
                                                         xp.shape, pad_cache)


def conv2d_reference_backward(dy, cache):
    """dW = dy cols^T,  dcols = W^T dy,  dxp = col2im(dcols),  dx = pad backward(dxp)."""
    # BEGIN SOLUTION
    W, G, K = cache.W, cache.groups, cache.W.shape[2]
    Cout_g = W.shape[0] // G
    B, C, Hp, Wp = cache.xp_shape
    dy2 = dy.transpose(1, 0, 2, 3).reshape(W.shape[0], -1)  # (Cout, B Ho Wo)
    dxp, dW = [], []
    for g in range(G):
        dy_g = dy2[g * Cout_g:(g + 1) * Cout_g]
        W_g = W[g * Cout_g:(g + 1) * Cout_g].reshape(Cout_g, -1)
        dW.append((dy_g @ cache.cols[g].T).reshape(Cout_g, C // G, K, K))
        dxp.append(col2im(W_g.T @ dy_g, (B, C // G, Hp, Wp), K, cache.stride))
    db: Optional[np.ndarray] = dy.sum(axis=(0, 2, 3)) if cache.has_bias else None
    return pad2d_backward(np.concatenate(dxp, axis=1), cache.pad_cache), np.concatenate(dW), db
    # END SOLUTION
