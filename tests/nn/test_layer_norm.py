"""numpygam.nn.layer_norm: nn.LayerNorm loads PyTorch's state_dict and keeps float32."""
import numpy as np
import torch

from numpygam import nn


def test_layer_norm_module_loads_torch_and_keeps_float32():
    tm = torch.nn.LayerNorm(5, dtype=torch.float32)  # whatever default dtype other tests set
    with torch.no_grad():
        tm.weight.normal_()
        tm.bias.normal_()
    m = nn.LayerNorm(5).load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 5)).astype(np.float32)
    y = m(x)
    assert y.dtype == np.float32 and m.backward(np.ones_like(y)).dtype == np.float32
    np.testing.assert_allclose(y, tm(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
