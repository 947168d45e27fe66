"""numpygam.examples.large_examples: one large input per homework exercise, for grading a
backward under a CPU budget (a backward that differentiates numerically runs out of time).

What is tested here: the table's shape (one entry per exercise, the functions of the
exercise's own small checks), that the reference runs on every entry and gives float64,
finite gradients of the inputs' shapes, and that the gradients fit the result document.
The timings that chose the sizes are not tested (they depend on the machine); they are
in the function's comments.
"""
import numpy as np
import pytest

from numpygam.course.exercises import EXERCISES
from numpygam.course.sandbox import LIMITS
from numpygam.examples import examples, large_examples

# bytes of one gradient (float64, before base64)
GRADIENT_CAP = 1_500_000
# one exercise's gradients together, base64 (3 MiB): a quarter of the result document is
# left for the JSON and the small checks' gradients
EXERCISE_CAP = 3 * LIMITS.result // 4


def base64_size(nbytes):
    return 4 * -(-nbytes // 3)


@pytest.fixture(scope="module")
def table():
    return large_examples(np.random.default_rng(1234))


@pytest.fixture(scope="module")
def results(table):
    """{exercise: (example, gradients)}, the reference's forward and backward run once."""
    out = {}
    for name, example in table.items():
        y, cache = example.forward(**example.inputs, **example.options)
        dout = np.random.default_rng([1234, 1]).standard_normal(y.shape)
        grads = example.backward(dout, cache)
        out[name] = example, grads if isinstance(grads, tuple) else (grads,)
    return out


def test_one_large_example_per_exercise(table):
    assert set(table) == set(EXERCISES)


def test_each_uses_the_functions_of_its_exercise_small_checks(table):
    small = examples(np.random.default_rng(0))
    for name, example in table.items():
        pairs = {(small[check].forward, small[check].backward) for check in EXERCISES[name].checks}
        assert (example.forward, example.backward) in pairs, name
        for key, value in example.inputs.items():
            assert isinstance(value, np.ndarray) and value.dtype == np.float64, (name, key)


def test_the_reference_gives_finite_float64_gradients_of_the_inputs_shapes(results):
    for name, (example, grads) in results.items():
        assert len(grads) == len(example.inputs), name
        for (key, x), g in zip(example.inputs.items(), grads):
            assert isinstance(g, np.ndarray), (name, key)
            assert g.shape == x.shape and g.dtype == np.float64, (name, key)
            assert np.isfinite(g).all(), (name, key)
            assert np.abs(g).max() > 0, (name, key)  # not a degenerate check


def test_the_gradients_fit_the_result_document(results):
    for name, (_, grads) in results.items():
        for g in grads:
            assert g.nbytes <= GRADIENT_CAP, (name, g.shape, g.nbytes)
        assert sum(base64_size(g.nbytes) for g in grads) <= EXERCISE_CAP, name


def test_the_draw_is_the_seed_s():
    a = large_examples(np.random.default_rng(5))
    b = large_examples(np.random.default_rng(5))
    for name in a:
        for key in a[name].inputs:
            np.testing.assert_array_equal(a[name].inputs[key], b[name].inputs[key])
