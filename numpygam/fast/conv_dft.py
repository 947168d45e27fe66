"""2-D convolution by the convolution theorem: one small matrix product per frequency.

Same op, signature and results as conv2d_forward / conv2d_backward (conv.py):

    y[b, o, i, j] = bias[o] + sum_{c, u, v} W[o, c, u, v] xp[b, c, s i + u, s j + v]

x: (B, Cin, H, W)   W: (Cout, Cin / groups, K, K)   b: (Cout,)   stride s in {1, 2}

Cut the padded input xp into overlapping tiles of T x T pixels, each giving
t x t outputs (T = s (t - 1) + K; neighbours share K - s rows), and take the 2-D
discrete Fourier transform (DFT) of each tile on its T x T grid:

    A^[k1, k2] = sum_{n1, n2} a[n1, n2] exp(-2 pi i (k1 n1 + k2 n2) / T).

A correlation turns into a product at each frequency k = (k1, k2), and the sum
over channels into a matrix product (^ is the DFT, * the complex conjugate; b
runs over images and tiles):

    forward         y^[k, b, o]  = sum_c   x^[k, b, c]  W^[k, o, c]*
    backward, x     dx^[k, b, c] = sum_o  dy^[k, b, o]  W^[k, o, c]
    backward, W     dW^[k, o, c] = sum_b  dy^[k, b, o]* x^[k, b, c]
    db = sum_{b, i, j} dy

then each tile's y is read at its t x t output positions and the tiles are put
side by side (dx: the tiles' gradients are added where they overlap).  The DFT
is periodic, so these are circular correlations; they equal the plain ones
because nothing wraps around: output i < t reads xp[s i + u] with
s i + u <= s (t - 1) + K - 1 = T - 1, and likewise for dx and dW.

How the work is arranged, each choice measured (benchmarks/bench_conv.py):
  * each DFT is a product with a small DFT matrix (T x n) instead of an FFT: at
    these sizes BLAS on every core beats NumPy's single-threaded FFT (rfft2 of
    16384 kernels on a 20 x 20 grid: 103 ms, as matrices about 5 ms); and the
    samples may sit at any positions of the grid: stride 2 reads y only at even
    positions and puts dy back there;
  * a real map needs only k2 = 0 .. T // 2 (the other half are conjugates):
    R = T // 2 + 1 columns of frequencies; the inverse adds twice the real part;
  * per frequency the work is (B n x Cin) @ (Cin x Cout) for n tiles per image:
    T R n B Cin Cout complex multiply-adds (4 real ones each) against
    Ho Wo B Cin Cout K^2 real ones for the direct sum; for a 7 x 7 kernel on a
    14 x 14 map in 2 x 2 tiles of 13 x 13 (R = 7), 4 x 364 against 9604 per image
    and channel pair, before the DFTs: W's spectra (once per channel pair for the
    batch), x's (once per image and input channel) and y's inverse (once per image
    and output channel); counted in lesson 8, with them it is 3.8x fewer at B = 8
    and 64 channels, 2.2x at 16;
  * tiles: W's spectrum has T R values per kernel against K^2 for W; one tile
    per image on a 14 x 14 map (T = 20) makes it 4.5x the size of W (29 MB for
    256 x 64 kernels), and a product with only B = 8 rows per frequency reads all
    of it for little work.  2 x 2 tiles (T = 13) make it 2.4x smaller and the
    products 4x taller, for some overlap; tile_size picks t by a cost model;
  * W's and dW's spectra are made a block at a time (_kernel_spectra,
    _weight_blocks) and used while the block is in cache, instead of being
    written to memory whole and read back.

Layout: spectra are (T, R, P, Q), frequencies first, so that the (P, Q) matrix
of each frequency is contiguous and NumPy's matmul hands it straight to BLAS.
"""
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..functional._checks import conv_arguments
from ..functional.conv import group_slices
from ..functional.padding import pad2d_backward, pad2d_forward

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
def real_idft_matrix(N, positions, sign, dtype):
    """(2R, len(positions)) real: the inverse of a half spectrum, read at `positions`.

    With A (k < R) viewed as real numbers, Re and Im interleaved, A @ M is
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
    """The DFT along n2 of every row: a (P, Q, H, len(cols)) -> (H, R, P, Q) complex.

    One copy puts the rows first and makes them complex; then one product with
    the (R, len(cols)) DFT matrix per row.  (Transposing the complex result
    instead, 3.5x the size of a, measured 3x slower.)
    """
    P, Q, H, W = a.shape
    rows_first = a.transpose(2, 3, 0, 1).reshape(H, W, P * Q).astype(COMPLEX[a.dtype])
    to_half = dft_matrix(N2, cols, sign, a.dtype)[:N2 // 2 + 1]
    return (to_half @ rows_first).reshape(H, -1, P, Q)


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


TILE_BETA = 16  # W's share of the work per frequency, in rows of x (fitted, see tile_size)


class Tiling(NamedTuple):
    t: int        # outputs per tile side
    T: int        # the tile's grid: T x T inputs, T = s (t - 1) + K
    n: tuple      # (tiles down, tiles across)
    out: tuple    # (Ho, Wo)
    padded: tuple  # (Hp, Wp), the padded input's size


def tile_size(Ho, Wo, K, stride, B):
    """t, the outputs per side of a tile, that minimises the modelled cost.

    Per frequency of a T x T tile (T R of them) the products cost B n_h n_w rows
    (n_h n_w tiles per image) and W's spectrum about TILE_BETA rows more.  Small
    tiles waste work on the overlaps (each re-reads K - s rows of its neighbours),
    large ones on W's spectrum.  The candidates are the smallest tile for each
    number of tiles, t = ceil(max(Ho, Wo) / n).  With TILE_BETA = 16 the pick
    was, for each of nine convolutions timed (7 x 7, 5 x 5 and 3 x 3 kernels,
    14 x 14 to 56 x 56 maps, GAM's four among them), the fastest of the 6 to 10
    tile sizes tried, or within 3% of it.
    """
    def cost(t):
        T = stride * (t - 1) + K
        return T * (T // 2 + 1) * (B * -(-Ho // t) * -(-Wo // t) + TILE_BETA)
    side = max(Ho, Wo)
    return min(sorted({-(-side // n) for n in range(1, side + 1)}, reverse=True), key=cost)


def _cut(xp, tiling, stride):
    """(B, C, Hp, Wp) -> (B n_h n_w, C, T, T): the overlapping input tiles, zeros past the end."""
    (nh, nw), T, step = tiling.n, tiling.T, stride * tiling.t
    B, C, Hp, Wp = xp.shape
    He, We = (nh - 1) * step + T, (nw - 1) * step + T
    xe = np.zeros((B, C, He, We), xp.dtype)
    xe[:, :, :min(He, Hp), :min(We, Wp)] = xp[:, :, :He, :We]
    tiles = sliding_window_view(xe, (T, T), axis=(2, 3))[:, :, ::step, ::step]
    return tiles.transpose(0, 2, 3, 1, 4, 5).reshape(B * nh * nw, C, T, T)


def _overlap_add(dx_tiles, tiling, stride):
    """The adjoint of _cut: (B n_h n_w, C, T, T) -> (B, C, Hp, Wp), overlaps added."""
    (nh, nw), T, step, (Hp, Wp) = tiling.n, tiling.T, stride * tiling.t, tiling.padded
    C = dx_tiles.shape[1]
    tiles = dx_tiles.reshape(-1, nh, nw, C, T, T)
    dxe = np.zeros((len(tiles), C, max((nh - 1) * step + T, Hp), max((nw - 1) * step + T, Wp)),
                   dx_tiles.dtype)
    for i in range(nh):
        for j in range(nw):
            dxe[:, :, i * step:i * step + T, j * step:j * step + T] += tiles[:, i, j]
    return dxe[:, :, :Hp, :Wp]


def _join(y_tiles, tiling):
    """(B n_h n_w, Cout, t, t) -> (B, Cout, Ho, Wo): the output tiles side by side."""
    (nh, nw), t, (Ho, Wo) = tiling.n, tiling.t, tiling.out
    B, O = len(y_tiles) // (nh * nw), y_tiles.shape[1]
    y = y_tiles.reshape(B, nh, nw, O, t, t).transpose(0, 3, 1, 4, 2, 5)
    y = y.reshape(B, O, nh * t, nw * t)
    return np.ascontiguousarray(y[:, :, :Ho, :Wo])


def _split(dy, tiling):
    """The adjoint of _join: (B, Cout, Ho, Wo) -> (B n_h n_w, Cout, t, t), zeros past the end."""
    (nh, nw), t, (Ho, Wo) = tiling.n, tiling.t, tiling.out
    B, O = dy.shape[:2]
    padded = np.zeros((B, O, nh * t, nw * t), dy.dtype)
    padded[:, :, :Ho, :Wo] = dy
    return padded.reshape(B, O, nh, t, nw, t).transpose(0, 2, 4, 1, 3, 5).reshape(-1, O, t, t)


class Conv2dDFTCache(NamedTuple):
    x_hat: np.ndarray       # (T, R, B n_h n_w, Cin) spectra of the input tiles
    W_rows: np.ndarray      # (K, R, Cout, Cin / groups) conjugate DFT of W along v only
    tiling: Tiling
    stride: int
    has_bias: bool
    groups: int
    pad_cache: tuple


def _kernel_spectra(W_rows, T):
    """(k2, W^*[:, k2]) for each column of frequencies: (T, Cout, Cin / groups).

    W's whole spectrum (T, R, Cout, Cin / groups) is T R / K^2 times the size of
    W: made one k2 at a time, each part is used while it is still in cache.
    """
    K, R, Cout, Cin_g = W_rows.shape
    along_n1 = dft_matrix(T, range(K), 1, W_rows.real.dtype)
    for k2 in range(R):
        yield k2, (along_n1 @ W_rows[:, k2].reshape(K, -1)).reshape(T, Cout, Cin_g)


def _weight_blocks(Cout, Cin_g, groups, grid):
    """(input channels, output channels) of each block of dW's spectrum.

    A block is one group's output channels, cut so that its spectrum
    (T, R, outputs, Cin / groups) holds at most SPECTRUM_CHUNK values, for the same
    reason as _kernel_spectra.
    """
    step = max(1, SPECTRUM_CHUNK // (grid[0] * (grid[1] // 2 + 1) * Cin_g))
    for ins, outs in group_slices(Cin_g * groups, Cout, groups):
        for start in range(outs.start, outs.stop, step):
            yield ins, slice(start, min(start + step, outs.stop))


def conv2d_dft_forward(x, W, b=None, stride=1, padding=0, padding_mode="zeros", groups=1):
    """y = conv2d(x, W) + b (conv2d_forward's op) computed per frequency, tile by tile.

    x: (B, Cin, H, W)   W: (Cout, Cin/groups, K, K)   b: (Cout,) or None
    -> y: (B, Cout, Ho, Wo),  Ho = (H + 2 padding - K) // stride + 1
    Per frequency k of each tile (the module docstring):
        forward   y^[k] = x^[k] W^[k]*^T          (B n, Cin) @ (Cin, Cout) per group
        backward  dx^[k] = dy^[k] W^[k],   dW^[k] = sum over images and tiles of dy^[k]* x^[k]
    Backward returns (dx, dW, db), db = sum_{b, i, j} dy.
    Reach: every pixel of a tile enters every frequency, so an output here depends on
    the whole tile, not only on its K x K receptive field.  A NaN or an infinity in x
    makes every output of the tiles that hold it NaN (the textbook's: only those
    whose field holds it), and rounding adds about c eps max|x| max|W| (c ~ 1 to 3)
    to every output of a tile, so a pixel far larger than the others (1e12 among
    values near 1: errors ~1e-3) blurs outputs that never read it; likewise dy in
    the backward.  fast.conv2d_forward's method="auto" takes the GEMM path for such
    an x (conv.dft_is_local); this function, and method="dft", do as asked.
    """
    conv_arguments("conv2d_dft_forward", x, W, b, stride, padding, padding_mode, groups)
    xp, pad_cache = pad2d_forward(x, padding, padding_mode)
    K, (Hp, Wp) = W.shape[2], xp.shape[2:]
    out = ((Hp - K) // stride + 1, (Wp - K) // stride + 1)
    t = tile_size(*out, K, stride, x.shape[0])
    tiling = Tiling(t, stride * (t - 1) + K, (-(-out[0] // t), -(-out[1] // t)), out, (Hp, Wp))
    grid, x_at, y_at = (tiling.T,) * 2, range(tiling.T), range(0, stride * t, stride)
    x_hat = spectrum(_cut(xp, tiling, stride), grid, x_at, x_at)    # (T, R, B n, Cin)
    W_rows = row_spectra(W, tiling.T, range(K), sign=1)             # (K, R, Cout, Cin_g)
    y_hat = np.empty(x_hat.shape[:3] + (W.shape[0],), x_hat.dtype)  # (T, R, B n, Cout)
    for k2, W_hat_conj in _kernel_spectra(W_rows, tiling.T):
        for ins, outs in group_slices(x.shape[1], W.shape[0], groups):
            y_hat[:, k2, :, outs] = x_hat[:, k2, :, ins] @ W_hat_conj[:, outs].swapaxes(-1, -2)
    y = _join(signal(y_hat, grid, y_at, y_at), tiling)               # (B, Cout, Ho, Wo)
    if b is not None:
        y += b[:, None, None]
    return y, Conv2dDFTCache(x_hat, W_rows, tiling, stride, b is not None, groups, pad_cache)


def conv2d_dft_backward(dy, cache):
    """Backward of conv2d_dft_forward, per frequency k of each tile:

        dx^[k] = dy^[k] W^[k]  then each tile's inverse DFT, overlaps added   (B, Cin, H, W)
        dW^[k] = sum over images and tiles of dy^[k]* x^[k], inverse DFT read at the
                 K x K kernel positions                                        (Cout, Cin/groups, K, K)
        db = sum_{b, i, j} dy                                                  (Cout,), or None

    dy: (B, Cout, Ho, Wo)   cache: Conv2dDFTCache(x_hat (T, R, B n, Cin) the input
    tiles' spectra, W_rows (K, R, Cout, Cin/groups), tiling, stride, has_bias, groups,
    pad_cache)
    """
    x_hat, tiling, s, G = cache.x_hat, cache.tiling, cache.stride, cache.groups
    K, _, Cout, Cin_g = cache.W_rows.shape
    grid, x_at, y_at = (tiling.T,) * 2, range(tiling.T), range(0, s * tiling.t, s)
    dy_hat_conj = spectrum(_split(dy, tiling), grid, y_at, y_at, sign=1)   # (T, R, B n, Cout)
    dx_hat_conj = np.empty_like(x_hat)                                     # (T, R, B n, Cin)
    for k2, W_hat_conj in _kernel_spectra(cache.W_rows, tiling.T):
        for ins, outs in group_slices(x_hat.shape[3], Cout, G):
            dx_hat_conj[:, k2, :, ins] = dy_hat_conj[:, k2, :, outs] @ W_hat_conj[:, outs]
    dxp = _overlap_add(signal(dx_hat_conj, grid, x_at, x_at, sign=1), tiling, s)
    dx = np.ascontiguousarray(pad2d_backward(dxp, cache.pad_cache))
    dW = np.empty((Cout, Cin_g, K, K), dx.dtype)
    for ins, outs in _weight_blocks(Cout, Cin_g, G, grid):
        dW_hat = dy_hat_conj[..., outs].swapaxes(-1, -2) @ x_hat[..., ins]
        dW[outs] = signal(dW_hat, grid, range(K), range(K))
    db = dy.sum(axis=(0, 2, 3)) if cache.has_bias else None
    return dx, dW, db
