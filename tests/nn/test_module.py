"""numpygam.nn.module: PyTorch's names, strict state_dict loading, train/eval and the cache rule."""
import copy

import numpy as np
import pytest
import torch

from numpygam import gradcheck_module, nn
from oracle import assert_close, t


def torch_mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3),
                               torch.nn.ReLU(), torch.nn.Linear(3, 2), torch.nn.Sigmoid())


def our_mlp():
    return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 2),
                         nn.Sigmoid())


def test_torch_state_dict_loads_and_gives_the_same_outputs_and_gradients(rng):
    tm = torch_mlp()
    ours = our_mlp().to(np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    assert list(ours.state_dict()) == list(tm.state_dict())
    x, dy = rng.standard_normal((6, 4)), rng.standard_normal((6, 2))
    y = ours(x)
    dx = ours.backward(dy)
    xt = t(x)
    yt = tm(xt)
    yt.backward(torch.as_tensor(dy))
    assert_close(y, yt, name="y")
    assert_close(dx, xt.grad, name="dx")
    params = dict(ours.named_parameters())
    for name, p in tm.named_parameters():
        assert_close(params[name].grad, p.grad, name=name)


def test_module_gradients_match_finite_differences(rng):
    assert gradcheck_module(our_mlp(), [rng.standard_normal((3, 4)) + 0.05]).passed
    emb = nn.Embedding(7, 3, padding_idx=2)
    ids = np.array([[0, 1, 3], [6, 6, 0]])
    assert gradcheck_module(emb, [ids]).passed


def test_load_state_dict_is_strict_about_keys_and_shapes():
    m = nn.Linear(3, 2)
    sd = m.state_dict()
    with pytest.raises(KeyError, match="missing keys \\['bias'\\]"):
        m.load_state_dict({"weight": sd["weight"]})
    with pytest.raises(KeyError, match="unexpected keys \\['extra'\\]"):
        m.load_state_dict({**sd, "extra": np.zeros(1)})
    with pytest.raises(ValueError, match="'weight' has shape \\(3, 2\\), expected \\(2, 3\\)"):
        m.load_state_dict({**sd, "weight": np.zeros((3, 2))})


def test_state_dict_is_a_copy_and_loading_keeps_the_dtype():
    m = nn.Linear(3, 2)
    sd = m.state_dict()
    sd["weight"][:] = 7
    assert not np.any(m.weight.data == 7)
    m.load_state_dict({k: v.astype(np.float64) for k, v in sd.items()})
    assert m.weight.data.dtype == np.float32 and np.all(m.weight.data == 7)


def test_backward_accumulates_and_zero_grad_resets():
    m = nn.Linear(2, 2)
    for _ in range(2):
        m(np.ones((1, 2), np.float32))
        m.backward(np.ones((1, 2), np.float32))
    assert np.all(m.bias.grad == 2)
    m.zero_grad()
    assert np.all(m.bias.grad == 0)


def test_train_and_eval_reach_every_submodule():
    m = our_mlp()
    m.eval()
    assert not any(sub.training for sub in m.modules())
    m.train()
    assert all(sub.training for sub in m.modules())


def test_evaluating_restores_the_mode_even_when_the_block_raises():
    model = nn.Linear(2, 2)
    model.train()
    with pytest.raises(RuntimeError):
        with nn.evaluating(model):
            assert not model.training
            raise RuntimeError("boom")
    assert model.training
    model.eval()
    with nn.evaluating(model):
        pass
    assert not model.training


# -- the cache rule: one cache per call, undone last call first ----------------------


def _rnn_modules():
    """Modules a decoder calls once per step, with an input for one step."""
    x = np.random.default_rng(0).standard_normal((2, 3))
    return [(nn.Linear(3, 3).to(np.float64), (x,)),
            (nn.GRUCell(3, 3).to(np.float64), (x, x)),
            (nn.Attention("additive", 3, attn_dim=4).to(np.float64), (x[:, None], x[:, None] + 1)),
            (nn.AttentionalHidden(3, 3).to(np.float64), (x, x))]


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def _unroll(steps, x, rest, douts):
    """h_{t+1} = steps[t](h_t, *rest), then back through the steps, last first.

    The loss is sum_t <douts[t], h_{t+1}>; returns dL/dh_t for t = T-1 .. 0."""
    h = x
    for step in steps:
        h = _first(step(h, *rest))
    dh, grads = douts[-1], []
    for i in reversed(range(len(steps))):
        dh = _first(steps[i].backward(dh)) + (douts[i - 1] if i else 0)
        grads.append(dh)
    return grads


@pytest.mark.parametrize("index", range(4))
def test_a_module_called_T_times_is_backpropagated_T_times_last_call_first(index):
    """One module called T times, then backward T times (nothing but
    module.backward), gives the gradients of T copies each called once."""
    m, (x, *rest) = _rnn_modules()[index]
    T, rng = 4, np.random.default_rng(1)
    douts = [rng.standard_normal(x.shape) for _ in range(T)]
    copies = [copy.deepcopy(m) for _ in range(T)]
    expected = _unroll(copies, x, rest, douts)
    got = _unroll([m] * T, x, rest, douts)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)
    for name, p in m.named_parameters():
        total = sum(dict(c.named_parameters())[name].grad for c in copies)
        np.testing.assert_allclose(p.grad, total, rtol=1e-12, atol=1e-12, err_msg=name)
    with pytest.raises(RuntimeError, match="no forward left to undo"):
        m.backward(douts[0])


def test_backward_more_times_than_forward_is_a_clear_error():
    m = nn.Linear(2, 2)
    m(np.ones((1, 2), np.float32))
    m.backward(np.ones((1, 2), np.float32))
    with pytest.raises(RuntimeError, match="no forward left to undo"):
        m.backward(np.ones((1, 2), np.float32))
    with pytest.raises(RuntimeError, match="Linear.backward"):
        nn.Linear(2, 2).backward(np.ones((1, 2), np.float32))


def test_eval_mode_keeps_no_growing_caches_over_10000_calls():
    import tracemalloc
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 8)).eval()
    cell = nn.GRUCell(8, 8).eval()
    x = np.ones((4, 8), np.float32)
    h = np.zeros((4, 8), np.float32)
    for _ in range(10):  # warm up the allocator
        h = cell(model(x), h)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(10_000):
        h = cell(model(x), h)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 100_000, f"memory grew by {grown} bytes over 10,000 eval-mode calls"
    for m in list(model.modules()) + [cell]:
        assert len(m.__dict__.get("_caches", [])) <= 1


def test_inference_leaves_no_caches_even_from_a_model_in_training_mode():
    model = nn.Seq2Seq(12, 12, emb_dim=4, enc_hidden=4, dec_hidden=8).train()
    src, lengths = np.array([[3, 4, 5, 2]]), np.array([4])
    model.greedy(src, lengths, max_len=5)
    model.beam_search(src[0], 4, beam_size=3, max_len=5)
    assert model.training
    assert all(not m.__dict__.get("_caches") or len(m._caches) <= 1 for m in model.modules())
