"""numpygam.functional.norm: batch normalisation, training and eval, against finite differences."""
import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

import numpygam.functional as F
from numpygam import gradcheck
from oracle import arrays


@given(st.data())
def test_batch_norm_matches_finite_differences(data):
    C = data.draw(st.integers(1, 3))
    x = data.draw(arrays((2, C, data.draw(st.integers(1, 3)), 2), -5, 5))
    # with var ~ 0, the curvature scale sqrt(var + eps) ~ 3e-3 is the stencil's own
    # step size, and finite differences say nothing (the torch test covers that case)
    assume(x.var(axis=(0, 2, 3)).min() > 0.1)
    stats = {"running_mean": np.zeros(C), "running_var": np.ones(C)}
    for training in (True, False):
        gradcheck(F.batch_norm2d_forward, F.batch_norm2d_backward,
                  {"x": x, "gamma": data.draw(arrays((C,))), "beta": data.draw(arrays((C,)))},
                  {**stats, "training": training}).raise_if_failed()
