"""Element-wise activations: ReLU, tanh, sigmoid, GELU.  x: any shape, dtype kept."""
import math
from typing import NamedTuple

import numpy as np

from ._checks import float_array


class ReluCache(NamedTuple):
    positive: np.ndarray  # bool, x > 0


class TanhCache(NamedTuple):
    y: np.ndarray  # tanh(x)


class SigmoidCache(NamedTuple):
    s: np.ndarray  # sigmoid(x)


def relu_forward(x):
    """y = max(x, 0), and NaN stays NaN (PyTorch's rule).   x: any shape -> y: same shape.

    Backward: dx = dy * [x > 0]  (the subgradient 0 is used at x = 0, as PyTorch does).
    """
    float_array("relu_forward", "x", x)
    positive = ~(x <= 0)  # NaN is not <= 0: it passes through as NaN, as in PyTorch
    return np.where(positive, x, x.dtype.type(0)), ReluCache(positive)


def relu_backward(dy, cache):
    """dx = dy * [x > 0]   (the subgradient 0 at x = 0, as PyTorch).

    dy: any shape, the gradient of y   cache: ReluCache(positive: bool [x > 0])
    -> dx: dy's shape.
    """
    return np.where(cache.positive, dy, dy.dtype.type(0))


def tanh_forward(x):
    """y = tanh(x).   x: any shape -> y: same shape.

    Backward: dx = dy * (1 - y^2), written with the output so nothing is recomputed.
    """
    float_array("tanh_forward", "x", x)
    y = np.tanh(x)
    return y, TanhCache(y)


def tanh_backward(dy, cache):
    """dx = dy * (1 - y^2), with y = tanh(x) kept by the forward.

    dy: any shape, the gradient of y   cache: TanhCache(y: tanh(x))
    -> dx: dy's shape.
    """
    return dy * (1 - cache.y * cache.y)


def stable_sigmoid(x):
    """sigmoid(x) = 1 / (1 + exp(-x)) without overflow for any finite x.

    exp is only ever taken of numbers <= 0, so it lies in (0, 1]:
        sigmoid(x) = exp(min(x, 0)) / (1 + exp(-|x|))
    which is 1 / (1 + exp(-x)) for x >= 0 and exp(x) / (1 + exp(x)) for x < 0
    (accurate to a few ulp in both tails), with no branch per element.
    For |x| in the hundreds exp underflows to 0, which is the correctly
    rounded answer, so that (harmless) underflow is silenced.
    """
    with np.errstate(under="ignore"):
        numerator = np.exp(np.minimum(x, 0))
        denominator = np.exp(-np.abs(x))
    denominator += 1
    return np.divide(numerator, denominator, out=numerator)


def sigmoid_forward(x):
    """s = sigmoid(x) = 1 / (1 + exp(-x)), stable for |x| up to and beyond 1e4.

    x: any shape -> s: same shape.
    Backward: dx = ds * s * (1 - s).
    """
    float_array("sigmoid_forward", "x", x)
    s = stable_sigmoid(x)
    return s, SigmoidCache(s)


def sigmoid_backward(ds, cache):
    """dx = ds * s * (1 - s), with s = sigmoid(x) kept by the forward.

    ds: any shape, the gradient of s   cache: SigmoidCache(s: sigmoid(x))
    -> dx: ds's shape.
    """
    return ds * cache.s * (1 - cache.s)


class GeluCache(NamedTuple):
    x: np.ndarray
    cdf: np.ndarray  # Phi(x), the standard normal's CDF


_erf = np.frompyfunc(math.erf, 1, 1)  # NumPy has no erf; math.erf is accurate to a few ulp in float64


def gelu_forward(x):
    """y = x Phi(x) = x (1 + erf(x / sqrt(2))) / 2, the exact GELU (Hendrycks & Gimpel
    2016), PyTorch's activation="gelu".   x: any shape -> y: same shape.

    Backward: dx = dy (Phi(x) + x phi(x)),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
    """
    float_array("gelu_forward", "x", x)
    cdf = ((1 + _erf(x / math.sqrt(2)).astype(x.dtype)) / 2).astype(x.dtype)
    return x * cdf, GeluCache(x, cdf)


def gelu_backward(dy, cache):
    """dx = dy (Phi(x) + x phi(x)), phi the standard normal density.

    dy: any shape, the gradient of y   cache: GeluCache(x, cdf = Phi(x))
    -> dx: dy's shape.
    """
    x = cache.x
    pdf = np.exp(-x * x / 2) / x.dtype.type(math.sqrt(2 * math.pi))
    return dy * (cache.cdf + x * pdf)
