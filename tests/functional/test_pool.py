"""numpygam.functional.pool: max and average pooling against PyTorch and finite differences."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import numpygam.functional as F
from numpygam import gradcheck
from oracle import arrays, assert_close, t


@pytest.mark.parametrize("kind", ["max", "avg"])
@given(data=st.data())
def test_pooling_matches_torch_and_finite_differences(kind, data):
    K, s = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    H, W = data.draw(st.integers(K, 6)), data.draw(st.integers(K, 6))
    shape = (data.draw(st.integers(1, 2)), data.draw(st.integers(1, 3)), H, W)
    x = np.random.default_rng(data.draw(st.integers(0, 99))).permutation(
        np.prod(shape)).reshape(shape) * 0.1  # distinct values: max pooling has no ties
    forward, backward = getattr(F, f"{kind}_pool2d_forward"), getattr(F, f"{kind}_pool2d_backward")
    gradcheck(forward, backward, {"x": x}, {"kernel_size": K, "stride": s}).raise_if_failed()
    y, cache = forward(x, K, s)
    dy = data.draw(arrays(y.shape))
    xt = t(x)
    yt = getattr(TF, f"{kind}_pool2d")(xt, K, s)
    yt.backward(torch.as_tensor(dy))
    assert_close(y, yt)
    assert_close(backward(dy, cache), xt.grad)
