"""Attention modules: global attention with any score, Luong's attentional
hidden state, and Luong's local attention (local-m and local-p).

Parameters carry the papers' names: W_a, U_a, v_a, b_a (the score), W_c
(attentional hidden state), W_p, v_p (local-p's position predictor).
"""
import math

import numpy as np

from .. import fast
from .. import functional as F
from ..functional.attention import weights_and_context
from ..functional.scores import Sizes
from . import init
from .module import Module, Parameter, add_grads, data, positive_ints


def _input_grads(dq, dk, dvalues, values_are_keys):
    """When the keys also served as the values, their gradient is the sum of both uses."""
    return (dq, dk + dvalues) if values_are_keys else (dq, dk, dvalues)


class _ScoreParams(Module):
    """Owns the parameters of one score function, named as in F.SCORES (the papers' names)."""

    def _init_score(self, score, query_dim, key_dim, attn_dim, num_keys, bias, dtype, rng):
        if score not in F.SCORES:
            raise ValueError(f"{type(self).__name__}: unknown score {score!r}; choose one of "
                             f"{sorted(F.SCORES)}")
        if F.SCORES[score].same_size and query_dim != key_dim:
            raise ValueError(f"{type(self).__name__}: the {score} score needs query_dim == "
                             f"key_dim, got query_dim={query_dim} and key_dim={key_dim}; use "
                             "'general' to compare states of different sizes")
        if not F.SCORES[score].uses_keys and not num_keys:
            raise ValueError(f"{type(self).__name__}: the {score} score needs num_keys "
                             "(its W_a has one row per source position)")
        positive_ints(type(self).__name__, query_dim=query_dim, key_dim=key_dim,
                      attn_dim=attn_dim or query_dim, **({"num_keys": num_keys} if num_keys else {}))
        self.score, self.query_dim, self.key_dim = score, query_dim, key_dim
        sizes = Sizes(query_dim, key_dim, attn_dim or query_dim, num_keys)
        for p in F.SCORES[score].params:
            if p.fan_in is None:  # a bias: zeros, or left out
                value = Parameter(np.zeros(p.shape(sizes), dtype)) if bias else None
            else:
                value = Parameter(init.uniform(p.shape(sizes), 1 / math.sqrt(p.fan_in(sizes)),
                                               rng, dtype))
            setattr(self, p.attr, value)

    def _score_kwargs(self):
        return {p.arg: data(getattr(self, p.attr)) for p in F.SCORES[self.score].params}

    def _add_score_grads(self, dparams):
        add_grads(*((getattr(self, p.attr), g) for p, g in zip(F.SCORES[self.score].params,
                                                                 dparams)))

    def _attend(self, query, keys, values, allowed):
        """F.attention_forward, or its fast twin: the module's floor (nn.Module.fast)."""
        if self.fast:   # the fast scores (one product per projection) and context backward
            return fast.attention_forward(query, keys, values, self.score, allowed,
                                          **self._score_kwargs())
        return F.attention_forward(query, keys, values, self.score, allowed,
                                   **self._score_kwargs())


class Attention(_ScoreParams):
    """Global attention: (context, weights) = attention(query, keys, values).

    score: a name of F.SCORES: "dot", "scaled_dot", "general", "concat", "additive"
           (Bahdanau) or "location"; attn_dim A is the hidden size of concat/additive
           (default query_dim); num_keys is the source length of "location".
    forward(query (B, Tq, Dq), keys (B, Tk, Dk), values (B, Tk, Dv) = keys,
            allowed: bool broadcastable to (B, Tq, Tk), True = may attend)
        -> context (B, Tq, Dv), weights (B, Tq, Tk)
    backward(dcontext, dweights=None) -> (dquery, dkeys, dvalues), or
        (dquery, dkeys) with the keys' total gradient when values were not given.
    self.fast (nn.Module's switch, True by default): numpygam.fast.attention_forward;
    False: the textbook F.attention_forward.  The same numbers.

    A score with a key side (F.SCORES[score].key_side: additive, concat) reads the keys
    as Wk k_j (U_a h_j in Bahdanau's notation), which does not depend on the query.  A
    decoder asking one query per step computes it once per source and passes it to
    every step:
        K = attention.project_keys(keys)                            (B, Tk, A)
        c, a = attention(query, keys, allowed=allowed, projected_keys=K)   # each step
        dq, dK, dvalues = attention.backward(dc)                    # each step, reversed
        dkeys = dvalues summed + attention.project_keys_backward(dK summed, keys)
    backward then returns (dquery, dK, dvalues) and leaves Wk's gradient to
    project_keys_backward.  The same weights as forward(query, keys), with the fast
    floor's projected_additive_score (numpygam.fast.scores, which gives the measured
    gain) whatever self.fast says: it is the only form that takes K.
    """

    def __init__(self, score="general", query_dim=None, key_dim=None, attn_dim=None,
                 num_keys=None, bias=True, dtype=np.float32, rng=None):
        if query_dim is None:
            raise ValueError("Attention: query_dim is required")
        self._init_score(score, query_dim, key_dim or query_dim, attn_dim, num_keys, bias,
                         dtype, rng)

    def forward(self, query, keys, values=None, allowed=None, projected_keys=None):
        values_are_keys = values is None
        values = keys if values is None else values
        if projected_keys is not None:
            (c, a), cache = self._projected_forward(query, projected_keys, values, allowed)
        else:
            (c, a), cache = self._attend(query, keys, values, allowed)
        self.push_cache((cache, values_are_keys, projected_keys is not None, self.fast))
        return c, a

    def backward(self, dcontext, dweights=None):
        cache, values_are_keys, projected, was_fast = self.pop_cache()
        if projected:
            return self._projected_backward(dcontext, dweights, cache)
        backward = fast.attention_backward if was_fast else F.attention_backward
        dq, dk, dvalues, *dparams = backward((dcontext, dweights), cache)
        self._add_score_grads(dparams)
        return _input_grads(dq, dk, dvalues, values_are_keys)

    # -- the key side computed once per source (the class docstring) -----------------
    def _side(self, where):
        """(data, grad) of Wq or Wk (where: KeySide.query or .key): the parameter named
        by the registry, or the columns of it that hold the side."""
        arg, columns = where
        p = getattr(self, self._attr(arg))
        cols = {None: slice(None), "first Dq": slice(None, self.query_dim),
                "last Dk": slice(self.query_dim, None)}[columns]
        return p.data[:, cols], p.grad[:, cols]

    def _attr(self, arg):
        return next(p.attr for p in F.SCORES[self.score].params if p.arg == arg)

    def _key_side(self):
        side = F.SCORES[self.score].key_side
        if side is None:
            with_side = sorted(n for n, s in F.SCORES.items() if s.key_side is not None)
            raise ValueError(f"Attention.project_keys: only the scores {with_side} have a key "
                             f"side to compute once; this attention's score is {self.score!r}")
        return side

    def project_keys(self, keys):
        """K = Wk k (B, Tk, A): the key side of the score (U_a h_j for additive)."""
        Wk, _ = self._side(self._key_side().key)
        return fast.matmul_last(keys, Wk.T)

    def project_keys_backward(self, dK, keys):
        """dK (B, Tk, A), summed over every step that read K -> dkeys = dK Wk (B, Tk, Dk);
        adds dWk = sum_bj dK_j k_j^T to Wk's gradient (U_a, or W_a's key columns)."""
        Wk, dWk = self._side(self._key_side().key)
        A, Dk = dK.shape[-1], keys.shape[-1]
        dWk += dK.reshape(-1, A).T @ keys.reshape(-1, Dk)
        return fast.matmul_last(dK, Wk)

    def _projected_forward(self, query, K, values, allowed):
        side = self._key_side()
        Wq, _ = self._side(side.query)
        b = None if side.bias is None else data(getattr(self, self._attr(side.bias)))
        v = getattr(self, self._attr(side.vector)).data
        e, score_cache = fast.projected_additive_score_forward(query, K, Wq, v, b)
        (c, a), (softmax_cache, context_cache) = weights_and_context(
            e, values, allowed, op="Attention.forward", mask_name="allowed")
        return (c, a), (score_cache, softmax_cache, context_cache)

    def _projected_backward(self, dcontext, dweights, cache):
        score_cache, softmax_cache, context_cache = cache
        da, dvalues = fast.context_backward(dcontext, context_cache)
        if dweights is not None:
            da = da + dweights
        dq, dK, dWq_, dv, db = fast.projected_additive_score_backward(
            F.softmax_backward(da, softmax_cache), score_cache)
        side = self._key_side()
        _, dWq = self._side(side.query)
        dWq += dWq_
        add_grads((getattr(self, self._attr(side.vector)), dv))
        if side.bias is not None:
            add_grads((getattr(self, self._attr(side.bias)), db))
        return dq, dK, dvalues

    def extra_repr(self):
        return f"score={self.score!r}, query_dim={self.query_dim}, key_dim={self.key_dim}"


class AttentionalHidden(Module):
    """Luong's attentional hidden state h~_t = tanh(W_c [c_t; h_t]).

    forward(context (..., Dc), hidden (..., Dh)) -> (..., out_dim)
    backward(dout) -> (dcontext, dhidden)
    """

    def __init__(self, context_dim, hidden_dim, out_dim=None, bias=False, dtype=np.float32,
                 rng=None):
        out_dim = out_dim or hidden_dim
        positive_ints("AttentionalHidden", context_dim=context_dim, hidden_dim=hidden_dim,
                      out_dim=out_dim)
        fan_in = context_dim + hidden_dim
        bound = 1 / math.sqrt(fan_in)
        self.W_c = Parameter(init.uniform((out_dim, fan_in), bound, rng, dtype))
        self.b_c = Parameter(init.uniform((out_dim,), bound, rng, dtype)) if bias else None

    def forward(self, context, hidden):
        out, cache = F.attentional_hidden_forward(context, hidden, self.W_c.data, data(self.b_c))
        self.push_cache(cache)
        return out

    def backward(self, dout):
        dc, dh, dW, db = F.attentional_hidden_backward(dout, self.pop_cache())
        add_grads((self.W_c, dW), (self.b_c, db))
        return dc, dh


class LocalAttention(_ScoreParams):
    """Luong's local attention, a window of 2D + 1 source positions per query.

    mode "m" (monotonic): p_t = t, the query's index (or `positions` given to forward).
    mode "p" (predictive): p_t = S sigmoid(v_p^T tanh(W_p h_t)), learned, and the
        weights are multiplied by a Gaussian exp(-(s - p_t)^2 / (2 (D/2)^2)).
    forward(query (B, Tq, Dq), keys (B, Tk, Dk), values = keys, lengths (B,) = None,
            positions = None) -> context (B, Tq, Dv), weights (B, Tq, Tk)
    backward(dcontext, dweights=None) -> (dquery, dkeys, dvalues), or (dquery, dkeys)
        when values were not given
    After a local-p forward, self.positions holds p_t (B, Tq).
    """

    def __init__(self, mode="p", D=2, score="general", query_dim=None, key_dim=None,
                 attn_dim=None, bias=True, dtype=np.float32, rng=None):
        if mode not in ("m", "p"):
            raise ValueError(f"LocalAttention: mode must be 'm' (monotonic) or 'p' "
                             f"(predictive), got {mode!r}")
        positive_ints("LocalAttention", D=D)  # the window's half-width
        if query_dim is None:
            raise ValueError("LocalAttention: query_dim is required")
        if score in F.SCORES and not F.SCORES[score].uses_keys:
            raise ValueError(f"LocalAttention: the {score} score has no keys to window; "
                             "use another score")
        self.mode, self.D = mode, D
        self._init_score(score, query_dim, key_dim or query_dim, attn_dim, None, bias, dtype, rng)
        if mode == "p":
            A = attn_dim or query_dim
            self.W_p = Parameter(init.uniform((A, query_dim), 1 / math.sqrt(query_dim), rng, dtype))
            self.v_p = Parameter(init.uniform((A,), 1 / math.sqrt(A), rng, dtype))
        self.positions = None

    def forward(self, query, keys, values=None, lengths=None, positions=None):
        values_are_keys = values is None
        values = keys if values is None else values
        if self.mode == "m":
            B, Tq = query.shape[:2]
            p = np.arange(Tq) if positions is None else np.asarray(positions)
            mask = F.local_window_mask(np.broadcast_to(p, (B, Tq)), keys.shape[1], self.D,
                                       lengths)
            (c, a), cache = self._attend(query, keys, values, mask)
            self.positions = np.broadcast_to(p, (B, Tq))
        else:
            (c, a), cache = F.local_p_attention_forward(
                query, keys, values, Wp=self.W_p.data, vp=self.v_p.data, D=self.D,
                score=self.score, lengths=lengths, **self._score_kwargs())
            self.positions = F.local_p_positions(cache)
        self.push_cache((cache, values_are_keys, self.fast))
        return c, a

    def backward(self, dcontext, dweights=None):
        cache, values_are_keys, was_fast = self.pop_cache()
        if self.mode == "m":
            backward = fast.attention_backward if was_fast else F.attention_backward
            dq, dk, dvalues, *dparams = backward((dcontext, dweights), cache)
        else:
            dq, dk, dvalues, dWp, dvp, *dparams = F.local_p_attention_backward(
                (dcontext, dweights), cache)
            add_grads((self.W_p, dWp), (self.v_p, dvp))
        self._add_score_grads(dparams)
        return _input_grads(dq, dk, dvalues, values_are_keys)

    def extra_repr(self):
        return f"mode={self.mode!r}, D={self.D}, score={self.score!r}"
