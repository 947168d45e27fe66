"""The gated recurrent unit (Cho et al. 2014) with PyTorch's gate equations.

One step, x (B, In), h (B, H), gates in the order r, z, n of PyTorch's weights:
    r  = sigmoid(W_ir x + b_ir + W_hr h + b_hr)          reset gate
    z  = sigmoid(W_iz x + b_iz + W_hz h + b_hz)          update gate
    n  = tanh(W_in x + b_in + r * (W_hn h + b_hn))     candidate state
    h' = (1 - z) * n + z * h
W_ih = [W_ir; W_iz; W_in] (3H, In), W_hh = [W_hr; W_hz; W_hn] (3H, H), likewise the biases.
(Cho et al. 2014, eqs. 5-8, apply the reset gate before the weight, U (r * h);
PyTorch, and so numpygam, apply it after, r * (W_hn h + b_hn).)

Backward of one step, given dh':
    dn = dh' (1 - z),  dz = dh' (h - n),  dh = dh' z + ...
    da_n = dn (1 - n^2),  dr = da_n (W_hn h + b_hn)
    da_r = dr r (1 - r),  da_z = dz z (1 - z)
    dgi = [da_r, da_z, da_n]  (input side),  dgh = [da_r, da_z, da_n r]  (hidden side)
    dx = dgi W_ih,  dh += dgh W_hh,  dW_ih = dgi^T x,  dW_hh = dgh^T h,  db = column sums
A sequence is backpropagated through time: the steps' backwards in reverse order.
"""
from typing import NamedTuple, Optional

import numpy as np

from ._checks import dim_equal, float_array, same_dtype
from .activations import stable_sigmoid
from .linear import LinearCache, linear_backward, linear_forward


def _check_weights(op, In, W_ih, W_hh, b_ih, b_hh):
    float_array(op, "W_ih", W_ih, ndim=2)
    float_array(op, "W_hh", W_hh, ndim=2)
    H = W_hh.shape[1]
    dim_equal(op, "W_hh.shape must be (3H, H)", W_hh.shape, (3 * H, H))
    dim_equal(op, "W_ih.shape must be (3H, input size)", W_ih.shape, (3 * H, In))
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None:
            float_array(op, name, b, ndim=1)
            dim_equal(op, f"{name}.shape must be (3H,)", b.shape, (3 * H,))
    return H


def _gates(gi, h, W_hh, b_hh):
    """The step's gates from the input projection gi (B, 3H) and the state h (B, H)."""
    H = h.shape[1]
    gh = h @ W_hh.T
    if b_hh is not None:
        gh = gh + b_hh
    # r and z have the same formula, so one sigmoid serves both: (B, 2H)
    rz = stable_sigmoid(gi[:, :2 * H] + gh[:, :2 * H])
    r, z = rz[:, :H], rz[:, H:]
    gh_n = gh[:, 2 * H:]
    n = np.tanh(gi[:, 2 * H:] + r * gh_n)
    return r, z, n, gh_n


def _step_backward(dh_new, h, r, z, n, gh_n):
    """The gates' backward for one step, given dh' = dL/dh' (B, H):

        dn = dh' (1 - z),  dz = dh' (h - n),  da_n = dn (1 - n^2),
        da_r = da_n (W_hn h + b_hn) r (1 - r),  da_z = dz z (1 - z)   (gh_n = W_hn h + b_hn)
    Returns dgi = [da_r, da_z, da_n] and dgh = [da_r, da_z, da_n r] (B, 3H), the
    gradients of the input and hidden projections, and dh' z, the part of dh
    that flows straight through h' = (1 - z) n + z h.
    """
    # BEGIN SOLUTION
    dn = dh_new * (1 - z)
    dz = dh_new * (h - n)
    da_n = dn * (1 - n * n)
    da_r = da_n * gh_n * r * (1 - r)
    da_z = dz * z * (1 - z)
    dgi = np.concatenate([da_r, da_z, da_n], axis=1)
    dgh = np.concatenate([da_r, da_z, da_n * r], axis=1)
    return dgi, dgh, dh_new * z
    # END SOLUTION


class GRUCellCache(NamedTuple):
    x: np.ndarray
    h: np.ndarray
    W_ih: np.ndarray
    W_hh: np.ndarray
    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    gh_n: np.ndarray
    has_bias: bool


def gru_cell_forward(x, h, W_ih, W_hh, b_ih=None, b_hh=None):
    """One GRU step: h' = (1 - z) n + z h (see the module docstring).

    x: (B, In)   h: (B, H)   W_ih: (3H, In)   W_hh: (3H, H)   b_ih, b_hh: (3H,) or None
    -> h': (B, H).  Backward returns (dx, dh, dW_ih, dW_hh, db_ih, db_hh).
    """
    op = "gru_cell_forward"
    float_array(op, "x", x, ndim=2)
    float_array(op, "h", h, ndim=2)
    H = _check_weights(op, x.shape[1], W_ih, W_hh, b_ih, b_hh)
    dim_equal(op, "h.shape must be (B, H)", h.shape, (x.shape[0], H))
    same_dtype(op, x=x, h=h, W_ih=W_ih, W_hh=W_hh, b_ih=b_ih, b_hh=b_hh)
    gi = x @ W_ih.T
    if b_ih is not None:
        gi = gi + b_ih
    r, z, n, gh_n = _gates(gi, h, W_hh, b_hh)
    h_new = (1 - z) * n + z * h
    return h_new, GRUCellCache(x, h, W_ih, W_hh, r, z, n, gh_n, b_ih is not None)


def gru_cell_backward(dh_new, cache):
    """Backward of one GRU step (formulas: the module docstring).

    dh_new: (B, H), the gradient of h'   cache: GRUCellCache(x (B, In), h (B, H), W_ih,
    W_hh, gates r, z, n (B, H), gh_n = W_hn h + b_hn (B, H), has_bias)
    With dgi = [da_r, da_z, da_n], dgh = [da_r, da_z, da_n r] (B, 3H):
    -> dx = dgi W_ih            (B, In)
       dh = dh' z + dgh W_hh    (B, H)
       dW_ih = dgi^T x (3H, In),  dW_hh = dgh^T h (3H, H)
       db_ih = sum_b dgi, db_hh = sum_b dgh (3H,), or None without biases
    """
    dgi, dgh, dh = _step_backward(dh_new, cache.h, cache.r, cache.z, cache.n, cache.gh_n)
    dx = dgi @ cache.W_ih
    dh = dh + dgh @ cache.W_hh
    db_ih, db_hh = (dgi.sum(axis=0), dgh.sum(axis=0)) if cache.has_bias else (None, None)
    return dx, dh, dgi.T @ cache.x, dgh.T @ cache.h, db_ih, db_hh


def reversal_index(lengths, T):
    """idx[b, t] = L_b - 1 - t for t < L_b, else t: reverses each sequence within its length.

    Applying it twice is the identity, so the same index undoes it.
    """
    t = np.arange(T)
    L = np.asarray(lengths)[:, None]
    return np.where(t < L, L - 1 - t, t)


def _check_lengths(op, lengths, B, T):
    """lengths as an integer array (B,) with each value in [1, T] (None: all T), else a
    ValueError naming what was given.  A length is a count of tokens: 2.5 or True is
    refused, not rounded or read as 1 (mask = t < 2.5 would run 3 steps)."""
    if lengths is None:
        return np.full(B, T)
    given = np.asarray(lengths)
    expected = f"(B,) = ({B},) integers in [1, T={T}]"
    if given.dtype.kind not in "iu":   # not bool, float, object or str
        raise ValueError(f"{op}: lengths must be {expected}, got {given.tolist()!r} of dtype "
                         f"{given.dtype}: a length counts tokens, so it is a whole number")
    if given.shape != (B,) or given.min(initial=1) < 1 or given.max(initial=0) > T:
        raise ValueError(f"{op}: lengths must be {expected}, got {given.tolist()!r} of shape "
                         f"{given.shape}")
    return given


class GRUCache(NamedTuple):
    x: np.ndarray        # (B, T, In), in processing order
    h_prev: np.ndarray   # (B, T, H), the state before each step
    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    gh_n: np.ndarray
    mask: np.ndarray     # (B, T) bool, real tokens
    order: Optional[np.ndarray]  # the reversal index, or None
    W_ih: np.ndarray
    W_hh: np.ndarray
    has_bias: bool
    h0_given: bool


def gru_forward(x, h0, W_ih, W_hh, b_ih=None, b_hh=None, lengths=None, reverse=False):
    """Run a GRU over a batch of padded sequences, batch-first.

    x: (B, T, In)   h0: (B, H) or None (zeros)   lengths: (B,) ints or None (all T)
    reverse: run each sequence from its last real token back to its first
    -> (outputs (B, T, H), h_last (B, H)), cache
    Padding never changes the result for the real tokens: at a padded step the
    state is carried over unchanged and the output is 0 (as PyTorch's
    pack_padded_sequence / pad_packed_sequence give), so h_last is the state
    after each sequence's last real token.
    The input projections x W_ih^T of all steps are one matrix product; only
    the recurrent part h W_hh^T runs step by step.
    Backward returns (dx, dh0, dW_ih, dW_hh, db_ih, db_hh); dh0 is None when h0 was None.
    """
    op = "gru_forward"
    float_array(op, "x", x, ndim=3)
    B, T, In = x.shape
    H = _check_weights(op, In, W_ih, W_hh, b_ih, b_hh)
    same_dtype(op, x=x, W_ih=W_ih, W_hh=W_hh, b_ih=b_ih, b_hh=b_hh)
    lengths = _check_lengths(op, lengths, B, T)
    if h0 is not None:
        float_array(op, "h0", h0, ndim=2)
        dim_equal(op, "h0.shape must be (B, H)", h0.shape, (B, H))
    order = reversal_index(lengths, T) if reverse else None
    if reverse:
        x = np.take_along_axis(x, order[..., None], axis=1)
    mask = np.arange(T) < lengths[:, None]
    gi, _ = linear_forward(x, W_ih, b_ih)   # every step's input side at once, (B, T, 3H)
    h = np.zeros((B, H), x.dtype) if h0 is None else h0
    outputs, h_prev, r_all, z_all, n_all, ghn_all = (np.zeros((B, T, H), x.dtype) for _ in range(6))
    for t in range(T):
        r, z, n, gh_n = _gates(gi[:, t], h, W_hh, b_hh)
        h_new = (1 - z) * n + z * h
        h_prev[:, t], r_all[:, t], z_all[:, t], n_all[:, t], ghn_all[:, t] = h, r, z, n, gh_n
        m = mask[:, t, None]
        outputs[:, t] = np.where(m, h_new, 0)
        h = np.where(m, h_new, h)
    if reverse:
        outputs = np.take_along_axis(outputs, order[..., None], axis=1)
    cache = GRUCache(x, h_prev, r_all, z_all, n_all, ghn_all, mask, order, W_ih, W_hh,
                     b_ih is not None, h0 is not None)
    return (outputs, h), cache


def gru_backward(dout, cache):
    """Backpropagation through time: the steps' backwards, last step first.

    dout = (doutputs (B, T, H), dh_last (B, H) or None)
    cache: GRUCache(x (B, T, In) in processing order, h_prev (B, T, H), gates r, z, n and
    gh_n (B, T, H) per step, mask (B, T) of real tokens, the reversal order or None,
    W_ih, W_hh, has_bias, h0_given)
    A padded step passes dh on unchanged and adds nothing to the weights.
    -> dx (B, T, In), dh0 (B, H) or None when h0 was None, dW_ih (3H, In),
       dW_hh (3H, H), db_ih, db_hh (3H,) or None without biases; dW_hh and db_hh are
       sums over the steps.
    """
    doutputs, dh_last = dout
    if cache.order is not None:
        doutputs = np.take_along_axis(doutputs, cache.order[..., None], axis=1)
    B, T, H = cache.h_prev.shape
    dh = np.zeros((B, H), doutputs.dtype) if dh_last is None else dh_last
    dgi_all = np.zeros((B, T, 3 * H), doutputs.dtype)
    dW_hh = np.zeros_like(cache.W_hh)
    db_hh = np.zeros(3 * H, doutputs.dtype)
    for t in reversed(range(T)):
        m = cache.mask[:, t, None]
        dh_new = np.where(m, doutputs[:, t] + dh, 0)
        dgi, dgh, dh_through_z = _step_backward(dh_new, cache.h_prev[:, t], cache.r[:, t],
                                                cache.z[:, t], cache.n[:, t], cache.gh_n[:, t])
        dgi_all[:, t] = dgi
        dW_hh += dgh.T @ cache.h_prev[:, t]
        db_hh += dgh.sum(axis=0)
        dh = np.where(m, dh_through_z + dgh @ cache.W_hh, dh)  # a padded step passes dh on
    dx, dW_ih, db_ih = linear_backward(dgi_all, LinearCache(cache.x, cache.W_ih, cache.has_bias))
    if cache.order is not None:
        dx = np.take_along_axis(dx, cache.order[..., None], axis=1)
    return (dx, dh if cache.h0_given else None, dW_ih, dW_hh, db_ih,
            db_hh if cache.has_bias else None)
