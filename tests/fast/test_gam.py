"""The fast floor's GAM gates (numpygam/fast/gam.py) beyond the twin table: the channel
gate with and without its sigmoid and biases, and every argument it refuses; the
spatial gate's batch shares are in test_parallel.py."""
import numpy as np
import pytest

import numpygam.functional as F
from numpygam import fast, gradcheck


def channel_gate_args(rng, B=3, C=8, H=4, W=5, r=2, bias=True, dtype=np.float64):
    x = rng.standard_normal((B, C, H, W)).astype(dtype)
    W1, W2 = (rng.standard_normal(s).astype(dtype) for s in ((C // r, C), (C, C // r)))
    b1, b2 = ((rng.standard_normal(n).astype(dtype) for n in (C // r, C)) if bias
              else (None, None))
    return x, W1, b1, W2, b2


@pytest.mark.parametrize("sigmoid", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_the_fast_channel_gate_gives_the_textbook_numbers(sigmoid, bias, rng):
    args = channel_gate_args(rng, bias=bias)
    dout = rng.standard_normal(args[0].shape)
    out, cache = F.channel_gate_forward(*args, sigmoid=sigmoid)
    fast_out, fast_cache = fast.channel_gate_forward(*args, sigmoid=sigmoid)
    want = (out, cache.gate, *F.channel_gate_backward(dout, cache))
    got = (fast_out, fast_cache.gate, *fast.channel_gate_backward(dout, fast_cache))
    for name, a, b in zip(("out", "gate", "dx", "dW1", "db1", "dW2", "db2"), want, got):
        if a is None:
            assert b is None, name
        else:  # float64, the same sums in another order
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12 * np.abs(a).max(),
                                       err_msg=name)


@pytest.mark.parametrize("sigmoid", [True, False])
def test_the_fast_channel_gate_matches_finite_differences(sigmoid, rng):
    x, W1, b1, W2, b2 = channel_gate_args(rng)
    report = gradcheck(fast.channel_gate_forward, fast.channel_gate_backward,
                       {"x": x, "W1": W1, "b1": b1, "W2": W2, "b2": b2}, {"sigmoid": sigmoid},
                       h=1e-5)
    assert report.passed, str(report)


@pytest.mark.parametrize("change", [
    lambda a: (a[0].astype(np.int64), *a[1:]),                    # x not float
    lambda a: (a[0][:, :6], *a[1:]),                              # x's channels
    lambda a: (a[0][0], *a[1:]),                                  # x not 4-D
    lambda a: (a[0], a[1].astype(np.float32), *a[2:]),            # W1's dtype
    lambda a: (*a[:4], a[4][:5]),                                 # b2's length
    lambda a: (a[0], a[1], a[2], a[3][:, :3], a[4]),              # W2's inputs
])
def test_the_fast_channel_gate_refuses_what_the_textbook_one_does(change, rng):
    args = change(channel_gate_args(rng))
    errors = []
    for forward in (F.channel_gate_forward, fast.channel_gate_forward):
        with pytest.raises((ValueError, TypeError)) as info:
            forward(*args)
        errors.append(str(info.value))
    assert errors[0] == errors[1]
