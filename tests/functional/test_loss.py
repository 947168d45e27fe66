"""numpygam.functional.loss: cross-entropy (on log-softmax) against finite differences and PyTorch."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import numpygam.functional as F
from numpygam import gradcheck
from oracle import arrays, assert_close, backward_torch, shapes, t


@given(st.data())
def test_cross_entropy_matches_finite_differences(data):
    lead, C = data.draw(shapes), data.draw(st.integers(1, 5))
    logits = data.draw(arrays(lead + (C,), -10, 10))
    targets = data.draw(arrays(lead).map(lambda a: (np.abs(a * 7).astype(np.int64) % (C + 1))))
    targets = np.where(targets == C, -100, targets)  # some tokens are padding
    gradcheck(F.cross_entropy_forward, F.cross_entropy_backward, {"logits": logits},
              {"targets": targets}).raise_if_failed()


@given(st.data())
def test_log_softmax_and_cross_entropy_match_torch(data):
    N, C = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 5))
    logits = data.draw(arrays((N, C), -20, 20))
    targets = np.array(data.draw(st.lists(st.integers(-1, C - 1), min_size=N, max_size=N)))
    targets[0] = max(targets[0], 0)  # at least one real token (torch gives NaN otherwise)
    targets = np.where(targets < 0, -100, targets)
    loss, cache = F.cross_entropy_forward(logits, targets)
    dlogits = F.cross_entropy_backward(np.float64(1.7), cache)
    lt = t(logits)
    loss_t = torch.nn.functional.cross_entropy(lt, torch.as_tensor(targets), ignore_index=-100)
    (1.7 * loss_t).backward()
    assert_close(loss, loss_t, name="loss")
    assert_close(dlogits, lt.grad, name="dlogits")

    dy = data.draw(arrays((N, C)))
    y, cache = F.log_softmax_forward(logits)
    dx = F.log_softmax_backward(dy, cache)
    lt = t(logits)
    yt = torch.log_softmax(lt, dim=-1)
    backward_torch(yt, dy)
    assert_close(y, yt, name="log_softmax")
    assert_close(dx, lt.grad, name="dx")


def test_cross_entropy_over_only_padding_is_zero_not_nan():
    loss, cache = F.cross_entropy_forward(np.ones((3, 4)), np.full(3, -100))
    assert loss == 0 and np.all(F.cross_entropy_backward(np.float64(1), cache) == 0)


def test_cross_entropy_of_a_confident_correct_prediction_is_near_zero():
    loss, _ = F.cross_entropy_forward(np.array([[1e4, 0.0, -1e4]]), np.array([0]))
    assert loss == 0.0
    loss, _ = F.cross_entropy_forward(np.array([[1e4, 0.0, -1e4]]), np.array([2]))
    assert loss == pytest.approx(2e4)
