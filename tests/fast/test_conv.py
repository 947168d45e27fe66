"""numpygam.fast.conv, conv_gemm, conv_dft: every conv2d method (and the textbook's) against torch."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import numpygam.functional as F
from numpygam import gradcheck
from numpygam.fast import conv as FC
from numpygam.fast import conv_dft, conv_gemm
from oracle import arrays, assert_close, conv_cases, t


def one_channel_blocks(backward):
    """The DFT backward with dW's spectrum cut into blocks of one output channel."""
    def run(dy, cache):
        saved, conv_dft.SPECTRUM_CHUNK = conv_dft.SPECTRUM_CHUNK, 1
        try:
            return backward(dy, cache)
        finally:
            conv_dft.SPECTRUM_CHUNK = saved
    return run


def one_tile(forward):
    """The DFT forward with the whole padded input as one tile (tile_size picks
    several tiles for most of the small shapes drawn here)."""
    def run(*args, **kwargs):
        saved = conv_dft.tile_size
        conv_dft.tile_size = lambda Ho, Wo, K, stride, B: max(Ho, Wo)
        try:
            return forward(*args, **kwargs)
        finally:
            conv_dft.tile_size = saved
    return run


def one_image_chunks(op):
    """The GEMM path with im2col cut into chunks of one image each (every test
    shape fits in one chunk of the real CHUNK_ELEMENTS)."""
    def run(*args, **kwargs):
        saved, conv_gemm.CHUNK_ELEMENTS = conv_gemm.CHUNK_ELEMENTS, 1
        try:
            return op(*args, **kwargs)
        finally:
            conv_gemm.CHUNK_ELEMENTS = saved
    return run


PAIRS = [(FC.conv2d_forward, FC.conv2d_backward),
         (conv_gemm.conv2d_gemm_forward, conv_gemm.conv2d_gemm_backward),
         (one_image_chunks(conv_gemm.conv2d_gemm_forward), one_image_chunks(conv_gemm.conv2d_gemm_backward)),
         (conv_dft.conv2d_dft_forward, conv_dft.conv2d_dft_backward),
         (one_tile(conv_dft.conv2d_dft_forward), one_channel_blocks(conv_dft.conv2d_dft_backward)),
         (F.conv2d_forward, F.conv2d_backward)]


IDS = ["picked", "gemm", "gemm-one-image-chunks", "dft", "dft-one-tile-blocks", "reference"]


@pytest.mark.parametrize("forward, backward", PAIRS, ids=IDS)
@given(case=conv_cases(max_hw=5, max_K=5))
def test_conv2d_matches_finite_differences(forward, backward, case):
    x, W, b, opts = case
    gradcheck(forward, backward, {"x": x, "W": W, "b": b}, opts).raise_if_failed()


@pytest.mark.parametrize("forward, backward", PAIRS, ids=IDS)
@given(case=conv_cases(), data=st.data())
def test_conv2d_matches_torch(forward, backward, case, data):
    x, W, b, opts = case
    y, cache = forward(x, W, b, **opts)
    dy = data.draw(arrays(y.shape))
    dx, dW, db = backward(dy, cache)
    xt, Wt = t(x), t(W)
    bt = None if b is None else t(b)
    p = opts["padding"]
    mode = "constant" if opts["padding_mode"] == "zeros" else "replicate"
    xp = TF.pad(xt, (p, p, p, p), mode=mode) if p else xt
    yt = TF.conv2d(xp, Wt, bt, stride=opts["stride"], groups=opts["groups"])
    yt.backward(torch.as_tensor(dy))
    assert_close(y, yt, name="y")
    assert_close(dx, xt.grad, name="dx")
    assert_close(dW, Wt.grad, name="dW")
    if b is not None:
        assert_close(db, bt.grad, name="db")
    else:
        assert db is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_kept_and_inputs_untouched(dtype, rng):
    x = rng.standard_normal((2, 4, 5, 5)).astype(dtype)
    W = rng.standard_normal((6, 2, 3, 3)).astype(dtype)
    before = x.copy(), W.copy()
    for forward, backward in PAIRS:
        y, cache = forward(x, W, None, 2, 1, "replicate", 2)
        dy = np.ones_like(y)
        grads = backward(dy, cache)
        assert y.dtype == dtype and all(g.dtype == dtype for g in grads if g is not None)
        assert np.all(dy == 1)
    gamma = np.ones(4, dtype)
    rm, rv = np.zeros(4, dtype), np.ones(4, dtype)
    y, cache = F.batch_norm2d_forward(x, gamma, gamma, rm, rv, True)
    assert y.dtype == dtype and cache.running_mean.dtype == dtype
    assert np.all(rm == 0) and np.all(rv == 1)  # running statistics come back as new arrays
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(W, before[1])


@given(data=st.data())
def test_spectrum_is_numpys_fft_of_the_map_on_its_grid_and_signal_inverts_it(data):
    N1, N2 = data.draw(st.integers(1, 9)), data.draw(st.integers(1, 9))   # odd and even
    H, W = data.draw(st.integers(1, N1)), data.draw(st.integers(1, N2))
    r0, c0 = data.draw(st.integers(0, N1 - H)), data.draw(st.integers(0, N2 - W))
    a = data.draw(arrays((2, 3, H, W)))
    grid, rows, cols = (N1, N2), range(r0, r0 + H), range(c0, c0 + W)
    on_grid = np.zeros((2, 3, N1, N2))
    on_grid[:, :, r0:r0 + H, c0:c0 + W] = a
    expected = np.fft.rfft2(on_grid).transpose(2, 3, 0, 1)            # (N1, R, P, Q)
    a_hat = conv_dft.spectrum(a, grid, rows, cols)
    scale = max(1.0, np.abs(a).sum())   # bounds every |A^[k]|; 1 as in oracle.assert_close
    np.testing.assert_allclose(a_hat, expected, rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(conv_dft.spectrum(a, grid, rows, cols, sign=1), expected.conj(),
                               rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(conv_dft.signal(a_hat, grid, range(N1), range(N2)), on_grid,
                               rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(conv_dft.signal(a_hat, grid, rows, cols), a, rtol=0,
                               atol=1e-13 * scale)


@pytest.mark.parametrize("K, stride, path", [(5, 1, "dft"), (7, 1, "dft"), (3, 1, "gemm"),
                                             (7, 2, "gemm"), (1, 1, "gemm")])
def test_conv2d_picks_the_dft_path_for_large_kernels_at_stride_1(K, stride, path, rng):
    x, W = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, K, K))
    y, cache = FC.conv2d_forward(x, W, None, stride, K // 2, "replicate", 2)
    assert isinstance(cache, conv_dft.Conv2dDFTCache) == (path == "dft")
    y_ref, _ = F.conv2d_forward(x, W, None, stride, K // 2, "replicate", 2)
    assert_close(y, y_ref)


@pytest.mark.parametrize("size, B, tiles", [(14, 8, 2), (32, 8, 2)])
def test_tile_size_cuts_gams_maps_into_a_few_tiles(size, B, tiles):
    t = conv_dft.tile_size(size, size, 7, 1, B)
    assert -(-size // t) == tiles


@pytest.mark.parametrize("forward, backward", PAIRS[:4], ids=IDS[:4])
def test_float32_conv2d_is_as_accurate_as_float32_allows(forward, backward, rng):
    """GAM's 7 x 7 convolution in float32 against the same one in float64.

    Rounding in a sum of n products grows like sqrt(n) eps32 times the sum of
    their magnitudes (the usual statistical bound).  Each output of y, dx and dW
    adds n = Cin K^2, Cout K^2 and B H W products; the bound on the sum of their
    magnitudes is max|x| sum|W| over one output channel (y), max|dy| sum|W| over
    one input channel (dx), max|dy| sum|x| over one channel (dW).
    """
    B, C, O, K, H = 4, 16, 4, 7, 14
    x = rng.standard_normal((B, C, H, H))
    W = rng.standard_normal((O, C, K, K)) / 10
    dy = rng.standard_normal((B, O, H, H))
    exact_y, exact_cache = forward(x, W, None, 1, K // 2)
    exact = (exact_y,) + backward(dy, exact_cache)[:2]
    y32, cache32 = forward(x.astype(np.float32), W.astype(np.float32), None, 1, K // 2)
    got = (y32,) + backward(dy.astype(np.float32), cache32)[:2]
    magnitudes = (np.abs(x).max() * np.abs(W).sum(axis=(1, 2, 3)).max(),
                  np.abs(dy).max() * np.abs(W).sum(axis=(0, 2, 3)).max(),
                  np.abs(dy).max() * np.abs(x).sum(axis=(0, 2, 3)).max())
    eps = np.finfo(np.float32).eps
    for name, ours, want, n, magnitude in zip(("y", "dx", "dW"), got, exact,
                                              (C * K * K, O * K * K, B * H * H), magnitudes):
        assert ours.dtype == np.float32
        assert np.abs(ours - want).max() <= np.sqrt(n) * eps * magnitude, name


@pytest.mark.parametrize("chunk, spectrum_chunk, tile", [(1, 1, 1), (1, 1, 2), (2, 10**9, 3)])
@pytest.mark.parametrize("K, stride, groups", [(7, 1, 1), (5, 1, 2), (3, 2, 1), (3, 1, 3)])
def test_every_chunk_block_and_tile_loop_run_many_times_agrees_with_the_reference(
        chunk, spectrum_chunk, tile, K, stride, groups, rng, monkeypatch):
    """The loops over chunks of images (GEMM), blocks of dW's spectrum and tiles
    (DFT) forced to many iterations, with uneven last chunks and tiles."""
    monkeypatch.setattr(conv_gemm, "CHUNK_ELEMENTS", chunk)              # chunk images per chunk
    monkeypatch.setattr(conv_dft, "SPECTRUM_CHUNK", spectrum_chunk)  # 1: one channel a block
    monkeypatch.setattr(conv_dft, "tile_size", lambda Ho, Wo, K, s, B: tile)
    B, Cin, Cout, H = 5, 3 * groups, 2 * groups, 9
    x, W = rng.standard_normal((B, Cin, H, H + 1)), rng.standard_normal((Cout, Cin // groups, K, K))
    b = rng.standard_normal(Cout)
    expected_y, cache = F.conv2d_forward(x, W, b, stride, K // 2, "replicate", groups)
    dy = rng.standard_normal(expected_y.shape)
    expected = F.conv2d_backward(dy, cache)
    for forward, backward in [(FC.conv2d_forward, FC.conv2d_backward),
                              (conv_gemm.conv2d_gemm_forward, conv_gemm.conv2d_gemm_backward),
                              (conv_dft.conv2d_dft_forward, conv_dft.conv2d_dft_backward)]:
        y, cache = forward(x, W, b, stride, K // 2, "replicate", groups)
        assert_close(y, expected_y, name=f"{forward.__name__} y")
        for name, g, want in zip(("dx", "dW", "db"), backward(dy, cache), expected):
            assert_close(g, want, name=f"{forward.__name__} {name}")


# -- "auto" keeps each output's reach to its receptive field -----------------------------
def _with_a_pixel(value, rng, K=7, B=2, C=3, O=4, H=14, at=(0, 1, 6, 5)):
    """x ~ N(0, 1) with one pixel set to `value`, W ~ N(0, 1): (x, W, padding)."""
    x, W = rng.standard_normal((B, C, H, H + 1)), rng.standard_normal((O, C, K, K))
    x[at] = value
    return x, W, K // 2


def _field_mask(y_shape, at, K, padding):
    """True at the outputs whose receptive field holds the input pixel `at` (stride 1)."""
    b, _, i, j = at
    mask = np.zeros(y_shape, bool)
    rows = slice(max(0, i + padding - K + 1), i + padding + 1)
    cols = slice(max(0, j + padding - K + 1), j + padding + 1)
    mask[b, :, rows, cols] = True
    return mask


@pytest.mark.parametrize("shares", [1, 2], ids=["whole", "in-shares"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("K", [5, 7])
def test_auto_gives_the_textbooks_nan_pattern_for_a_non_finite_pixel(K, value, shares, rng,
                                                                     monkeypatch):
    """The DFT spread one NaN pixel over its whole tile (a 7 x 7 kernel on 14 x 15:
    every output of the tiles that held it); "auto" gives the textbook's outputs:
    NaN (or +-inf) exactly in the pixel's receptive field, the others to precision."""
    monkeypatch.setattr(FC, "dft_shares", lambda x, W, groups: [slice(0, 1), slice(1, None)]
                        if shares == 2 else [slice(None)])
    at = (0, 1, 6, 5)
    x, W, p = _with_a_pixel(value, rng, K=K, at=at)
    y, cache = FC.conv2d_forward(x, W, None, 1, p)
    y_ref, _ = F.conv2d_forward(x, W, None, 1, p)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(y_ref))
    np.testing.assert_array_equal(np.isfinite(y), np.isfinite(y_ref))
    field = _field_mask(y.shape, at, K, p)
    assert not np.isfinite(y_ref[field]).any() and np.isfinite(y_ref[~field]).all()
    finite = np.isfinite(y_ref)
    np.testing.assert_allclose(y[finite], y_ref[finite], rtol=0, atol=1e-13 * np.abs(y_ref[finite]).max())
    np.testing.assert_array_equal(y[~finite], y_ref[~finite])   # the same infinities
    dx, dW, _ = FC.conv2d_backward(np.ones_like(y), cache)   # the method follows the cache
    dx_ref, dW_ref, _ = F.conv2d_backward(np.ones_like(y), F.conv2d_forward(x, W, None, 1, p)[1])
    np.testing.assert_array_equal(np.isnan(dW), np.isnan(dW_ref))
    np.testing.assert_allclose(dx, dx_ref, rtol=0, atol=1e-13 * np.abs(dx_ref).max())


def test_auto_keeps_a_huge_pixel_from_blurring_the_other_outputs(rng):
    """One 1e12 pixel: the DFT added about eps 1e12 |W| (6e-4) to every output of its
    tiles; with "auto" the outputs that do not read it match the textbook's to float64
    precision relative to their own scale, and those that do relative to theirs."""
    at = (0, 1, 6, 5)
    x, W, p = _with_a_pixel(1e12, rng, at=at)
    y, _ = FC.conv2d_forward(x, W, None, 1, p)
    y_ref, _ = F.conv2d_forward(x, W, None, 1, p)
    field = _field_mask(y.shape, at, 7, p)
    for part in (~field, field):
        scale = np.abs(y_ref[part]).max()
        np.testing.assert_allclose(y[part], y_ref[part], rtol=0, atol=1e-14 * scale)
    # the DFT by name keeps its behaviour, as its docstring says: the pixel's rounding
    # reaches outputs that never read it
    y_dft, _ = FC.conv2d_forward(x, W, None, 1, p, method="dft")
    assert np.abs(y_dft - y_ref)[~field].max() > 1e-6


def test_dft_by_name_spreads_a_nan_over_its_tiles_as_documented(rng):
    x, W, p = _with_a_pixel(np.nan, rng)
    y_ref, _ = F.conv2d_forward(x, W, None, 1, p)
    y, _ = FC.conv2d_forward(x, W, None, 1, p, method="dft")
    assert np.isnan(y).sum() > np.isnan(y_ref).sum() == 4 * 7 * 7


@pytest.mark.parametrize("ratio, path", [(200.0, "dft"), (300.0, "gemm"), (1e12, "gemm")])
def test_auto_takes_the_dft_up_to_its_range_bound(ratio, path, rng):
    """max|x| / median |x| (of the nonzero values) against DFT_MAX_RANGE = 256."""
    x, W, p = _with_a_pixel(0.0, rng)
    x = np.sign(x) * (1 + 0.5 * rng.random(x.shape))   # |x| in [1, 1.5]: median 1.25
    x[0, 1, 6, 5] = ratio * np.median(np.abs(x))
    _, cache = FC.conv2d_forward(x, W, None, 1, p)
    assert isinstance(cache, conv_dft.Conv2dDFTCache) == (path == "dft")
    assert FC.dft_is_local(x, W) == (path == "dft")


@pytest.mark.parametrize("kind", ["normal", "relu", "laplace", "zeros", "float32"])
def test_auto_still_takes_the_dft_for_ordinary_inputs(kind, rng):
    x, W, p = _with_a_pixel(0.0, rng, B=4, C=8, H=32)
    x = {"normal": x, "relu": np.maximum(x, 0), "laplace": rng.laplace(size=x.shape),
         "zeros": np.zeros_like(x), "float32": x.astype(np.float32)}[kind]
    _, cache = FC.conv2d_forward(x, W.astype(x.dtype), None, 1, p)
    assert isinstance(cache, conv_dft.Conv2dDFTCache)


def test_auto_takes_gemm_for_a_non_finite_kernel_or_a_sparse_input_of_unknown_scale(rng):
    x, W, p = _with_a_pixel(0.0, rng)
    W[0, 0, 0, 0] = np.nan
    assert FC.resolved_method("auto", 1, 7, x, W) == "gemm"
    assert FC.resolved_method("auto", 1, 7) == "dft"   # shape alone: as before
    x, W, p = _with_a_pixel(5.0, rng, B=4, C=4, H=32)   # 16896 values: every 4th sampled
    x[:] = 0
    x[0, 1, 6, 5] = 5.0   # flat index 1259, not sampled: no typical scale to judge by
    assert FC.resolved_method("auto", 1, 7, x, W) == "gemm"
    y, _ = FC.conv2d_forward(x, W, None, 1, p)
    np.testing.assert_array_equal(y, F.conv2d_forward(x, W, None, 1, p)[0])
