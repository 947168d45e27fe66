"""Matrix products arranged for NumPy's speed; the math is plain x @ M.

Two habits of np.matmul cost 3-5x at attention sizes:
  - x (B, T, n) @ M (n, m) runs B small products; folding B*T rows into one is faster;
  - a stack of transposed views with a small inner size is slow (see matmul_t).
"""
import numpy as np


def matmul_last(x, M):
    """x (..., n) @ M (n, m) -> (..., m), as one matrix product."""
    return (x.reshape(-1, x.shape[-1]) @ M).reshape(x.shape[:-1] + (M.shape[1],))


def matmul_t(a, b):
    """a @ b^T for stacks (B, n, k) x (B, m, k) -> (B, n, m).

    With a small inner size k (the 32 features of one attention head) the
    transposed view of b is about 2x slower than a contiguous copy of it;
    with k in the hundreds the view is faster than the copy (both measured).
    """
    bT = b.swapaxes(-1, -2)
    return a @ (np.ascontiguousarray(bT) if b.shape[-1] <= 64 else bT)
