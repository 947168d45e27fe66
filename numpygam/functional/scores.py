"""Alignment score functions e_ij = score(q_i, k_j): how well query i matches key j.

Notation (the lessons'): q (B, Tq, Dq) are the decoder states that ask
(s_{i-1} in Bahdanau, h_t in Luong), k (B, Tk, Dk) the encoder states h_j
(h_bar_s in Luong) that answer; every score returns e (B, Tq, Tk).

Luong, Pham, Manning 2015, section 3.1 (the query is h_t, the state after the step):
    dot       e = h_t^T h_bar_s                      (eq. 8)
    general   e = h_t^T W_a h_bar_s                  (eq. 8)
    concat    e = v_a^T tanh(W_a [h_t; h_bar_s])     (eq. 8)
    location  a_t = softmax(W_a h_t)                 (eq. 9; ignores the keys)
Bahdanau, Cho, Bengio 2014 (the query is s_{i-1}, the state before the step):
    additive  e = v_a^T tanh(W_a s_{i-1} + U_a h_j)  (appendix A.1.2)
Vaswani et al. 2017 add the scale 1/sqrt(d_k) to dot (scaled dot-product, eq. 1).

concat and additive are the same function: writing W_a = [Wq | Wk] (split
by columns), W_a [q; k] = Wq q + Wk k.  additive also allows a bias b.  So
concat is computed by additive's code, with W split in two.
"""
import math
from collections import namedtuple
from typing import Callable, NamedTuple

import numpy as np

from ._checks import dim_equal, float_array, same_dtype
from ._matmul import matmul_last


def _check_qk(op, q, k):
    float_array(op, "q", q, ndim=3)
    float_array(op, "k", k, ndim=3)
    dim_equal(op, "q and k must have the same batch size B (q.shape[0] vs k.shape[0])",
              q.shape[0], k.shape[0])


# -- dot ---------------------------------------------------------------------------

class DotCache(NamedTuple):
    q_scaled: np.ndarray  # scale * q
    k: np.ndarray
    scale: float


def dot_score_forward(q, k, scale=None):
    """e_ij = scale * q_i . k_j   (Luong's dot; scale = 1/sqrt(D) gives scaled dot-product).

    q: (B, Tq, D)   k: (B, Tk, D)   scale: float or None (= 1)   ->   e: (B, Tq, Tk)
    Computed as (scale q) k^T: scaling q (Tq x D) is cheaper than scaling e (Tq x Tk).
    Backward: dq = scale * de k,  dk = de^T (scale q).
    """
    op = "dot_score_forward"
    _check_qk(op, q, k)
    dim_equal(op, "q and k must have the same feature size D for a dot product "
                  "(q.shape[-1] vs k.shape[-1])", q.shape[-1], k.shape[-1])
    same_dtype(op, q=q, k=k)
    scale = 1.0 if scale is None else float(scale)
    q_scaled = q * q.dtype.type(scale) if scale != 1.0 else q
    return q_scaled @ k.transpose(0, 2, 1), DotCache(q_scaled, k, scale)


def dot_score_backward(de, cache):
    """Backward of e = scale * q k^T.

    de: (B, Tq, Tk)   cache: DotCache(q_scaled = scale q (B, Tq, D), k (B, Tk, D), scale)
    -> dq = scale * de k        (B, Tq, D)
       dk = de^T (scale q)      (B, Tk, D)
    """
    # BEGIN SOLUTION
    dq = de @ cache.k
    if cache.scale != 1.0:
        dq *= dq.dtype.type(cache.scale)
    return dq, de.transpose(0, 2, 1) @ cache.q_scaled
    # END SOLUTION


# -- general -----------------------------------------------------------------------

class GeneralCache(NamedTuple):
    q: np.ndarray
    k: np.ndarray
    W: np.ndarray
    qW: np.ndarray  # q W, (B, Tq, Dk)


def general_score_forward(q, k, W):
    """Luong's "general" score: e_ij = q_i^T W k_j.

    q: (B, Tq, Dq)   k: (B, Tk, Dk)   W: (Dq, Dk)   ->   e: (B, Tq, Tk)
    Computed as (q W) k^T.
    Backward: dq = de k W^T,  dk = de^T (q W),  dW = sum_b q^T de k.
    """
    op = "general_score_forward"
    _check_qk(op, q, k)
    float_array(op, "W", W, ndim=2)
    dim_equal(op, "W.shape[0] must equal the query size Dq = q.shape[-1]", W.shape[0], q.shape[-1])
    dim_equal(op, "W.shape[1] must equal the key size Dk = k.shape[-1]", W.shape[1], k.shape[-1])
    same_dtype(op, q=q, k=k, W=W)
    qW = matmul_last(q, W)
    return qW @ k.transpose(0, 2, 1), GeneralCache(q, k, W, qW)


def general_score_backward(de, cache):
    """Backward of e_ij = q_i^T W k_j, computed as (q W) k^T.

    de: (B, Tq, Tk)   cache: GeneralCache(q (B, Tq, Dq), k (B, Tk, Dk), W (Dq, Dk), qW (B, Tq, Dk))
    -> dq = (de k) W^T               (B, Tq, Dq)
       dk = de^T (q W)               (B, Tk, Dk)
       dW = sum_b q^T (de k)         (Dq, Dk)
    """
    # BEGIN SOLUTION
    dqW = de @ cache.k                                   # (B, Tq, Dk)
    dq = matmul_last(dqW, cache.W.T)
    dk = de.transpose(0, 2, 1) @ cache.qW
    Dq, Dk = cache.W.shape
    dW = cache.q.reshape(-1, Dq).T @ dqW.reshape(-1, Dk)
    return dq, dk, dW
    # END SOLUTION


# -- additive (Bahdanau) and concat (Luong) ----------------------------------------

class AdditiveCache(NamedTuple):
    q: np.ndarray
    k: np.ndarray
    Wq: np.ndarray
    Wk: np.ndarray
    v: np.ndarray
    hidden: np.ndarray  # tanh(Wq q_i + Wk k_j + b), (B, Tq, Tk, A)
    has_bias: bool


def additive_score_forward(q, k, Wq, Wk, v, b=None):
    """Bahdanau's additive score: e_ij = v^T tanh(Wq q_i + Wk k_j + b).

    q: (B, Tq, Dq)   k: (B, Tk, Dk)   Wq: (A, Dq)   Wk: (A, Dk)   v: (A,)   b: (A,) or None
    -> e: (B, Tq, Tk).   (Bahdanau's W_a, U_a, v_a are Wq, Wk, v.)

    The projections Wq q (B, Tq, A) and Wk k (B, Tk, A) are computed once and
    broadcast against each other; only the tanh is (B, Tq, Tk, A).
    Backward, with z = tanh(.) and g_ija = de_ij v_a (1 - z_ija^2):
        dv = sum_bij de_ij z_ij      db = sum_bij g_ij
        dq_i = sum_j g_ij Wq         dWq = sum_bi (sum_j g_ij) q_i^T
        dk_j = sum_i g_ij Wk         dWk = sum_bj (sum_i g_ij) k_j^T
    """
    op = "additive_score_forward"
    _check_qk(op, q, k)
    for name, W, x, what in (("Wq", Wq, q, "q"), ("Wk", Wk, k, "k")):
        float_array(op, name, W, ndim=2)
        dim_equal(op, f"{name}.shape[1] must equal {what}.shape[-1]", W.shape[1], x.shape[-1])
    float_array(op, "v", v, ndim=1)
    dim_equal(op, "Wk.shape[0] must equal Wq.shape[0] (the attention size A)",
              Wk.shape[0], Wq.shape[0])
    dim_equal(op, "v.shape[0] must equal the attention size A = Wq.shape[0]", v.shape[0], Wq.shape[0])
    if b is not None:
        float_array(op, "b", b, ndim=1)
        dim_equal(op, "b.shape[0] must equal the attention size A = Wq.shape[0]",
                  b.shape[0], Wq.shape[0])
    same_dtype(op, q=q, k=k, Wq=Wq, Wk=Wk, v=v, b=b)
    Q = matmul_last(q, Wq.T)                                          # (B, Tq, A)
    if b is not None:
        Q = Q + b
    K = matmul_last(k, Wk.T)                                          # (B, Tk, A)
    hidden = np.tanh(Q[:, :, None, :] + K[:, None, :, :])  # (B, Tq, Tk, A)
    return hidden @ v, AdditiveCache(q, k, Wq, Wk, v, hidden, b is not None)


def additive_score_backward(de, cache):
    """Backward of e_ij = v^T tanh(Wq q_i + Wk k_j + b).

    de: (B, Tq, Tk)   cache: AdditiveCache(q, k, Wq (A, Dq), Wk (A, Dk), v (A,),
    hidden z = tanh(.) (B, Tq, Tk, A), has_bias)
    With g_ija = de_ij v_a (1 - z_ija^2):
    -> dq_i = sum_j g_ij Wq                (B, Tq, Dq)
       dk_j = sum_i g_ij Wk                (B, Tk, Dk)
       dWq  = sum_bi (sum_j g_ij) q_i^T    (A, Dq)
       dWk  = sum_bj (sum_i g_ij) k_j^T    (A, Dk)
       dv   = sum_bij de_ij z_ij           (A,)
       db   = sum_bij g_ij                 (A,), or None without a bias
    """
    # BEGIN SOLUTION
    z, v = cache.hidden, cache.v
    A = v.shape[0]
    dv = de.reshape(-1) @ z.reshape(-1, A)
    # g = de v (1 - z^2), (B, Tq, Tk, A), built in one array: 104 us against 115 us with
    # a temporary per factor at (64, 1, 30, 64) (benchmarks/bench_idioms.py)
    g = z * z
    np.subtract(1, g, out=g)
    g *= v
    g *= de[..., None]
    dQ = g.sum(axis=2)                                    # (B, Tq, A)
    dK = g.sum(axis=1)                                    # (B, Tk, A)
    dq = matmul_last(dQ, cache.Wq)
    dk = matmul_last(dK, cache.Wk)
    dWq = dQ.reshape(-1, A).T @ cache.q.reshape(-1, cache.q.shape[-1])
    dWk = dK.reshape(-1, A).T @ cache.k.reshape(-1, cache.k.shape[-1])
    db = dQ.reshape(-1, A).sum(axis=0) if cache.has_bias else None
    return dq, dk, dWq, dWk, dv, db
    # END SOLUTION


class ProjectedAdditiveCache(NamedTuple):
    q: np.ndarray
    Wq: np.ndarray
    v: np.ndarray
    hidden: np.ndarray  # tanh(Wq q_i + b + K_j), (B, Tq, Tk, A)
    has_bias: bool


def projected_additive_score_forward(q, K, Wq, v, b=None):
    """The additive score with its key side given: e_ij = v^T tanh(Wq q_i + b + K_j).

    q: (B, Tq, Dq)   K: (B, Tk, A), the keys already projected, K_j = Wk k_j
    Wq: (A, Dq)   v: (A,)   b: (A,) or None   ->   e: (B, Tq, Tk)
    Wk k_j does not depend on the query, as Bahdanau et al. note under eq. A.1.2:
    a decoder that asks one query per step computes K once per source
    (nn.Attention.project_keys) instead of once per step.
    Backward, with z = tanh(.) and g_ija = de_ij v_a (1 - z_ija^2) as for additive_score:
        dq_i = sum_j g_ij Wq    dWq = sum_bi (sum_j g_ij) q_i^T    dK_j = sum_i g_ij
        dv = sum_bij de_ij z_ij    db = sum_bij g_ij
    and, once for all steps, dk_j = dK_j Wk and dWk = sum_bj dK_j k_j^T.
    """
    op = "projected_additive_score_forward"
    _check_qk(op, q, K)
    float_array(op, "Wq", Wq, ndim=2)
    dim_equal(op, "Wq.shape[1] must equal q.shape[-1]", Wq.shape[1], q.shape[-1])
    dim_equal(op, "K.shape[-1] must equal the attention size A = Wq.shape[0]",
              K.shape[-1], Wq.shape[0])
    float_array(op, "v", v, ndim=1)
    dim_equal(op, "v.shape[0] must equal the attention size A = Wq.shape[0]", v.shape[0], Wq.shape[0])
    if b is not None:
        float_array(op, "b", b, ndim=1)
        dim_equal(op, "b.shape[0] must equal the attention size A = Wq.shape[0]",
                  b.shape[0], Wq.shape[0])
    same_dtype(op, q=q, K=K, Wq=Wq, v=v, b=b)
    Q = matmul_last(q, Wq.T)                                          # (B, Tq, A)
    if b is not None:
        Q = Q + b
    hidden = np.tanh(Q[:, :, None, :] + K[:, None, :, :])  # (B, Tq, Tk, A)
    return hidden @ v, ProjectedAdditiveCache(q, Wq, v, hidden, b is not None)


def projected_additive_score_backward(de, cache):
    """Backward of e_ij = v^T tanh(Wq q_i + b + K_j).

    de: (B, Tq, Tk)   cache: ProjectedAdditiveCache(q, Wq (A, Dq), v (A,), hidden z, has_bias)
    With g_ija = de_ij v_a (1 - z_ija^2):
    -> dq_i = sum_j g_ij Wq                (B, Tq, Dq)
       dK_j = sum_i g_ij                   (B, Tk, A)
       dWq  = sum_bi (sum_j g_ij) q_i^T    (A, Dq)
       dv   = sum_bij de_ij z_ij           (A,)
       db   = sum_bij g_ij                 (A,), or None without a bias
    """
    # The lines down to dK repeat additive_score_backward's on purpose: that one is a
    # homework exercise (its body is the solution a student writes whole), so it cannot
    # call a shared helper, and calling it from here would redo Wk k every step.
    z, v = cache.hidden, cache.v
    A = v.shape[0]
    dv = de.reshape(-1) @ z.reshape(-1, A)
    g = z * z  # g = de v (1 - z^2), in one array as in additive_score_backward
    np.subtract(1, g, out=g)
    g *= v
    g *= de[..., None]
    dQ = g.sum(axis=2)                                    # (B, Tq, A)
    dK = g.sum(axis=1)                                    # (B, Tk, A)
    dq = matmul_last(dQ, cache.Wq)
    dWq = dQ.reshape(-1, A).T @ cache.q.reshape(-1, cache.q.shape[-1])
    db = dQ.reshape(-1, A).sum(axis=0) if cache.has_bias else None
    return dq, dK, dWq, dv, db


def concat_score_forward(q, k, W, v):
    """Luong's "concat" score: e_ij = v^T tanh(W [q_i; k_j]).

    q: (B, Tq, Dq)   k: (B, Tk, Dk)   W: (A, Dq + Dk)   v: (A,)   ->   e: (B, Tq, Tk)
    Equal to additive_score with Wq = W[:, :Dq], Wk = W[:, Dq:] and no bias,
    which is how it is computed (never materialising the (Tq*Tk, Dq+Dk) concatenation).
    Backward: as additive_score; dW = [dWq | dWk].
    """
    op = "concat_score_forward"
    _check_qk(op, q, k)
    float_array(op, "W", W, ndim=2)
    Dq, Dk = q.shape[-1], k.shape[-1]
    dim_equal(op, f"W.shape[1] must equal Dq + Dk = {Dq} + {Dk}", W.shape[1], Dq + Dk)
    return additive_score_forward(q, k, W[:, :Dq], W[:, Dq:], v)


def concat_score_backward(de, cache):
    """Backward of e_ij = v^T tanh(W [q_i; k_j]), by additive_score_backward.

    de: (B, Tq, Tk)   cache: AdditiveCache (W split as Wq = W[:, :Dq], Wk = W[:, Dq:])
    -> dq (B, Tq, Dq), dk (B, Tk, Dk) as for the additive score,
       dW = [dWq | dWk]   (A, Dq + Dk),   dv (A,)
    """
    dq, dk, dWq, dWk, dv, _ = additive_score_backward(de, cache)
    return dq, dk, np.concatenate([dWq, dWk], axis=1), dv


# -- location (Luong) --------------------------------------------------------------

class LocationCache(NamedTuple):
    q: np.ndarray
    W: np.ndarray


def location_score_forward(q, W):
    """Luong's location-based score: e_t = W_a h_t, so that a_t = softmax(W_a h_t).

    q: (B, Tq, Dq)   W: (Tk, Dq)   ->   e: (B, Tq, Tk)
    The score depends on the query alone: each row of W scores one source
    position, so Tk is fixed by W (pad or crop the keys to it).
    Backward: dq = de W,  dW = sum_bi de_i^T q_i.
    """
    op = "location_score_forward"
    float_array(op, "q", q, ndim=3)
    float_array(op, "W", W, ndim=2)
    dim_equal(op, "W.shape[1] must equal the query size Dq = q.shape[-1]", W.shape[1], q.shape[-1])
    same_dtype(op, q=q, W=W)
    return matmul_last(q, W.T), LocationCache(q, W)


def location_score_backward(de, cache):
    """Backward of e = q W^T (W_a h_t, one row of W per source position).

    de: (B, Tq, Tk)   cache: LocationCache(q (B, Tq, Dq), W (Tk, Dq))
    -> dq = de W                (B, Tq, Dq)
       dW = sum_bi de_i^T q_i   (Tk, Dq)
    """
    Tk, Dq = cache.W.shape
    return matmul_last(de, cache.W), de.reshape(-1, Tk).T @ cache.q.reshape(-1, Dq)


# -- the registry: every score, its parameters, and their names in the papers ----------

# The sizes a score's parameter shapes are made of: query size Dq, key size Dk,
# attention (hidden) size A of concat and additive, source positions Tk (location).
Sizes = namedtuple("Sizes", "Dq Dk A Tk")

# One parameter of a score function:
#   arg: its keyword in the functional op (DESIGN.md's name: W, Wq, Wk, v, b);
#   attr: its name in nn modules, the papers' (W_a, U_a, v_a, b_a);
#   shape(sizes) -> its shape;  fan_in(sizes) -> the fan-in of its initialisation
#   U(-1/sqrt(fan_in), 1/sqrt(fan_in)), or None for a bias, which starts at zero
#   and may be left out (None).
ScoreParam = namedtuple("ScoreParam", "arg attr shape fan_in")


class Score(NamedTuple):
    """A score function: its pair, its parameters in the backward's order, whether it
    reads the keys (location does not), whether it scales by 1/sqrt(D), whether it
    compares q and k directly (so they need one size: dot, scaled_dot), and the
    keyword options its forward takes besides the parameters (dot: scale)."""
    forward: Callable
    backward: Callable
    params: tuple = ()
    uses_keys: bool = True
    scaled: bool = False
    same_size: bool = False
    options: tuple = ()


_W_general = ScoreParam("W", "W_a", lambda s: (s.Dq, s.Dk), lambda s: s.Dk)
_v = ScoreParam("v", "v_a", lambda s: (s.A,), lambda s: s.A)
SCORES = {
    "dot": Score(dot_score_forward, dot_score_backward, same_size=True, options=("scale",)),
    "scaled_dot": Score(dot_score_forward, dot_score_backward, scaled=True, same_size=True,
                        options=("scale",)),
    "general": Score(general_score_forward, general_score_backward, (_W_general,)),
    "concat": Score(concat_score_forward, concat_score_backward, (
        ScoreParam("W", "W_a", lambda s: (s.A, s.Dq + s.Dk), lambda s: s.Dq + s.Dk), _v)),
    "additive": Score(additive_score_forward, additive_score_backward, (
        ScoreParam("Wq", "W_a", lambda s: (s.A, s.Dq), lambda s: s.Dq),
        ScoreParam("Wk", "U_a", lambda s: (s.A, s.Dk), lambda s: s.Dk), _v,
        ScoreParam("b", "b_a", lambda s: (s.A,), None))),
    "location": Score(location_score_forward, location_score_backward, (
        ScoreParam("W", "W_a", lambda s: (s.Tk, s.Dq), lambda s: s.Dq),), uses_keys=False),
}


def score_forward(name, q, k, params):
    """e = SCORES[name] of (q, k) with its parameters {arg: array} (scaled_dot: scale 1/sqrt(D))."""
    if name not in SCORES:
        raise ValueError(f"unknown score {name!r}; choose one of {sorted(SCORES)}")
    score = SCORES[name]
    allowed = {p.arg for p in score.params} | set(score.options)
    extra = set(params) - allowed
    if extra:
        raise TypeError(f"score {name!r} takes parameters {sorted(allowed)}, got also "
                        f"{sorted(extra)}")
    if score.scaled:
        params = {"scale": 1 / math.sqrt(q.shape[-1]), **params}
    return score.forward(q, k, **params) if score.uses_keys else score.forward(q, **params)


def score_backward(name, de, cache, k):
    """(dq, dk, *the parameters' gradients in SCORES[name].params order)."""
    score = SCORES[name]
    grads = score.backward(de, cache)
    if not score.uses_keys:  # the score never looked at the keys
        return (grads[0], np.zeros_like(k)) + grads[1:]
    return grads
