"""numpygam.nn.multihead: nn.MultiheadAttention against torch.nn.MultiheadAttention, masks of every kind."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from numpygam import gradcheck_module, nn
from oracle import B_, T_, TOL, arrays, assert_close, batch_split_into, normal, t


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


def test_multihead_attention_module_matches_finite_differences(rng):
    m = nn.MultiheadAttention(6, 3)
    x = rng.standard_normal((2, 4, 6))
    assert gradcheck_module(m, [x, rng.standard_normal((2, 3, 6)),
                                rng.standard_normal((2, 3, 6))]).passed


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


def test_float_padding_masks_are_added_like_torchs():
    torch.manual_seed(1)
    tm = torch.nn.MultiheadAttention(4, 2, batch_first=True, dtype=torch.float64)
    ours = nn.MultiheadAttention(4, 2, dtype=np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(0)
    q, kv = normal(rng, 2, 3, 4), normal(rng, 2, 5, 4)
    kpm = rng.standard_normal((2, 5))  # any float: added to every query's scores
    out, w = ours(q, kv, kv, key_padding_mask=kpm)
    out_t, w_t = tm(t(q), t(kv), t(kv), key_padding_mask=torch.tensor(kpm))
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(w, w_t.detach().numpy(), **TOL)


@pytest.mark.parametrize("dtype", [bool, np.float64])
def test_a_3d_attn_mask_is_read_batch_major_like_torchs(dtype):
    """attn_mask of shape (B * H, Tq, Tk): row b * H + h is batch b's head h."""
    B, H, E, Tq, Tk = 3, 2, 4, 2, 5
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(E, H, batch_first=True, dtype=torch.float64)
    ours = nn.MultiheadAttention(E, H, dtype=np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(4)
    q, k = normal(rng, B, Tq, E), normal(rng, B, Tk, E)
    if dtype is bool:
        mask = rng.random((B * H, Tq, Tk)) < 0.5
        mask[:, :, 0] = False  # every row keeps a key (torch gives NaN for none)
    else:
        mask = normal(rng, B * H, Tq, Tk) * 3
    out, w = ours(q, k, k, attn_mask=mask, average_attn_weights=False)
    qt, kt = t(q), t(k)
    out_t, w_t = tm(qt, kt, kt, attn_mask=torch.tensor(mask), average_attn_weights=False)
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(w, w_t.detach().numpy(), **TOL)
    dout = normal(rng, B, Tq, E)
    out_t.backward(torch.tensor(dout))
    dq, dk, dv = ours.backward(dout)
    np.testing.assert_allclose(dq, qt.grad.numpy(), **TOL)
    np.testing.assert_allclose(dk + dv, kt.grad.numpy(), **TOL)
