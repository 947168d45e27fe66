"""numpygam.functional.multihead: self-attention's one fused projection gives what three give."""
import numpy as np
import pytest

import numpygam.functional as F


@pytest.mark.parametrize("bias", [True, False])
def test_self_attention_in_one_product_gives_what_three_products_give(bias, rng):
    """query is key is value takes the fused path (x [W_q; W_k; W_v]^T); copies of x take
    the three products: every output and gradient the same, to float64 rounding."""
    E, H = 8, 2
    W_in, W_out = rng.standard_normal((3 * E, E)), rng.standard_normal((E, E))
    b_in, b_out = (rng.standard_normal(3 * E), rng.standard_normal(E)) if bias else (None,) * 2
    x, dy = rng.standard_normal((3, 5, E)), rng.standard_normal((3, 5, E))
    dw = rng.standard_normal((3, H, 5, 5))
    mask = np.tril(np.ones((5, 5), bool))
    results, projections = [], []
    for query, key, value in ((x, x, x), (x, x.copy(), x.copy())):
        (out, w), cache = F.multi_head_attention_forward(query, key, value, W_in, b_in, W_out,
                                                         b_out, H, mask=mask)
        projections.append(len(cache.in_caches))
        results.append((out, w, *F.multi_head_attention_backward((dy, dw), cache)))
    assert projections == [1, 3]
    for fused, three in zip(*results):
        if three is None:
            assert fused is None
            continue
        np.testing.assert_allclose(fused, three, rtol=1e-12, atol=1e-12)
