"""numpygam.functional.embedding: the lookup and its scatter-add against finite differences and PyTorch."""
import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

import numpygam.functional as F
from numpygam import gradcheck
from oracle import arrays, assert_close, backward_torch, t


@given(st.data())
def test_embedding_matches_finite_differences(data):
    V, D = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 3))
    idx_shape = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=2).map(tuple))
    indices = np.asarray(data.draw(arrays(idx_shape, 0, V - 0.01))).astype(np.int64)
    gradcheck(F.embedding_forward, F.embedding_backward, {"W": data.draw(arrays((V, D)))},
              {"indices": indices}).raise_if_failed()


@given(st.data())
def test_embedding_matches_torch(data):
    V, D = data.draw(st.integers(2, 6)), data.draw(st.integers(1, 4))
    ids = np.array(data.draw(st.lists(st.integers(0, V - 1), min_size=1, max_size=8)))
    padding_idx = data.draw(st.one_of(st.none(), st.integers(0, V - 1)))
    W, dy = data.draw(arrays((V, D))), data.draw(arrays((len(ids), D)))
    y, cache = F.embedding_forward(ids, W, padding_idx)
    dW = F.embedding_backward(dy, cache)
    Wt = t(W)
    yt = torch.nn.functional.embedding(torch.as_tensor(ids), Wt, padding_idx=padding_idx)
    backward_torch(yt, dy)
    assert_close(y, yt, name="y")
    assert_close(dW, Wt.grad, name="dW")
