"""The score functions on the fast floor: twins of F's (numpygam/functional/scores.py,
where the formulas are; read them there first).

    general        the products over the feature axis folded into one (matmul_last)
    additive       the projected form is the core: K = Wk k once, then
                   projected_additive_score with the key side given, g built in one
                   array; Bahdanau's eq. A.1.2 note (Wk k_j does not depend on the
                   query) is what a decoder uses to compute K once per source
    concat         additive's code with W = [Wq | Wk] split by columns
    location       folded, as general
    dot            none: F.dot_score is already one batched product

Measured gain, forward + backward with softmax and context (fast.attention_forward
against F.attention_forward), B=64, Tq=20, Tk=50, D=256, float32, 2 cores, one run of
`python benchmarks/bench_attention.py`: additive 127.9 against 182.4 ms, concat 122.1
against 170.6 ms, general 10.3 against 14.6 ms.
"""
from typing import NamedTuple

import numpy as np

from ..functional._checks import dim_equal, float_array, same_dtype
from ..functional.scores import (
    GeneralCache,
    LocationCache,
    additive_arguments,
    check_qk,
    concat_arguments,
    general_arguments,
    location_arguments,
)
from .matmul import as_rows, matmul_last

# -- general -----------------------------------------------------------------------

def general_score_forward(q, k, W):
    """F.general_score_forward's twin, its products folded: e_ij = q_i^T W k_j.

    q: (B, Tq, Dq)   k: (B, Tk, Dk)   W: (Dq, Dk)   ->   e: (B, Tq, Tk)
    Computed as (q W) k^T.
    Backward: dq = de k W^T,  dk = de^T (q W),  dW = sum_b q^T de k.
    """
    general_arguments("general_score_forward", q, k, W)
    qW = matmul_last(q, W)
    return qW @ k.transpose(0, 2, 1), GeneralCache(q, k, W, qW)


def general_score_backward(de, cache):
    """F.general_score_backward's twin, the products over the feature axis folded:
    de: (B, Tq, Tk)   cache: F's GeneralCache(q, k, W, qW)
    -> dq = (de k) W^T (B, Tq, Dq),  dk = de^T (q W) (B, Tk, Dk),  dW = sum_b q^T (de k) (Dq, Dk)"""
    dqW = de @ cache.k                                   # (B, Tq, Dk)
    dq = matmul_last(dqW, cache.W.T)
    dk = de.transpose(0, 2, 1) @ cache.qW
    dW = as_rows(cache.q).T @ as_rows(dqW)
    return dq, dk, dW


# -- additive: the projected form at the core ---------------------------------------

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
    (nn.Attention.project_keys) instead of once per step: per step 270 us against 886 us
    forward + backward at B=64, Tk=30, Dk=128, A=64 (a decoder step of the date
    translator; benchmarks/bench_idioms.py).
    Backward, with z = tanh(.) and g_ija = de_ij v_a (1 - z_ija^2) as for additive_score:
        dq_i = sum_j g_ij Wq    dWq = sum_bi (sum_j g_ij) q_i^T    dK_j = sum_i g_ij
        dv = sum_bij de_ij z_ij    db = sum_bij g_ij
    and, once for all steps, dk_j = dK_j Wk and dWk = sum_bj dK_j k_j^T.
    """
    op = "projected_additive_score_forward"
    check_qk(op, q, K)
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
    z, v = cache.hidden, cache.v
    dv = de.reshape(-1) @ as_rows(z)
    # g = de v (1 - z^2), (B, Tq, Tk, A), built in one array: 104 us against 115 us with
    # a temporary per factor at (64, 1, 30, 64) (benchmarks/bench_idioms.py)
    g = z * z
    np.subtract(1, g, out=g)
    g *= v
    g *= de[..., None]
    dQ = g.sum(axis=2)                                    # (B, Tq, A)
    dK = g.sum(axis=1)                                    # (B, Tk, A)
    dq = matmul_last(dQ, cache.Wq)
    dWq = as_rows(dQ).T @ as_rows(cache.q)
    db = as_rows(dQ).sum(axis=0) if cache.has_bias else None
    return dq, dK, dWq, dv, db



class AdditiveCache(NamedTuple):
    projected: ProjectedAdditiveCache
    k: np.ndarray
    Wk: np.ndarray


def additive_score_forward(q, k, Wq, Wk, v, b=None):
    """F.additive_score_forward's twin: e_ij = v^T tanh(Wq q_i + Wk k_j + b), as
    projected_additive_score_forward(q, K = Wk k, Wq, v, b).

    q: (B, Tq, Dq)   k: (B, Tk, Dk)   Wq: (A, Dq)   Wk: (A, Dk)   v: (A,)   b: (A,) or None
    -> e: (B, Tq, Tk).  Errors: F.additive_score_forward's.
    """
    additive_arguments("additive_score_forward", q, k, Wq, Wk, v, b)
    e, cache = projected_additive_score_forward(q, matmul_last(k, Wk.T), Wq, v, b)
    return e, AdditiveCache(cache, k, Wk)


def additive_score_backward(de, cache):
    """Backward of additive_score_forward: projected_additive_score_backward, then the
    key side, dk_j = dK_j Wk and dWk = sum_bj dK_j k_j^T.
    de: (B, Tq, Tk)   cache: AdditiveCache(the projected score's cache, k, Wk)
    -> (dq (B, Tq, Dq), dk (B, Tk, Dk), dWq (A, Dq), dWk (A, Dk), dv (A,), db (A,) or
       None), as F.additive_score_backward.
    """
    dq, dK, dWq, dv, db = projected_additive_score_backward(de, cache.projected)
    dWk = as_rows(dK).T @ as_rows(cache.k)
    return dq, matmul_last(dK, cache.Wk), dWq, dWk, dv, db


def concat_score_forward(q, k, W, v):
    """F.concat_score_forward's twin: e_ij = v^T tanh(W [q_i; k_j]), by additive's code
    with Wq = W[:, :Dq], Wk = W[:, Dq:] and no bias.  Errors: F.concat_score_forward's."""
    concat_arguments("concat_score_forward", q, k, W)
    Dq = q.shape[-1]
    return additive_score_forward(q, k, W[:, :Dq], W[:, Dq:], v)


def concat_score_backward(de, cache):
    """Backward of concat_score_forward, by additive_score_backward:
    de: (B, Tq, Tk) -> (dq (B, Tq, Dq), dk (B, Tk, Dk), dW = [dWq | dWk] (A, Dq + Dk),
    dv (A,)), as F.concat_score_backward."""
    dq, dk, dWq, dWk, dv, _ = additive_score_backward(de, cache)
    return dq, dk, np.concatenate([dWq, dWk], axis=1), dv


# -- location -----------------------------------------------------------------------

def location_score_forward(q, W):
    """F.location_score_forward's twin, its product folded: e_t = W_a h_t.
    q: (B, Tq, Dq)   W: (Tk, Dq)   ->   e: (B, Tq, Tk)"""
    location_arguments("location_score_forward", q, W)
    return matmul_last(q, W.T), LocationCache(q, W)


def location_score_backward(de, cache):
    """F.location_score_backward's twin, folded: de: (B, Tq, Tk), cache: F's
    LocationCache(q, W) -> dq = de W (B, Tq, Dq),  dW = sum_bi de_i^T q_i (Tk, Dq)."""
    return matmul_last(de, cache.W), as_rows(de).T @ as_rows(cache.q)


# The fast twin of each score that has one, by the names of F.SCORES
FAST_SCORES = {
    "general": (general_score_forward, general_score_backward),
    "concat": (concat_score_forward, concat_score_backward),
    "additive": (additive_score_forward, additive_score_backward),
    "location": (location_score_forward, location_score_backward),
}
