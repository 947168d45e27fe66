"""Every op in the table CASES keeps float32 and float64 and leaves its inputs and dout alone."""
import numpy as np
import pytest

import numpygam.functional as F

CASES = {
    "linear": (F.linear_forward, F.linear_backward, lambda r: ((r(2, 3), r(4, 3), r(4)), {})),
    "relu": (F.relu_forward, F.relu_backward, lambda r: ((r(3, 2),), {})),
    "tanh": (F.tanh_forward, F.tanh_backward, lambda r: ((r(3, 2),), {})),
    "sigmoid": (F.sigmoid_forward, F.sigmoid_backward, lambda r: ((r(3, 2),), {})),
    "softmax": (F.softmax_forward, F.softmax_backward,
                lambda r: ((r(2, 5),), {"mask": np.array([True, False, True, True, False])})),
    "log_softmax": (F.log_softmax_forward, F.log_softmax_backward, lambda r: ((r(2, 5),), {})),
    "cross_entropy": (F.cross_entropy_forward, F.cross_entropy_backward,
                      lambda r: ((r(3, 4), np.array([0, 3, -100])), {})),
    "embedding": (F.embedding_forward, F.embedding_backward,
                  lambda r: ((np.array([1, 0, 1]), r(3, 2)), {})),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_and_inputs_are_not_mutated(name, dtype, rng):
    forward, backward, make = CASES[name]
    args, kwargs = make(lambda *s: rng.standard_normal(s).astype(dtype))
    before = [a.copy() for a in args]
    out, cache = forward(*args, **kwargs)
    assert out.dtype == dtype, f"{name} forward returned {out.dtype} for {dtype} input"
    dout = np.ones_like(out)
    dout_before = dout.copy()
    grads = backward(dout, cache)
    for g in grads if isinstance(grads, tuple) else (grads,):
        assert g is None or g.dtype == dtype, f"{name} backward returned {g.dtype}"
    for a, b in zip(args, before):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(dout, dout_before)
