"""The core ops: finite differences, the PyTorch oracle, dtypes, stability, no mutation."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import numpygam.functional as F
from numpygam import gradcheck
from oracle import arrays, assert_close, backward_torch, t

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2**32 - 1)


# -- finite differences (float64) over hypothesis-drawn shapes and values ----------

@given(st.data())
def test_linear_matches_finite_differences(data):
    lead = data.draw(st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple))
    din, dout = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    use_bias = data.draw(st.booleans())
    inputs = {"x": data.draw(arrays(lead + (din,))), "W": data.draw(arrays((dout, din))),
              "b": data.draw(arrays((dout,))) if use_bias else None}
    gradcheck(F.linear_forward, F.linear_backward, inputs).raise_if_failed()


@given(shapes.flatmap(lambda s: arrays(s)))
def test_tanh_and_sigmoid_match_finite_differences(x):
    gradcheck(F.tanh_forward, F.tanh_backward, {"x": x}).raise_if_failed()
    gradcheck(F.sigmoid_forward, F.sigmoid_backward, {"x": x}).raise_if_failed()


@given(shapes.flatmap(lambda s: arrays(s)))
def test_relu_matches_finite_differences_away_from_its_kink(x):
    x = x + np.where(x >= 0, 0.01, -0.01)  # the stencil spans 2h = 2e-3 around x
    gradcheck(F.relu_forward, F.relu_backward, {"x": x}).raise_if_failed()


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
def test_cross_entropy_matches_finite_differences(data):
    lead, C = data.draw(shapes), data.draw(st.integers(1, 5))
    logits = data.draw(arrays(lead + (C,), -10, 10))
    targets = data.draw(arrays(lead).map(lambda a: (np.abs(a * 7).astype(np.int64) % (C + 1))))
    targets = np.where(targets == C, -100, targets)  # some tokens are padding
    gradcheck(F.cross_entropy_forward, F.cross_entropy_backward, {"logits": logits},
              {"targets": targets}).raise_if_failed()


@given(st.data())
def test_embedding_matches_finite_differences(data):
    V, D = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 3))
    idx_shape = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=2).map(tuple))
    indices = np.asarray(data.draw(arrays(idx_shape, 0, V - 0.01))).astype(np.int64)
    gradcheck(F.embedding_forward, F.embedding_backward, {"W": data.draw(arrays((V, D)))},
              {"indices": indices}).raise_if_failed()


def test_empty_batch_gives_empty_outputs_and_gradients():
    x, W, b = np.zeros((0, 3)), np.ones((2, 3)), np.ones(2)
    y, cache = F.linear_forward(x, W, b)
    dx, dW, db = F.linear_backward(np.zeros((0, 2)), cache)
    assert y.shape == (0, 2) and dx.shape == (0, 3)
    assert np.all(dW == 0) and np.all(db == 0)
    a, cache = F.softmax_forward(np.zeros((0, 4)))
    assert a.shape == (0, 4) and F.softmax_backward(a, cache).shape == (0, 4)


# -- PyTorch oracle (float64) ------------------------------------------------------

@given(st.data())
def test_linear_matches_torch(data):
    lead = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple))
    din, dout = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))
    x, W, b = (data.draw(arrays(s)) for s in (lead + (din,), (dout, din), (dout,)))
    dy = data.draw(arrays(lead + (dout,)))
    y, cache = F.linear_forward(x, W, b)
    grads = F.linear_backward(dy, cache)
    xt, Wt, bt = t(x), t(W), t(b)
    yt = torch.nn.functional.linear(xt, Wt, bt)
    backward_torch(yt, dy)
    assert_close(y, yt, name="y")
    for ours, leaf, name in zip(grads, (xt, Wt, bt), "xWb"):
        assert_close(ours, leaf.grad, name="d" + name)


@pytest.mark.parametrize("name, torch_fn", [("relu", torch.relu), ("tanh", torch.tanh),
                                             ("sigmoid", torch.sigmoid)])
@given(st.data())
def test_activations_match_torch(name, torch_fn, data):
    shape = data.draw(shapes)
    x, dy = data.draw(arrays(shape, -30, 30)), data.draw(arrays(shape))
    x[data.draw(arrays(shape).map(lambda a: a > 1))] = 0.0  # ReLU's kink: torch's subgradient is 0
    y, cache = getattr(F, f"{name}_forward")(x)
    dx = getattr(F, f"{name}_backward")(dy, cache)
    xt = t(x)
    yt = torch_fn(xt)
    backward_torch(yt, dy)
    assert_close(y, yt, name="y")
    assert_close(dx, xt.grad, name="dx")


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
def test_log_softmax_and_cross_entropy_match_torch(data):
    N, C = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 5))
    logits = data.draw(arrays((N, C), -20, 20))
    targets = np.array(data.draw(st.lists(st.integers(-1, C - 1), min_size=N, max_size=N)))
    targets[0] = max(targets[0], 0)  # at least one real token (torch gives NaN otherwise)
    targets = np.where(targets < 0, -100, targets)
    loss, cache = F.cross_entropy_forward(logits, targets)
    dlogits = F.cross_entropy_backward(np.float64(1.7), cache)
    lt = t(logits)
    loss_t = torch.nn.functional.cross_entropy(lt, torch.as_tensor(targets), ignore_index=-100)
    (1.7 * loss_t).backward()
    assert_close(loss, loss_t, name="loss")
    assert_close(dlogits, lt.grad, name="dlogits")

    dy = data.draw(arrays((N, C)))
    y, cache = F.log_softmax_forward(logits)
    dx = F.log_softmax_backward(dy, cache)
    lt = t(logits)
    yt = torch.log_softmax(lt, dim=-1)
    backward_torch(yt, dy)
    assert_close(y, yt, name="log_softmax")
    assert_close(dx, lt.grad, name="dx")


@given(st.data())
def test_embedding_matches_torch(data):
    V, D = data.draw(st.integers(2, 6)), data.draw(st.integers(1, 4))
    ids = np.array(data.draw(st.lists(st.integers(0, V - 1), min_size=1, max_size=8)))
    padding_idx = data.draw(st.one_of(st.none(), st.integers(0, V - 1)))
    W, dy = data.draw(arrays((V, D))), data.draw(arrays((len(ids), D)))
    y, cache = F.embedding_forward(ids, W, padding_idx)
    dW = F.embedding_backward(dy, cache)
    Wt = t(W)
    yt = torch.nn.functional.embedding(torch.as_tensor(ids), Wt, padding_idx=padding_idx)
    backward_torch(yt, dy)
    assert_close(y, yt, name="y")
    assert_close(dW, Wt.grad, name="dW")


# -- properties, stability, dtypes, no mutation ------------------------------------

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


def test_cross_entropy_over_only_padding_is_zero_not_nan():
    loss, cache = F.cross_entropy_forward(np.ones((3, 4)), np.full(3, -100))
    assert loss == 0 and np.all(F.cross_entropy_backward(np.float64(1), cache) == 0)


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


def test_cross_entropy_of_a_confident_correct_prediction_is_near_zero():
    loss, _ = F.cross_entropy_forward(np.array([[1e4, 0.0, -1e4]]), np.array([0]))
    assert loss == 0.0
    loss, _ = F.cross_entropy_forward(np.array([[1e4, 0.0, -1e4]]), np.array([2]))
    assert loss == pytest.approx(2e4)


CASES = {
    "linear": (F.linear_forward, F.linear_backward, lambda r: ((r(2, 3), r(4, 3), r(4)), {})),
    "relu": (F.relu_forward, F.relu_backward, lambda r: ((r(3, 2),), {})),
    "tanh": (F.tanh_forward, F.tanh_backward, lambda r: ((r(3, 2),), {})),
    "sigmoid": (F.sigmoid_forward, F.sigmoid_backward, lambda r: ((r(3, 2),), {})),
    "softmax": (F.softmax_forward, F.softmax_backward,
                lambda r: ((r(2, 5),), {"mask": np.array([True, False, True, True, False])})),
    "log_softmax": (F.log_softmax_forward, F.log_softmax_backward, lambda r: ((r(2, 5),), {})),
    "cross_entropy": (F.cross_entropy_forward, F.cross_entropy_backward,
                      lambda r: ((r(3, 4), np.array([0, 3, -100])), {})),
    "embedding": (F.embedding_forward, F.embedding_backward,
                  lambda r: ((np.array([1, 0, 1]), r(3, 2)), {})),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_and_inputs_are_not_mutated(name, dtype, rng):
    forward, backward, make = CASES[name]
    args, kwargs = make(lambda *s: rng.standard_normal(s).astype(dtype))
    before = [a.copy() for a in args]
    out, cache = forward(*args, **kwargs)
    assert out.dtype == dtype, f"{name} forward returned {out.dtype} for {dtype} input"
    dout = np.ones_like(out)
    dout_before = dout.copy()
    grads = backward(dout, cache)
    for g in grads if isinstance(grads, tuple) else (grads,):
        assert g is None or g.dtype == dtype, f"{name} backward returned {g.dtype}"
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dout, dout_before)
