"""Every fast op equals its textbook twin (numpygam.fast.TWINS), tests generated from the
table: the values and every gradient, in float64 and float32, with the batch whole and
forced into shares, and the same error for the same bad input."""
import numpy as np
import pytest

from numpygam.examples import examples
from numpygam.fast import TWINS
from oracle import batch_split_into

EXAMPLES = examples(np.random.default_rng(0))
IDS = [twin.name for twin in TWINS]


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _cast(value, dtype):
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(dtype)
    if isinstance(value, tuple):
        return tuple(_cast(v, dtype) for v in value)
    return value


def _run(pair, inputs, options, douts):
    """(outputs..., gradients...) of one forward and backward."""
    forward, backward = pair
    out, cache = forward(**inputs, **options)
    grads = backward(douts if isinstance(out, tuple) else douts[0], cache)
    return _as_tuple(out) + _as_tuple(grads)


def _inputs(twin, dtype):
    example = EXAMPLES[twin.example]
    return ({k: _cast(v, dtype) for k, v in example.inputs.items()},
            {k: _cast(v, dtype) for k, v in example.options.items()})


def test_every_example_a_twin_names_exists_and_every_fast_op_has_a_row():
    from numpygam import fast
    assert all(twin.example in EXAMPLES for twin in TWINS)
    in_table = {twin.fast[0] for twin in TWINS}
    for name in ("linear_forward", "conv2d_forward", "channel_gate_forward", "spatial_gate_forward",
                 "general_score_forward", "concat_score_forward", "additive_score_forward",
                 "location_score_forward", "attention_forward", "multi_head_attention_forward"):
        assert getattr(fast, name) in in_table, name


@pytest.mark.parametrize("shares", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("twin", TWINS, ids=IDS)
def test_the_fast_op_gives_its_textbook_twins_values_and_gradients(twin, dtype, shares):
    inputs, options = _inputs(twin, dtype)
    out, _ = twin.textbook[0](**inputs, **options)
    rng = np.random.default_rng(1)
    douts = tuple(rng.standard_normal(o.shape).astype(o.dtype) for o in _as_tuple(out))
    want = _run(twin.textbook, inputs, options, douts)
    with batch_split_into(shares):
        got = _run(twin.fast, inputs, {**options, **twin.options}, douts)
    assert len(got) == len(want)
    eps = np.finfo(dtype).eps
    for i, (g, w) in enumerate(zip(got, want)):
        if w is None:
            assert g is None, f"result {i}: None expected"
            continue
        assert g.shape == w.shape and g.dtype == w.dtype == dtype, (i, g.shape, g.dtype)
        # the same sums in another order (a DFT, a split batch): rounding of each term,
        # a few hundred eps of the largest magnitude in play
        scale = max(1.0, float(np.abs(w).max()))
        np.testing.assert_allclose(g, w, rtol=0, atol=500 * eps * scale, err_msg=f"result {i}")


def _bad_inputs(inputs):
    """(what, inputs) with one differentiable input spoiled: a list, an extra axis, the
    other float dtype."""
    for name, value in inputs.items():
        if not isinstance(value, np.ndarray):
            continue
        other = np.float32 if value.dtype == np.float64 else np.float64
        yield f"{name} as a list", {**inputs, name: value.tolist()}
        yield f"{name} with an extra axis", {**inputs, name: value[None]}
        yield f"{name} as {np.dtype(other).name}", {**inputs, name: value.astype(other)}
        yield f"{name} as integers", {**inputs, name: value.astype(np.int64)}


def _outcome(forward, inputs, options):
    try:
        forward(**inputs, **options)
    except Exception as err:   # what the user is told: the error's type and words
        return type(err).__name__, str(err)
    return "no error", ""


@pytest.mark.parametrize("twin", TWINS, ids=IDS)
def test_the_fast_op_refuses_what_its_twin_refuses_with_the_same_words(twin):
    inputs, options = _inputs(twin, np.float64)
    refused = 0
    for what, bad in _bad_inputs(inputs):
        want = _outcome(twin.textbook[0], bad, options)
        got = _outcome(twin.fast[0], bad, {**options, **twin.options})
        assert got == want, what
        refused += want[0] != "no error"
    assert refused >= len(inputs)  # the spoiled inputs are refused, not silently used
