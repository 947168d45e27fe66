"""Modules: PyTorch's parameter names, strict state_dict loading, train/eval, equality with torch."""
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


def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient():
    emb = nn.Embedding(5, 3, padding_idx=1)
    assert np.all(emb.weight.data[1] == 0)
    emb(np.array([1, 1, 2]))
    emb.backward(np.ones((3, 3), np.float32))
    assert np.all(emb.weight.grad[1] == 0) and np.all(emb.weight.grad[2] == 1)


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


def test_manual_seed_makes_initialisation_reproducible():
    nn.manual_seed(3)
    a = nn.Linear(4, 4).weight.data
    nn.manual_seed(3)
    b = nn.Linear(4, 4).weight.data
    assert np.array_equal(a, b) and a.dtype == np.float32
    bound = 1 / np.sqrt(4)
    assert np.all(np.abs(a) <= bound)
