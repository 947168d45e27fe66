"""numpygam.functional.softmax: masked softmax and log-softmax, stable at extreme scores and masks."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import numpygam.functional as F
from numpygam import gradcheck
from oracle import arrays, assert_close, backward_torch, shapes, t


@given(st.data())
def test_masked_softmax_matches_finite_differences(data):
    shape = data.draw(shapes)
    scores = data.draw(arrays(shape, -10, 10))
    mask = data.draw(st.one_of(st.none(), arrays(shape).map(lambda a: a > 0)))
    gradcheck(F.softmax_forward, F.softmax_backward, {"scores": scores},
              {"mask": mask}).raise_if_failed()


@given(shapes.flatmap(lambda s: arrays(s, -10, 10)))
def test_log_softmax_matches_finite_differences(x):
    gradcheck(F.log_softmax_forward, F.log_softmax_backward, {"x": x}).raise_if_failed()


@given(st.data())
def test_masked_softmax_matches_torch_on_rows_with_an_allowed_key(data):
    shape = data.draw(shapes)
    scores, da = data.draw(arrays(shape, -50, 50)), data.draw(arrays(shape))
    mask = data.draw(arrays(shape).map(lambda a: a > -1))
    mask[..., 0] = True  # torch gives NaN for an all-masked row; that case is tested below
    a, cache = F.softmax_forward(scores, mask)
    de = F.softmax_backward(da, cache)
    st_ = t(scores)
    at = torch.softmax(st_.masked_fill(~torch.as_tensor(mask), float("-inf")), dim=-1)
    backward_torch(at, da)
    assert_close(a, at, name="weights")
    assert_close(de, st_.grad, name="dscores")


@given(st.data())
def test_softmax_weights_sum_to_one_over_allowed_keys_and_ignore_a_row_shift(data):
    shape = data.draw(shapes)
    scores = data.draw(arrays(shape, -30, 30))
    mask = data.draw(arrays(shape).map(lambda a: a > 0))
    a, _ = F.softmax_forward(scores, mask)
    sums = a.sum(axis=-1)
    has_key = mask.any(axis=-1)
    np.testing.assert_allclose(sums[has_key], 1.0, rtol=1e-12)
    assert np.all(a[~mask] == 0)
    shift = data.draw(arrays(shape[:-1] + (1,), -100, 100))
    np.testing.assert_allclose(F.softmax_forward(scores + shift, mask)[0], a,
                               rtol=1e-9, atol=1e-12)


@st.composite
def extreme_masked_scores(draw, dtype):
    """Rows whose allowed scores and masked scores are far apart, both ways round.

    Softmax is shift-invariant, so a wrong row maximum (taken over the masked
    entries, or over every entry) changes nothing for moderate scores; it shows
    only when exp overflows (allowed scores far above the masked ones) or
    underflows to an all-zero row (masked scores far above the allowed ones).
    """
    big = float(np.finfo(dtype).max) / 4
    rows, Tk = draw(st.integers(1, 4)), draw(st.integers(2, 6))
    mask = np.array(draw(st.lists(st.lists(st.booleans(), min_size=Tk, max_size=Tk),
                                  min_size=rows, max_size=rows)))
    mask[:, 0], mask[:, -1] = True, False               # every row is partly masked
    level = st.sampled_from([100.0, 1e4, 1e30, big])
    allowed = np.array(draw(st.lists(st.sampled_from([-1, 1]), min_size=rows, max_size=rows)))
    scores = np.empty((rows, Tk))
    for i in range(rows):  # allowed near +level and masked near -level, or the reverse
        top, spread = draw(level), draw(st.floats(0, 20))
        noise = np.array(draw(st.lists(st.floats(-spread, spread), min_size=Tk, max_size=Tk)))
        scores[i] = np.where(mask[i], allowed[i] * top, -allowed[i] * top) + noise
    return scores.astype(dtype), mask


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(data=st.data())
def test_extreme_scores_with_partial_masks_give_exact_finite_weights(dtype, data):
    scores, mask = data.draw(extreme_masked_scores(dtype))
    with np.errstate(all="raise"):  # no overflow, no 0/0, no invalid value, not even a warning
        a, cache = F.softmax_forward(scores, mask)
        de = F.softmax_backward(np.ones_like(a), cache)
    assert a.dtype == dtype and np.isfinite(a).all() and np.isfinite(de).all()
    assert np.all(a[~mask] == 0)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(a.sum(axis=-1), 1.0, rtol=0, atol=4 * scores.shape[-1] * eps)
    # the oracle: PyTorch's softmax of the scores with the masked ones set to -inf
    expected = torch.softmax(torch.as_tensor(scores.astype(np.float64)).masked_fill(
        torch.as_tensor(~mask), -torch.inf), dim=-1).numpy()
    np.testing.assert_allclose(a, expected, rtol=0, atol=4 * eps)


def test_all_masked_row_gives_zero_weights_and_zero_gradient_without_warning():
    scores = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = np.array([[True, False, True], [False, False, False]])
    with np.errstate(all="raise"):
        a, cache = F.softmax_forward(scores, mask)
        de = F.softmax_backward(np.ones_like(a), cache)
    assert np.all(a[1] == 0) and np.all(de[1] == 0)
    assert not np.isnan(a).any()
    np.testing.assert_allclose(a[0].sum(), 1.0)


@pytest.mark.parametrize("value", [1e4, -1e4, 3e38, -3e38])
def test_extreme_inputs_raise_no_floating_point_error(value):
    with np.errstate(all="raise"):
        for dtype in (np.float32, np.float64):
            x = np.array([value, -1.0, 0.0, 2.0], dtype=dtype)
            s, _ = F.sigmoid_forward(x)
            assert np.isfinite(s).all() and s[0] in (0.0, 1.0)
            a, _ = F.softmax_forward(x[None])
            assert np.isfinite(a).all() and a.sum() == pytest.approx(1.0)
            y, _ = F.log_softmax_forward(x)
            assert np.isfinite(y).all()
            loss, _ = F.cross_entropy_forward(x[None], np.array([0]))
            assert np.isfinite(loss)
            F.tanh_forward(x)
