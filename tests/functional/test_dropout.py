"""numpygam.functional.dropout: kept values are scaled by 1 / (1 - p), the mask is seeded."""
import numpy as np
import pytest

import numpygam.functional as F


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_dropout_scales_kept_values_and_is_seeded(p):
    x = np.random.default_rng(0).standard_normal((200, 50))
    y, cache = F.dropout_forward(x, p, np.random.default_rng(1))
    again, _ = F.dropout_forward(x, p, np.random.default_rng(1))
    np.testing.assert_array_equal(y, again)
    kept = y != 0
    if p == 1.0:
        assert not kept.any()
    else:
        np.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-15)
        # the share dropped is p, within 4 standard deviations of a binomial
        assert abs((1 - kept.mean()) - p) <= 4 * np.sqrt(p * (1 - p) / x.size) + 1e-12
    dy = np.random.default_rng(2).standard_normal(x.shape)
    dx = F.dropout_backward(dy, cache)
    np.testing.assert_array_equal(dx == 0, ~kept if p > 0 else np.zeros_like(kept))
