"""conv2d_forward / conv2d_backward: the op of DESIGN.md, on top of its three methods.

    conv.py       the textbook im2col ("reference"), at the bottom: read it first
    conv_gemm.py  the same im2col, channels-last and chunked ("gemm"), on conv.py
    conv_dft.py   the convolution theorem ("dft"), on conv.py
    this file     picks one (method="auto": the DFT for stride 1 and K >= 5)

The formulas, forward and backward, are in conv.py's docstring.
"""
from ._checks import conv_arguments
from .conv import conv2d_reference_backward, conv2d_reference_forward
from .conv_dft import Conv2dDFTCache, conv2d_dft_backward, conv2d_dft_forward
from .conv_gemm import Conv2dCache, conv2d_gemm_backward, conv2d_gemm_forward

METHODS = ("reference", "gemm", "dft", "auto")
DFT_MIN_KERNEL = 5  # from 5 x 5 up the DFT path is the faster one at stride 1


def conv2d_forward(x, W, b=None, stride=1, padding=0, padding_mode="zeros", groups=1,
                   method="auto"):
    """y = conv2d(x, W) + b, as torch.nn.functional.conv2d (formulas: conv.py's docstring).

    x: (B, Cin, H, W)   W: (Cout, Cin/groups, K, K)   b: (Cout,) or None
    -> y: (B, Cout, Ho, Wo),  Ho = (H + 2 padding - K) // stride + 1
    method: "reference" (textbook im2col, conv.py), "gemm" (conv_gemm.py),
            "dft" (conv_dft.py), or "auto": "dft" for stride 1 and
            K >= DFT_MIN_KERNEL, else "gemm", the faster of the two at each
            shape (benchmarks/bench_conv.py).  All give the same results.
    Backward (conv2d_backward, which follows the cache to the same method):
        db = sum_{b,i,j} dy
        dW[o, c, u, v] = sum_{b,i,j} dy[b, o, i, j] xp[b, c, s i + u, s j + v]
        dxp[b, c, s i + u, s j + v] += dy[b, o, i, j] W[o, c, u, v],  dx = pad backward(dxp)
    """
    if method not in METHODS:
        raise ValueError(f"conv2d_forward: method must be one of {METHODS}, got {method!r}")
    if method == "auto":
        conv_arguments("conv2d_forward", x, W, b, stride, padding, padding_mode, groups)
        method = "dft" if stride == 1 and W.shape[2] >= DFT_MIN_KERNEL else "gemm"
    forward = {"reference": conv2d_reference_forward, "gemm": conv2d_gemm_forward,
               "dft": conv2d_dft_forward}[method]
    return forward(x, W, b, stride, padding, padding_mode, groups)


def conv2d_backward(dy, cache):
    """Backward of conv2d_forward, by the method whose cache it is given.

    dy: (B, Cout, Ho, Wo)   cache: from conv2d_forward (its type says the method)
    -> dx (B, Cin, H, W), dW (Cout, Cin/groups, K, K), db (Cout,) or None without a bias.
    """
    if isinstance(cache, Conv2dDFTCache):
        return conv2d_dft_backward(dy, cache)
    if isinstance(cache, Conv2dCache):
        return conv2d_gemm_backward(dy, cache)
    return conv2d_reference_backward(dy, cache)
