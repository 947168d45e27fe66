"""numpygam.nn.embedding: nn.Embedding's padding row starts at zero and gets no gradient."""
import numpy as np

from numpygam import nn


def test_embedding_padding_row_starts_at_zero_and_gets_no_gradient():
    emb = nn.Embedding(5, 3, padding_idx=1)
    assert np.all(emb.weight.data[1] == 0)
    emb(np.array([1, 1, 2]))
    emb.backward(np.ones((3, 3), np.float32))
    assert np.all(emb.weight.grad[1] == 0) and np.all(emb.weight.grad[2] == 1)
