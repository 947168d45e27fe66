"""numpygam.functional.layer_norm: layer normalisation, with and without affine, against PyTorch."""
import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

import numpygam.functional as F
from oracle import TOL, normal, t


@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 6), st.booleans(),
       st.integers(0, 10_000))
def test_layer_norm_matches_torch(B, T, D, affine, seed):
    rng = np.random.default_rng(seed)
    x = normal(rng, B, T, D) * 3 + 1
    w, b = (normal(rng, D), normal(rng, D)) if affine else (None, None)
    y, cache = F.layer_norm_forward(x, w, b, eps=1e-5)
    dy = normal(rng, B, T, D)
    dx, dw, db = F.layer_norm_backward(dy, cache)
    xt = t(x)
    wt, bt = (t(w), t(b)) if affine else (None, None)
    yt = torch.nn.functional.layer_norm(xt, (D,), wt, bt, eps=1e-5)
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **TOL)
    if affine:
        np.testing.assert_allclose(dw, wt.grad.numpy(), **TOL)
        np.testing.assert_allclose(db, bt.grad.numpy(), **TOL)
    else:
        assert dw is None and db is None
