"""conv2d_forward / conv2d_backward on the fast floor: F.conv2d's twin, by the fastest method.

    numpygam/functional/conv.py   the textbook im2col, F.conv2d_forward: read it first
    conv_gemm.py  the same im2col, channels-last and chunked ("gemm")
    conv_dft.py   the convolution theorem ("dft")
    this file     picks one (method="auto": the DFT for stride 1 and K >= 5), and
                  runs the DFT path on the batch in shares, one per core, where
                  that pays (dft_shares)

The formulas, forward and backward, are in functional/conv.py's docstring.  Measured
gain over the textbook twin: nn.GAM forward + backward (paper variant, float32, 2
cores) with its convolutions by the textbook im2col against this file's "auto", 139.6
against 45.0 ms at (8, 64, 32, 32) and 166.9 against 67.3 ms at (8, 256, 14, 14)
(`python benchmarks/bench_gam.py`, its im2col column, 2026-12-06; benchmarks/README.md);
bench_conv.py times the GEMM and DFT paths against each other, shape by shape.
"""
from typing import NamedTuple

import numpy as np

from ..functional._checks import conv_arguments, forward_output_shape
from ..functional.conv import conv2d_backward as textbook_conv2d_backward
from ..functional.conv import conv2d_forward as textbook_conv2d_forward
from . import parallel
from .conv_dft import Conv2dDFTCache, conv2d_dft_backward, conv2d_dft_forward
from .conv_gemm import Conv2dGemmCache, conv2d_gemm_backward, conv2d_gemm_forward

METHODS = ("reference", "gemm", "dft", "auto")
DFT_MIN_KERNEL = 5  # from 5 x 5 up the DFT path is the faster one at stride 1
DFT_MAX_RANGE = 2.0 ** 8   # the most max|x| / typical |x| that "auto" sends to the DFT (dft_is_local)
RANGE_SAMPLE = 1 << 12     # about this many of x's values give its typical |x|
SHARES_MAX_CHANNELS = 32  # dft_shares splits a batch up to Cin Cout / (Cin + Cout) = 32


class Conv2dSharesCache(NamedTuple):
    shares: list   # the batch's slices, one per thread
    caches: list   # each share's Conv2dDFTCache
    out_shape: tuple  # y's, (B, Cout, Ho, Wo): dy must match it


def dft_shares(x, W, groups):
    """The batch's slices for the DFT path to run in, one per core (parallel.batch_shares),
    or [slice(None)]: the whole batch, in one call.

    Each image's convolution is its own, so shares give the same y, dx, and dW up to
    the order of its sum over the shares.  They pay where transforming the maps, which
    NumPy copies and reshapes on one core, outweighs the per-frequency products, which
    BLAS already spreads over the cores: where the channels are few.  Forward +
    backward of a 7 x 7 convolution at B = 8 on 2 cores, whole / in two shares, with
    c = Cin Cout / (Cin + Cout) (`python benchmarks/bench_idioms.py`): 1.72x faster at
    c = 6.4, 1.56x and 2.09x at 12.8 (GAM's at C = 64, 32 x 32), 1.95x at 25.6, 1.10x
    at 32; but 0.96x and 0.74x at 51.2 (GAM's at C = 256, 14 x 14) and 0.67x at 102.4:
    W's spectrum, made in each share, and products half as tall cost more than the
    shares save.  (Timed instead in alternating blocks of whole and shared calls, the
    gains at c <= 32 were smaller, 1.04-1.22x, the losses alike.)  So: shares up to
    c = SHARES_MAX_CHANNELS.
    """
    Cout, Cin_g, K = W.shape[0], W.shape[1], W.shape[2]
    Cin = Cin_g * groups
    if Cin * Cout > SHARES_MAX_CHANNELS * (Cin + Cout):
        return [slice(None)]
    B, _, H, Wd = x.shape
    return parallel.batch_shares(B, B * H * Wd * Cin_g * Cout * K * K)


def dft_is_local(x, W):
    """True if the DFT path gives x's convolution with W to the textbook's precision
    everywhere: x and W are finite and max|x| <= DFT_MAX_RANGE typical |x|.

    Why.  The textbook sum for an output reads only its K x K receptive field, so a
    NaN or a huge pixel reaches only the outputs whose field holds it.  The DFT mixes
    every pixel of a tile into every frequency: a NaN makes the whole tile NaN (one
    NaN pixel, a 7 x 7 kernel on a 32 x 32 map: 1024 NaN outputs a channel against
    the textbook's 49), and each frequency carries a rounding error of about
    eps max|x| (eps: the dtype's), which the inverse transform spreads to every
    output of the tile: measured, c eps max|x| max|W| with c = 0.8 to 3.2 (nine
    shapes, 5 x 5 and 7 x 7 kernels, the tiles tile_size picks; a 1e12 pixel among
    N(0, 1) ones: errors of 5e-4 to 2e-3 at outputs that never read it).  The
    textbook's own rounding at an output is about eps |W| |x| over its field.  So
    the DFT loses about log2(c max|x| / typical |x|) bits at an output of typical
    inputs: at most 10 with max|x| / typical |x| <= DFT_MAX_RANGE = 2**8 (c < 2**2),
    which keeps about 1e-13 of an output's scale in float64 (43 of 53 bits; measured
    3e-14 with one pixel at 256 times the median, 6e-15 without) and 6e-5 in
    float32 (14 of 24).  Trained networks' inputs stay far inside it: N(0, 1)
    values give about 8 (max 5.3 against the median 0.67 at 10 million values),
    Laplace ones about 28.

    typical |x|: the median of |x| over the nonzero values among about RANGE_SAMPLE
    of x's, evenly spaced (0.2 ms at GAM's (8, 64, 32, 32), against 35 ms for the
    DFT forward): zeros add no rounding to the DFT, so a map that is half zeros
    (after a ReLU) is judged by its other half.  max|x| is over all of x, so a single
    outlier is always seen.  What it cannot see: a region of small values smaller
    than a tile, inside an input of large ones (the median is then a large value);
    there the DFT's outputs are accurate only to about eps max|x|, as any
    DFT convolution's are.
    """
    hi, lo = x.max(), x.min()   # NaN if any value is NaN
    if not (np.isfinite(hi) and np.isfinite(lo) and np.isfinite(W).all()):
        return False
    peak = max(float(hi), -float(lo))
    if peak == 0:
        return True
    flat = x.reshape(-1)
    sample = np.abs(flat[::max(1, flat.size // RANGE_SAMPLE)])
    sample = sample[sample > 0]
    return sample.size > 0 and peak <= DFT_MAX_RANGE * float(np.median(sample))


def resolved_method(method, stride, K, x=None, W=None):
    """The method "auto" stands for at this stride and kernel size: "dft" for stride 1
    and K >= DFT_MIN_KERNEL, else "gemm", the faster of the two at each shape
    (benchmarks/bench_conv.py); any other method as it is.  Given the input x and
    the kernels W, "auto" also takes "gemm" where the DFT would spread a NaN, an
    infinity or a huge value beyond its receptive field (dft_is_local)."""
    if method not in METHODS:
        raise ValueError(f"conv2d_forward: method must be one of {METHODS}, got {method!r}")
    if method != "auto":
        return method
    if stride != 1 or K < DFT_MIN_KERNEL:
        return "gemm"
    return "dft" if x is None or dft_is_local(x, W) else "gemm"


def conv2d_forward(x, W, b=None, stride=1, padding=0, padding_mode="zeros", groups=1,
                   method="auto"):
    """y = conv2d(x, W) + b, as torch.nn.functional.conv2d (formulas: conv.py's docstring).

    x: (B, Cin, H, W)   W: (Cout, Cin/groups, K, K)   b: (Cout,) or None
    -> y: (B, Cout, Ho, Wo),  Ho = (H + 2 padding - K) // stride + 1
    method: "reference" (the textbook im2col, F.conv2d_forward), "gemm" (conv_gemm.py),
            "dft" (conv_dft.py), or "auto": "dft" for stride 1 and
            K >= DFT_MIN_KERNEL, else "gemm", the faster of the two at each
            shape (benchmarks/bench_conv.py), the DFT in batch shares where
            that pays (dft_shares).  All give the same results for finite
            inputs of moderate range.  "auto" keeps each output's reach to its
            receptive field: where x or W holds a NaN or an infinity, or
            max|x| > DFT_MAX_RANGE typical |x|, it takes "gemm" (dft_is_local).
            "dft" asked for by name does not: a NaN or infinity there makes
            every output of the tiles that hold it NaN, a huge value adds
            about eps max|x| max|W| to each of them (conv_dft.py).  Backward:
            the forward's method; dy is not checked (a NaN or huge dy spreads
            likewise through the DFT's dx).
    Backward (conv2d_backward, which follows the cache to the same method):
        db = sum_{b,i,j} dy
        dW[o, c, u, v] = sum_{b,i,j} dy[b, o, i, j] xp[b, c, s i + u, s j + v]
        dxp[b, c, s i + u, s j + v] += dy[b, o, i, j] W[o, c, u, v],  dx = pad backward(dxp)
    """
    if method not in METHODS:
        raise ValueError(f"conv2d_forward: method must be one of {METHODS}, got {method!r}")
    conv_arguments("conv2d_forward", x, W, b, stride, padding, padding_mode, groups)
    auto, method = method == "auto", resolved_method(method, stride, W.shape[2], x, W)
    if auto and method == "dft":   # a method asked for by name runs whole, as asked
        shares = dft_shares(x, W, groups)
        if len(shares) > 1:
            parts = parallel.map_shares(lambda rows: conv2d_dft_forward(
                x[rows], W, b, stride, padding, padding_mode, groups), shares)
            y = parallel.joined([y for y, _ in parts])
            return y, Conv2dSharesCache(shares, [cache for _, cache in parts], y.shape)
    forward = {"reference": textbook_conv2d_forward, "gemm": conv2d_gemm_forward,
               "dft": conv2d_dft_forward}[method]
    return forward(x, W, b, stride, padding, padding_mode, groups)


def conv2d_backward(dy, cache):
    """Backward of conv2d_forward, by the method whose cache it is given.

    dy: (B, Cout, Ho, Wo)   cache: from conv2d_forward (its type says the method)
    -> dx (B, Cin, H, W), dW (Cout, Cin/groups, K, K), db (Cout,) or None without a bias.
    """
    if isinstance(cache, Conv2dSharesCache):
        forward_output_shape("conv2d_backward", "dy", dy, cache.out_shape, "y")
        parts = parallel.map_shares(lambda share: conv2d_dft_backward(dy[share[0]], share[1]),
                                    zip(cache.shares, cache.caches))
        return parallel.combined(parts, batched=1)   # dx joined; dW, db summed
    if isinstance(cache, Conv2dDFTCache):
        return conv2d_dft_backward(dy, cache)
    if isinstance(cache, Conv2dGemmCache):
        return conv2d_gemm_backward(dy, cache)
    return textbook_conv2d_backward(dy, cache)
