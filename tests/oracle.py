"""Helpers for comparing numpygam with PyTorch, the test oracle (CPU, float64)."""
import contextlib

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

torch.set_default_dtype(torch.float64)

RTOL = 1e-10  # two float64 computations of the same formula in different orders


def t(x, grad=True):
    """NumPy float array -> float64 torch leaf tensor (requiring grad)."""
    return torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=grad)


def assert_close(ours, theirs, rtol=RTOL, name=""):
    """Equal to rtol relative to the largest magnitude in `theirs`."""
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape, f"{name}: shape {ours.shape} != {theirs.shape}"
    scale = max(1.0, float(np.max(np.abs(theirs), initial=0.0)))
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * scale, err_msg=name)


def backward_torch(out, dout):
    """Run torch's backward of sum(out * dout)."""
    out.backward(torch.as_tensor(np.asarray(dout, dtype=np.float64)))


def arrays(shape, lo=-3.0, hi=3.0):
    """Hypothesis strategy: float64 arrays of `shape` with values in [lo, hi]."""
    return hnp.arrays(np.float64, shape,
                      elements=st.floats(lo, hi, allow_nan=False, allow_infinity=False))


dims = st.integers(1, 4)


@contextlib.contextmanager
def batch_split_into(n):
    """Inside: every module that splits its batch across threads (numpygam.fast.parallel)
    splits even the smallest batch into n shares, so the tests' small cases take the
    threaded path too; the settings are restored after."""
    from numpygam.fast import conv, gam, parallel
    saved = (parallel.get_num_threads(), parallel.MIN_SHARE_WORK,
             gam.CHANNEL_GATE_SHARE_VALUES, conv.SHARES_MAX_CHANNELS)
    parallel.set_num_threads(n)
    parallel.MIN_SHARE_WORK = gam.CHANNEL_GATE_SHARE_VALUES = 0
    conv.SHARES_MAX_CHANNELS = 10 ** 9
    try:
        yield
    finally:
        parallel.set_num_threads(saved[0])
        (parallel.MIN_SHARE_WORK, gam.CHANNEL_GATE_SHARE_VALUES,
         conv.SHARES_MAX_CHANNELS) = saved[1:]
