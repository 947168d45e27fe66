"""numpygam.functional.gru: the GRU cell and the GRU over padded sequences, against finite differences."""
import numpy as np
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
