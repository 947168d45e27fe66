"""Bad input raises an error that names the argument, what came and what was expected."""
import re

import numpy as np
import pytest

import numpygam.functional as F
from numpygam import nn
from numpygam.fast import conv as FC

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


ones = np.ones


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.dot_score_forward(ones((2, 3, 4)), ones((2, 5, 6))), ValueError,
     ["feature size", "got 4", "expected 6"]),
    (lambda: F.dot_score_forward(ones((3, 4)), ones((2, 5, 4))), ValueError,
     ["q", "3 dimensions", "(3, 4)"]),
    (lambda: F.dot_score_forward(ones((2, 3, 4)), ones((3, 5, 4))), ValueError,
     ["batch size", "got 2", "expected 3"]),
    (lambda: F.general_score_forward(ones((2, 3, 4)), ones((2, 5, 6)), ones((6, 4))), ValueError,
     ["W.shape[0]", "Dq", "got 6", "expected 4"]),
    (lambda: F.concat_score_forward(ones((2, 3, 4)), ones((2, 5, 6)), ones((7, 9)), ones(7)),
     ValueError, ["Dq + Dk = 4 + 6", "got 9", "expected 10"]),
    (lambda: F.additive_score_forward(ones((2, 3, 4)), ones((2, 5, 6)), ones((7, 4)),
                                      ones((7, 6)), ones(8)), ValueError,
     ["v.shape[0]", "got 8", "expected 7"]),
    (lambda: F.attention_forward(ones((2, 3, 4)), ones((2, 5, 4)), ones((2, 4, 3))), ValueError,
     ["values.shape[:2]", "(2, 4)", "(2, 5)"]),
    (lambda: F.attention_forward(ones((2, 3, 4)), ones((2, 5, 4)), ones((2, 5, 3)),
                                 mask=ones((2, 5), bool)), ValueError,
     ["mask", "(2, 5)", "(2, 3, 5)"]),
    (lambda: F.attention_forward(ones((2, 3, 4)), ones((2, 5, 4)), ones((2, 5, 3)), "cosine"),
     ValueError, ["unknown score", "cosine", "additive"]),
    (lambda: F.attention_forward(ones((2, 3, 4)), ones((2, 5, 4)), ones((2, 5, 3)), "dot",
                                 W=ones((4, 4))), TypeError, ["'dot'", "W"]),
    (lambda: F.context_forward(ones((2, 3, 5)), ones((2, 4, 3))), ValueError,
     ["Tk", "got 5", "expected 4"]),
    (lambda: nn.Attention("dot", 4, 3), ValueError, ["query_dim=4", "key_dim=3", "general"]),
    (lambda: nn.Attention("location", 4), ValueError, ["num_keys"]),
    (lambda: nn.LocalAttention("x", 2, query_dim=4), ValueError, ["mode", "'x'"]),
    (lambda: nn.MultiheadAttention(10, 3), ValueError, ["embed_dim (10)", "num_heads (3)"]),
    (lambda: nn.MultiheadAttention(4, 2)(ones((1, 2, 4), np.float32), ones((1, 3, 4), np.float32),
                                         ones((1, 3, 4), np.float32),
                                         key_padding_mask=ones((1, 2), bool)), ValueError,
     ["key_padding_mask", "(1, 3)", "(1, 2)"]),
])
def test_bad_attention_input_gives_a_clear_error(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), f"{w!r} not in message: {info.value}"


@pytest.mark.parametrize("call, words", [
    (lambda: FC.conv2d_forward(np.ones((2, 3, 5, 5)), np.ones((4, 2, 3, 3))),
     ["W.shape[1]", "in_channels / groups", "got 2", "expected 3"]),
    (lambda: FC.conv2d_forward(np.ones((2, 4, 5, 5)), np.ones((3, 2, 3, 3)), groups=2),
     ["groups=2", "output channels (3)"]),
    (lambda: FC.conv2d_forward(np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3)), stride=3),
     ["stride must be the integer 1 or 2", "3"]),
    (lambda: FC.conv2d_forward(np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3)), padding_mode="reflect"),
     ["padding_mode", "'reflect'"]),
    (lambda: FC.conv2d_forward(np.ones((2, 3, 2, 2)), np.ones((4, 3, 3, 3))),
     ["padded input 2x2", "3x3 kernel"]),
    (lambda: FC.conv2d_forward(np.ones((3, 5, 5)), np.ones((4, 3, 3, 3))),
     ["x", "4 dimensions", "(3, 5, 5)"]),
    (lambda: F.batch_norm2d_forward(np.ones((2, 3, 2, 2)), np.ones(4), np.ones(3), np.ones(3),
                                    np.ones(3)), ["gamma.shape[0]", "got 4", "expected 3"]),
    (lambda: F.channel_shuffle_forward(np.ones((1, 5, 2, 2)), 2), ["groups=2", "C=5"]),
    (lambda: F.max_pool2d_forward(np.ones((1, 1, 2, 2)), 3), ["2x2", "3x3 window"]),
])
def test_bad_conv_input_gives_a_clear_error(call, words):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    for w in words:
        assert w in str(info.value), f"{w!r} not in message: {info.value}"
