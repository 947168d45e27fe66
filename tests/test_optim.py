"""Optimisers follow PyTorch's update formulas step for step."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from numpygam import nn, optim
from oracle import assert_close


def run_both(make_ours, make_theirs, steps, rng):
    shapes = [(3, 2), (4,)]
    values = [rng.standard_normal(s) for s in shapes]
    ours = [nn.Parameter(v.copy()) for v in values]
    theirs = [torch.nn.Parameter(torch.tensor(v)) for v in values]
    opt, topt = make_ours(ours), make_theirs(theirs)
    for _ in range(steps):
        grads = [rng.standard_normal(s) for s in shapes]
        for p, q, g in zip(ours, theirs, grads):
            p.grad = g.copy()
            q.grad = torch.tensor(g)
        opt.step()
        topt.step()
    for p, q in zip(ours, theirs):
        assert_close(p.data, q, name="parameter after steps")


@given(lr=st.floats(1e-3, 1.0), momentum=st.sampled_from([0.0, 0.5, 0.9]),
       dampening=st.sampled_from([0.0, 0.3]), weight_decay=st.sampled_from([0.0, 0.01]),
       nesterov=st.booleans(), seed=st.integers(0, 1000))
def test_sgd_matches_torch(lr, momentum, dampening, weight_decay, nesterov, seed):
    if nesterov and (momentum == 0 or dampening != 0):
        return
    kw = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
              nesterov=nesterov)
    run_both(lambda p: optim.SGD(p, **kw), lambda p: torch.optim.SGD(p, **kw), 5,
             np.random.default_rng(seed))


@given(lr=st.floats(1e-4, 0.1), beta1=st.sampled_from([0.0, 0.9]),
       beta2=st.sampled_from([0.99, 0.999]), eps=st.sampled_from([1e-8, 1e-3]),
       weight_decay=st.sampled_from([0.0, 0.1]), seed=st.integers(0, 1000))
def test_adam_matches_torch(lr, beta1, beta2, eps, weight_decay, seed):
    kw = dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
    run_both(lambda p: optim.Adam(p, **kw), lambda p: torch.optim.Adam(p, **kw), 6,
             np.random.default_rng(seed))


@given(max_norm=st.floats(0.01, 10), seed=st.integers(0, 1000))
def test_clip_grad_norm_matches_torch(max_norm, seed):
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal((3, 2)), rng.standard_normal(5)]
    ours = [nn.Parameter(np.zeros_like(g)) for g in grads]
    theirs = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = g.copy(), torch.tensor(g)
    total = optim.clip_grad_norm_(ours, max_norm)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    assert total == pytest.approx(float(ttotal), rel=1e-12)
    for p, q in zip(ours, theirs):
        assert_close(p.grad, q.grad, name="clipped gradient")


def test_adam_state_round_trips():
    rng = np.random.default_rng(0)
    p = nn.Parameter(rng.standard_normal(3))
    opt = optim.Adam([p], lr=0.1)
    p.grad = rng.standard_normal(3)
    opt.step()
    state = opt.state_dict()
    q = nn.Parameter(p.data.copy())
    opt2 = optim.Adam([q], lr=0.1)
    opt2.load_state_dict(state)
    g = rng.standard_normal(3)
    p.grad, q.grad = g, g.copy()
    opt.step()
    opt2.step()
    assert np.array_equal(p.data, q.data)


def test_bad_hyperparameters_are_rejected():
    with pytest.raises(ValueError, match="lr must be > 0, got -1"):
        optim.SGD([], lr=-1)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([], betas=(0.9, 1.0))


def test_warmup_cosine_at_its_first_and_last_steps():
    """Step 0 already learns (base_lr / warmup, never 0); the warm-up ends at base_lr;
    the last step reaches final_ratio * base_lr; no warm-up starts at base_lr."""
    from numpygam.optim import warmup_cosine
    lr, total = 0.01, 1000
    assert warmup_cosine(0, total, lr, warmup_steps=100) == pytest.approx(lr / 100, rel=1e-15)
    assert warmup_cosine(99, total, lr, warmup_steps=100) == pytest.approx(lr, rel=1e-15)
    assert warmup_cosine(100, total, lr, warmup_steps=100) == pytest.approx(lr, rel=1e-15)
    assert warmup_cosine(total, total, lr, warmup_steps=100) == pytest.approx(0.05 * lr, rel=1e-12)
    mid = 100 + (total - 100) // 2
    assert warmup_cosine(mid, total, lr, warmup_steps=100) == pytest.approx(0.525 * lr, rel=1e-12)
    assert warmup_cosine(0, total, lr, warmup_steps=0) == pytest.approx(lr, rel=1e-15)
    # past the last step (a resumed run given more steps) the rate stays at its floor
    assert warmup_cosine(total + 300, total, lr, warmup_steps=100) == pytest.approx(0.05 * lr,
                                                                                    rel=1e-12)
    assert warmup_cosine(0, total, lr, warmup_steps=1) == pytest.approx(lr, rel=1e-15)
    lrs = [warmup_cosine(s, total, lr, warmup_steps=100) for s in range(total)]
    assert all(a <= b for a, b in zip(lrs[:100], lrs[1:101]))   # rises
    assert all(a >= b for a, b in zip(lrs[100:], lrs[101:]))    # then falls
