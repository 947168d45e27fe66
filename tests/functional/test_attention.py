"""numpygam.functional.attention: the context and the attention composite, every score, with masks."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from test_scores import TORCH_SCORES, score_inputs

import numpygam.functional as F
from numpygam import gradcheck
from oracle import B_, D_, T_, arrays, assert_close, backward_torch, t

# the score's inputs and its PyTorch formula, from the registry (functional/test_scores.py)
SCORE_NAMES = list(F.SCORES)


@given(data=st.data())
def test_context_matches_torch_and_finite_differences(data):
    B, Tq, Tk, Dv = (data.draw(s) for s in (B_, T_, T_, D_))
    a, values = data.draw(arrays((B, Tq, Tk))), data.draw(arrays((B, Tk, Dv)))
    gradcheck(F.context_forward, F.context_backward,
              {"weights": a, "values": values}).raise_if_failed()
    dc = data.draw(arrays((B, Tq, Dv)))
    c, cache = F.context_forward(a, values)
    da, dvalues = F.context_backward(dc, cache)
    at, vt = t(a), t(values)
    ct = torch.einsum("bij,bjd->bid", at, vt)  # c_i = sum_j a_ij h_j, literally
    backward_torch(ct, dc)
    assert_close(c, ct)
    assert_close(da, at.grad)
    assert_close(dvalues, vt.grad)


def draw_mask(data, B, Tq, Tk, allow_empty_rows=True):
    mask = data.draw(arrays((B, Tq, Tk)).map(lambda x: x > -1))
    if not allow_empty_rows:
        mask[..., 0] = True
    return mask


def attention_inputs(data, score, allow_empty_rows):
    """q, k, the score's parameters, values and a mask, for the composite."""
    q, k, params = score_inputs(data, score)
    B, Tq, Tk = q.shape[0], q.shape[1], k.shape[1]
    values = data.draw(arrays((B, Tk, data.draw(D_))))
    return q, k, params, values, draw_mask(data, B, Tq, Tk, allow_empty_rows)


@pytest.mark.parametrize("score", SCORE_NAMES)
@given(data=st.data())
def test_attention_composite_matches_finite_differences_with_masks(score, data):
    q, k, params, values, mask = attention_inputs(data, score, allow_empty_rows=True)
    gradcheck(F.attention_forward, F.attention_backward,
              {"q": q, "k": k, "values": values, **params},
              {"score": score, "mask": mask}).raise_if_failed()


@pytest.mark.parametrize("score", SCORE_NAMES)
@given(data=st.data())
def test_attention_composite_matches_torch(score, data):
    q, k, params, values, mask = attention_inputs(data, score, allow_empty_rows=False)
    (c, a), cache = F.attention_forward(q, k, values, score, mask, **params)
    dc, da = data.draw(arrays(c.shape)), data.draw(arrays(a.shape))
    grads = F.attention_backward((dc, da), cache)
    qt, kt, vt = t(q), t(k), t(values)
    pt = {name: t(v) for name, v in params.items()}
    e = TORCH_SCORES[score](qt, kt, pt).masked_fill(~torch.as_tensor(mask), float("-inf"))
    at = torch.softmax(e, dim=-1)
    ct = at @ vt
    (torch.sum(ct * torch.as_tensor(dc)) + torch.sum(at * torch.as_tensor(da))).backward()
    assert_close(c, ct, name="context")
    assert_close(a, at, name="weights")
    for ours, leaf, name in zip(grads, [qt, kt, vt, *pt.values()], ["q", "k", "values", *pt]):
        expected = leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)
        assert_close(ours, expected, name="d" + name)


@pytest.mark.parametrize("score", [n for n in F.SCORES if F.SCORES[n].uses_keys])
@given(data=st.data())
def test_permuting_keys_and_values_permutes_weights_and_keeps_context(score, data):
    q, k, params = score_inputs(data, score)
    values = data.draw(arrays(k.shape[:2] + (3,)))
    perm = np.array(data.draw(st.permutations(range(k.shape[1]))))
    (c, a), _ = F.attention_forward(q, k, values, score, **params)
    (c2, a2), _ = F.attention_forward(q, k[:, perm], values[:, perm], score, **params)
    np.testing.assert_allclose(a2, a[:, :, perm], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(c2, c, rtol=1e-10, atol=1e-12)


@given(data=st.data())
def test_weights_sum_to_one_over_unmasked_keys(data):
    q, k, params = score_inputs(data, "additive")
    mask = draw_mask(data, q.shape[0], q.shape[1], k.shape[1])
    (_, a), _ = F.attention_forward(q, k, k, "additive", mask, **params)
    rows_with_keys = mask.any(-1)
    np.testing.assert_allclose(a.sum(-1)[rows_with_keys], 1.0, rtol=1e-12)
    assert np.all(a[~mask] == 0)


def test_fully_masked_rows_give_zero_context_and_gradients_without_warnings(rng):
    q, k, values = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), \
        rng.standard_normal((2, 5, 2))
    mask = np.ones((2, 3, 5), bool)
    mask[1, 2] = False
    with np.errstate(all="raise"):
        (c, a), cache = F.attention_forward(q, k, values, "dot", mask)
        dq, dk, dv = F.attention_backward((np.ones_like(c), np.ones_like(a)), cache)
    assert np.all(c[1, 2] == 0) and np.all(a[1, 2] == 0) and np.all(dq[1, 2] == 0)
    for x in (c, a, dq, dk, dv):
        assert not np.isnan(x).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_keeps_dtype_and_leaves_inputs_alone(dtype, rng):
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 2)))
    W = rng.standard_normal((7, 4)).astype(dtype)
    copies = [x.copy() for x in (q, k, v, W)]
    (c, a), cache = F.attention_forward(q, k, v, "additive", Wq=W, Wk=W,
                                        v=rng.standard_normal(7).astype(dtype))
    grads = F.attention_backward((np.ones_like(c), None), cache)
    assert c.dtype == a.dtype == dtype and all(g.dtype == dtype for g in grads if g is not None)
    for x, x0 in zip((q, k, v, W), copies):
        np.testing.assert_array_equal(x, x0)
