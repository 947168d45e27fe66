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
    in_caches: tuple  # the three projections' LinearCaches, or one (self-attention)
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


def multi_head_attention_arguments(query, key, value, in_proj_weight, num_heads, mask, bias):
    """Raise unless the arguments fit (shapes of multi_head_attention_forward's docstring);
    -> (mask, bias), each checked and broadcast to (B, H, Tq, Tk), or None."""
    op = "multi_head_attention_forward"
    for name, x in (("query", query), ("key", key), ("value", value)):
        float_array(op, name, x, ndim=3)
    B, Tq, E = query.shape
    Tk = key.shape[1]
    if E % num_heads:
        raise ValueError(f"{op}: embed_dim {E} must be divisible by num_heads {num_heads}")
    dim_equal(op, "key.shape must equal value.shape", key.shape, value.shape)
    dim_equal(op, "key.shape[0] must equal the query's batch size B", key.shape[0], B)
    dim_equal(op, "key.shape[2] must equal the query's embed_dim", key.shape[2], E)
    dim_equal(op, "in_proj_weight.shape must be (3E, E)", in_proj_weight.shape, (3 * E, E))
    shape = (B, num_heads, Tq, Tk)
    mask = bool_mask(op, "mask", mask, shape)
    bias = None if bias is None else float_broadcast(op, "bias", bias, shape)
    return mask, bias


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
    context), heads split back, and the three input projections.  For
    self-attention (query is key is value, the same array) the three input
    projections are one product x [W_q; W_k; W_v]^T, the same numbers faster.
    Returns (dquery, dkey, dvalue, din_proj_weight, din_proj_bias, dout_proj_weight,
    dout_proj_bias); a bias passed as None gets None.
    """
    mask, bias = multi_head_attention_arguments(query, key, value, in_proj_weight, num_heads,
                                                mask, bias)
    (B, Tq, E), H, Tk = query.shape, num_heads, key.shape[1]
    if mask is not None:
        mask = mask.reshape(B * H, Tq, Tk)
    if bias is not None:
        bias = bias.reshape(B * H, Tq, Tk)
    if query is key and key is value:
        # self-attention: the three projections of one x are one linear map with
        # in_proj_weight [W_q; W_k; W_v], as torch.nn.functional.multi_head_attention_forward
        QKV, in_cache = linear_forward(query, in_proj_weight, in_proj_bias)
        Qh, Kh, Vh = QKV.reshape(B, Tq, 3, H, E // H).transpose(2, 0, 3, 1, 4).reshape(
            3, B * H, Tq, E // H)
        in_caches = (in_cache,)
    else:
        W_q, W_k, W_v = np.split(in_proj_weight, 3)
        b_q, b_k, b_v = (None,) * 3 if in_proj_bias is None else np.split(in_proj_bias, 3)
        Q, q_cache = linear_forward(query, W_q, b_q)
        K, k_cache = linear_forward(key, W_k, b_k)
        V, v_cache = linear_forward(value, W_v, b_v)
        Qh, Kh, Vh = _split_heads(Q, H), _split_heads(K, H), _split_heads(V, H)
        in_caches = (q_cache, k_cache, v_cache)
    (heads, weights), attention_cache = attention_forward(
        Qh, Kh, Vh, "dot", mask, bias, scale=1 / math.sqrt(E // H))
    out, out_cache = linear_forward(_merge_heads(heads, H), out_proj_weight, out_proj_bias)
    cache = MultiheadCache(in_caches, attention_cache, out_cache, H, in_proj_bias is not None)
    return (out, weights.reshape(B, H, Tq, Tk)), cache


def multi_head_attention_backward(dout, cache):
    """Backward of multi-head attention, each step's backward in reverse.

    dout = (dout (B, Tq, E), dweights (B, H, Tq, Tk) or None)
    cache: MultiheadCache(the caches of the three input projections (or of the one,
    for self-attention), of attention over the B*H heads, of the output projection;
    num_heads H, has_bias)
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
    if len(cache.in_caches) == 1:
        return (*_fused_in_projection_backward(dQh, dKh, dVh, cache.in_caches[0], H),
                dW_out, db_out)
    q_cache, k_cache, v_cache = cache.in_caches
    dquery, dW_q, db_q = linear_backward(_merge_heads(dQh, H), q_cache)
    dkey, dW_k, db_k = linear_backward(_merge_heads(dKh, H), k_cache)
    dvalue, dW_v, db_v = linear_backward(_merge_heads(dVh, H), v_cache)
    dW_in = np.concatenate([dW_q, dW_k, dW_v])
    db_in = np.concatenate([db_q, db_k, db_v]) if cache.has_bias else None
    return dquery, dkey, dvalue, dW_in, db_in, dW_out, db_out


def _fused_in_projection_backward(dQh, dKh, dVh, in_cache, H):
    """Self-attention's in-projection backward, one linear map's backward:
    dQKV = [dQ, dK, dV] (B, T, 3E),  d[W_q; W_k; W_v] = dQKV^T x (one product),
    d[b_q; b_k; b_v] = sum of dQKV, and still dquery = dQ W_q, dkey = dK W_k,
    dvalue = dV W_v apart (each argument keeps its own gradient).
    -> dquery, dkey, dvalue (B, T, E), din_proj_weight (3E, E), din_proj_bias (3E,) or None
    """
    x, W = in_cache.x, in_cache.W
    B, T, E = x.shape
    dQKV = np.empty((B, T, 3, H, E // H), dQh.dtype)
    for i, dpart in enumerate((dQh, dKh, dVh)):
        dQKV[:, :, i] = dpart.reshape(B, H, T, E // H).transpose(0, 2, 1, 3)
    dQKV = dQKV.reshape(B * T, 3 * E)
    dW_in = dQKV.T @ x.reshape(B * T, E)
    db_in = dQKV.sum(axis=0) if in_cache.has_bias else None
    dquery, dkey, dvalue = ((dQKV[:, i * E:(i + 1) * E] @ W[i * E:(i + 1) * E]).reshape(B, T, E)
                            for i in range(3))
    return dquery, dkey, dvalue, dW_in, db_in
