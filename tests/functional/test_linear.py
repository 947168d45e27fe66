"""numpygam.functional.linear: y = x W^T + b against finite differences and PyTorch."""
import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

import numpygam.functional as F
from numpygam import gradcheck
from oracle import arrays, assert_close, backward_torch, t


@given(st.data())
def test_linear_matches_finite_differences(data):
    lead = data.draw(st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple))
    din, dout = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    use_bias = data.draw(st.booleans())
    inputs = {"x": data.draw(arrays(lead + (din,))), "W": data.draw(arrays((dout, din))),
              "b": data.draw(arrays((dout,))) if use_bias else None}
    gradcheck(F.linear_forward, F.linear_backward, inputs).raise_if_failed()


def test_empty_batch_gives_empty_outputs_and_gradients():
    x, W, b = np.zeros((0, 3)), np.ones((2, 3)), np.ones(2)
    y, cache = F.linear_forward(x, W, b)
    dx, dW, db = F.linear_backward(np.zeros((0, 2)), cache)
    assert y.shape == (0, 2) and dx.shape == (0, 3)
    assert np.all(dW == 0) and np.all(db == 0)
    a, cache = F.softmax_forward(np.zeros((0, 4)))
    assert a.shape == (0, 4) and F.softmax_backward(a, cache).shape == (0, 4)


@given(st.data())
def test_linear_matches_torch(data):
    lead = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple))
    din, dout = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))
    x, W, b = (data.draw(arrays(s)) for s in (lead + (din,), (dout, din), (dout,)))
    dy = data.draw(arrays(lead + (dout,)))
    y, cache = F.linear_forward(x, W, b)
    grads = F.linear_backward(dy, cache)
    xt, Wt, bt = t(x), t(W), t(b)
    yt = torch.nn.functional.linear(xt, Wt, bt)
    backward_torch(yt, dy)
    assert_close(y, yt, name="y")
    for ours, leaf, name in zip(grads, (xt, Wt, bt), "xWb"):
        assert_close(ours, leaf.grad, name="d" + name)
