"""conv2d forward+backward: the GEMM path, the DFT path and PyTorch, float32.

    python benchmarks/bench_conv.py

The shapes are GAM's two 7 x 7 convolutions at both sizes of bench_gam.py, a
5 x 5 and the 3 x 3 / stride-2 convolutions of a ResNet block.  conv2d_forward
runs the DFT path for stride 1 and K >= DFT_MIN_KERNEL, the GEMM path otherwise:
this table is where that rule comes from (the faster column should be the one
the rule picks).  "auto" is what conv2d_forward runs: the picked path, and for
the DFT, in batch shares, one per core, where conv2d.dft_shares says it pays
(the "shares" column says how many).
"""

import numpy as np
import torch
import torch.nn.functional as TF

from numpygam import fast
from numpygam.fast.conv import DFT_MIN_KERNEL, dft_shares
from timing import median_seconds

# (B, Cin, Cout, H = W, K, stride)
SHAPES = [(8, 64, 16, 32, 7, 1), (8, 16, 64, 32, 7, 1), (8, 256, 64, 14, 7, 1),
          (8, 64, 256, 14, 7, 1), (8, 64, 64, 32, 5, 1), (8, 64, 64, 32, 3, 1),
          (8, 64, 64, 16, 3, 1), (8, 64, 128, 32, 3, 2)]


def time_method(method, x, W, stride, padding):
    """Forward + backward by conv2d_forward(..., method=method)."""
    y, _ = fast.conv2d_forward(x, W, None, stride, padding, method=method)
    dy = np.ones_like(y)
    return median_seconds(lambda: fast.conv2d_backward(
        dy, fast.conv2d_forward(x, W, None, stride, padding, method=method)[1]), repeats=7)


def time_torch(x, W, stride, padding):
    xt, Wt = torch.tensor(x, requires_grad=True), torch.tensor(W, requires_grad=True)

    def step():
        xt.grad = Wt.grad = None
        y = TF.conv2d(xt, Wt, None, stride, padding)
        y.backward(torch.ones_like(y))
    return median_seconds(step, repeats=7)


def main():
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy {np.__version__}")
    print("conv2d forward+backward, float32, zero padding K // 2; milliseconds\n")
    print(f"{'(B, Cin, Cout, H, K, s)':<26}{'gemm':>8}{'dft':>8}{'torch':>8}"
          f"{'picked':>8}{'auto':>8}{'shares':>8}{'auto/torch':>12}")
    rng = np.random.default_rng(0)
    for B, Cin, Cout, H, K, s in SHAPES:
        x = rng.standard_normal((B, Cin, H, H)).astype(np.float32)
        W = rng.standard_normal((Cout, Cin, K, K)).astype(np.float32)
        gemm = time_method("gemm", x, W, s, K // 2)
        dft = time_method("dft", x, W, s, K // 2)
        theirs = time_torch(x, W, s, K // 2)
        picked = "dft" if s == 1 and K >= DFT_MIN_KERNEL else "gemm"
        auto = time_method("auto", x, W, s, K // 2)
        shares = len(dft_shares(x, W, 1)) if picked == "dft" else 1
        print(f"{str((B, Cin, Cout, H, K, s)):<26}{gemm * 1e3:8.1f}{dft * 1e3:8.1f}"
              f"{theirs * 1e3:8.1f}{picked:>8}{auto * 1e3:8.1f}{shares:>8}"
              f"{auto / theirs:>11.2f}x")


if __name__ == "__main__":
    main()
