"""Dropout (Srivastava et al. 2014), inverted as in PyTorch: zero each value with
probability p and scale the kept ones by 1 / (1 - p), so the expected output is x.

Two conventions: here (and in PyTorch) p is the probability of DROPPING a unit and
the kept units are scaled in training, so eval mode is the identity.  Srivastava
et al. (sec. 4) write r ~ Bernoulli(p) with p the probability of KEEPING a unit,
and scale the weights by p at test time instead.

    mask ~ Bernoulli(1 - p) elementwise,   y = x * mask / (1 - p)
    dx = dy * mask / (1 - p)

The mask is drawn from the generator passed in, so a seed gives the same mask.
"""
from typing import NamedTuple, Optional

import numpy as np

from ._checks import float_array


class DropoutCache(NamedTuple):
    scaled_mask: Optional[np.ndarray]  # mask / (1 - p) in x's dtype; None when p = 0


def dropout_forward(x, p, rng):
    """y = x * mask / (1 - p), mask_i = 1 with probability 1 - p, drawn from rng.

    x: any shape   p: the probability of dropping, 0 <= p <= 1
    rng: a np.random.Generator, or a seed (the same seed, the same mask: what a
         finite-difference check needs)
    -> y: x's shape.  p = 0 is the identity (rng is not used); p = 1 gives zeros.
    Backward: dx = dy * mask / (1 - p).
    """
    op = "dropout_forward"
    float_array(op, "x", x)
    if not 0 <= p <= 1:
        raise ValueError(f"{op}: p is a probability in [0, 1], got {p!r}")
    if p == 0:
        return x.copy(), DropoutCache(None)
    if p == 1:
        return np.zeros_like(x), DropoutCache(np.zeros_like(x))
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    scaled_mask = (rng.random(x.shape) >= p).astype(x.dtype) / x.dtype.type(1 - p)
    return x * scaled_mask, DropoutCache(scaled_mask)


def dropout_backward(dy, cache):
    """dx = dy * mask / (1 - p).

    dy: x's shape   cache: DropoutCache(scaled_mask = mask / (1 - p), or None for p = 0)
    -> dx: x's shape.
    """
    return dy.copy() if cache.scaled_mask is None else dy * cache.scaled_mask
