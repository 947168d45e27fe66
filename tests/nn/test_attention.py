"""numpygam.nn.attention: nn.Attention, nn.LocalAttention, nn.AttentionalHidden and keys projected once."""
import numpy as np
import pytest

import numpygam.functional as F
from numpygam import gradcheck_module, nn


def test_local_p_positions_lie_inside_the_source(rng):
    m = nn.LocalAttention("p", 2, "general", 4)
    m(rng.standard_normal((3, 2, 4)).astype(np.float32), rng.standard_normal((3, 6, 4)).astype(
        np.float32), lengths=np.array([6, 3, 1]))
    assert np.all(m.positions > 0) and np.all(m.positions < np.array([6, 3, 1])[:, None])


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
