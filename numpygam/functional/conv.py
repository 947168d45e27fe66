"""2-D convolution (cross-correlation, as PyTorch computes it): the textbook way first.

    y[b, o, i, j] = bias[o] + sum_{c, u, v} W[o, c, u, v] xp[b, g(o) + c, s i + u, s j + v]

x: (B, Cin, H, W)   W: (Cout, Cin / groups, K, K)   b: (Cout,)   stride s in {1, 2}
xp is x padded by `padding` ("zeros" or "replicate"), so the output is
(B, Cout, Ho, Wo) with Ho = (H + 2 padding - K) // s + 1 (likewise Wo); g(o)
is the first input channel of output channel o's group.

Backward (per group):
    db = sum_{b,i,j} dy
    dW[o, c, u, v] = sum_{b,i,j} dy[b, o, i, j] xp[b, c, s i + u, s j + v]
    dxp[b, c, s i + u, s j + v] += dy[b, o, i, j] W[o, c, u, v]
        (the "full" correlation of dy, with zeros between its entries when s = 2,
        with the kernel rotated by 180 degrees and in/out channels swapped)
    dx  = the backward of the padding applied to dxp.

This file is the textbook method, im2col: every K x K patch becomes a column and the
convolution one matrix product per group.  conv2d_by_loops, first, is the formula above
as loops, one output at a time: too slow to train with, there to read (and to check
im2col against).  The same op computed faster (channels-last
im2col in chunks, and the convolution theorem for 7 x 7 kernels) is on the fast floor,
numpygam.fast.conv2d_forward, tested equal to this one.
"""
from typing import NamedTuple, Optional

import numpy as np

from ._checks import conv_arguments
from .padding import pad2d_backward, pad2d_forward


def group_slices(Cin, Cout, groups):
    """(input channels, output channels) of each group: slices of x's and W's channels."""
    Cin_g, Cout_g = Cin // groups, Cout // groups
    return [(slice(g * Cin_g, (g + 1) * Cin_g), slice(g * Cout_g, (g + 1) * Cout_g))
            for g in range(groups)]


def conv2d_by_loops(x, W, b=None, stride=1, padding=0, padding_mode="zeros", groups=1):
    """y[b, o, i, j] = bias[o] + sum_{c, u, v} W[o, c, u, v] xp[b, g(o) + c, s i + u, s j + v],
    computed as written: a loop over o, i and j (each output of the whole batch at once).

    x: (B, Cin, H, W)   W: (Cout, Cin/groups, K, K)   b: (Cout,) or None
    -> y: (B, Cout, Ho, Wo), as conv2d_forward's y (forward only: for reading).
    """
    conv_arguments("conv2d_by_loops", x, W, b, stride, padding, padding_mode, groups)
    xp, _ = pad2d_forward(x, padding, padding_mode)
    Cout, Cin_g, K = W.shape[0], W.shape[1], W.shape[2]
    Ho, Wo = (xp.shape[2] - K) // stride + 1, (xp.shape[3] - K) // stride + 1
    y = np.zeros((x.shape[0], Cout, Ho, Wo), x.dtype)
    for o in range(Cout):
        first = (o // (Cout // groups)) * Cin_g      # g(o): the first input channel of o's group
        for i in range(Ho):
            for j in range(Wo):
                patch = xp[:, first:first + Cin_g, stride * i:stride * i + K,
                           stride * j:stride * j + K]                    # (B, Cin_g, K, K)
                y[:, o, i, j] = np.sum(patch * W[o], axis=(1, 2, 3))
        if b is not None:
            y[:, o] += b[o]
    return y


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


class Conv2dCache(NamedTuple):
    cols: list            # per group, (Cin_g K K, B Ho Wo)
    W: np.ndarray
    has_bias: bool
    stride: int
    groups: int
    xp_shape: tuple
    pad_cache: tuple


def conv2d_forward(x, W, b=None, stride=1, padding=0, padding_mode="zeros", groups=1):
    """The textbook convolution: pad, im2col, one matrix product per group.

    y[o, (b, i, j)] = sum_{(c, u, v)} W[o, (c, u, v)] cols[(c, u, v), (b, i, j)] + bias[o]

    x: (B, Cin, H, W)   W: (Cout, Cin/groups, K, K)   b: (Cout,) or None
    -> y: (B, Cout, Ho, Wo), Ho = (H + 2 padding - K) // stride + 1 (likewise Wo).
    im2col holds Cin K^2 B Ho Wo values at once.
    Backward: dW = dy cols^T, dcols = W^T dy, dx = col2im(dcols) then the padding's
    backward, db = sum dy.  Returns (dx, dW, db).
    """
    conv_arguments("conv2d_forward", x, W, b, stride, padding, padding_mode, groups)
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
    return np.ascontiguousarray(y), Conv2dCache(cols, W, b is not None, stride, groups,
                                                xp.shape, pad_cache)


def conv2d_backward(dy, cache):
    """Backward of the textbook convolution, per group g:

        dW_g = dy_g cols_g^T      (Cout_g, Cin_g K K), reshaped to (Cout_g, Cin_g, K, K)
        dcols_g = W_g^T dy_g      (Cin_g K K, B Ho Wo)
        dxp = col2im(dcols)       (B, Cin, Hp, Wp): each column entry added back where
                                  im2col read it
        dx = pad backward(dxp)    (B, Cin, H, W)
        db = sum_{b,i,j} dy       (Cout,)

    dy: (B, Cout, Ho, Wo), as dy_g (Cout_g, B Ho Wo) per group
    cache: Conv2dCache: cols (per group, (Cin_g K K, B Ho Wo)), W, has_bias,
           stride, groups, xp_shape, pad_cache
    Returns (dx, dW, db); db is None without a bias.
    """
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
