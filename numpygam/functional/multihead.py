"""Multi-head attention (Vaswani et al. 2017), laid out as torch.nn.MultiheadAttention.

    Q = query W_q^T + b_q,  K = key W_k^T + b_k,  V = value W_v^T + b_v   (B, T, E)
    split E into H heads of size d = E / H                                 (B*H, T, d)
    head_h = attention(Q_h, K_h, V_h) with the scaled dot score q.k / sqrt(d)
    out = concat_h(head_h) W_o^T + b_o                                     (B, Tq, E)

[W_q; W_k; W_v] is torch's in_proj_weight (3E, E) and [b_q; b_k; b_v] its
in_proj_bias (3E,), so torch's weights load unchanged.
"""
import math
from typing import Any, NamedTuple

import numpy as np

from ._checks import bool_mask, dim_equal, float_array, float_broadcast
from .attention import attention_backward, attention_forward
from .linear import linear_backward, linear_forward


class MultiheadCache(NamedTuple):
    q_cache: Any
    k_cache: Any
    v_cache: Any
    attention_cache: Any
    out_cache: Any
    num_heads: int
    has_bias: bool


def _split_heads(x, H):
    B, T, E = x.shape
    return x.reshape(B, T, H, E // H).transpose(0, 2, 1, 3).reshape(B * H, T, E // H)


def _merge_heads(x, H):
    BH, T, d = x.shape
    return x.reshape(BH // H, H, T, d).transpose(0, 2, 1, 3).reshape(BH // H, T, H * d)


def multi_head_attention_forward(query, key, value, in_proj_weight, in_proj_bias,
                                 out_proj_weight, out_proj_bias, num_heads, mask=None,
                                 bias=None):
    """query: (B, Tq, E)   key, value: (B, Tk, E)   in_proj_weight: (3E, E)
    in_proj_bias: (3E,) or None   out_proj_weight: (E, E)   out_proj_bias: (E,) or None
    mask: bool broadcastable to (B, H, Tq, Tk), True = may attend (numpygam's
          convention; nn.MultiheadAttention converts torch's masks to it)
    bias: float broadcastable to (B, H, Tq, Tk), added to the scores (torch's float
          masks; -inf forbids a key)
    -> (out (B, Tq, E), weights per head (B, H, Tq, Tk)), cache

    Backward: each step's backward in reverse: the output projection, the
    heads merged back, attention per head (scaled dot score, masked softmax,
    context), heads split back, and the three input projections.
    Returns (dquery, dkey, dvalue, din_proj_weight, din_proj_bias, dout_proj_weight,
    dout_proj_bias); a bias passed as None gets None.
    """
    op = "multi_head_attention_forward"
    for name, x in (("query", query), ("key", key), ("value", value)):
        float_array(op, name, x, ndim=3)
    B, Tq, E = query.shape
    Tk = key.shape[1]
    if E % num_heads:
        raise ValueError(f"{op}: embed_dim {E} must be divisible by num_heads {num_heads}")
    dim_equal(op, "key.shape must equal value.shape", key.shape, value.shape)
    dim_equal(op, "key.shape[2] must equal the query's embed_dim", key.shape[2], E)
    dim_equal(op, "in_proj_weight.shape must be (3E, E)", in_proj_weight.shape, (3 * E, E))
    H = num_heads
    if mask is not None:
        mask = bool_mask(op, "mask", mask, (B, H, Tq, Tk)).reshape(B * H, Tq, Tk)
    if bias is not None:
        bias = float_broadcast(op, "bias", bias, (B, H, Tq, Tk)).reshape(B * H, Tq, Tk)
    W_q, W_k, W_v = np.split(in_proj_weight, 3)
    b_q, b_k, b_v = (None,) * 3 if in_proj_bias is None else np.split(in_proj_bias, 3)
    Q, q_cache = linear_forward(query, W_q, b_q)
    K, k_cache = linear_forward(key, W_k, b_k)
    V, v_cache = linear_forward(value, W_v, b_v)
    (heads, weights), attention_cache = attention_forward(
        _split_heads(Q, H), _split_heads(K, H), _split_heads(V, H), "dot", mask, bias,
        scale=1 / math.sqrt(E // H))
    out, out_cache = linear_forward(_merge_heads(heads, H), out_proj_weight, out_proj_bias)
    cache = MultiheadCache(q_cache, k_cache, v_cache, attention_cache, out_cache, H,
                           in_proj_bias is not None)
    return (out, weights.reshape(B, H, Tq, Tk)), cache


def multi_head_attention_backward(dout, cache):
    """Backward of multi-head attention, each step's backward in reverse.

    dout = (dout (B, Tq, E), dweights (B, H, Tq, Tk) or None)
    cache: MultiheadCache(the caches of the three input projections, of attention over
    the B*H heads, of the output projection; num_heads H, has_bias)
    -> dquery (B, Tq, E), dkey (B, Tk, E), dvalue (B, Tk, E),
       din_proj_weight = [dW_q; dW_k; dW_v] (3E, E), din_proj_bias (3E,) or None,
       dout_proj_weight (E, E), dout_proj_bias (E,) or None
    """
    dy, dweights = dout
    H = cache.num_heads
    dmerged, dW_out, db_out = linear_backward(dy, cache.out_cache)
    if dweights is not None:
        dweights = dweights.reshape((-1,) + dweights.shape[2:])
    dQh, dKh, dVh = attention_backward((_split_heads(dmerged, H), dweights),
                                       cache.attention_cache)
    dquery, dW_q, db_q = linear_backward(_merge_heads(dQh, H), cache.q_cache)
    dkey, dW_k, db_k = linear_backward(_merge_heads(dKh, H), cache.k_cache)
    dvalue, dW_v, db_v = linear_backward(_merge_heads(dVh, H), cache.v_cache)
    dW_in = np.concatenate([dW_q, dW_k, dW_v])
    db_in = np.concatenate([db_q, db_k, db_v]) if cache.has_bias else None
    return dquery, dkey, dvalue, dW_in, db_in, dW_out, db_out
