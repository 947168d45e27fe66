"""Global attention on the fast floor: twins of F.context_* and F.attention_*
(numpygam/functional/attention.py, where the formulas are).

    context_backward     one query (a decoder step, Tq = 1): a^T dc is an outer
                         product, a_j dc, computed as a broadcast product
    attention_forward    F.attention_forward's pipeline (score, softmax, context) with
    attention_backward   the fast score where the score has one (fast/scores.py), the
                         fast softmax backward (fast/softmax.py) and the context
                         backward above

Measured gain of the pipeline over its twin, forward + backward, B=64, Tq=20, Tk=50,
D=256, float32, 2 cores, one run of `python benchmarks/bench_attention.py`: additive
127.9 against 182.4 ms, general 10.3 against 14.6 ms, dot 5.9 against 6.4 ms.
"""
import numpy as np

from ..functional.attention import AttentionCache, attention_arguments, weights_and_context
from ..functional.scores import SCORES, score_params
from .scores import FAST_SCORES
from .softmax import softmax_backward


def context_backward(dc, cache):
    """F.context_backward's twin: da = dc values^T, dvalues = a^T dc.

    dc: (B, Tq, Dv)   cache: ContextCache(weights a (B, Tq, Tk), values (B, Tk, Dv))
    With one query (Tq = 1), a^T dc (B, Tk, 1) @ (B, 1, Dv) is an outer product per
    batch row, a broadcast product: 102 against 392 us at a (64, 1, 30), dc (64, 1, 128),
    float32, 2 cores (timed with timeit, the best of 5 x 200).
    """
    a, values = cache.weights, cache.values
    dweights = dc @ values.transpose(0, 2, 1)
    if a.shape[1] == 1 and dweights.shape == a.shape:   # the forward's one query
        return dweights, a.transpose(0, 2, 1) * dc
    return dweights, a.transpose(0, 2, 1) @ dc


def score_forward(name, q, k, params):
    """F.score_forward's twin: SCORES[name] by its fast twin where it has one."""
    params = score_params(name, q, params)
    forward = FAST_SCORES[name][0] if name in FAST_SCORES else SCORES[name].forward
    return forward(q, k, **params) if SCORES[name].uses_keys else forward(q, **params)


def score_backward(name, de, cache, k):
    """F.score_backward's twin: (dq, dk, *the parameters' gradients in SCORES order)."""
    backward = FAST_SCORES[name][1] if name in FAST_SCORES else SCORES[name].backward
    grads = backward(de, cache)
    if not SCORES[name].uses_keys:  # the score never looked at the keys
        return (grads[0], np.zeros_like(k)) + grads[1:]
    return grads


def attention_forward(q, k, values, score="dot", mask=None, bias=None, **params):
    """F.attention_forward's twin, the same arguments, result and errors:
    e = score(q, k) [+ bias], a = softmax(e, mask), c = a values.
    -> (context (B, Tq, Dv), weights (B, Tq, Tk)), cache
    """
    attention_arguments(q, k, values)
    e, score_cache = score_forward(score, q, k, params)
    (c, a), (softmax_cache, context_cache) = weights_and_context(e, values, mask, bias)
    return (c, a), AttentionCache(score, score_cache, softmax_cache, context_cache, k)


def attention_backward(dout, cache):
    """Backward of attention_forward, as F.attention_backward:
    dout = (dc (B, Tq, Dv), dweights (B, Tq, Tk) or None)
    -> (dq (B, Tq, Dq), dk (B, Tk, Dk), dvalues (B, Tk, Dv), *the score's parameter
       gradients in SCORES order)."""
    dc, dweights = dout
    da, dvalues = context_backward(dc, cache.context_cache)
    if dweights is not None:
        da = da + dweights
    de = softmax_backward(da, cache.softmax_cache)
    dq, dk, *dparams = score_backward(cache.score, de, cache.score_cache, cache.k)
    return (dq, dk, dvalues, *dparams)
