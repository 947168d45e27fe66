"""Luong, Pham, Manning 2015: the attentional hidden state and local attention.

    h~_t = tanh(W_c [c_t; h_t])                                   (eq. 5)
    local-m: p_t = t, attend to the window [p_t - D, p_t + D]      (sec. 3.2)
    local-p: p_t = S sigmoid(v_p^T tanh(W_p h_t))                  (eq. 9)
             a_t(s) = align(h_t, h_bar_s) exp(-(s - p_t)^2 / (2 sigma^2)),
             sigma = D / 2, align = softmax over the window    (eq. 10)
"""
from typing import Any, NamedTuple

import numpy as np

from ._checks import dim_equal, float_array
from .activations import stable_sigmoid, tanh_backward, tanh_forward
from .attention import context_backward, context_forward
from .linear import linear_backward, linear_forward
from .scores import score_backward, score_forward
from .softmax import softmax_backward, softmax_forward


class AttentionalHiddenCache(NamedTuple):
    linear_cache: Any
    tanh_cache: Any
    context_size: int


def attentional_hidden_forward(c, h, W, b=None):
    """Luong's attentional hidden state h~_t = tanh(W_c [c_t; h_t] + b).

    c: (..., Dc) context   h: (..., Dh) decoder state   W: (D, Dc + Dh)   b: (D,) or None
    -> h~: (..., D).   Luong use no bias; b is there for those who want one.
    Backward, with dz = dh~ (1 - h~^2):
        [dc; dh] = dz W,  dW = sum dz^T [c; h],  db = sum dz.
    """
    op = "attentional_hidden_forward"
    float_array(op, "c", c, min_ndim=1)
    float_array(op, "h", h, min_ndim=1)
    dim_equal(op, "c and h must have the same leading shape", c.shape[:-1], h.shape[:-1])
    float_array(op, "W", W, ndim=2)
    dim_equal(op, f"W.shape[1] must equal Dc + Dh = {c.shape[-1]} + {h.shape[-1]}",
              W.shape[1], c.shape[-1] + h.shape[-1])
    z, linear_cache = linear_forward(np.concatenate([c, h], axis=-1), W, b)
    out, tanh_cache = tanh_forward(z)
    return out, AttentionalHiddenCache(linear_cache, tanh_cache, c.shape[-1])


def attentional_hidden_backward(dout, cache):
    """Backward of h~ = tanh(W [c; h] + b).

    dout: (..., D), the gradient of h~   cache: AttentionalHiddenCache(the linear and
    tanh caches, context_size Dc)
    With dz = dh~ (1 - h~^2):
    -> dc = (dz W)[..., :Dc]           (..., Dc)
       dh = (dz W)[..., Dc:]           (..., Dh)
       dW = sum dz^T [c; h]            (D, Dc + Dh)
       db = sum dz                     (D,), or None without a bias
    """
    dz = tanh_backward(dout, cache.tanh_cache)
    dcat, dW, db = linear_backward(dz, cache.linear_cache)
    return dcat[..., :cache.context_size], dcat[..., cache.context_size:], dW, db


def local_window_mask(positions, num_keys, D, lengths=None):
    """True where key s lies in the window [p - D, p + D] (and before the sequence's end).

    positions p: (Tq,) or (B, Tq), integer (local-m: p_t = t) or real (local-p)
    num_keys: Tk   D: half-width (>= 0)   lengths: (B,) number of real keys, or None
    -> mask: positions.shape + (Tk,), bool.
    At the edges the window is cut to the keys that exist; a window wholly
    outside the keys is empty, and that query's context is then zero.
    """
    if D < 0:
        raise ValueError(f"local_window_mask: D (the window half-width) must be >= 0, got {D}")
    s = np.arange(num_keys)
    p = np.asarray(positions)
    mask = np.abs(s - p[..., None]) <= D
    if lengths is not None:
        lengths = np.asarray(lengths)
        mask = mask & (s < lengths.reshape((-1,) + (1,) * (mask.ndim - 1)))
    return mask


class LocalPCache(NamedTuple):
    q: np.ndarray
    Wp: np.ndarray
    vp: np.ndarray
    hidden: np.ndarray   # tanh(W_p h_t), (B, Tq, A)
    sig: np.ndarray      # sigmoid(v_p^T hidden), (B, Tq)
    S: np.ndarray        # source lengths, (B, 1)
    dist: np.ndarray     # s - p_t, (B, Tq, Tk)
    sigma: float
    align: np.ndarray    # softmax over the window, (B, Tq, Tk)
    gauss: np.ndarray    # exp(-(s - p_t)^2 / (2 sigma^2)), (B, Tq, Tk)
    score: str
    score_cache: Any
    softmax_cache: Any
    context_cache: Any
    k: np.ndarray


def local_p_attention_forward(q, k, values, Wp, vp, D, score="general", lengths=None, **params):
    """Luong's local-p attention: predict a source position, attend around it.

    q: (B, Tq, Dq) decoder states h_t   k: (B, Tk, Dk)   values: (B, Tk, Dv)
    Wp: (A, Dq)   vp: (A,)   D: window half-width, sigma = D / 2
    lengths: (B,) source lengths S (default Tk for all); keys at s >= S are padding
    score, params: as for attention_forward (default Luong's "general", with W)
    -> (context (B, Tq, Dv), weights (B, Tq, Tk)), cache;  cache.p is p_t (B, Tq).

        p_t  = S sigmoid(v_p^T tanh(W_p h_t))
        a_t(s) = softmax_{s in window}(e_ts) exp(-(s - p_t)^2 / (2 sigma^2))
        c_t  = sum_s a_t(s) h_bar_s
    The weights do not sum to one (the Gaussian shrinks them), as in the paper.
    Gradients flow through the Gaussian into p_t, W_p and v_p; the window's
    edges are a step function of p_t and contribute no gradient.

    Backward, with g = exp(...), al = softmax(...), w = al g:
        dal = dw g,   dp_t = sum_s dw_s al_s g_s (s - p_t) / sigma^2
        du = dp_t S sig (1 - sig),   dvp = sum du tanh(.),   dz = du vp (1 - tanh^2)
        dq += dz W_p,   dWp = sum dz^T q
    Returns (dq, dk, dvalues, dWp, dvp, *dparams of the score).
    """
    op = "local_p_attention_forward"
    float_array(op, "q", q, ndim=3)
    float_array(op, "k", k, ndim=3)
    float_array(op, "Wp", Wp, ndim=2)
    float_array(op, "vp", vp, ndim=1)
    dim_equal(op, "Wp.shape[1] must equal the query size Dq = q.shape[-1]", Wp.shape[1],
              q.shape[-1])
    dim_equal(op, "vp.shape[0] must equal Wp.shape[0]", vp.shape[0], Wp.shape[0])
    if D <= 0:
        raise ValueError(f"{op}: D (the window half-width) must be > 0, got {D}")
    B, Tk = q.shape[0], k.shape[1]
    S = np.full((B, 1), Tk, dtype=q.dtype) if lengths is None else \
        np.asarray(lengths, dtype=q.dtype).reshape(B, 1)
    hidden = np.tanh(q @ Wp.T)
    sig = stable_sigmoid(hidden @ vp)
    p = S * sig                                               # (B, Tq)
    dist = np.arange(Tk, dtype=q.dtype) - p[..., None]        # (B, Tq, Tk)
    window = (np.abs(dist) <= D) & (np.arange(Tk) < S[..., None])
    sigma = D / 2
    gauss = np.exp(-dist * dist / q.dtype.type(2 * sigma * sigma))
    e, score_cache = score_forward(score, q, k, params)
    align, softmax_cache = softmax_forward(e, window)
    weights = align * gauss
    c, context_cache = context_forward(weights, values)
    cache = LocalPCache(q, Wp, vp, hidden, sig, S, dist, sigma, align, gauss, score,
                        score_cache, softmax_cache, context_cache, k)
    return (c, weights), cache


def local_p_attention_backward(dout, cache):
    """Backward of local-p attention (formulas: local_p_attention_forward).

    dout = (dc (B, Tq, Dv), dweights (B, Tq, Tk) or None)
    cache: LocalPCache(q, Wp, vp, hidden tanh(W_p h_t) (B, Tq, A), sig (B, Tq), S (B, 1),
    dist s - p_t (B, Tq, Tk), sigma, align (B, Tq, Tk), gauss (B, Tq, Tk), the score's,
    softmax's and context's caches, k)
    -> (dq (B, Tq, Dq), dk (B, Tk, Dk), dvalues (B, Tk, Dv), dWp (A, Dq), dvp (A,),
       *dparams of the score); dq adds the path through p_t to the score's dq.
    """
    dc, dweights = dout
    dw, dvalues = context_backward(dc, cache.context_cache)
    if dweights is not None:
        dw = dw + dweights
    dalign = dw * cache.gauss
    dp = np.sum(dw * cache.align * cache.gauss * cache.dist, axis=-1) / (cache.sigma ** 2)
    de = softmax_backward(dalign, cache.softmax_cache)
    dq, dk, *dparams = score_backward(cache.score, de, cache.score_cache, cache.k)
    du = dp * cache.S * cache.sig * (1 - cache.sig)           # (B, Tq)
    dvp = du.reshape(-1) @ cache.hidden.reshape(-1, cache.hidden.shape[-1])
    dz = du[..., None] * cache.vp * (1 - cache.hidden ** 2)    # (B, Tq, A)
    dq = dq + dz @ cache.Wp
    dWp = dz.reshape(-1, dz.shape[-1]).T @ cache.q.reshape(-1, cache.q.shape[-1])
    return (dq, dk, dvalues, dWp, dvp, *dparams)


def local_p_positions(cache):
    """p_t of a local-p forward, (B, Tq): where each query looked."""
    return (cache.S * cache.sig).astype(cache.q.dtype)
