"""Cross-entropy of logits against integer targets, averaged over real tokens."""
from typing import NamedTuple

import numpy as np

from ._checks import float_array
from .softmax import logsumexp


class CrossEntropyCache(NamedTuple):
    probs: np.ndarray    # softmax(logits), (..., C)
    targets: np.ndarray  # (...), int
    valid: np.ndarray    # (...), bool: target != ignore_index
    count: int           # number of valid tokens


def cross_entropy_forward(logits, targets, ignore_index=-100):
    """L = -(1/N) sum_{n valid} log softmax(z_n)[y_n].

    logits z: (..., C) float   targets y: (...) int in [0, C) or ignore_index
    -> L: 0-d array of z's dtype.  N = number of tokens with y != ignore_index.

    log softmax is z - logsumexp(z), so no exp ever overflows.
    Backward: dz_n = dL * (softmax(z_n) - onehot(y_n)) / N for valid tokens,
    0 for ignored ones.  If every token is ignored, L = 0 and dz = 0 (PyTorch
    returns NaN there; a loss over nothing is zero here, never NaN).
    """
    op = "cross_entropy_forward"
    float_array(op, "logits", logits, min_ndim=1)
    if not isinstance(targets, np.ndarray) or not np.issubdtype(targets.dtype, np.integer):
        got = targets.dtype if isinstance(targets, np.ndarray) else type(targets).__name__
        raise TypeError(f"{op}: targets must be an integer NumPy array of class indices, got {got}")
    if targets.shape != logits.shape[:-1]:
        raise ValueError(f"{op}: targets must have shape logits.shape[:-1] = "
                         f"{logits.shape[:-1]}, got {targets.shape}")
    C = logits.shape[-1]
    valid = targets != ignore_index
    bad = valid & ((targets < 0) | (targets >= C))
    if bad.any():
        raise ValueError(f"{op}: targets must lie in [0, {C}) or equal ignore_index="
                         f"{ignore_index}, got {targets[bad].ravel()[:5].tolist()}")
    log_probs = logits - logsumexp(logits)
    safe_targets = np.where(valid, targets, 0)
    picked = np.take_along_axis(log_probs, safe_targets[..., None], axis=-1)[..., 0]
    count = int(valid.sum())
    loss = -np.sum(picked, where=valid) / max(count, 1)
    with np.errstate(under="ignore"):  # exp(-1e4) is 0, correctly rounded
        probs = np.exp(log_probs)
    return np.asarray(loss, dtype=logits.dtype), CrossEntropyCache(probs, safe_targets, valid,
                                                                   count)


def cross_entropy_backward(dloss, cache):
    """dz_n = dL (p_n - onehot(y_n)) / N on valid tokens, 0 on ignored ones.

    dloss: scalar (0-d), the gradient of L   cache: CrossEntropyCache(probs p (..., C),
    targets (...), valid (...) bool, count N)
    -> dz: (..., C), the gradient of the logits.
    """
    probs = cache.probs
    dz = probs.copy()
    np.put_along_axis(dz, cache.targets[..., None],
                      np.take_along_axis(probs, cache.targets[..., None], axis=-1) - 1,
                      axis=-1)
    dz *= cache.valid[..., None]
    return dz * (np.asarray(dloss, dtype=probs.dtype) / max(cache.count, 1))
