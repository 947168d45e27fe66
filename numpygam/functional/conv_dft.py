"""2-D convolution by the convolution theorem: one small matrix product per frequency.

Same op, signature and results as conv2d_forward / conv2d_backward (conv.py):

    y[b, o, i, j] = bias[o] + sum_{c, u, v} W[o, c, u, v] xp[b, c, s i + u, s j + v]

x: (B, Cin, H, W)   W: (Cout, Cin / groups, K, K)   b: (Cout,)   stride s in {1, 2}

Put every map on one N1 x N2 grid, the size of the padded input (N1 = H + 2 padding,
N2 = W + 2 padding), and take its 2-D discrete Fourier transform (DFT)

    A^[k1, k2] = sum_{n1, n2} a[n1, n2] exp(-2 pi i (k1 n1 / N1 + k2 n2 / N2)).

A correlation turns into a product at each frequency k = (k1, k2), and the sum
over channels into a matrix product (^ is the DFT, * the complex conjugate):

    forward         y^[k, b, o]  = sum_c   x^[k, b, c]  W^[k, o, c]*
    backward, x     dx^[k, b, c] = sum_o  dy^[k, b, o]  W^[k, o, c]
    backward, W     dW^[k, o, c] = sum_b  dy^[k, b, o]* x^[k, b, c]
    db = sum_{b, i, j} dy

The DFT is periodic, so these are circular correlations; they equal the plain
ones here because nothing wraps around: y[i] reads xp[i + u] with
i + u <= (Ho - 1) + (K - 1) = N1 - 1, and likewise for dx and dW.

How the work is arranged, each choice measured (benchmarks/bench_conv.py):
  * each DFT is a product with a small DFT matrix (N x n) instead of an FFT: at
    these sizes (N <= 40) BLAS on every core beats NumPy's single-threaded FFT
    (rfft2 of 16384 kernels on a 20 x 20 grid: 103 ms, as matrices about 5 ms);
    and the samples may sit anywhere on the grid: zero padding is x placed at
    rows p .. p + H - 1 (no padded copy), stride 2 reads y only at even
    positions and puts dy back there;
  * a real map needs only k2 = 0 .. N2 // 2 (the other half are conjugates):
    R = N2 // 2 + 1 columns of frequencies; the inverse adds twice the real part;
  * per frequency the work is (B x Cin) @ (Cin x Cout): N1 R B Cin Cout complex
    multiply-adds against Ho Wo B Cin Cout K^2 real ones for the direct sum,
    about 11x fewer for a 7 x 7 kernel on a 14 x 14 map;
  * W's spectrum is 4.5x the size of W on a 20 x 20 grid with 7 x 7 kernels
    (29 MB for 256 x 64 of them) and so is dW's: both are made a block at a time
    (_kernel_spectra, _weight_blocks) and used while the block is in cache,
    instead of being written to memory whole and read back.

Layout: spectra are (N1, R, P, Q), frequencies first, so that the (P, Q) matrix
of each frequency is contiguous and NumPy's matmul hands it straight to BLAS.
"""
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ._checks import conv_arguments
from .padding import pad2d_backward, pad2d_forward

COMPLEX = {np.dtype(np.float32): np.complex64, np.dtype(np.float64): np.complex128}


def _frozen(matrix):
    """Read-only: the DFT matrices are cached and shared between calls."""
    matrix.flags.writeable = False
    return matrix


def _angles(N, positions, frequencies):
    """2 pi (k n mod N) / N for every (n, k); the integer product keeps it exact."""
    return 2 * np.pi * (np.outer(positions, frequencies) % N) / N


@lru_cache(maxsize=256)
def dft_matrix(N, positions, sign, dtype):
    """E[k, m] = exp(sign 2 pi i k n_m / N), k = 0 .. N - 1: (N, len(positions)) complex.

    sign = -1 is the DFT of samples at `positions`; sign = +1 its conjugate.
    """
    angle = _angles(N, positions, np.arange(N)).T
    return _frozen((np.cos(angle) + sign * 1j * np.sin(angle)).astype(COMPLEX[np.dtype(dtype)]))


@lru_cache(maxsize=256)
def real_dft_matrix(N, positions, sign, dtype):
    """(len(positions), 2R) real: real samples -> k = 0 .. R - 1, Re and Im interleaved.

    a @ M viewed as complex is sum_m a[m] exp(sign 2 pi i k n_m / N), R = N // 2 + 1.
    """
    angle = _angles(N, positions, np.arange(N // 2 + 1))
    M = np.empty((len(positions), 2 * angle.shape[1]))
    M[:, 0::2], M[:, 1::2] = np.cos(angle), sign * np.sin(angle)
    return _frozen(M.astype(dtype))


@lru_cache(maxsize=256)
def real_idft_matrix(N, positions, sign, dtype):
    """(2R, len(positions)) real: the inverse of real_dft_matrix, read at `positions`.

    a[n] = (1/N) sum_{k < R} c_k Re(A[k] exp(-sign 2 pi i k n / N)), c_k = 2 except
    c_0 = 1 and, for even N, c_{N/2} = 1: the omitted half of the spectrum are the
    conjugates of the kept one, and each pair adds twice the real part.
    """
    k = np.arange(N // 2 + 1)
    weight = np.where((k == 0) | (2 * k == N), 1.0, 2.0)[:, None] / N
    angle = _angles(N, positions, k).T
    M = np.empty((2 * len(k), len(positions)))
    M[0::2], M[1::2] = weight * np.cos(angle), weight * sign * np.sin(angle)
    return _frozen(M.astype(dtype))


def row_spectra(a, N2, cols, sign=-1):
    """The DFT along n2 of every row: a (P, Q, H, len(cols)) -> (H, R, P, Q) complex."""
    P, Q, H = a.shape[:3]
    half = a.reshape(-1, len(cols)) @ real_dft_matrix(N2, cols, sign, a.dtype)
    half = half.view(COMPLEX[a.dtype]).reshape(P, Q, H, -1)
    return np.ascontiguousarray(half.transpose(2, 3, 0, 1))


def spectrum(a, grid, rows, cols, sign=-1):
    """Half spectrum of real maps sampled at rows x cols of a grid, zeros elsewhere.

    a: (P, Q, len(rows), len(cols))  grid: (N1, N2)  -> (N1, R, P, Q) complex,
    frequencies first so that each frequency's (P, Q) matrix is contiguous.
    sign = +1 gives the conjugate spectrum (the DFT of a real map, conjugated).
    """
    rows_hat = row_spectra(a, grid[1], cols, sign)                  # along n2
    H, R, P, Q = rows_hat.shape
    along_n1 = dft_matrix(grid[0], rows, sign, a.dtype)
    return (along_n1 @ rows_hat.reshape(H, -1)).reshape(-1, R, P, Q)


def signal(A, grid, rows, cols, sign=-1):
    """Real maps (P, Q, len(rows), len(cols)) read at rows x cols from a half spectrum.

    A: (N1, R, P, Q) from spectrum(..., sign); the inverse undoes that sign.
    """
    (N1, N2), (_, R, P, Q) = grid, A.shape
    real = A.real.dtype
    inverse_rows = dft_matrix(N1, rows, -sign, real).T / N1                  # along k1
    half = (inverse_rows @ A.reshape(N1, -1)).reshape(len(rows), R, P, Q)
    half = np.ascontiguousarray(half.transpose(2, 3, 0, 1)).view(real)       # (P, Q, rows, 2R)
    out = half.reshape(-1, 2 * R) @ real_idft_matrix(N2, cols, sign, real)   # along k2
    return out.reshape(P, Q, len(rows), len(cols))


SPECTRUM_CHUNK = 1 << 19  # most values in one block of dW's spectrum (4 MB in complex64)


class Conv2dDFTCache(NamedTuple):
    x_hat: np.ndarray       # (N1, R, B, Cin) spectrum of the (padded) input
    W_rows: np.ndarray      # (K, R, Cout, Cin / groups) conjugate DFT of W along v only
    x_at: tuple             # (rows, cols) where x sits on the grid
    y_at: tuple             # (rows, cols) where y is read
    grid: tuple             # (N1, N2)
    has_bias: bool
    groups: int
    pad_cache: tuple        # replicate padding only: pad2d's cache; zeros: None


def _kernel_spectra(W_rows, N1):
    """(k2, W^*[:, k2]) for each column of frequencies: (N1, Cout, Cin / groups).

    W's whole spectrum (N1, R, Cout, Cin / groups) is 4.5x the size of W on a
    20 x 20 grid with 7 x 7 kernels (29 MB for 256 x 64 of them): made one k2 at a
    time, each part is used while it is still in cache.
    """
    K, R, Cout, Cin_g = W_rows.shape
    along_n1 = dft_matrix(N1, range(K), 1, W_rows.real.dtype)
    for k2 in range(R):
        yield k2, (along_n1 @ W_rows[:, k2].reshape(K, -1)).reshape(N1, Cout, Cin_g)


def _weight_blocks(Cout, Cin_g, groups, grid):
    """(input channels, output channels) of each block of dW's spectrum.

    A block is one group's output channels, cut so that its spectrum
    (N1, R, outputs, Cin / groups) holds at most SPECTRUM_CHUNK values, for the same
    reason as _kernel_spectra.
    """
    Cout_g = Cout // groups
    step = max(1, SPECTRUM_CHUNK // (grid[0] * (grid[1] // 2 + 1) * Cin_g))
    for g in range(groups):
        for start in range(g * Cout_g, (g + 1) * Cout_g, step):
            yield slice(g * Cin_g, (g + 1) * Cin_g), slice(start, min(start + step, (g + 1) * Cout_g))


def conv2d_dft_forward(x, W, b=None, stride=1, padding=0, padding_mode="zeros", groups=1):
    """y = conv2d(x, W) + b computed per frequency (see the module docstring).

    x: (B, Cin, H, W)   W: (Cout, Cin/groups, K, K)   b: (Cout,) or None
    -> y: (B, Cout, Ho, Wo),  Ho = (H + 2 padding - K) // stride + 1
    Backward returns (dx, dW, db).
    """
    conv_arguments("conv2d_dft_forward", x, W, b, stride, padding, padding_mode, groups)
    K, p = W.shape[2], padding
    grid = (x.shape[2] + 2 * p, x.shape[3] + 2 * p)
    pad_cache = None
    if padding_mode == "replicate" and p:       # replicated edges are real samples
        x, pad_cache = pad2d_forward(x, p, padding_mode)
        p = 0
    x_at = (range(p, p + x.shape[2]), range(p, p + x.shape[3]))
    y_at = (range(0, grid[0] - K + 1, stride), range(0, grid[1] - K + 1, stride))
    x_hat = spectrum(x, grid, *x_at)                              # (N1, R, B, Cin)
    W_rows = row_spectra(W, grid[1], range(K), sign=1)            # (K, R, Cout, Cin_g)
    y_hat = np.empty(x_hat.shape[:3] + (W.shape[0],), x_hat.dtype)  # (N1, R, B, Cout)
    for k2, W_hat_conj in _kernel_spectra(W_rows, grid[0]):
        for inputs, outputs in _group_slices(x.shape[1], W.shape[0], groups):
            y_hat[:, k2, :, outputs] = x_hat[:, k2, :, inputs] @ \
                W_hat_conj[:, outputs].swapaxes(-1, -2)
    y = signal(y_hat, grid, *y_at)                                # (B, Cout, Ho, Wo)
    if b is not None:
        y += b[:, None, None]
    return y, Conv2dDFTCache(x_hat, W_rows, x_at, y_at, grid, b is not None, groups, pad_cache)


def conv2d_dft_backward(dy, cache):
    """Returns (dx, dW, db); db is None without a bias."""
    grid, x_hat, G = cache.grid, cache.x_hat, cache.groups
    K, _, Cout, Cin_g = cache.W_rows.shape
    dy_hat_conj = spectrum(dy, grid, *cache.y_at, sign=1)         # (N1, R, B, Cout)
    dx_hat_conj = np.empty_like(x_hat)                            # (N1, R, B, Cin)
    for k2, W_hat_conj in _kernel_spectra(cache.W_rows, grid[0]):
        for inputs, outputs in _group_slices(x_hat.shape[3], Cout, G):
            dx_hat_conj[:, k2, :, inputs] = dy_hat_conj[:, k2, :, outputs] @ W_hat_conj[:, outputs]
    dx = signal(dx_hat_conj, grid, *cache.x_at, sign=1)
    if cache.pad_cache is not None:
        dx = pad2d_backward(dx, cache.pad_cache)
    dW = np.empty((Cout, Cin_g, K, K), dx.dtype)
    for inputs, outputs in _weight_blocks(Cout, Cin_g, G, grid):
        dW_hat = dy_hat_conj[..., outputs].swapaxes(-1, -2) @ x_hat[..., inputs]
        dW[outputs] = signal(dW_hat, grid, range(K), range(K))
    db = dy.sum(axis=(0, 2, 3)) if cache.has_bias else None
    return dx, dW, db


def _group_slices(Cin, Cout, groups):
    """(input channels, output channels) of each group."""
    Cin_g, Cout_g = Cin // groups, Cout // groups
    return [(slice(g * Cin_g, (g + 1) * Cin_g), slice(g * Cout_g, (g + 1) * Cout_g))
            for g in range(groups)]
