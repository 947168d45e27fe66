"""nn.Embedding: a table of learned vectors, one row per token id."""
import numpy as np

from .. import functional as F
from . import init
from .module import Module, Parameter, add_grads, positive_ints


class Embedding(Module):
    """y = weight[ids].  ids: (...) int -> y: (..., embedding_dim).

    weight: (num_embeddings, embedding_dim) drawn from N(0, 1) as in PyTorch;
    the row padding_idx starts at zero and never receives a gradient.
    backward returns None: token ids have no gradient.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=np.float32,
                 rng=None):
        positive_ints("Embedding", num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        if padding_idx is not None and not 0 <= padding_idx < num_embeddings:
            raise ValueError(f"Embedding: padding_idx must lie in [0, {num_embeddings}), "
                             f"got {padding_idx}")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx
        weight = init.normal((num_embeddings, embedding_dim), rng, dtype)
        if padding_idx is not None:
            weight[padding_idx] = 0
        self.weight = Parameter(weight)

    def forward(self, ids):
        y, cache = F.embedding_forward(ids, self.weight.data, self.padding_idx)
        self.push_cache(cache)
        return y

    def backward(self, dy):
        add_grads((self.weight, F.embedding_backward(dy, self.pop_cache())))
        return None

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}, padding_idx={self.padding_idx}"
