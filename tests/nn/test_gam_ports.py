"""numpygam.nn.gam_ports: nn.GAMAttention against PyTorch's two ports, a detector's GAM, the ablation."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scripts import load_script

import numpygam.functional as F
from numpygam import gradcheck, gradcheck_module, nn
from torch_models import DetectionGAMAttention, YoloGAMAttention

TOL = dict(rtol=1e-9, atol=1e-10)  # float64 through two 7x7 convolutions and two norms


def _pair(port, C, rate, seed):
    torch.manual_seed(seed)
    if port == "yolo":
        theirs = YoloGAMAttention(C, C, group=True, rate=rate).double()
        ours = nn.GAMAttention(C, C, rate=rate, dtype=np.float64)
    else:
        theirs = DetectionGAMAttention(C, rate=rate).double()
        ours = nn.GAMAttention(C, C, group=False, rate=rate, channel_sigmoid=True,
                               shuffle_groups=None, dtype=np.float64)
    with torch.no_grad():  # norms away from their 1/0 start, so they count
        for name, p in theirs.named_parameters():
            if p.dim() == 1:
                p.normal_()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("port", ["yolo", "detection"])
@given(data=st.data())
def test_gam_attention_matches_the_copied_ports(port, data):
    C = data.draw(st.sampled_from([16, 32]))
    rate = 4 if port == "yolo" else data.draw(st.sampled_from([2, 4]))
    B, H, W = data.draw(st.integers(1, 3)), data.draw(st.integers(3, 7)), data.draw(
        st.integers(3, 7))
    ours, theirs = _pair(port, C, rate, data.draw(st.integers(0, 99)))
    rng = np.random.default_rng(data.draw(st.integers(0, 10_000)))
    for training in (True, False):
        ours.train(training)
        theirs.train(training)
        x, dy = rng.standard_normal((B, C, H, W)), rng.standard_normal((B, C, H, W))
        xt = torch.tensor(x, requires_grad=True)
        yt = theirs(xt)
        yt.backward(torch.tensor(dy))
        y = ours(x)
        np.testing.assert_allclose(y, yt.detach().numpy(), **TOL)
        ours.zero_grad()
        np.testing.assert_allclose(ours.backward(dy), xt.grad.numpy(), **TOL)
        grads = dict(ours.named_parameters())
        # a bias ahead of a batch norm in training has gradient 0: a sum of terms as large
        # as the other gradients that cancels, so its round-off is relative to them
        largest = max(float(p.grad.abs().max()) for p in theirs.parameters())
        for name, p in theirs.named_parameters():
            np.testing.assert_allclose(grads[name].grad, p.grad.numpy(), rtol=TOL["rtol"],
                                       atol=TOL["atol"] * max(1.0, largest), err_msg=name)
            p.grad = None
        state = ours.state_dict()
        for name, v in theirs.state_dict().items():  # running statistics, batches tracked
            np.testing.assert_allclose(state[name], v.numpy(), **TOL, err_msg=name)


def test_state_dict_keys_are_the_ports():
    ours = nn.GAMAttention(16, 16)
    assert list(ours.state_dict()) == list(YoloGAMAttention(16, 16).state_dict())
    assert list(ours.state_dict())[-1] == "spatial_attention.4.num_batches_tracked"


@pytest.mark.parametrize("kwargs", [dict(), dict(group=False, channel_sigmoid=True,
                                                  shuffle_groups=None)])
def test_gam_attention_matches_finite_differences(kwargs):
    # the weights from a generator of the test's own: drawn from the shared one, they
    # depended on how many modules earlier tests had made (hypothesis's replayed examples
    # vary it), and a full run once drew weights that put a ReLU's input within h of its
    # kink, where finite differences are not the slope (channel_attention.0 "FAIL")
    rng = np.random.default_rng(0)
    m = nn.GAMAttention(4, 4, rate=2, dtype=np.float64, rng=rng, **kwargs)  # 4 channels: 4
    report = gradcheck_module(m, [rng.standard_normal((2, 4, 3, 4))], h=1e-5)  # shuffle groups
    assert report.passed, str(report)


@pytest.mark.parametrize("kwargs, words", [
    (dict(c1=16, c2=32), ["c2=32 differs from c1=16"]),
    (dict(c1=18, c2=18), ["rate=4 must divide c1=18"]),
    (dict(c1=8, c2=8), ["grouped by rate=4", "c1 / rate = 2"]),
    (dict(c1=12, c2=12, rate=3, group=False, shuffle_groups=5), ["shuffle_groups=5"]),
    (dict(c1=16, c2=16, rate=0), ["rate must be an integer >= 1"]),
])
def test_bad_ports_are_refused_at_construction_naming_the_argument(kwargs, words):
    with pytest.raises(ValueError) as info:
        nn.GAMAttention(**kwargs)
    for w in words:
        assert w in str(info.value)


def test_a_detectors_gam_loads_out_of_its_state_dict():
    """A detector with a GAM as its layer 2: its state_dict's keys carry the layer's prefix;
    gam_state_dict strips it, and the gates come out as the detector computes them."""
    torch.manual_seed(0)
    detector = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
                                   YoloGAMAttention(16, 16))
    detector.eval()
    state = {"model." + k: v for k, v in detector.state_dict().items()}  # as YOLO saves it
    gam = nn.GAMAttention(16, 16, dtype=np.float64)
    gam.load_state_dict(nn.gam_state_dict(state, "model.2."))
    gam.eval()
    x = torch.randn(1, 3, 9, 9)
    with torch.no_grad():
        features = detector[1](detector[0](x))
        expected = detector[2](features)  # float32, as the detector runs
    out = gam(features.numpy().astype(np.float64))
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-5, atol=1e-6)  # float32's
    assert gam.spatial_gate.shape == (1, 16, 9, 9)
    with pytest.raises(KeyError, match="model.2."):
        nn.gam_state_dict(state, "model.7.")


@pytest.mark.slow
def test_the_ablation_script_runs_in_quick_mode_and_counts_multiply_adds():
    """benchmarks/gam_ablation.py --quick: the mechanics CI checks (the full run is a
    script); the counts follow from the shapes: GAM's two 7x7 convolutions cost most."""
    ablation = load_script("benchmarks", "gam_ablation.py")
    images, labels = ablation.cluttered_digits()
    assert images.shape == (1797, 1, 32, 32) and images.max() <= 1 and labels.max() == 9
    rows = {name: row for name, *row in ablation.main(["--quick"])}
    assert set(rows) == {"none", "GAM (paper)", "YOLO-family port"}
    params, macs = {n: r[0] for n, r in rows.items()}, {n: r[1] for n, r in rows.items()}
    # GAM (paper) adds 2 x 7 x 7 x 16 x 4 conv weights (+ biases) and the channel MLP
    assert params["GAM (paper)"] - params["none"] == (2 * 49 * 16 * 4 + 4 + 16 + 16 * 4 + 4
                                                      + 4 * 16 + 16 + 2 * (4 + 16))
    assert macs["none"] < macs["YOLO-family port"] < macs["GAM (paper)"]


def test_the_ablations_max_pooled_gam_checks_by_finite_differences():
    """The ablation's "GAM with max-pooling": its one new op (nearest upsampling) checked by
    central differences in float64, and the module gives every pixel a gradient of the
    right shape (half-resolution spatial gate, full-resolution channel gate)."""
    ablation = load_script("benchmarks", "gam_ablation.py")
    up = ablation.Upsample2x
    x = np.random.default_rng(0).standard_normal((2, 3, 2, 3))
    y, shape = up.op_forward(x)
    assert y.shape == (2, 3, 4, 6) and np.array_equal(y[:, :, 3, 5], x[:, :, 1, 2])
    report = gradcheck(lambda x: up.op_forward(x), lambda dy, c: (up.op_backward(dy, c),),
                       {"x": x})
    assert report.passed, report
    gam = ablation.MaxPooledGAM(8)
    x = np.random.default_rng(1).standard_normal((2, 8, 6, 6)).astype(np.float32)
    assert gam(x).shape == x.shape and gam.backward(np.ones_like(x)).shape == x.shape


def test_the_chapters_figure_finds_the_channel_each_shuffled_gate_came_from(tmp_path):
    """plots.gam_ports_figure (the chapter "The GAM you copied"): with 16 channels and the
    port's 4-group shuffle, channel 1 is scaled by the gate computed for channel 4, the
    channel ShuffleNet's permutation sends there."""
    from numpygam.plots import gam_ports_figure
    path, source = gam_ports_figure(str(tmp_path / "ports.png"))
    shuffled, _ = F.channel_shuffle_forward(np.arange(16.0).reshape(1, 16, 1, 1), 4)
    assert source == shuffled[0, 1, 0, 0] == 4
    assert (tmp_path / "ports.png").stat().st_size > 10_000
