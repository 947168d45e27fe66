"""The score functions (numpygam/functional/scores.py): every entry of F.SCORES against
finite differences and against PyTorch, from the registry alone.

Adding a score touches two files: numpygam/functional/scores.py (its pair and its
SCORES entry) and this one (its PyTorch formula in TORCH_SCORES); the modules
(nn.Attention, nn.Seq2Seq) and these tests read everything else from the registry.
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import numpygam.functional as F
from numpygam import gradcheck
from numpygam.functional.scores import Sizes
from oracle import B_, D_, T_, arrays, assert_close, backward_torch, t


def _concat(q, k, p):
    """v^T tanh(W [q_i; k_j]) with the concatenation built explicitly."""
    Tq, Tk = q.shape[1], k.shape[1]
    pairs = torch.cat([q[:, :, None].expand(-1, -1, Tk, -1),
                       k[:, None].expand(-1, Tq, -1, -1)], dim=-1)
    return torch.tanh(pairs @ p["W"].T) @ p["v"]


def _additive(q, k, p):
    hidden = (q @ p["Wq"].T + p.get("b", 0))[:, :, None] + (k @ p["Wk"].T)[:, None]
    return torch.tanh(hidden) @ p["v"]


# each score in PyTorch, written from the papers' formulas: e (B, Tq, Tk)
TORCH_SCORES = {
    "dot": lambda q, k, p: p.get("scale", 1.0) * q @ k.transpose(1, 2),
    "scaled_dot": lambda q, k, p: q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]),
    "general": lambda q, k, p: q @ p["W"] @ k.transpose(1, 2),
    "concat": _concat,
    "additive": _additive,
    "location": lambda q, k, p: q @ p["W"].T,
}


def score_inputs(data, score):
    """Draw q, k and the score's parameters (shapes from its ScoreParams), sizes from 1."""
    entry = F.SCORES[score]
    B, Tq, Tk = data.draw(B_), data.draw(T_), data.draw(T_)
    Dq = data.draw(D_)
    Dk = Dq if entry.same_size else data.draw(D_)
    sizes = Sizes(Dq, Dk, data.draw(D_), Tk)
    q, k = data.draw(arrays((B, Tq, Dq))), data.draw(arrays((B, Tk, Dk)))
    return q, k, {p.arg: data.draw(arrays(p.shape(sizes))) for p in entry.params}


def test_every_score_has_its_pytorch_formula_here():
    assert set(TORCH_SCORES) == set(F.SCORES)


@pytest.mark.parametrize("score", F.SCORES)
@given(data=st.data())
def test_score_matches_finite_differences(score, data):
    q, k, params = score_inputs(data, score)

    def forward(q, k, **params):
        return F.score_forward(score, q, k, params)

    def backward(de, cache):
        return F.score_backward(score, de, cache, k)
    gradcheck(forward, backward, {"q": q, "k": k, **params}, name=score).raise_if_failed()


@pytest.mark.parametrize("score", F.SCORES)
@given(data=st.data())
def test_score_matches_torch(score, data):
    q, k, params = score_inputs(data, score)
    options = {}
    if "scale" in F.SCORES[score].options and not F.SCORES[score].scaled:
        options = {"scale": data.draw(st.sampled_from([0.5, 1 / math.sqrt(q.shape[-1])]))}
    e, cache = F.score_forward(score, q, k, {**params, **options})
    de = data.draw(arrays(e.shape))
    grads = F.score_backward(score, de, cache, k)
    qt, kt = t(q), t(k)
    pt = {name: t(v) for name, v in params.items()}
    et = TORCH_SCORES[score](qt, kt, {**pt, **options})
    backward_torch(et, de)
    assert_close(e, et, name="scores")
    assert len(grads) == 2 + len(params)
    for ours, leaf, name in zip(grads, [qt, kt, *pt.values()], ["q", "k", *pt]):
        want = torch.zeros_like(leaf) if leaf.grad is None else leaf.grad  # location: no k
        assert_close(ours, want, name="d" + name)


@pytest.mark.parametrize("score", F.SCORES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_score_keeps_its_dtype_and_leaves_its_inputs_alone(score, dtype, rng):
    entry = F.SCORES[score]
    sizes = Sizes(4, 4 if entry.same_size else 3, 5, 6)
    q, k = rng.standard_normal((2, 3, 4)).astype(dtype), \
        rng.standard_normal((2, 6, sizes.Dk)).astype(dtype)
    params = {p.arg: rng.standard_normal(p.shape(sizes)).astype(dtype) for p in entry.params}
    before = [a.copy() for a in (q, k, *params.values())]
    e, cache = F.score_forward(score, q, k, params)
    grads = F.score_backward(score, np.ones_like(e), cache, k)
    assert e.dtype == dtype and all(g.dtype == dtype for g in grads)
    for a, b in zip((q, k, *params.values()), before):
        np.testing.assert_array_equal(a, b)


def test_an_unknown_score_and_a_stray_parameter_are_named():
    q = np.zeros((1, 2, 3))
    with pytest.raises(ValueError, match=r"unknown score 'cosine'; choose one of \["):
        F.score_forward("cosine", q, q, {})
    with pytest.raises(TypeError, match=r"score 'dot' takes parameters \['scale'\], got also "
                                        r"\['W'\]"):
        F.score_forward("dot", q, q, {"W": np.eye(3)})


# -- a new score is one registry entry -------------------------------------------------

def _tanh_general_forward(q, k, W):
    """A score no paper has (e = tanh(q W k^T)), made of the general score's pieces:
    what a contributor adds in scores.py, here inside the test."""
    e, cache = F.general_score_forward(q, k, W)
    t = np.tanh(e)
    return t, (cache, t)


def _tanh_general_backward(de, cache):
    general, t = cache
    return F.general_score_backward(de * (1 - t * t), general)


NEW_SCORES = {
    "tanh_general": F.scores.Score(_tanh_general_forward, _tanh_general_backward,
                                   F.SCORES["general"].params),
    # a key side: additive's pair under another name (a module computes U_a h_j once)
    "additive_copy": F.SCORES["additive"],
}
NEW_TORCH = {"tanh_general": lambda q, k, p: torch.tanh(q @ p["W"] @ k.transpose(1, 2)),
             "additive_copy": _additive}


@pytest.fixture
def new_scores(monkeypatch):
    """F.SCORES with the two new entries, as scores.py would hold them."""
    for name, entry in NEW_SCORES.items():
        monkeypatch.setitem(F.SCORES, name, entry)
    return F.SCORES


@pytest.mark.parametrize("name", NEW_SCORES)
def test_a_new_score_in_the_registry_reaches_the_modules_and_the_model(name, new_scores, rng):
    """What touches a new score: its entry in scores.py, and its PyTorch formula here.
    Everything else (nn.Attention's parameters and both floors, the decoder's key side,
    nn.Seq2Seq) reads the registry: the new score works there with no other change."""
    from numpygam import gradcheck_module, nn
    q, k = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 3))
    params = {p.arg: rng.standard_normal(p.shape(Sizes(4, 3, 6, 5))) for p in
              new_scores[name].params}
    e, _ = F.score_forward(name, q, k, params)
    assert_close(e, NEW_TORCH[name](t(q), t(k), {n: t(v) for n, v in params.items()}))
    for fast in (True, False):
        m = nn.Attention(name, 4, 3, attn_dim=6, dtype=np.float64).set_fast(fast)
        assert [n for n, _ in m.named_parameters()] == [p.attr for p in new_scores[name].params]
        assert gradcheck_module(m, [q, k]).passed
    nn.manual_seed(0)
    model = nn.Seq2Seq(7, 7, 3, 2, 4, "bahdanau", name, attn_dim=3, dtype=np.float64)
    src, tgt = np.array([[3, 4, 5], [6, 3, 0]]), np.array([[1, 4, 2], [1, 5, 2]])
    loss = nn.SequenceLoss(model)
    report = gradcheck_module(loss, [src, np.array([3, 2]), tgt[:, :-1], tgt[:, 1:]], h=1e-5)
    assert report.passed, str(report)
    if new_scores[name].key_side is not None:   # the decoder computed U_a h_j once
        from numpygam.nn.seq2seq import Memory
        keys = rng.standard_normal((2, 3, 4))
        assert Memory(keys, [3, 2], None, model.decoder.attention).projected is not None
