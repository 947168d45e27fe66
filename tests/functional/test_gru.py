"""numpygam.functional.gru: the GRU cell and the GRU over padded sequences, against finite differences."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numpygam.functional as F
from numpygam import gradcheck
from oracle import arrays


@st.composite
def gru_case(draw):
    B, T, In, H = (draw(st.integers(1, 3)) for _ in range(4))
    lengths = np.array(draw(st.lists(st.integers(1, T), min_size=B, max_size=B)))
    return {"x": draw(arrays((B, T, In))), "h0": draw(st.one_of(st.none(), arrays((B, H)))),
            "W_ih": draw(arrays((3 * H, In))), "W_hh": draw(arrays((3 * H, H))),
            "b_ih": draw(arrays((3 * H,))), "b_hh": draw(arrays((3 * H,)))}, lengths


@given(case=gru_case(), reverse=st.booleans())
def test_gru_sequence_matches_finite_differences(case, reverse):
    inputs, lengths = case
    gradcheck(F.gru_forward, F.gru_backward, inputs,
              {"lengths": lengths, "reverse": reverse}).raise_if_failed()


@given(case=gru_case(), data=st.data())
def test_gru_cell_matches_finite_differences(case, data):
    inputs, _ = case
    x = inputs["x"][:, 0]
    h = data.draw(arrays((x.shape[0], inputs["W_hh"].shape[1])))
    gradcheck(F.gru_cell_forward, F.gru_cell_backward,
              {"x": x, "h": h, **{k: inputs[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh")}}
              ).raise_if_failed()


def _gru_inputs(B=2, T=3, In=4, H=5):
    rng = np.random.default_rng(0)
    return (rng.standard_normal((B, T, In)), None, rng.standard_normal((3 * H, In)),
            rng.standard_normal((3 * H, H)))


@pytest.mark.parametrize("lengths, got", [
    ([3, 2.5], r"got \[3\.0, 2\.5\] of dtype float64"),   # once ran as [3, 3]
    ([3.0, 2.0], r"got \[3\.0, 2\.0\] of dtype float64"),
    ([True, True], r"got \[True, True\] of dtype bool"),
    (["3", "2"], r"got \['3', '2'\] of dtype <U1")], ids=["2.5", "2.0", "bool", "str"])
def test_lengths_that_are_not_integers_are_named(lengths, got):
    with pytest.raises(ValueError, match=r"gru_forward: lengths must be \(B,\) = \(2,\) integers "
                                         r"in \[1, T=3\], " + got):
        F.gru_forward(*_gru_inputs(), lengths=lengths)


@pytest.mark.parametrize("lengths, got", [([3, 0], r"\[3, 0\] of shape \(2,\)"),
                                          ([4, 2], r"\[4, 2\] of shape \(2,\)"),
                                          ([3], r"\[3\] of shape \(1,\)"),
                                          ([[3, 2]], r"\[\[3, 2\]\] of shape \(1, 2\)")],
                         ids=["0", "T+1", "short", "2-D"])
def test_lengths_out_of_range_or_misshaped_are_named(lengths, got):
    with pytest.raises(ValueError, match=r"gru_forward: lengths must be \(B,\) = \(2,\) integers "
                                         r"in \[1, T=3\], got " + got):
        F.gru_forward(*_gru_inputs(), lengths=lengths)


@pytest.mark.parametrize("lengths", [[3, 2], np.array([3, 2], np.uint8), (3, 2)],
                         ids=["list", "uint8", "tuple"])
def test_integer_lengths_of_any_integer_type_run(lengths):
    (outputs, h), _ = F.gru_forward(*_gru_inputs(), lengths=lengths)
    assert np.all(outputs[1, 2] == 0) and np.any(outputs[1, 1] != 0)
    np.testing.assert_array_equal(h[1], outputs[1, 1])
