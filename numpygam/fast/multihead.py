"""Multi-head attention on the fast floor: F.multi_head_attention_forward's twin, the
batch in shares, one per core (parallel.py).

Each batch row's output depends on that row and the shared weights only, so the rows
are split into shares, each share runs F.multi_head_attention_forward on its own
thread with BLAS held to one thread, the outputs are joined and (backward) the weights'
gradients summed: the same numbers as one call, up to the order of that sum.  NumPy's
BLAS spreads one large product over the cores by itself, but not the B*H small products
of the heads, nor the softmax between them.  Measured on 2 cores, forward + backward,
float32 (python benchmarks/bench_idioms.py): multi-head attention at B=32, T=128,
E=256, H=8 58.4 ms in two shares against 88.3 ms whole; a Transformer training step at
that size (d_model 256, 2+2 layers) 959 ms against 1181 ms.
"""
from typing import NamedTuple

from ..functional._checks import forward_output_shape
from ..functional.multihead import multi_head_attention_arguments
from ..functional.multihead import multi_head_attention_backward as textbook_backward
from ..functional.multihead import multi_head_attention_forward as textbook_forward
from . import parallel


class MultiheadSharesCache(NamedTuple):
    shares: list         # the batch's slices
    caches: list         # each share's F MultiheadCache
    out_shape: tuple     # (B, Tq, E): dout must match it
    weights_shape: tuple  # (B, H, Tq, Tk): dweights, if given, must match it


def multiply_adds(query, key):
    """Multiply-adds of one forward: the four projections and the B*H score and context
    products (what decides whether the batch is worth splitting across the cores)."""
    B, Tq, E = query.shape
    Tk = key.shape[1]
    return B * ((2 * Tq + 2 * Tk) * E * E + 2 * Tq * Tk * E)


WEIGHTS = ("per head", "mean", None)


def multi_head_attention_forward(query, key, value, in_proj_weight, in_proj_bias,
                                 out_proj_weight, out_proj_bias, num_heads, mask=None,
                                 bias=None, weights="per head"):
    """F.multi_head_attention_forward's twin: the same arguments, result and errors, the
    batch in shares (parallel.batch_shares) where it is large enough to pay.

    mask: bool broadcastable to (B, H, Tq, Tk), True = may attend; bias: float, added
    weights: what the weights are returned as, made inside each share so that the
             whole batch's (B, H, Tq, Tk) is never joined when it is not wanted:
             "per head" (the twin's result, (B, H, Tq, Tk)), "mean" (averaged over the
             heads, (B, Tq, Tk), as nn.MultiheadAttention's average_attn_weights) or
             None (not returned; need_weights=False).  Joining the per-head weights of
             B=32, H=8, T=128 copies 16 MiB: 1.3 ms, and their mean 1.2 ms more, on the
             caller's thread (timed with timeit, float32, 2 cores).
    -> (out (B, Tq, E), weights as asked), cache
    """
    if weights not in WEIGHTS:
        raise ValueError(f"multi_head_attention_forward: weights must be one of {WEIGHTS}, "
                         f"got {weights!r}")
    # checked on the whole batch, so that no share hides a misfit (a key of another
    # batch, a mask of more rows) and every error names the call's shapes, not a share's
    mask, bias = multi_head_attention_arguments(query, key, value, in_proj_weight, num_heads,
                                                mask, bias)
    self_attention = query is key and key is value

    def share(s):
        q = query[s]
        k, v = (q, q) if self_attention else (key[s], value[s])
        (out, w), cache = textbook_forward(q, k, v, in_proj_weight, in_proj_bias,
                                           out_proj_weight, out_proj_bias, num_heads,
                                           mask=None if mask is None else mask[s],
                                           bias=None if bias is None else bias[s])
        w = w if weights == "per head" else w.mean(axis=1) if weights == "mean" else None
        return (out, w), cache

    shares = parallel.batch_shares(len(query), multiply_adds(query, key))
    parts = parallel.map_shares(share, shares)
    out = parallel.joined([out for (out, _), _ in parts])
    joined_weights = parallel.joined([w for (_, w), _ in parts])
    B, Tq, _ = query.shape
    return (out, joined_weights), MultiheadSharesCache(
        shares, [cache for _, cache in parts], out.shape, (B, num_heads, Tq, key.shape[1]))


def multi_head_attention_backward(dout, cache):
    """Backward of multi_head_attention_forward, share by share (F's formulas), the
    weights' gradients summed.
    dout = (dout (B, Tq, E), dweights (B, H, Tq, Tk) or None)
    -> (dquery, dkey, dvalue, din_proj_weight, din_proj_bias, dout_proj_weight,
       dout_proj_bias), as F.multi_head_attention_backward.
    """
    dy, dweights = dout
    forward_output_shape("multi_head_attention_backward", "dout", dy, cache.out_shape, "output")
    if dweights is not None:
        forward_output_shape("multi_head_attention_backward", "dweights", dweights,
                             cache.weights_shape, "weights")

    def share(item):
        s, c = item
        return textbook_backward((dy[s], None if dweights is None else dweights[s]), c)

    return parallel.combined(parallel.map_shares(share, zip(cache.shares, cache.caches)),
                             batched=3)
