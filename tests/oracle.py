"""Helpers for comparing numpygam with PyTorch, the test oracle (CPU, float64), and shared draws."""
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
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)  # of rank 1 to 3
B_, T_, D_ = st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)   # batch, lengths, features


@st.composite
def conv_cases(draw, max_hw=6, max_K=6):
    """(x, W, b, options) for conv2d: groups, odd and even kernels, padding, stride 1 or 2,
    zeros or replicate padding (the textbook conv2d and every fast method take them)."""
    groups = draw(st.integers(1, 3))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    K = draw(st.integers(1, max_K))          # odd and even kernels, both paths of conv2d
    padding = draw(st.integers(0, 3))
    stride = draw(st.sampled_from([1, 2]))
    H = draw(st.integers(max(1, K - 2 * padding), max_hw))
    W = draw(st.integers(max(1, K - 2 * padding), max_hw))
    x = draw(arrays((draw(st.integers(1, 3)), cin, H, W)))  # B >= 2: several chunks
    weight = draw(arrays((cout, cin // groups, K, K)))
    bias = draw(st.one_of(st.none(), arrays((cout,))))
    mode = draw(st.sampled_from(["zeros", "replicate"]))
    return x, weight, bias, dict(stride=stride, padding=padding, padding_mode=mode, groups=groups)


# -- the Transformer's tests: plain draws from a seeded generator ----------------------

TOL = dict(rtol=1e-10, atol=1e-10)  # float64 round-off through a few layers is ~1e-14


def normal(rng, *shape):
    """Standard normal values of `shape` from the generator rng."""
    return rng.standard_normal(shape)


# -- whole blocks (GAM, SE, CBAM, BasicBlock) against their PyTorch classes -----------

BLOCK_RTOL = 1e-8  # the bar for whole blocks; float64 throughout


def randomise(module, seed):
    """Give every parameter and batch-norm affine a non-default value."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)


def compare(ours, theirs, x, steps, rng):
    """Run both `steps` times (train mode, so running statistics move); compare everything."""
    for step in range(steps):
        ours.zero_grad()
        theirs.zero_grad()
        y = ours(x)
        dy = rng.standard_normal(y.shape)
        dx = ours.backward(dy)
        xt = t(x)
        yt = theirs(xt)
        yt.backward(torch.as_tensor(dy))
        assert_close(y, yt, BLOCK_RTOL, name=f"output, step {step}")
        assert_close(dx, xt.grad, BLOCK_RTOL, name=f"input gradient, step {step}")
        params = dict(ours.named_parameters())
        for name, p in theirs.named_parameters():
            assert_close(params[name].grad, p.grad, BLOCK_RTOL, name=f"{name}.grad, step {step}")
    state = ours.state_dict()
    for key, value in theirs.state_dict().items():
        assert_close(state[key], value, BLOCK_RTOL, name=key)


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
