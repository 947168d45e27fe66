"""numpygam.functional.activations: ReLU, tanh, sigmoid and GELU against finite differences and PyTorch."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import numpygam.functional as F
from numpygam import gradcheck
from oracle import arrays, assert_close, backward_torch, shapes, t


@given(shapes.flatmap(lambda s: arrays(s)))
def test_tanh_and_sigmoid_match_finite_differences(x):
    gradcheck(F.tanh_forward, F.tanh_backward, {"x": x}).raise_if_failed()
    gradcheck(F.sigmoid_forward, F.sigmoid_backward, {"x": x}).raise_if_failed()


@given(shapes.flatmap(lambda s: arrays(s)))
def test_relu_matches_finite_differences_away_from_its_kink(x):
    x = x + np.where(x >= 0, 0.01, -0.01)  # the stencil spans 2h = 2e-3 around x
    gradcheck(F.relu_forward, F.relu_backward, {"x": x}).raise_if_failed()


@pytest.mark.parametrize("name, torch_fn", [("relu", torch.relu), ("tanh", torch.tanh),
                                             ("sigmoid", torch.sigmoid)])
@given(st.data())
def test_activations_match_torch(name, torch_fn, data):
    shape = data.draw(shapes)
    x, dy = data.draw(arrays(shape, -30, 30)), data.draw(arrays(shape))
    x[data.draw(arrays(shape).map(lambda a: a > 1))] = 0.0  # ReLU's kink: torch's subgradient is 0
    y, cache = getattr(F, f"{name}_forward")(x)
    dx = getattr(F, f"{name}_backward")(dy, cache)
    xt = t(x)
    yt = torch_fn(xt)
    backward_torch(yt, dy)
    assert_close(y, yt, name="y")
    assert_close(dx, xt.grad, name="dx")


def test_gelu_matches_torch_and_finite_differences():
    x = np.linspace(-6, 6, 41)[None]
    y, cache = F.gelu_forward(x)
    xt = t(x)
    yt = torch.nn.functional.gelu(xt)
    dy = np.random.default_rng(0).standard_normal(x.shape)
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(F.gelu_backward(dy, cache), xt.grad.numpy(), rtol=1e-13,
                               atol=1e-15)
    assert gradcheck(F.gelu_forward, F.gelu_backward, {"x": x[:, ::4].copy()}).passed
