"""numpygam.nn.transformer: the layers, stacks and nn.Transformer against PyTorch, every kind of mask."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import numpygam.functional as F
from numpygam import nn
from oracle import TOL, normal, t


def _torch_layer(kind, E, H, ff, act, norm_first, seed):
    torch.manual_seed(seed)
    cls = torch.nn.TransformerEncoderLayer if kind == "encoder" else torch.nn.TransformerDecoderLayer
    tm = cls(E, H, ff, dropout=0.0, activation=act, batch_first=True, norm_first=norm_first,
             dtype=torch.float64)
    with torch.no_grad():  # biases and norms away from their 0/1 start, so they count
        for name, p in tm.named_parameters():
            if p.dim() == 1:
                p.normal_()
    ours = (nn.TransformerEncoderLayer if kind == "encoder" else nn.TransformerDecoderLayer)(
        E, H, ff, dropout=0.0, activation=act, batch_first=True, norm_first=norm_first,
        dtype=np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    return tm, ours


def _masks(data, rng, B, Tq, Tk, causal):
    """(numpy masks, torch masks): a key padding mask (one row fully padded when drawn),
    and an attention mask that is None, causal (bool or float) or a random float mask."""
    kpm = rng.random((B, Tk)) < 0.3
    kpm[:, 0] = False
    fully_padded = data.draw(st.booleans()) and B > 1
    if fully_padded:
        kpm[-1] = True
    kind = data.draw(st.sampled_from(["none", "bool", "float", "random"] if causal else
                                     ["none", "random"]))
    if kind == "bool":
        mask = ~F.causal_mask(Tq)  # torch's module convention: True = may not attend
    elif kind == "float":
        mask = nn.Transformer.generate_square_subsequent_mask(Tq, np.float64)
    elif kind == "random":
        mask = rng.standard_normal((Tq, Tk))
    else:
        mask = None
    return kpm, mask, fully_padded


def _compare(ours, theirs, fully_padded):
    """Compare, leaving out the fully padded batch row where torch gives NaN (ours: finite)."""
    ours, theirs = np.asarray(ours), theirs.detach().numpy()
    assert np.isfinite(ours).all()
    keep = slice(0, -1) if fully_padded else slice(None)
    np.testing.assert_allclose(ours[keep], theirs[keep], **TOL)


@given(st.data())
def test_encoder_layer_matches_torch(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 10_000)))
    H = data.draw(st.integers(1, 2))
    E, B, S = H * data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)), \
        data.draw(st.integers(1, 4))
    act, norm_first = data.draw(st.sampled_from(["relu", "gelu"])), data.draw(st.booleans())
    tm, ours = _torch_layer("encoder", E, H, 5, act, norm_first, data.draw(st.integers(0, 99)))
    kpm, mask, fully_padded = _masks(data, rng, B, S, S, causal=True)
    src = normal(rng, B, S, E)
    out = ours(src, src_mask=mask, src_key_padding_mask=kpm)
    dout = normal(rng, *out.shape)
    if fully_padded:
        dout[-1] = 0  # torch's NaN there would poison every gradient
    dsrc = ours.backward(dout)
    st_ = t(src)
    out_t = tm(st_, src_mask=None if mask is None else torch.tensor(mask),
               src_key_padding_mask=torch.tensor(kpm))
    out_t.backward(torch.tensor(dout))
    _compare(out, out_t, fully_padded)
    _compare(dsrc, st_.grad, fully_padded)  # the other rows' gradients still match
    if not fully_padded:
        grads = dict(ours.named_parameters())
        for name, p in tm.named_parameters():
            np.testing.assert_allclose(grads[name].grad, p.grad.numpy(), **TOL, err_msg=name)


@given(st.data())
def test_decoder_layer_matches_torch(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 10_000)))
    H = data.draw(st.integers(1, 2))
    E, B = H * data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    T, S = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    act, norm_first = data.draw(st.sampled_from(["relu", "gelu"])), data.draw(st.booleans())
    tm, ours = _torch_layer("decoder", E, H, 5, act, norm_first, data.draw(st.integers(0, 99)))
    mem_kpm, memory_mask, fully_padded = _masks(data, rng, B, T, S, causal=False)
    tgt_mask = data.draw(st.sampled_from([None, ~F.causal_mask(T),
                                          nn.Transformer.generate_square_subsequent_mask(
                                              T, np.float64)]))
    tgt_kpm = rng.random((B, T)) < 0.2
    tgt_kpm[:, 0] = False
    tgt, memory = normal(rng, B, T, E), normal(rng, B, S, E)
    out = ours(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
               tgt_key_padding_mask=tgt_kpm, memory_key_padding_mask=mem_kpm)
    dout = normal(rng, *out.shape)
    if fully_padded:
        dout[-1] = 0
    dtgt, dmemory = ours.backward(dout)
    tt, mt = t(tgt), t(memory)
    out_t = tm(tt, mt, tgt_mask=None if tgt_mask is None else torch.tensor(tgt_mask),
               memory_mask=None if memory_mask is None else torch.tensor(memory_mask),
               tgt_key_padding_mask=torch.tensor(tgt_kpm),
               memory_key_padding_mask=torch.tensor(mem_kpm))
    out_t.backward(torch.tensor(dout))
    _compare(out, out_t, fully_padded)
    _compare(dtgt, tt.grad, fully_padded)
    _compare(dmemory, mt.grad, fully_padded)
    if not fully_padded:
        grads = dict(ours.named_parameters())
        for name, p in tm.named_parameters():
            np.testing.assert_allclose(grads[name].grad, p.grad.numpy(), **TOL, err_msg=name)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [True, False])
def test_transformer_matches_torch_and_loads_its_state_dict(norm_first, batch_first):
    torch.manual_seed(3)
    B, S, T, E, H = 3, 5, 4, 8, 2
    kw = dict(d_model=E, nhead=H, num_encoder_layers=2, num_decoder_layers=2,
              dim_feedforward=16, dropout=0.0, batch_first=batch_first, norm_first=norm_first)
    tm = torch.nn.Transformer(**kw, dtype=torch.float64)
    ours = nn.Transformer(**kw, dtype=np.float64)
    state = {k: v.detach().numpy() for k, v in tm.state_dict().items()}
    assert list(ours.state_dict()) == list(state)  # PyTorch's names, in PyTorch's order
    ours.load_state_dict(state)
    rng = np.random.default_rng(0)
    src, tgt = normal(rng, B, S, E), normal(rng, B, T, E)
    if not batch_first:
        src, tgt = src.transpose(1, 0, 2).copy(), tgt.transpose(1, 0, 2).copy()
    kpm = np.zeros((B, S), bool)
    kpm[1, 3:] = True
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(T, np.float64)
    out = ours(src, tgt, tgt_mask=tgt_mask, src_key_padding_mask=kpm,
               memory_key_padding_mask=kpm)
    dout = normal(rng, *out.shape)
    dsrc, dtgt = ours.backward(dout)
    st_, tt = t(src), t(tgt)
    out_t = tm(st_, tt, tgt_mask=torch.tensor(tgt_mask), src_key_padding_mask=torch.tensor(kpm),
               memory_key_padding_mask=torch.tensor(kpm))
    out_t.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(dsrc, st_.grad.numpy(), **TOL)
    np.testing.assert_allclose(dtgt, tt.grad.numpy(), **TOL)
    grads = dict(ours.named_parameters())
    for name, p in tm.named_parameters():
        np.testing.assert_allclose(grads[name].grad, p.grad.numpy(), **TOL, err_msg=name)


def test_transformer_runs_in_float32_end_to_end():
    m = nn.Transformer(8, 2, 1, 1, 16, dropout=0.1, batch_first=True)
    rng = np.random.default_rng(0)
    src = rng.standard_normal((2, 5, 8)).astype(np.float32)
    tgt = rng.standard_normal((2, 3, 8)).astype(np.float32)
    out = m(src, tgt, tgt_mask=~F.causal_mask(3))
    dsrc, dtgt = m.backward(np.ones_like(out))
    assert out.dtype == dsrc.dtype == dtgt.dtype == np.float32
    assert all(p.grad.dtype == np.float32 and np.isfinite(p.grad).all() for p in m.parameters())


@pytest.mark.parametrize("call, words", [
    (lambda: nn.TransformerEncoderLayer(6, 4), ["d_model (6)", "nhead (4)"]),
    (lambda: nn.TransformerEncoderLayer(8, 2, activation="swish"), ["activation", "swish"]),
    (lambda: nn.TransformerDecoderLayer(8, 2, dropout=2), ["dropout", "2"]),
    (lambda: nn.LayerNorm((3, 4)), ["last axis"]),
    (lambda: nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), 0), ["num_layers", "0"]),
])
def test_bad_transformer_arguments_are_named(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for w in words:
        assert w in str(info.value)


def test_dropout_masks_differ_between_the_copied_layers():
    nn.manual_seed(0)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8, dropout=0.5,
                                                           batch_first=True), 2)
    draws = [layer.dropout.rng.random() for layer in enc.layers]
    assert draws[0] != draws[1]


# -- training mode, causal flags, limits, initialisation --------------------------------


class _Replay(torch.nn.Module):
    """A torch dropout that applies a given scaled mask (the one numpygam drew)."""

    def __init__(self, scaled_mask):
        super().__init__()
        self.scaled_mask = torch.tensor(scaled_mask)

    def forward(self, x):
        return x * self.scaled_mask


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_layers_in_training_mode_with_dropout_match_torch_given_the_same_masks(kind, norm_first):
    """Dropout 0.4 in training mode: numpygam draws its masks, torch's dropout modules
    replay them, and outputs and every gradient agree.  numpygam's MultiheadAttention has
    no dropout on the attention weights (torch's `dropout` argument), so torch's is set to
    0 there."""
    E, H, ff, B, T, S = 4, 2, 6, 2, 3, 4
    torch.manual_seed(3)
    cls = torch.nn.TransformerEncoderLayer if kind == "encoder" else torch.nn.TransformerDecoderLayer
    tm = cls(E, H, ff, dropout=0.4, batch_first=True, norm_first=norm_first, dtype=torch.float64)
    ours = (nn.TransformerEncoderLayer if kind == "encoder" else nn.TransformerDecoderLayer)(
        E, H, ff, dropout=0.4, batch_first=True, norm_first=norm_first, dtype=np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(0)
    x, mem, dy = normal(rng, B, T, E), normal(rng, B, S, E), normal(rng, B, T, E)
    ours.train()
    y = ours(x) if kind == "encoder" else ours(x, mem)
    names = ["dropout", "dropout1", "dropout2"] + (["dropout3"] if kind == "decoder" else [])
    masks = {n: getattr(ours, n)._caches[-1].scaled_mask for n in names}
    assert all(m is not None and (m == 0).any() for m in masks.values())  # dropout did drop
    assert masks["dropout"].shape == (B, T, ff)  # the inner dropout sits before linear2
    for n in names:
        setattr(tm, n, _Replay(masks[n]))
    tm.self_attn.dropout = 0.0
    if kind == "decoder":
        tm.multihead_attn.dropout = 0.0
    tm.train()
    xt, mt = t(x), t(mem)
    yt = tm(xt) if kind == "encoder" else tm(xt, mt)
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, yt.detach().numpy(), **TOL)
    grads = ours.backward(dy)
    dx, dmem = (grads, None) if kind == "encoder" else grads
    np.testing.assert_allclose(dx, xt.grad.numpy(), **TOL)
    if kind == "decoder":
        np.testing.assert_allclose(dmem, mt.grad.numpy(), **TOL)
    theirs = dict(tm.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, theirs[name].grad.numpy(), **TOL, err_msg=name)


def test_is_causal_without_a_mask_applies_the_causal_mask():
    """is_causal=True and no mask: the same as passing torch's causal mask, and an output
    row never depends on the positions after it."""
    tm, ours = _torch_layer("encoder", 4, 2, 6, "relu", False, 0)
    ours.eval()
    rng = np.random.default_rng(1)
    x = normal(rng, 2, 5, 4)
    y = ours(x, is_causal=True)
    causal = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    yt = tm(torch.tensor(x), src_mask=causal, is_causal=True)
    np.testing.assert_allclose(y, yt.detach().numpy(), **TOL)
    x2 = x.copy()
    x2[:, 3:] += 1.0  # change the future of positions 0..2
    np.testing.assert_allclose(ours(x2, is_causal=True)[:, :3], y[:, :3], **TOL)
    assert not np.allclose(ours(x2)[:, :3], ours(x)[:, :3])  # without it the past does change
    tdm, dec = _torch_layer("decoder", 4, 2, 6, "relu", True, 2)
    dec.eval()
    mem = normal(rng, 2, 3, 4)
    y = dec(x, mem, tgt_is_causal=True)
    yt = tdm(torch.tensor(x), torch.tensor(mem), tgt_mask=causal, tgt_is_causal=True)
    np.testing.assert_allclose(y, yt.detach().numpy(), **TOL)


def test_positions_accept_exactly_max_len_and_refuse_one_more():
    for learned in (False, True):
        pe = nn.PositionalEncoding(4, max_len=6, learned=learned, dtype=np.float64)
        y = pe(np.zeros((1, 6, 4)))
        np.testing.assert_array_equal(y[0, 5], (pe.weight.data if learned else pe.table)[5])
        with pytest.raises(ValueError, match="7 positions, more than max_len=6"):
            pe(np.zeros((1, 7, 4)))
    model = nn.TransformerTranslator(6, 6, d_model=4, nhead=2, num_layers=1, dim_feedforward=8,
                                     dropout=0.0, max_len=5)
    src = np.full((1, 5), 3)
    tokens, _ = model.greedy(src, np.array([5]), 5)  # 5 source and 5 target positions
    assert tokens.shape == (1, 5)


def test_constructor_defaults_and_initialisation_are_pytorchs():
    import inspect
    for ours, theirs in ((nn.TransformerEncoderLayer, torch.nn.TransformerEncoderLayer),
                         (nn.TransformerDecoderLayer, torch.nn.TransformerDecoderLayer),
                         (nn.Transformer, torch.nn.Transformer)):
        mine = inspect.signature(ours).parameters
        for name, p in inspect.signature(theirs).parameters.items():
            if name in mine and p.default is not inspect.Parameter.empty and name not in (
                    "device", "dtype", "custom_encoder", "custom_decoder", "activation"):
                assert mine[name].default == p.default, (ours.__name__, name)
        assert mine["activation"].default == "relu"  # torch: F.relu, the same function
    m = nn.MultiheadAttention(64, 4, dtype=np.float64)
    bound = np.sqrt(6 / (64 + 3 * 64))  # torch's xavier_uniform_ on the (3E, E) in_proj_weight
    w = m.in_proj_weight.data
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.02 * bound


@pytest.mark.parametrize("dropout", [-0.1, 1.5])
def test_a_dropout_outside_0_1_is_refused_by_every_layer(dropout):
    for cls in (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer):
        with pytest.raises(ValueError, match="dropout is a probability in"):
            cls(4, 2, 8, dropout=dropout)


def test_the_transformer_starts_from_xavier_uniform_as_pytorchs():
    """nn.Transformer's matrices are drawn from U(-b, b), b = sqrt(6 / (fan_in + fan_out)),
    torch.nn.Transformer's _reset_parameters: every weight inside the bound and the largest
    of each big matrix close to it."""
    from numpygam.nn import Transformer
    model = Transformer(d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                        dim_feedforward=64)
    for name, p in model.named_parameters():
        if p.data.ndim > 1:
            fan_out, fan_in = p.data.shape
            bound = np.sqrt(6 / (fan_in + fan_out))
            assert np.abs(p.data).max() <= bound, name
            assert np.abs(p.data).max() > 0.97 * bound, name  # 1024+ draws reach the edge
