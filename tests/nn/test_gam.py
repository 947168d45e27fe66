"""numpygam.nn.gam: nn.GAM and its gates against the blog's PyTorch class and finite differences."""
import copy

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from numpygam import gradcheck_module, nn
from oracle import batch_split_into, compare, randomise
from torch_models import CBAM, SE, BlogGAM


@pytest.mark.parametrize("variant, groups", [("blog", 1), ("paper", 1), ("paper", 2),
                                             ("blog", 3)])
@settings(max_examples=5)
@given(data=st.data())
def test_gam_matches_the_blogs_pytorch_class_with_its_state_dict_loaded(variant, groups, data):
    C = groups * data.draw(st.sampled_from([4, 5, 6]))      # not only powers of two
    rate = data.draw(st.sampled_from([1, 2])) if C // 2 % groups == 0 else 1
    B, H, W = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    if B * H * W < 2:
        B = 2  # training batch norm needs two values per channel
    theirs = BlogGAM(C, C, rate, paper=variant == "paper", groups=groups)
    randomise(theirs, data.draw(st.integers(0, 100)))
    ours = nn.GAM(C, rate=rate, variant=variant, groups=groups).to(np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(data.draw(st.integers(0, 100)))
    # the channel gate and the 7 x 7 convolutions split a large batch across the
    # cores: here even these small ones are split, into 1 to 3 shares
    with batch_split_into(data.draw(st.integers(1, 3), label="shares")):
        compare(ours, theirs, rng.standard_normal((B, C, H, W)), 3, rng)
        ours.eval()
        theirs.eval()
        compare(ours, theirs, rng.standard_normal((1, C, H, W)), 1, rng)  # batch of one, eval


def test_blog_state_dict_keys_load_unchanged():
    theirs = BlogGAM(64, 64)
    ours = nn.GAM(64, variant="blog")
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert ours.norm1.num_batches_tracked.dtype == np.int64


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["paper", "blog"])
# a whole GAM by finite differences costs seconds per case: 4 cases per variant in the quick
# profile (CI's 15 minutes), the profile's own count otherwise (nightly: 500)
@settings(max_examples=4 if settings().max_examples <= 20 else settings().max_examples)
@given(data=st.data())
def test_gam_matches_finite_differences_over_shapes(variant, data):
    C = data.draw(st.sampled_from([3, 4, 6]))
    B, H, W = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    training = B * H * W >= 2 and data.draw(st.booleans())
    nn.manual_seed(data.draw(st.integers(0, 1000)))
    m = nn.GAM(C, rate=data.draw(st.sampled_from([1, 3])) if C != 4 else 2, variant=variant)
    m.train(training)
    x = np.random.default_rng(data.draw(st.integers(0, 1000))).standard_normal((B, C, H, W))
    # Finite differences are only meaningful away from two kinds of points (see
    # gradcheck's docstring and test_conv.py); PyTorch checks those points instead:
    probe = copy.deepcopy(m).to(np.float64).set_fast(False)  # the textbook's caches
    probe(x)
    _, spatial = probe.pop_cache()
    relu_inputs = [x.transpose(0, 2, 3, 1) @ probe.linear1.weight.data.T + probe.linear1.bias.data,
                   spatial.cache.norm1.xhat * spatial.cache.norm1.gamma[:, None, None]
                   + probe.norm1.bias.data[:, None, None]]
    assume(min(np.abs(z).min() for z in relu_inputs) > 1e-4)  # ReLU kinks: 10 h away
    if training:  # a channel whose variance is far below eps (two nearly equal values)
        inv_std = np.concatenate([spatial.cache.norm1.inv_std, spatial.cache.norm2.inv_std])
        assume(np.min(1 / inv_std ** 2 - 1e-5) > 1e-3)
    report = gradcheck_module(m, [x], h=1e-5)
    assert report.passed, str(report)


@pytest.mark.slow
@pytest.mark.parametrize("make, make_theirs", [
    (lambda: nn.SEBlock(6, 2), lambda: SE(6, 2)),
    (lambda: nn.CBAM(6, 2), lambda: CBAM(6, 2)),
    (lambda: nn.ChannelGate(6, 2), None),
    (lambda: nn.SpatialGate(6, 2, variant="blog"), None),
])
def test_attention_blocks_match_finite_differences(make, make_theirs, rng):
    nn.manual_seed(1)
    x = rng.permutation(2 * 6 * 3 * 4).reshape(2, 6, 3, 4) * 0.05  # distinct: no max ties
    assert gradcheck_module(make(), [x], h=1e-5).passed


def test_gates_are_exposed_for_plotting_and_bounded_in_the_paper_variant(rng):
    m = nn.GAM(8, variant="paper")
    m(rng.standard_normal((2, 8, 5, 5)).astype(np.float32))
    for gate in (m.channel_gate, m.spatial_gate):
        assert gate.shape == (2, 8, 5, 5) and gate.dtype == np.float32
        assert np.all((gate > 0) & (gate < 1))
    blog = nn.GAM(8, variant="blog")
    blog(rng.standard_normal((2, 8, 5, 5)).astype(np.float32))
    assert (blog.channel_gate < 0).any()  # no sigmoid: the blog's channel gate is unbounded


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gam_keeps_dtype_and_leaves_input_alone(dtype, rng):
    x = rng.standard_normal((2, 8, 4, 4)).astype(dtype)
    x0 = x.copy()
    m = nn.GAM(8, groups=2).to(dtype)
    y = m(x)
    dx = m.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == dtype and m.norm1.running_mean.dtype == dtype
    np.testing.assert_array_equal(x, x0)


@pytest.mark.parametrize("kwargs, words", [
    ({"in_channels": 8, "out_channels": 16}, ["out_channels=16", "in_channels=8", "equal"]),
    ({"in_channels": 3, "rate": 4}, ["3 // 4", "rate <= in_channels"]),
    ({"in_channels": 8, "groups": 3}, ["groups=3", "in_channels=8"]),
    ({"in_channels": 8, "rate": 4, "groups": 4}, ["groups=4", "in_channels // rate = 2"]),
    ({"in_channels": 8, "variant": "tf"}, ["variant", "'tf'"]),
])
def test_bad_gam_configuration_fails_at_construction_saying_what_to_change(kwargs, words):
    with pytest.raises(ValueError) as info:
        nn.GAM(**kwargs)
    for w in words:
        assert w in str(info.value), f"{w!r} not in message: {info.value}"


def test_gam_rejects_an_input_with_the_wrong_channels():
    with pytest.raises(ValueError, match="W1.shape\\[1\\] must equal the channels"):
        nn.GAM(8)(np.ones((1, 6, 4, 4), np.float32))
