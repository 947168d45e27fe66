"""numpygam.functional.luong: the attentional hidden state and local attention (local-m, local-p)."""
import numpy as np
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

import numpygam.functional as F
from numpygam import gradcheck
from oracle import B_, D_, T_, arrays, assert_close, backward_torch, t


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
