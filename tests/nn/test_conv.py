"""numpygam.nn.conv: nn.BatchNorm2d against PyTorch (running statistics too) and nn.Conv2d's init."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from numpygam import gradcheck_module, nn
from oracle import arrays, assert_close, t


@given(st.data())
def test_batch_norm_train_and_eval_match_torch_including_running_statistics(data):
    C = data.draw(st.integers(1, 5))
    B, H, W = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    if B * H * W < 2:
        B = 2
    momentum = data.draw(st.sampled_from([0.1, 0.5]))
    torch_bn = torch.nn.BatchNorm2d(C, momentum=momentum)
    with torch.no_grad():
        torch_bn.weight.normal_()
        torch_bn.bias.normal_()
    ours = nn.BatchNorm2d(C, momentum=momentum).to(np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in torch_bn.state_dict().items()})
    for step in range(3):
        x, dy = data.draw(arrays((B, C, H, W), -5, 5)), data.draw(arrays((B, C, H, W)))
        ours.zero_grad()
        torch_bn.zero_grad()
        y = ours(x)
        dx = ours.backward(dy)
        xt = t(x)
        yt = torch_bn(xt)
        yt.backward(torch.as_tensor(dy))
        assert_close(y, yt, name=f"y, step {step}")
        assert_close(dx, xt.grad, name=f"dx, step {step}")
        assert_close(ours.weight.grad, torch_bn.weight.grad, name="dgamma")
        assert_close(ours.bias.grad, torch_bn.bias.grad, name="dbeta")
    for key, value in torch_bn.state_dict().items():
        assert_close(ours.state_dict()[key], value, name=key)
    ours.eval()
    torch_bn.eval()
    x = data.draw(arrays((1, C, 1, 1)))  # batch of one with H = W = 1 is fine in eval mode
    xt = t(x)
    yt = torch_bn(xt)
    yt.backward(torch.ones_like(yt))
    assert_close(ours(x), yt)
    assert_close(ours.backward(np.ones_like(x)), xt.grad)


def test_batch_norm_refuses_a_single_value_per_channel_in_training():
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.BatchNorm2d(3)(np.ones((1, 3, 1, 1), np.float32))


def test_conv_module_initialises_like_torch_and_checks_out(rng):
    m = nn.Conv2d(4, 6, 3, groups=2)
    bound = 1 / np.sqrt(2 * 9)
    assert m.weight.shape == (6, 2, 3, 3) and np.all(np.abs(m.weight.data) <= bound)
    assert gradcheck_module(m, [rng.standard_normal((2, 4, 4, 4))]).passed
