"""The fast floor's scores (numpygam/fast/scores.py) beyond their twins (tests/fast/
test_twins.py): the projected additive score, which has no textbook twin of its own."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from test_scores import score_inputs

import numpygam.functional as F
from numpygam import fast, gradcheck
from oracle import arrays


@given(data=st.data())
def test_projected_additive_score_is_the_additive_score_with_k_projected_first(data):
    """K = k Wk^T given, the score and its gradients are the additive score's: dk = dK Wk,
    dWk = sum dK^T k (what nn.Attention.project_keys_backward does once per source)."""
    q, k, p = score_inputs(data, "additive")
    bias = data.draw(st.booleans())
    b = p["b"] if bias else None
    K = k @ p["Wk"].T
    e, cache = fast.projected_additive_score_forward(q, K, p["Wq"], p["v"], b)
    e_full, cache_full = F.additive_score_forward(q, k, p["Wq"], p["Wk"], p["v"], b)
    np.testing.assert_allclose(e, e_full, rtol=1e-12, atol=1e-12)
    de = data.draw(arrays(e.shape))
    dq, dK, dWq, dv, db = fast.projected_additive_score_backward(de, cache)
    full = F.additive_score_backward(de, cache_full)
    A, Dk = K.shape[-1], k.shape[-1]
    chained = (dq, dK @ p["Wk"], dWq, dK.reshape(-1, A).T @ k.reshape(-1, Dk), dv, db)
    for ours, theirs in zip(chained, full):
        if theirs is None:
            assert ours is None
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    gradcheck(fast.projected_additive_score_forward, fast.projected_additive_score_backward,
              {"q": q, "K": K, "Wq": p["Wq"], "v": p["v"], "b": b}).raise_if_failed()
