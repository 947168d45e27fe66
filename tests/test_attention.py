"""Attention: scores, context, the composite, Luong's pieces, local and multi-head attention."""

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from test_scores import TORCH_SCORES, score_inputs

import numpygam.functional as F
from numpygam import gradcheck, gradcheck_module, nn
from oracle import arrays, assert_close, backward_torch, batch_split_into, t

B_, T_, D_ = st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)


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


# -- Luong's attentional hidden state and local attention ----------------------------

@given(data=st.data())
def test_attentional_hidden_matches_torch_and_finite_differences(data):
    lead, Dc, Dh, D = (data.draw(B_), data.draw(T_)), data.draw(D_), data.draw(D_), data.draw(D_)
    c, h, W = data.draw(arrays(lead + (Dc,))), data.draw(arrays(lead + (Dh,))), \
        data.draw(arrays((D, Dc + Dh)))
    gradcheck(F.attentional_hidden_forward, F.attentional_hidden_backward,
              {"c": c, "h": h, "W": W, "b": None}).raise_if_failed()
    out, cache = F.attentional_hidden_forward(c, h, W)
    dout = data.draw(arrays(out.shape))
    dc, dh, dW, db = F.attentional_hidden_backward(dout, cache)
    ct, ht, Wt = t(c), t(h), t(W)
    outt = torch.tanh(torch.cat([ct, ht], -1) @ Wt.T)   # h~_t = tanh(W_c [c_t; h_t])
    backward_torch(outt, dout)
    assert db is None
    for ours, theirs in ((out, outt), (dc, ct.grad), (dh, ht.grad), (dW, Wt.grad)):
        assert_close(ours, theirs)


def test_local_m_window_is_cut_at_the_edges():
    mask = F.local_window_mask(np.arange(4), 5, 1)
    expected = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1]], bool)
    np.testing.assert_array_equal(mask, expected)
    beyond = F.local_window_mask(np.array([[7]]), 5, 1, lengths=np.array([5]))
    assert not beyond.any()  # a window past the source is empty ...
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((1, 1, 3)), rng.standard_normal((1, 5, 3))
    (c, a), _ = F.attention_forward(q, k, k, "dot", beyond)
    assert np.all(c == 0) and np.all(a == 0)  # ... and gives a zero context, not NaN
    by_length = F.local_window_mask(np.array([[3], [3]]), 5, 1, lengths=np.array([5, 4]))
    np.testing.assert_array_equal(by_length[:, 0].astype(int), [[0, 0, 1, 1, 1], [0, 0, 1, 1, 0]])


def local_p_inputs(data):
    B, Tq, Tk, Dq, A = data.draw(B_), data.draw(T_), data.draw(st.integers(1, 7)), \
        data.draw(D_), data.draw(D_)
    lengths = np.array(data.draw(st.lists(st.integers(1, Tk), min_size=B, max_size=B)))
    return {"q": data.draw(arrays((B, Tq, Dq))), "k": data.draw(arrays((B, Tk, Dq))),
            "values": data.draw(arrays((B, Tk, 2))), "Wp": data.draw(arrays((A, Dq))),
            "vp": data.draw(arrays((A,))), "W": data.draw(arrays((Dq, Dq)))}, \
        {"D": data.draw(st.integers(1, 3)), "lengths": lengths}


def far_from_window_edges(inputs, options):
    """The window's edges are steps in p_t; finite differences must not straddle one."""
    _, cache = F.local_p_attention_forward(**inputs, **options)
    p = F.local_p_positions(cache)
    gap = np.abs(np.abs(np.arange(inputs["k"].shape[1]) - p[..., None]) - options["D"])
    return gap.min() > 0.05


@given(data=st.data())
def test_local_p_matches_finite_differences_including_through_p_t(data):
    inputs, options = local_p_inputs(data)
    assume(far_from_window_edges(inputs, options))
    gradcheck(F.local_p_attention_forward, F.local_p_attention_backward, inputs,
              options).raise_if_failed()


@given(data=st.data())
def test_local_p_matches_torch(data):
    inputs, options = local_p_inputs(data)
    assume(far_from_window_edges(inputs, options))  # on an edge, rounding decides membership
    D, lengths = options["D"], options["lengths"]
    (c, w), cache = F.local_p_attention_forward(**inputs, **options)
    dc, dw = data.draw(arrays(c.shape)), data.draw(arrays(w.shape))
    grads = F.local_p_attention_backward((dc, dw), cache)
    q, k, values, Wp, vp, W = (t(inputs[n]) for n in ("q", "k", "values", "Wp", "vp", "W"))
    S = torch.as_tensor(lengths, dtype=torch.float64)[:, None]
    p = S * torch.sigmoid(torch.tanh(q @ Wp.T) @ vp)                 # Luong eq. 9
    s = torch.arange(k.shape[1], dtype=torch.float64)
    dist = s - p[..., None]
    window = (dist.detach().abs() <= D) & (s < S[..., None])
    align = torch.softmax((q @ W @ k.transpose(1, 2)).masked_fill(~window, float("-inf")), -1)
    align = torch.nan_to_num(align)  # rows with no key in the window (torch gives NaN)
    wt = align * torch.exp(-dist ** 2 / (2 * (D / 2) ** 2))           # Luong eq. 10
    ct = wt @ values
    (torch.sum(ct * torch.as_tensor(dc)) + torch.sum(wt * torch.as_tensor(dw))).backward()
    assert_close(c, ct, name="context")
    assert_close(w, wt, name="weights")
    assert_close(F.local_p_positions(cache), p, name="p_t")
    for ours, leaf, name in zip(grads, (q, k, values, Wp, vp, W), ("q", "k", "values", "Wp", "vp", "W")):
        assert_close(ours, leaf.grad, name="d" + name)


def test_local_p_positions_lie_inside_the_source(rng):
    m = nn.LocalAttention("p", 2, "general", 4)
    m(rng.standard_normal((3, 2, 4)).astype(np.float32), rng.standard_normal((3, 6, 4)).astype(
        np.float32), lengths=np.array([6, 3, 1]))
    assert np.all(m.positions > 0) and np.all(m.positions < np.array([6, 3, 1])[:, None])


# -- multi-head attention against torch.nn.MultiheadAttention -------------------------

@given(data=st.data())
def test_multihead_attention_matches_torch_with_copied_weights(data):
    H = data.draw(st.integers(1, 3))
    E = H * data.draw(st.integers(1, 3))
    B, Tq, Tk = data.draw(B_), data.draw(T_), data.draw(T_)
    bias, average = data.draw(st.booleans()), data.draw(st.booleans())
    self_attention = data.draw(st.booleans())
    torch.manual_seed(data.draw(st.integers(0, 1000)))
    tm = torch.nn.MultiheadAttention(E, H, bias=bias, batch_first=True)
    if bias:  # torch starts biases at zero; make them count
        with torch.no_grad():
            tm.in_proj_bias.normal_()
            tm.out_proj.bias.normal_()
    ours = nn.MultiheadAttention(E, H, bias=bias).to(np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    query = data.draw(arrays((B, Tq, E)))
    key = query if self_attention else data.draw(arrays((B, Tk, E)))
    value = query if self_attention else data.draw(arrays((B, Tk, E)))
    Tk = key.shape[1]
    kpm = data.draw(arrays((B, Tk)).map(lambda x: x > 1.5))
    kpm[:, 0] = False  # torch returns NaN for a query with no key at all
    attn_mask = data.draw(st.one_of(st.none(), arrays((Tq, Tk)).map(lambda x: x > 1.5)))
    if attn_mask is not None:
        attn_mask[:, 0] = False
    shares = data.draw(st.integers(1, 3))  # the batch split across threads (numpygam/parallel.py)
    with batch_split_into(shares):
        out, w = ours(query, key, value, key_padding_mask=kpm, attn_mask=attn_mask,
                      average_attn_weights=average)
        dout, dw = data.draw(arrays(out.shape)), data.draw(arrays(w.shape))
        dq, dk, dv = ours.backward(dout, dw)
    qt, kt, vt = t(query), t(key), t(value)
    outt, wt = tm(qt, kt, vt, key_padding_mask=torch.as_tensor(kpm),
                  attn_mask=None if attn_mask is None else torch.as_tensor(attn_mask),
                  average_attn_weights=average)
    (torch.sum(outt * torch.as_tensor(dout)) + torch.sum(wt * torch.as_tensor(dw))).backward()
    assert_close(out, outt, name="out")
    assert_close(w, wt, name="weights")
    for ours_g, leaf, name in ((dq, qt, "dquery"), (dk, kt, "dkey"), (dv, vt, "dvalue")):
        assert_close(ours_g, leaf.grad, name=name)
    params = dict(ours.named_parameters())
    for name, p in tm.named_parameters():
        assert_close(params[name].grad, p.grad, name=name)


@pytest.mark.parametrize("bias", [True, False])
def test_self_attention_in_one_product_gives_what_three_products_give(bias, rng):
    """query is key is value takes the fused path (x [W_q; W_k; W_v]^T); copies of x take
    the three products: every output and gradient the same, to float64 rounding."""
    E, H = 8, 2
    W_in, W_out = rng.standard_normal((3 * E, E)), rng.standard_normal((E, E))
    b_in, b_out = (rng.standard_normal(3 * E), rng.standard_normal(E)) if bias else (None,) * 2
    x, dy = rng.standard_normal((3, 5, E)), rng.standard_normal((3, 5, E))
    dw = rng.standard_normal((3, H, 5, 5))
    mask = np.tril(np.ones((5, 5), bool))
    results, projections = [], []
    for query, key, value in ((x, x, x), (x, x.copy(), x.copy())):
        (out, w), cache = F.multi_head_attention_forward(query, key, value, W_in, b_in, W_out,
                                                         b_out, H, mask=mask)
        projections.append(len(cache.in_caches))
        results.append((out, w, *F.multi_head_attention_backward((dy, dw), cache)))
    assert projections == [1, 3]
    for fused, three in zip(*results):
        if three is None:
            assert fused is None
            continue
        np.testing.assert_allclose(fused, three, rtol=1e-12, atol=1e-12)


def test_multihead_attention_module_matches_finite_differences(rng):
    m = nn.MultiheadAttention(6, 3)
    x = rng.standard_normal((2, 4, 6))
    assert gradcheck_module(m, [x, rng.standard_normal((2, 3, 6)),
                                rng.standard_normal((2, 3, 6))]).passed


# -- modules --------------------------------------------------------------------------

@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("score", F.SCORES)
def test_attention_module_matches_finite_differences(score, fast, rng):
    same = F.SCORES[score].same_size
    m = nn.Attention(score, 4, None if same else 3, attn_dim=5, num_keys=6).set_fast(fast)
    q, k, v = rng.standard_normal((2, 1, 4)), rng.standard_normal((2, 6, 4 if same else 3)), \
        rng.standard_normal((2, 6, 2))
    allowed = np.ones((2, 1, 6), bool)
    allowed[0, 0, 4:] = False
    report = gradcheck_module(m, [q, k, v, allowed])
    assert report.passed, str(report)
    assert gradcheck_module(m, [q, k]).passed  # values default to the keys


KEY_SIDE_SCORES = [name for name, score in F.SCORES.items() if score.key_side is not None]


@pytest.mark.parametrize("score", KEY_SIDE_SCORES)
def test_keys_projected_once_give_what_every_step_projecting_gives(score, rng):
    """A decoder's use: three one-query steps read K = project_keys(keys), backward walks
    them in reverse and dK goes through the projection once; the contexts, weights, input
    gradients and every parameter gradient equal those of three plain calls on the
    textbook floor."""
    once, every = (nn.Attention(score, 4, 3, attn_dim=5, rng=np.random.default_rng(7),
                                dtype=np.float64) for _ in range(2))
    every.set_fast(False)
    keys = rng.standard_normal((2, 6, 3))
    queries, dcs = rng.standard_normal((3, 2, 1, 4)), rng.standard_normal((3, 2, 1, 3))
    mask = np.ones((2, 1, 6), bool)
    mask[1, 0, 4:] = False
    K = once.project_keys(keys)
    outs_once = [once(q, keys, allowed=mask, projected_keys=K) for q in queries]
    outs_every = [every(q, keys, allowed=mask) for q in queries]
    for (c1, a1), (c2, a2) in zip(outs_once, outs_every):
        np.testing.assert_allclose(c1, c2, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(a1, a2, rtol=1e-12, atol=1e-12)
    dK, dkeys_once, dkeys_every = np.zeros_like(K), np.zeros_like(keys), np.zeros_like(keys)
    for q, dc in reversed(list(zip(queries, dcs))):
        dq1, dK_t, dvalues = once.backward(dc)
        dq2, dk = every.backward(dc)
        np.testing.assert_allclose(dq1, dq2, rtol=1e-12, atol=1e-12)
        dK += dK_t
        dkeys_once += dvalues
        dkeys_every += dk
    dkeys_once += once.project_keys_backward(dK, keys)
    np.testing.assert_allclose(dkeys_once, dkeys_every, rtol=1e-10, atol=1e-12)
    for (name, p1), (_, p2) in zip(once.named_parameters(), every.named_parameters()):
        np.testing.assert_allclose(p1.grad, p2.grad, rtol=1e-10, atol=1e-12, err_msg=name)


def test_project_keys_names_the_scores_that_have_a_key_side():
    with pytest.raises(ValueError, match=r"only the scores \['additive', 'concat'\] have a key "
                                         r"side to compute once; this attention's score is 'general'"):
        nn.Attention("general", 4, 3).project_keys(np.zeros((1, 2, 3), np.float32))


@pytest.mark.parametrize("mode", ["m", "p"])
def test_local_attention_module_matches_finite_differences(mode, rng):
    m = nn.LocalAttention(mode, 8, "concat", 4, 3, attn_dim=5)  # D >= Tk: no window edge
    q, k = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 6, 3))
    assert gradcheck_module(m, [q, k, k[..., :2], np.array([6, 4])]).passed


def test_attention_module_parameters_have_the_papers_names():
    assert [n for n, _ in nn.Attention("additive", 4, 3, attn_dim=5).named_parameters()] == \
        ["W_a", "U_a", "v_a", "b_a"]
    assert [n for n, _ in nn.Attention("concat", 4, 3).named_parameters()] == ["W_a", "v_a"]
    assert [n for n, _ in nn.LocalAttention("p", 2, "general", 4).named_parameters()] == \
        ["W_a", "W_p", "v_p"]
    assert [n for n, _ in nn.AttentionalHidden(3, 4).named_parameters()] == ["W_c"]


# -- errors ---------------------------------------------------------------------------

ones = np.ones


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.dot_score_forward(ones((2, 3, 4)), ones((2, 5, 6))), ValueError,
     ["feature size", "got 4", "expected 6"]),
    (lambda: F.dot_score_forward(ones((3, 4)), ones((2, 5, 4))), ValueError,
     ["q", "3 dimensions", "(3, 4)"]),
    (lambda: F.dot_score_forward(ones((2, 3, 4)), ones((3, 5, 4))), ValueError,
     ["batch size", "got 2", "expected 3"]),
    (lambda: F.general_score_forward(ones((2, 3, 4)), ones((2, 5, 6)), ones((6, 4))), ValueError,
     ["W.shape[0]", "Dq", "got 6", "expected 4"]),
    (lambda: F.concat_score_forward(ones((2, 3, 4)), ones((2, 5, 6)), ones((7, 9)), ones(7)),
     ValueError, ["Dq + Dk = 4 + 6", "got 9", "expected 10"]),
    (lambda: F.additive_score_forward(ones((2, 3, 4)), ones((2, 5, 6)), ones((7, 4)),
                                      ones((7, 6)), ones(8)), ValueError,
     ["v.shape[0]", "got 8", "expected 7"]),
    (lambda: F.attention_forward(ones((2, 3, 4)), ones((2, 5, 4)), ones((2, 4, 3))), ValueError,
     ["values.shape[:2]", "(2, 4)", "(2, 5)"]),
    (lambda: F.attention_forward(ones((2, 3, 4)), ones((2, 5, 4)), ones((2, 5, 3)),
                                 mask=ones((2, 5), bool)), ValueError,
     ["mask", "(2, 5)", "(2, 3, 5)"]),
    (lambda: F.attention_forward(ones((2, 3, 4)), ones((2, 5, 4)), ones((2, 5, 3)), "cosine"),
     ValueError, ["unknown score", "cosine", "additive"]),
    (lambda: F.attention_forward(ones((2, 3, 4)), ones((2, 5, 4)), ones((2, 5, 3)), "dot",
                                 W=ones((4, 4))), TypeError, ["'dot'", "W"]),
    (lambda: F.context_forward(ones((2, 3, 5)), ones((2, 4, 3))), ValueError,
     ["Tk", "got 5", "expected 4"]),
    (lambda: nn.Attention("dot", 4, 3), ValueError, ["query_dim=4", "key_dim=3", "general"]),
    (lambda: nn.Attention("location", 4), ValueError, ["num_keys"]),
    (lambda: nn.LocalAttention("x", 2, query_dim=4), ValueError, ["mode", "'x'"]),
    (lambda: nn.MultiheadAttention(10, 3), ValueError, ["embed_dim (10)", "num_heads (3)"]),
    (lambda: nn.MultiheadAttention(4, 2)(ones((1, 2, 4), np.float32), ones((1, 3, 4), np.float32),
                                         ones((1, 3, 4), np.float32),
                                         key_padding_mask=ones((1, 2), bool)), ValueError,
     ["key_padding_mask", "(1, 3)", "(1, 2)"]),
])
def test_bad_attention_input_gives_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), f"{w!r} not in message: {info.value}"


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


def test_multihead_attention_with_a_fully_padded_key_row_gives_zeros_not_nan(rng):
    """torch returns NaN here (so the oracle test avoids it); numpygam's rule is
    that a query with no key to attend to gets zero weights and a zero context."""
    m = nn.MultiheadAttention(6, 3).to(np.float64)
    q, kv = rng.standard_normal((2, 4, 6)), rng.standard_normal((2, 5, 6))
    padding = np.zeros((2, 5), bool)
    padding[0] = True  # every key of the first sequence is padding
    with np.errstate(all="raise"):
        out, w = m(q, kv, kv, key_padding_mask=padding, average_attn_weights=False)
        dq, dk, dv = m.backward(np.ones_like(out), np.ones_like(w))
    assert np.all(w[0] == 0) and np.allclose(w[1].sum(-1), 1)
    np.testing.assert_array_equal(out[0], np.broadcast_to(m.out_proj.bias.data, (4, 6)))
    assert np.all(dk[0] == 0) and np.all(dv[0] == 0)
    assert all(np.isfinite(g).all() for g in (dq, dk, dv))
