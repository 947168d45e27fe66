"""Random initialisation, as PyTorch does it, from one seedable generator.

numpygam.manual_seed(s) makes every module built afterwards reproducible;
a module also accepts its own `rng` (a np.random.Generator).
"""
import numpy as np

_rng = np.random.default_rng(0)


def manual_seed(seed):
    """Reset the generator that modules draw their initial weights from."""
    global _rng
    _rng = np.random.default_rng(seed)


def get_rng(rng=None):
    return _rng if rng is None else rng


def uniform(shape, bound, rng=None, dtype=np.float32):
    """U(-bound, bound): PyTorch's default for Linear, Conv2d and GRU weights,
    with bound = 1/sqrt(fan_in)."""
    return get_rng(rng).uniform(-bound, bound, size=shape).astype(dtype)


def normal(shape, rng=None, dtype=np.float32):
    """N(0, 1): PyTorch's default for Embedding."""
    return get_rng(rng).standard_normal(shape).astype(dtype)
