"""Embedding lookup: row i of the table W for token id i."""
from typing import NamedTuple, Optional

import numpy as np

from ._checks import float_array


class EmbeddingCache(NamedTuple):
    indices: np.ndarray
    num_embeddings: int
    padding_idx: Optional[int]


def embedding_forward(indices, W, padding_idx=None):
    """y[..., :] = W[indices[...], :].

    indices: (...) int in [0, V)   W: (V, D)   ->   y: (..., D)

    Backward: dW[v] = sum of dy over every position whose index is v
    (a scatter-add); the row padding_idx gets no gradient, as in PyTorch.
    """
    op = "embedding_forward"
    float_array(op, "W", W, ndim=2)
    if not isinstance(indices, np.ndarray) or not np.issubdtype(indices.dtype, np.integer):
        got = indices.dtype if isinstance(indices, np.ndarray) else type(indices).__name__
        raise TypeError(f"{op}: indices must be an integer NumPy array, got {got}")
    V = W.shape[0]
    if indices.size and (indices.min() < 0 or indices.max() >= V):
        raise ValueError(f"{op}: indices must lie in [0, {V}) (the rows of W), got values "
                         f"from {indices.min()} to {indices.max()}")
    return W[indices], EmbeddingCache(indices, V, padding_idx)


def embedding_backward(dy, cache):
    """dW[v] = sum of dy over the positions whose index is v (a scatter-add).

    dy: (..., D), the gradient of y = W[indices]   cache: EmbeddingCache(indices (...),
    num_embeddings V, padding_idx)
    -> dW: (V, D); the row padding_idx gets no gradient.  Indices have no gradient,
       so dW is returned alone.
    """
    dW = np.zeros((cache.num_embeddings, dy.shape[-1]), dtype=dy.dtype)
    np.add.at(dW, cache.indices.reshape(-1), dy.reshape(-1, dy.shape[-1]))
    if cache.padding_idx is not None:
        dW[cache.padding_idx] = 0
    return dW
