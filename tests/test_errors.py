"""Bad input raises an error that names the argument, what came and what was expected."""
import re

import numpy as np
import pytest

import numpygam.functional as F
from numpygam import nn

x3 = np.ones((2, 3))


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.linear_forward(np.ones((2, 4)), np.ones((5, 3))), ValueError,
     ["x.shape[-1]", "W.shape[1]", "got 4", "expected 3"]),
    (lambda: F.linear_forward(x3, np.ones(3)), ValueError, ["W", "2 dimensions", "(3,)"]),
    (lambda: F.linear_forward(x3, np.ones((2, 3)), np.ones(3)), ValueError,
     ["b.shape[0]", "got 3", "expected 2"]),
    (lambda: F.linear_forward(np.ones((2, 3), dtype=int), np.ones((2, 3))), TypeError,
     ["x", "float32 or float64", "int64"]),
    (lambda: F.linear_forward(np.array([[None]]), np.ones((1, 1))), TypeError, ["x", "object"]),
    (lambda: F.linear_forward([[1.0, 2.0]], np.ones((2, 2))), TypeError, ["x", "list"]),
    (lambda: F.linear_forward(x3.astype(np.float32), np.ones((2, 3))), TypeError,
     ["x is float32", "W is float64"]),
    (lambda: F.relu_forward(np.array([1, 2])), TypeError, ["relu_forward", "x", "int64"]),
    (lambda: F.softmax_forward(x3, mask=np.ones((2, 3))), TypeError, ["mask", "boolean"]),
    (lambda: F.softmax_forward(x3, mask=np.ones((3, 2), bool)), ValueError,
     ["mask", "(3, 2)", "(2, 3)"]),
    (lambda: F.cross_entropy_forward(x3, np.array([0, 3])), ValueError, ["targets", "[0, 3)", "3"]),
    (lambda: F.cross_entropy_forward(x3, np.array([0.0, 1.0])), TypeError, ["targets", "integer"]),
    (lambda: F.cross_entropy_forward(x3, np.array([0, 1, 2])), ValueError,
     ["targets", "(2,)", "(3,)"]),
    (lambda: F.embedding_forward(np.array([0, 5]), np.ones((5, 2))), ValueError,
     ["indices", "[0, 5)", "5"]),
    (lambda: F.embedding_forward(np.array([0.0]), np.ones((5, 2))), TypeError, ["indices", "integer"]),
    (lambda: nn.Linear(0, 3), ValueError, ["in_features", "0"]),
    (lambda: nn.Embedding(4, 2, padding_idx=4), ValueError, ["padding_idx", "[0, 4)", "4"]),
    (lambda: nn.Sequential(nn.Linear(2, 2), "relu"), TypeError, ["argument 1", "Module", "str"]),
])
def test_bad_input_gives_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), f"{w!r} not in message: {info.value}"


def test_a_misshaped_dout_is_named_before_anything_is_undone_and_a_retry_works():
    """The layer's caches stay whole: the correct gradient afterwards gives the same
    result as a first try."""
    rng = np.random.default_rng(0)
    for make, x in ((lambda: nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True,
                                                        dtype=np.float64),
                     rng.standard_normal((2, 3, 4))),
                    (lambda: nn.Linear(4, 5, dtype=np.float64), rng.standard_normal((2, 4))),
                    (lambda: nn.GAM(8, rate=2, dtype=np.float64),
                     rng.standard_normal((2, 8, 5, 5)))):
        m = make()
        y = m(x)
        dy = rng.standard_normal(y.shape)
        reference = make()
        reference.load_state_dict(m.state_dict())
        reference(x)
        expected = reference.backward(dy)
        with pytest.raises(ValueError, match=rf"expected {re.escape(str(y.shape))}"):
            m.backward(dy[..., :-1])
        np.testing.assert_array_equal(m.backward(dy), expected)


def test_attention_names_a_misshaped_bias_or_mask():
    q, k = np.ones((2, 3, 4)), np.ones((2, 5, 4))
    with pytest.raises(ValueError, match=r"bias of shape \(3, 3\) does not broadcast"):
        F.attention_forward(q, k, k, bias=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"mask of shape \(2, 5, 3\) does not broadcast"):
        F.attention_forward(q, k, k, mask=np.ones((2, 5, 3), bool))
    with pytest.raises(ValueError, match=r"bias of shape \(2, 2\) does not broadcast"):
        F.multi_head_attention_forward(q, k, k, np.ones((12, 4)), None, np.ones((4, 4)), None,
                                       num_heads=2, bias=np.zeros((2, 2)))
