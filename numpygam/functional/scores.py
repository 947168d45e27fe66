"""Alignment score functions e_ij = score(q_i, k_j): how well query i matches key j.

Notation (the lessons'): q (B, Tq, Dq) are the decoder states that ask
(s_{i-1} in Bahdanau, h_t in Luong), k (B, Tk, Dk) the encoder states h_j
(h_bar_s in Luong) that answer; every score returns e (B, Tq, Tk).

Luong, Pham, Manning 2015, section 3.1 (the query is h_t, the state after the step):
    dot       e = h_t^T h_bar_s                      (after eq. 7)
    general   e = h_t^T W_a h_bar_s                  (after eq. 7)
    concat    e = v_a^T tanh(W_a [h_t; h_bar_s])     (after eq. 7)
    location  a_t = softmax(W_a h_t)                 (eq. 8; ignores the keys)
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


def check_qk(op, q, k):
    """Raise unless q (B, Tq, Dq) and k (B, Tk, Dk) are float arrays with one batch size."""
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
    check_qk(op, q, k)
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
    dq = cache.scale * (de @ cache.k)
    dk = de.transpose(0, 2, 1) @ cache.q_scaled
    return dq, dk
    # END SOLUTION


# -- general -----------------------------------------------------------------------

class GeneralCache(NamedTuple):
    q: np.ndarray
    k: np.ndarray
    W: np.ndarray
    qW: np.ndarray  # q W, (B, Tq, Dk)


def general_arguments(op, q, k, W):
    """Raise unless q (B, Tq, Dq), k (B, Tk, Dk) and W (Dq, Dk) fit, in one dtype."""
    check_qk(op, q, k)
    float_array(op, "W", W, ndim=2)
    dim_equal(op, "W.shape[0] must equal the query size Dq = q.shape[-1]", W.shape[0], q.shape[-1])
    dim_equal(op, "W.shape[1] must equal the key size Dk = k.shape[-1]", W.shape[1], k.shape[-1])
    same_dtype(op, q=q, k=k, W=W)


def general_score_forward(q, k, W):
    """Luong's "general" score: e_ij = q_i^T W k_j.

    q: (B, Tq, Dq)   k: (B, Tk, Dk)   W: (Dq, Dk)   ->   e: (B, Tq, Tk)
    Computed as (q W) k^T.
    Backward: dq = de k W^T,  dk = de^T (q W),  dW = sum_b q^T de k.
    """
    general_arguments("general_score_forward", q, k, W)
    qW = q @ W                                           # (B, Tq, Dk)
    return qW @ k.transpose(0, 2, 1), GeneralCache(q, k, W, qW)


def general_score_backward(de, cache):
    """Backward of e_ij = q_i^T W k_j, computed as (q W) k^T.

    de: (B, Tq, Tk)   cache: GeneralCache(q (B, Tq, Dq), k (B, Tk, Dk), W (Dq, Dk), qW (B, Tq, Dk))
    -> dq = (de k) W^T               (B, Tq, Dq)
       dk = de^T (q W)               (B, Tk, Dk)
       dW = sum_b q^T (de k)         (Dq, Dk)
    """
    # BEGIN SOLUTION
    dqW = de @ cache.k                                   # d(q W), (B, Tq, Dk)
    dq = dqW @ cache.W.T
    dk = de.transpose(0, 2, 1) @ cache.qW
    dW = (cache.q.transpose(0, 2, 1) @ dqW).sum(axis=0)
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


def additive_arguments(op, q, k, Wq, Wk, v, b):
    """Raise unless the additive score's arguments fit (shapes of its docstring), in one dtype."""
    check_qk(op, q, k)
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


def additive_score_forward(q, k, Wq, Wk, v, b=None):
    """Bahdanau's additive score: e_ij = v^T tanh(Wq q_i + Wk k_j + b).

    q: (B, Tq, Dq)   k: (B, Tk, Dk)   Wq: (A, Dq)   Wk: (A, Dk)   v: (A,)   b: (A,) or None
    -> e: (B, Tq, Tk).   (Bahdanau's W_a, U_a, v_a are Wq, Wk, v.)

    The projections Wq q (B, Tq, A) and Wk k (B, Tk, A) are computed once and
    broadcast against each other; only the tanh is (B, Tq, Tk, A).  (On the fast floor
    the key side Wk k is computed once per source: numpygam.fast.scores.)
    Backward, with z = tanh(.) and g_ija = de_ij v_a (1 - z_ija^2):
        dv = sum_bij de_ij z_ij      db = sum_bij g_ij
        dq_i = sum_j g_ij Wq         dWq = sum_bi (sum_j g_ij) q_i^T
        dk_j = sum_i g_ij Wk         dWk = sum_bj (sum_i g_ij) k_j^T
    """
    additive_arguments("additive_score_forward", q, k, Wq, Wk, v, b)
    Q = q @ Wq.T                                         # (B, Tq, A)
    if b is not None:
        Q = Q + b
    K = k @ Wk.T                                         # (B, Tk, A)
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
    dv = (de[..., None] * z).sum(axis=(0, 1, 2))
    g = de[..., None] * v * (1 - z * z)                  # dz: (B, Tq, Tk, A)
    dQ = g.sum(axis=2)                                   # the query side: sum over j
    dK = g.sum(axis=1)                                   # the key side: sum over i
    dq = dQ @ cache.Wq
    dk = dK @ cache.Wk
    dWq = (dQ.transpose(0, 2, 1) @ cache.q).sum(axis=0)
    dWk = (dK.transpose(0, 2, 1) @ cache.k).sum(axis=0)
    db = dQ.sum(axis=(0, 1)) if cache.has_bias else None
    return dq, dk, dWq, dWk, dv, db
    # END SOLUTION


def concat_arguments(op, q, k, W):
    """Raise unless W (A, Dq + Dk) fits q (B, Tq, Dq) and k (B, Tk, Dk); the additive
    score's checks do the rest."""
    check_qk(op, q, k)
    float_array(op, "W", W, ndim=2)
    Dq, Dk = q.shape[-1], k.shape[-1]
    dim_equal(op, f"W.shape[1] must equal Dq + Dk = {Dq} + {Dk}", W.shape[1], Dq + Dk)


def concat_score_forward(q, k, W, v):
    """Luong's "concat" score: e_ij = v^T tanh(W [q_i; k_j]).

    q: (B, Tq, Dq)   k: (B, Tk, Dk)   W: (A, Dq + Dk)   v: (A,)   ->   e: (B, Tq, Tk)
    Equal to additive_score with Wq = W[:, :Dq], Wk = W[:, Dq:] and no bias,
    which is how it is computed (never materialising the (Tq*Tk, Dq+Dk) concatenation).
    Backward: as additive_score; dW = [dWq | dWk].
    """
    concat_arguments("concat_score_forward", q, k, W)
    Dq = q.shape[-1]
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


def location_arguments(op, q, W):
    """Raise unless q (B, Tq, Dq) and W (Tk, Dq) are float arrays that fit, in one dtype."""
    float_array(op, "q", q, ndim=3)
    float_array(op, "W", W, ndim=2)
    dim_equal(op, "W.shape[1] must equal the query size Dq = q.shape[-1]", W.shape[1], q.shape[-1])
    same_dtype(op, q=q, W=W)


def location_score_forward(q, W):
    """Luong's location-based score: e_t = W_a h_t, so that a_t = softmax(W_a h_t).

    q: (B, Tq, Dq)   W: (Tk, Dq)   ->   e: (B, Tq, Tk)
    The score depends on the query alone: each row of W scores one source
    position, so Tk is fixed by W (pad or crop the keys to it).
    Backward: dq = de W,  dW = sum_bi de_i^T q_i.
    """
    location_arguments("location_score_forward", q, W)
    return q @ W.T, LocationCache(q, W)


def location_score_backward(de, cache):
    """Backward of e = q W^T (W_a h_t, one row of W per source position).

    de: (B, Tq, Tk)   cache: LocationCache(q (B, Tq, Dq), W (Tk, Dq))
    -> dq = de W                (B, Tq, Dq)
       dW = sum_bi de_i^T q_i   (Tk, Dq)
    """
    dq = de @ cache.W
    dW = (de.transpose(0, 2, 1) @ cache.q).sum(axis=0)
    return dq, dW


# -- the registry: every score, its parameters, and their names in the papers ----------

# The sizes a score's parameter shapes are made of: query size Dq, key size Dk,
# attention (hidden) size A of concat and additive, source positions Tk (location).
Sizes = namedtuple("Sizes", "Dq Dk A Tk")

# One parameter of a score function:
#   arg: its keyword in the functional op (W, Wq, Wk, v, b);
#   attr: its name in nn modules, the papers' (W_a, U_a, v_a, b_a);
#   shape(sizes) -> its shape;  fan_in(sizes) -> the fan-in of its initialisation
#   U(-1/sqrt(fan_in), 1/sqrt(fan_in)), or None for a bias, which starts at zero
#   and may be left out (None).
ScoreParam = namedtuple("ScoreParam", "arg attr shape fan_in")


# A score whose query and key meet as v^T tanh(Wq q_i + Wk k_j + b): its key side Wk k_j
# does not depend on the query, so a decoder asking one query per step can compute it
# once per source (Bahdanau et al. note it under eq. A.1.2).  Where Wq, Wk, b and v are:
#   query, key: (arg, columns): the parameter that holds Wq (Wk), and None where it is all
#               of it, or "first Dq" ("last Dk") where it is those columns of the
#               parameter (concat's W = [Wq | Wk]);
#   bias: the arg of b, or None;   vector: the arg of v.
KeySide = namedtuple("KeySide", "query key bias vector")


class Score(NamedTuple):
    """A score function: its pair, its parameters in the backward's order, whether it
    reads the keys (location does not), whether it scales by 1/sqrt(D), whether it
    compares q and k directly (so they need one size: dot, scaled_dot), the keyword
    options its forward takes besides the parameters (dot: scale), and its KeySide
    (None: no key side to compute once)."""
    forward: Callable
    backward: Callable
    params: tuple = ()
    uses_keys: bool = True
    scaled: bool = False
    same_size: bool = False
    options: tuple = ()
    key_side: "KeySide | None" = None


_W_general = ScoreParam("W", "W_a", lambda s: (s.Dq, s.Dk), lambda s: s.Dk)
_v = ScoreParam("v", "v_a", lambda s: (s.A,), lambda s: s.A)
SCORES = {
    "dot": Score(dot_score_forward, dot_score_backward, same_size=True, options=("scale",)),
    "scaled_dot": Score(dot_score_forward, dot_score_backward, scaled=True, same_size=True,
                        options=("scale",)),
    "general": Score(general_score_forward, general_score_backward, (_W_general,)),
    "concat": Score(concat_score_forward, concat_score_backward, (
        ScoreParam("W", "W_a", lambda s: (s.A, s.Dq + s.Dk), lambda s: s.Dq + s.Dk), _v),
        key_side=KeySide(("W", "first Dq"), ("W", "last Dk"), None, "v")),
    "additive": Score(additive_score_forward, additive_score_backward, (
        ScoreParam("Wq", "W_a", lambda s: (s.A, s.Dq), lambda s: s.Dq),
        ScoreParam("Wk", "U_a", lambda s: (s.A, s.Dk), lambda s: s.Dk), _v,
        ScoreParam("b", "b_a", lambda s: (s.A,), None)),
        key_side=KeySide(("Wq", None), ("Wk", None), "b", "v")),
    "location": Score(location_score_forward, location_score_backward, (
        ScoreParam("W", "W_a", lambda s: (s.Tk, s.Dq), lambda s: s.Dq),), uses_keys=False),
}


def score_params(name, q, params):
    """The keyword arguments SCORES[name]'s forward takes: params {arg: array} checked
    against the score's parameters and options (scaled_dot: scale 1/sqrt(D) added)."""
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
    return params


def score_forward(name, q, k, params):
    """e = SCORES[name] of (q, k) with its parameters {arg: array} (scaled_dot: scale 1/sqrt(D))."""
    params = score_params(name, q, params)
    score = SCORES[name]
    return score.forward(q, k, **params) if score.uses_keys else score.forward(q, **params)


def score_backward(name, de, cache, k):
    """(dq, dk, *the parameters' gradients in SCORES[name].params order)."""
    score = SCORES[name]
    grads = score.backward(de, cache)
    if not score.uses_keys:  # the score never looked at the keys
        return (grads[0], np.zeros_like(k)) + grads[1:]
    return grads
