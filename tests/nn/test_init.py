"""numpygam.nn.init: manual_seed makes initialisation reproducible, within PyTorch's bound."""
import numpy as np

from numpygam import nn


def test_manual_seed_makes_initialisation_reproducible():
    nn.manual_seed(3)
    a = nn.Linear(4, 4).weight.data
    nn.manual_seed(3)
    b = nn.Linear(4, 4).weight.data
    assert np.array_equal(a, b) and a.dtype == np.float32
    bound = 1 / np.sqrt(4)
    assert np.all(np.abs(a) <= bound)
