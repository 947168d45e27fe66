"""Softmax and log-softmax over the last axis, with an optional mask.

These turn alignment scores e_ij into attention weights
    a_ij = exp(e_ij) / sum_k exp(e_ik)
and logits into log-probabilities for the cross-entropy loss.
"""
from typing import NamedTuple

import numpy as np

from ._checks import bool_mask, float_array


class SoftmaxCache(NamedTuple):
    weights: np.ndarray  # a, the softmax output


class LogSoftmaxCache(NamedTuple):
    probs: np.ndarray  # softmax(x) = exp(log_softmax(x))


def softmax_forward(scores, mask=None):
    """a_ij = exp(e_ij - m_i) [mask_ij] / sum_k exp(e_ik - m_i) [mask_ik].

    scores e: (..., Tk)   mask: bool, broadcastable to e, True = may attend
    -> weights a: same shape as e.

    m_i is the row maximum over allowed entries: subtracting it changes
    nothing mathematically (softmax is shift-invariant) and keeps exp <= 1, so
    large scores never overflow.  A row whose mask is all False gets weights 0
    (not NaN), and so gradient 0.  Infinite scores give the limit: a row with
    allowed scores of +inf shares its weight equally among them (0 elsewhere);
    -inf gets weight 0 (a row of -inf only is treated as fully masked: zeros,
    where PyTorch gives NaN); a NaN score makes its row NaN, as in PyTorch.

    Backward (Jacobian-vector product of softmax):
        de_ij = a_ij (da_ij - sum_k a_ik da_ik)
    Masked entries have a_ij = 0 and so get de_ij = 0.
    """
    op = "softmax_forward"
    float_array(op, "scores", scores, min_ndim=1)
    mask = bool_mask(op, "mask", mask, scores.shape)
    # m_i over the allowed entries only: a masked score, however large, must not set it
    row_max = np.max(scores, axis=-1, keepdims=True, initial=-np.inf) if mask is None else \
        np.max(scores, axis=-1, keepdims=True, where=mask, initial=-np.inf)
    top = np.isposinf(row_max)                   # rows with a +inf score: their limit below
    row_max[np.isinf(row_max)] = 0               # those, and all-masked or all -inf rows
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        e = scores - row_max                     # a difference beyond the range is -inf
        if mask is not None:
            e[~mask] = -np.inf                   # exp(-inf) = 0 at masked entries
        np.exp(e, out=e)                         # exp of very negative scores -> 0 exactly
        total = e.sum(axis=-1, keepdims=True)
        total[total == 0] = 1                    # all-masked rows stay all zero
        e /= total                               # inf / inf in the +inf rows, replaced below
    if top.any():                                # the limit: equal weight on the +inf scores
        winners = np.isposinf(scores) if mask is None else np.isposinf(scores) & mask
        count = np.maximum(winners.sum(axis=-1, keepdims=True), 1)  # rows without: not used
        e = np.where(top, winners / count, e).astype(scores.dtype)
    return e, SoftmaxCache(e)


def softmax_backward(dweights, cache):
    """de_ij = a_ij (da_ij - sum_k a_ik da_ik), over the last axis.

    da: (..., Tk), the gradient of the weights a   cache: SoftmaxCache(weights a (..., Tk))
    -> de: (..., Tk).  Masked entries have a_ij = 0, so de_ij = 0 there; a fully
       masked row gets de = 0.
    """
    # BEGIN SOLUTION
    a = cache.weights
    return a * (dweights - np.sum(a * dweights, axis=-1, keepdims=True))
    # END SOLUTION


def logsumexp(x):
    """log sum_k exp(x_k) over the last axis, keepdims, computed as m + log sum exp(x - m)."""
    m = x.max(axis=-1, keepdims=True)
    with np.errstate(under="ignore"):
        return m + np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))


def log_softmax_forward(x):
    """y_i = x_i - log sum_k exp(x_k) over the last axis (stable).

    x: (..., C) -> y: (..., C)
    Backward: dx_i = dy_i - softmax(x)_i * sum_k dy_k.
    """
    float_array("log_softmax_forward", "x", x, min_ndim=1)
    y = x - logsumexp(x)
    with np.errstate(under="ignore"):  # exp(-1e4) is 0, correctly rounded
        probs = np.exp(y)
    return y, LogSoftmaxCache(probs)


def log_softmax_backward(dy, cache):
    """dx_i = dy_i - p_i sum_k dy_k, with p = softmax(x).

    dy: (..., C)   cache: LogSoftmaxCache(probs p (..., C))
    -> dx: (..., C).
    """
    return dy - cache.probs * dy.sum(axis=-1, keepdims=True)
