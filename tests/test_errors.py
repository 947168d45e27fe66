"""Bad input raises an error that names the argument, what came and what was expected."""
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
