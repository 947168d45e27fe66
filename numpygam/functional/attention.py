"""The context vector c_i = sum_j a_ij h_j, and global attention end to end:

    e = score(q, k)          alignment scores      (B, Tq, Tk)
    a = softmax(e, mask)     attention weights     (B, Tq, Tk)
    c = a values             context vectors       (B, Tq, Dv)
"""
from typing import Any, NamedTuple

import numpy as np

from ._checks import bool_mask, dim_equal, float_array, float_broadcast, same_dtype
from .scores import score_backward, score_forward
from .softmax import softmax_backward, softmax_forward


class ContextCache(NamedTuple):
    weights: np.ndarray
    values: np.ndarray


def context_forward(weights, values):
    """c_i = sum_j a_ij h_j, for every query i at once: c = a values.

    weights a: (B, Tq, Tk)   values h: (B, Tk, Dv)   ->   c: (B, Tq, Dv)
    Backward: da = dc values^T   (da_ij = dc_i . h_j),
              dvalues = a^T dc   (dh_j = sum_i a_ij dc_i).
    """
    op = "context_forward"
    float_array(op, "weights", weights, ndim=3)
    float_array(op, "values", values, ndim=3)
    dim_equal(op, "weights.shape[0] and values.shape[0] (batch B)", weights.shape[0],
              values.shape[0])
    dim_equal(op, "weights.shape[2] (keys Tk) must equal values.shape[1]", weights.shape[2],
              values.shape[1])
    same_dtype(op, weights=weights, values=values)
    return weights @ values, ContextCache(weights, values)


def context_backward(dc, cache):
    """Backward of c = a values (c_i = sum_j a_ij h_j).

    dc: (B, Tq, Dv)   cache: ContextCache(weights a (B, Tq, Tk), values h (B, Tk, Dv))
    -> dweights = dc values^T   (B, Tq, Tk),   da_ij = dc_i . h_j
       dvalues  = a^T dc        (B, Tk, Dv),   dh_j = sum_i a_ij dc_i
    """
    # BEGIN SOLUTION
    a, values = cache.weights, cache.values
    dweights = dc @ values.transpose(0, 2, 1)
    dvalues = a.transpose(0, 2, 1) @ dc
    return dweights, dvalues
    # END SOLUTION


class AttentionCache(NamedTuple):
    score: str
    score_cache: Any
    softmax_cache: Any
    context_cache: ContextCache
    k: np.ndarray


def attention_arguments(q, k, values):
    """Raise unless keys and values are float arrays with one value per key, in q's dtype
    (the score checks q against k)."""
    op = "attention_forward"
    float_array(op, "values", values, ndim=3)
    float_array(op, "k", k, ndim=3)
    dim_equal(op, "values.shape[:2] must equal k.shape[:2] (B, Tk): one value per key",
              values.shape[:2], k.shape[:2])
    same_dtype(op, q=q, k=k, values=values)


def weights_and_context(e, values, mask=None, bias=None, op="attention_forward",
                        mask_name="mask"):
    """Attention after its scores: a = softmax(e + bias, mask), c = a values.

    e: (B, Tq, Tk)   values: (B, Tk, Dv)   mask: bool broadcastable to e, True = may
    attend   bias: float broadcastable to e (a constant: no gradient)
    -> ((c (B, Tq, Dv), a (B, Tq, Tk)), (SoftmaxCache, ContextCache))
    op, mask_name: the names an error about the mask starts with.
    """
    mask = bool_mask(op, mask_name, mask, e.shape)
    if bias is not None:
        bias = float_broadcast(op, "bias", bias, e.shape)
        e = e + bias.astype(e.dtype, copy=False)
    a, softmax_cache = softmax_forward(e, mask)
    c, context_cache = context_forward(a, values)
    return (c, a), (softmax_cache, context_cache)


def attention_forward(q, k, values, score="dot", mask=None, bias=None, **params):
    """Global attention: context and weights for every query.

    q: (B, Tq, Dq)   k: (B, Tk, Dk)   values: (B, Tk, Dv)
    score: "dot" (option scale), "scaled_dot", "general" (W), "concat" (W, v),
           "additive" (Wq, Wk, v, b), "location" (W): the names of
           numpygam.functional.scores.SCORES, which lists each score's parameters
    mask: bool broadcastable to (B, Tq, Tk), True = may attend; e.g. a key
          padding mask of shape (B, 1, Tk).
    bias: float broadcastable to (B, Tq, Tk), added to the scores before the
          softmax (PyTorch's float attention masks; -inf forbids a key); a
          constant, so it gets no gradient.
    -> (context (B, Tq, Dv), weights (B, Tq, Tk)), cache

    No keys (Tk = 0) is treated as PyTorch treats it and as a fully masked
    row is: the weights are empty (B, Tq, 0), every context is zeros, and
    dq is zeros.

    Backward, given dcontext and (optionally) dweights:
        da = dc values^T + dweights,  dvalues = a^T dc,
        de = a * (da - sum_j a da),   then the score's backward gives dq, dk, dparams.
    """
    attention_arguments(q, k, values)
    e, score_cache = score_forward(score, q, k, params)
    (c, a), (softmax_cache, context_cache) = weights_and_context(e, values, mask, bias)
    return (c, a), AttentionCache(score, score_cache, softmax_cache, context_cache, k)


def attention_backward(dout, cache):
    """Backward of global attention: context, then softmax, then the score.

    dout = (dc (B, Tq, Dv), dweights (B, Tq, Tk) or None: a loss on the weights too)
    cache: AttentionCache(score name, the score's cache, SoftmaxCache(a), ContextCache, k)
        da = dc values^T + dweights,   dvalues = a^T dc,
        de = a * (da - sum_j a da),    then the score's backward of de.
    -> (dq (B, Tq, Dq), dk (B, Tk, Dk), dvalues (B, Tk, Dv), *dparams), the score's
       parameter gradients in SCORES order (the location score's dk is zeros).
    """
    dc, dweights = dout
    da, dvalues = context_backward(dc, cache.context_cache)
    if dweights is not None:
        da = da + dweights
    de = softmax_backward(da, cache.softmax_cache)
    dq, dk, *dparams = score_backward(cache.score, de, cache.score_cache, cache.k)
    return (dq, dk, dvalues, *dparams)
