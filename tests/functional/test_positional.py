"""numpygam.functional.positional: Vaswani's sinusoidal positions and the causal mask."""
import numpy as np
import pytest
import torch

import numpygam.functional as F
from numpygam import nn


def test_sinusoidal_positions_follow_vaswani_and_the_causal_mask_is_lower_triangular():
    pe = F.sinusoidal_positions(7, 6, np.float64)
    pos, i = 5, 1  # PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...)
    assert pe[pos, 2 * i] == pytest.approx(np.sin(pos / 10000 ** (2 * i / 6)), abs=1e-15)
    assert pe[pos, 2 * i + 1] == pytest.approx(np.cos(pos / 10000 ** (2 * i / 6)), abs=1e-15)
    assert F.sinusoidal_positions(3, 5).shape == (3, 5)
    mask = F.causal_mask(4)
    float_mask = nn.Transformer.generate_square_subsequent_mask(4, np.float64)
    expected = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    np.testing.assert_array_equal(float_mask, expected.numpy())
    np.testing.assert_array_equal(mask, np.tril(np.ones((4, 4), bool)))  # True = may attend
    np.testing.assert_array_equal(~mask, np.isinf(float_mask))
