"""gradcheck passes right backward passes and reports wrong ones in words."""
import numpy as np
import pytest

import numpygam.functional as F
from numpygam import gradcheck, gradcheck_module, nn


def test_a_correct_backward_passes_below_1e_minus_7(rng):
    report = gradcheck(F.linear_forward, F.linear_backward,
                       {"x": rng.standard_normal((3, 4)), "W": rng.standard_normal((2, 4)),
                        "b": rng.standard_normal(2)})
    assert report.passed and report.max_rel_error < 1e-7
    assert [r.name for r in report.inputs] == ["x", "W", "b"]


def test_a_wrong_backward_is_reported_with_input_index_and_verdict(rng):
    def wrong_backward(dy, cache):  # forgets the (1 - y^2) factor at one element
        dx = F.tanh_backward(dy, cache)
        dx[1, 2] = dy[1, 2]
        return dx

    report = gradcheck(F.tanh_forward, wrong_backward, {"x": rng.standard_normal((2, 3))})
    assert not report.passed
    row = report.failures()[0]
    assert row.name == "x" and row.worst_index == (1, 2) and row.max_rel_error > 1e-3
    text = str(report)
    assert "FAILED" in text and "WRONG" in text and "(1, 2)" in text
    with pytest.raises(AssertionError, match="WRONG"):
        report.raise_if_failed()


def test_a_transposed_weight_gradient_is_caught(rng):
    def wrong(dy, cache):
        dx, dW, db = F.linear_backward(dy, cache)
        return dx, dW[::-1], db

    report = gradcheck(F.linear_forward, wrong, {"x": rng.standard_normal((3, 2)),
                                                 "W": rng.standard_normal((2, 2)), "b": None})
    assert [r.name for r in report.failures()] == ["W"]


def test_a_missing_gradient_is_reported_not_crashed(rng):
    report = gradcheck(F.linear_forward, lambda dy, c: (F.linear_backward(dy, c)[0], None, None),
                       {"x": rng.standard_normal((3, 2)), "W": rng.standard_normal((2, 2)),
                        "b": None})
    assert "backward returned None" in str(report) and not report.passed


def test_wrong_number_of_gradients_is_an_error(rng):
    with pytest.raises(ValueError, match="2 gradient"):
        gradcheck(F.linear_forward, lambda dy, c: F.linear_backward(dy, c)[:2],
                  {"x": rng.standard_normal((3, 2)), "W": rng.standard_normal((2, 2)), "b": None})


def test_float32_inputs_are_checked_in_float64(rng):
    x = rng.standard_normal((3, 3)).astype(np.float32)
    assert gradcheck(F.sigmoid_forward, F.sigmoid_backward, {"x": x}).max_rel_error < 1e-7


def test_module_check_covers_inputs_and_every_parameter_and_leaves_module_alone():
    nn.manual_seed(0)  # weights that keep ReLU's kink away from the stencil, whatever ran before
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    before = model.state_dict()
    report = gradcheck_module(model, [np.random.default_rng(0).standard_normal((5, 3))])
    assert [r.name for r in report.inputs] == ["input0", "0.weight", "0.bias", "2.weight",
                                               "2.bias"]
    assert report.passed
    for k, v in model.state_dict().items():
        assert v.dtype == np.float32 and np.array_equal(v, before[k])


def test_module_with_wrong_parameter_gradient_is_caught():
    class BadLinear(nn.Linear):
        def backward(self, dy):
            dx = super().backward(dy)
            self.bias.grad *= 2
            return dx

    report = gradcheck_module(BadLinear(3, 2), [np.ones((2, 3))])
    assert [r.name for r in report.failures()] == ["bias"]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_nan_or_inf_gradient_fails_with_a_verdict_that_names_it(bad, rng):
    def backward_with(dy, cache):  # right everywhere except one element
        dx = F.tanh_backward(dy, cache)
        dx[0, 1] = bad
        return dx

    report = gradcheck(F.tanh_forward, backward_with, {"x": rng.standard_normal((2, 3))})
    assert not report.passed
    row = report.failures()[0]
    assert row.worst_index == (0, 1) and row.max_rel_error == np.inf
    assert "WRONG" in row.verdict() and "backward returned" in row.verdict()
    assert str(bad) in row.verdict()  # "nan", "inf" or "-inf"
    with pytest.raises(AssertionError, match=str(bad)):
        report.raise_if_failed()


def test_a_nan_parameter_gradient_of_a_module_fails():
    class NaNLinear(nn.Linear):
        def backward(self, dy):
            dx = super().backward(dy)
            self.weight.grad[1, 0] = np.nan
            return dx

    report = gradcheck_module(NaNLinear(3, 2), [np.ones((2, 3))])
    assert [r.name for r in report.failures()] == ["weight"]
    assert "nan" in report.failures()[0].verdict()


def test_a_forward_that_gives_nan_cannot_pass():
    def log_forward(x):
        return np.log(x), x

    def log_backward(dy, x):
        return dy / x

    with np.errstate(invalid="ignore"):  # log of a negative number is the point here
        report = gradcheck(log_forward, log_backward, {"x": np.array([1.0, -1.0, 2.0])})
    assert not report.passed
    assert "finite differences gave nan" in str(report)


def test_a_gradient_of_the_wrong_shape_is_reported_even_if_it_broadcasts(rng):
    def one_row(dy, cache):  # (1, 3) would broadcast against x's (2, 3)
        return F.tanh_backward(dy, cache)[:1]

    report = gradcheck(F.tanh_forward, one_row, {"x": rng.standard_normal((2, 3))})
    assert not report.passed
    assert "backward returned shape (1, 3), expected shape (2, 3)" in str(report)


def test_a_backward_that_returns_zeros_fails_even_where_a_sum_of_outputs_is_constant(rng):
    """Softmax's rows sum to 1, so with dout = ones the true gradient is zero and
    a backward that returns zeros would pass; gradcheck's dout is random."""
    report = gradcheck(F.softmax_forward, lambda da, cache: np.zeros_like(da),
                       {"scores": rng.standard_normal((2, 4))})
    assert not report.passed and "WRONG" in str(report)
