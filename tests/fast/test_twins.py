"""Every fast op equals its textbook twin (numpygam.fast.TWINS), tests generated from the
table: the values and every gradient, in float64 and float32, with the batch whole and
forced into shares, and the same error for the same bad input."""
import numpy as np
import pytest

import numpygam.functional as F
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


# -- what an outside reviewer found beyond the examples: each case run on both floors --

def _r(*shape):
    return np.random.default_rng(3).standard_normal(shape)


def _mha(module, q, kv, **kwargs):
    return module.multi_head_attention_forward(q, kv, kv, _r(12, 4), _r(12), _r(4, 4), _r(4), 2,
                                               **kwargs)


def _context_backward_with_dc_of_another_tq(module):
    _, cache = F.context_forward(np.abs(_r(2, 3, 4)), _r(2, 4, 3))
    return module.context_backward(_r(2, 1, 3), cache)   # the forward had Tq = 3


def _attention_round_trip(module, score, q, k, **params):
    (c, a), cache = module.attention_forward(q, k, _r(*k.shape[:2], 3), score, **params)
    return module.attention_backward((np.ones_like(c), np.ones_like(a)), cache)


def _fast_module(name):
    from numpygam import fast
    return {"multihead": fast.multihead, "attention": fast.attention, "conv": fast.conv}[name]


OUTSIDER_CASES = {
    "a key of another batch, in shares": ("multihead", lambda m: _mha(m, _r(2, 3, 4), _r(3, 5, 4))),
    "a mask of more rows, in shares": ("multihead", lambda m: _mha(
        m, _r(2, 3, 4), _r(2, 5, 4), mask=np.ones((3, 1, 1, 5), bool))),
    "a mask given as a list": ("multihead", lambda m: _mha(
        m, _r(2, 3, 4), _r(2, 5, 4), mask=[[True] * 5])),
    "no query": ("multihead", lambda m: _mha(m, None, _r(2, 5, 4))),
    "one query's dc for a forward of three": ("attention", _context_backward_with_dc_of_another_tq),
    "no keys, the location score": ("attention", lambda m: _attention_round_trip(
        m, "location", _r(2, 3, 4), np.zeros((2, 0, 4)), W=np.zeros((0, 4)))),
    "no attention size, additive": ("attention", lambda m: _attention_round_trip(
        m, "additive", _r(2, 3, 4), _r(2, 5, 4), Wq=np.zeros((0, 4)), Wk=np.zeros((0, 4)),
        v=np.zeros(0))),
    "no query features, general": ("attention", lambda m: _attention_round_trip(
        m, "general", np.zeros((2, 3, 0)), _r(2, 5, 4), W=np.zeros((0, 4)))),
    "a stride of 2.0": ("conv", lambda m: m.conv2d_forward(_r(1, 2, 6, 6), _r(3, 2, 3, 3),
                                                          stride=2.0)),
}


@pytest.mark.parametrize("case", OUTSIDER_CASES)
def test_the_fast_floor_answers_what_the_textbook_answers_beyond_the_examples(case):
    """The same result or the same error on both floors, with the batch split into
    shares (where a share could hide a misfit or name its own shapes)."""
    import numpygam.functional.attention
    import numpygam.functional.conv
    import numpygam.functional.multihead
    name, call = OUTSIDER_CASES[case]
    textbook = {"multihead": numpygam.functional.multihead, "attention": numpygam.functional.attention,
                "conv": numpygam.functional.conv}[name]

    def outcome(module):
        try:
            return call(module)
        except Exception as err:
            return type(err).__name__, str(err)
    want = outcome(textbook)
    with batch_split_into(2):
        got = outcome(_fast_module(name))
    if isinstance(want, tuple) and isinstance(want[0], str):
        assert got == want
    else:
        assert len(got) == len(want)
        for g, w in zip(want, got):
            assert (g is None) == (w is None)
            if w is not None:
                np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
