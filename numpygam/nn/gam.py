"""GAM, the Global Attention Mechanism (Liu, Shao, Hoffmann 2021), and its two gates.

The submodules carry the names of the blog's PyTorch class (linear1, linear2,
conv1, conv2, norm1, norm2), so its state_dict loads unchanged.

                     variant="paper"               variant="blog"
  channel gate       sigmoid(MLP(permute(x)))      MLP(permute(x)), no sigmoid
  7x7 convolutions   zero padding (*)              replicate padding

(*) The paper's text does not state the padding mode; zeros are PyTorch's
default and what the blog's Keras code (padding='same') does.
"""
from typing import Any, NamedTuple

import numpy as np

from .. import fast
from .. import functional as F
from .conv import BatchNorm2d, Conv2d
from .linear import Linear
from .module import Module, add_grads, data, positive_ints

VARIANTS = ("paper", "blog")


def _check_config(name, in_channels, out_channels, rate, groups, variant):
    positive_ints(name, in_channels=in_channels, rate=rate, groups=groups)
    if variant not in VARIANTS:
        raise ValueError(f"{name}: variant must be 'paper' or 'blog', got {variant!r}")
    if out_channels is not None and out_channels != in_channels:
        raise ValueError(
            f"{name}: out_channels={out_channels} differs from in_channels={in_channels}, but "
            "GAM multiplies its spatial gate back onto x, so they must be equal; leave "
            "out_channels unset (the blog's code runs when out_channels equals in_channels or "
            "is 1, which broadcasts one spatial map over every channel, a different model; "
            "any other value fails there at run time)")
    if rate < 1 or in_channels // rate == 0:
        raise ValueError(f"{name}: in_channels // rate = {in_channels} // {rate} = 0 hidden "
                         f"channels; use rate <= in_channels")
    hidden = in_channels // rate
    if groups < 1 or in_channels % groups or hidden % groups:
        raise ValueError(f"{name}: groups={groups} must divide in_channels={in_channels} and "
                         f"in_channels // rate = {hidden}; choose groups among the common "
                         f"divisors of {in_channels} and {hidden}")


# Each gate is written once, for any module that owns the blog's submodules; the
# forward returns a GateCall, which the calling module pushes (nn/module.py's rule).

class GateCall(NamedTuple):
    fast: bool    # the floor the forward took (m.fast, nn.Module's switch); backward follows it
    cache: Any    # that floor's cache

    @property
    def gate(self):
        """The gate the call computed, (B, C, H, W)."""
        return self.cache.gate


def _channel_forward(m, x, sigmoid, parts=None):
    """parts: (linear1, linear2), m's own by default (the blog's names).
    -> out, GateCall"""
    l1, l2 = parts or (m.linear1, m.linear2)
    weights = (l1.weight.data, data(l1.bias), l2.weight.data, data(l2.bias), sigmoid)
    if m.fast:   # a 1 x 1 convolution, no permutation, the batch in shares
        out, cache = fast.channel_gate_forward(x, *weights)
    else:        # the textbook: permute, the MLP on each pixel, permute back
        out, cache = F.channel_gate_forward(x, *weights)
    return out, GateCall(m.fast, cache)


def _channel_backward(m, dout, cache, parts=None):
    l1, l2 = parts or (m.linear1, m.linear2)
    was_fast, cache = cache
    backward = fast.channel_gate_backward if was_fast else F.channel_gate_backward
    dx, dW1, db1, dW2, db2 = backward(dout, cache)
    add_grads((l1.weight, dW1), (l1.bias, db1), (l2.weight, dW2), (l2.bias, db2))
    return dx


def _spatial_forward(m, x, groups, parts=None, shuffle=None):
    """parts: (conv1, norm1, conv2, norm2), m's own by default (the blog's names).
    -> out, GateCall"""
    c1, n1, c2, n2 = parts or (m.conv1, m.norm1, m.conv2, m.norm2)
    arguments = dict(
        W1=c1.weight.data, b1=data(c1.bias), gamma1=n1.weight.data,
        beta1=n1.bias.data, W2=c2.weight.data, b2=data(c2.bias),
        gamma2=n2.weight.data, beta2=n2.bias.data,
        running_stats=(n1.running_mean, n1.running_var, n2.running_mean, n2.running_var),
        training=m.training, momentum=n1.momentum, eps=n1.eps,
        padding_mode=c1.padding_mode, groups=groups, shuffle=shuffle)
    if m.fast:   # the DFT convolutions, the batch in shares where the channels are few
        out, cache = fast.spatial_gate_forward(x, method=c1.method, **arguments)
    else:        # the textbook: conv, BN, ReLU, conv, BN, sigmoid, one after another
        out, cache = F.spatial_gate_forward(x, **arguments)
    if m.training:
        mean1, var1, mean2, var2 = cache.running_stats
        n1.update_running_stats(mean1, var1)
        n2.update_running_stats(mean2, var2)
    return out, GateCall(m.fast, cache)


def _spatial_backward(m, dout, cache, parts=None):
    c1, n1, c2, n2 = parts or (m.conv1, m.norm1, m.conv2, m.norm2)
    was_fast, cache = cache
    g = (fast.spatial_gate_backward if was_fast else F.spatial_gate_backward)(dout, cache)
    add_grads((c1.weight, g.dW1), (c1.bias, g.db1), (n1.weight, g.dgamma1),
              (n1.bias, g.dbeta1), (c2.weight, g.dW2), (c2.bias, g.db2),
              (n2.weight, g.dgamma2), (n2.bias, g.dbeta2))
    return g.dx


def _make_channel_layers(m, C, rate, dtype, rng):
    m.linear1 = Linear(C, C // rate, dtype=dtype, rng=rng)
    m.linear2 = Linear(C // rate, C, dtype=dtype, rng=rng)


def _make_spatial_layers(m, C, rate, padding_mode, groups, kernel_size, method, dtype, rng):
    hidden, pad = C // rate, kernel_size // 2
    m.conv1 = Conv2d(C, hidden, kernel_size, padding=pad, padding_mode=padding_mode,
                     groups=groups, method=method, dtype=dtype, rng=rng)
    m.conv2 = Conv2d(hidden, C, kernel_size, padding=pad, padding_mode=padding_mode,
                     groups=groups, method=method, dtype=dtype, rng=rng)
    m.norm1 = BatchNorm2d(hidden, dtype=dtype)
    m.norm2 = BatchNorm2d(C, dtype=dtype)


class ChannelGate(Module):
    """F2 = Mc(F1) * F1: permute, MLP C -> C/rate -> C per pixel, permute back
    (sigmoid for variant="paper").  x: (B, C, H, W) -> (B, C, H, W).
    self.fast (nn.Module): True (default) numpygam.fast.channel_gate_forward, without
    the permutations; False the textbook F.channel_gate_forward; the same numbers.
    After forward, self.gate is the latest call's gate (B, C, H, W), for plotting."""

    def __init__(self, in_channels, rate=4, variant="paper", dtype=np.float32, rng=None):
        _check_config("ChannelGate", in_channels, None, rate, 1, variant)
        self.variant = variant
        _make_channel_layers(self, in_channels, rate, dtype, rng)

    def forward(self, x):
        out, cache = _channel_forward(self, x, self.variant == "paper")
        self.gate = cache.gate
        self.push_cache(cache)
        return out

    def backward(self, dout):
        return _channel_backward(self, dout, self.pop_cache())


class SpatialGate(Module):
    """F3 = Ms(F2) * F2: conv (C -> C/rate), BN, ReLU, conv (C/rate -> C), BN, sigmoid,
    [channel shuffle when groups > 1].  x: (B, C, H, W) -> (B, C, H, W).
    method: the convolutions' method on the fast floor (numpygam.fast.conv2d_forward:
    "auto", "reference", "gemm", "dft"); self.fast False: the textbook gate.
    After forward, self.gate is the latest call's gate (B, C, H, W), for plotting."""

    def __init__(self, in_channels, rate=4, variant="paper", groups=1, kernel_size=7,
                 method="auto", dtype=np.float32, rng=None):
        _check_config("SpatialGate", in_channels, None, rate, groups, variant)
        self.variant, self.groups = variant, groups
        _make_spatial_layers(self, in_channels, rate=rate,
                             padding_mode="zeros" if variant == "paper" else "replicate",
                             groups=groups, kernel_size=kernel_size, method=method, dtype=dtype,
                             rng=rng)

    def forward(self, x):
        out, cache = _spatial_forward(self, x, self.groups)
        self.gate = cache.gate
        self.push_cache(cache)
        return out

    def backward(self, dout):
        return _spatial_backward(self, dout, self.pop_cache())


class GAM(Module):
    """The Global Attention Mechanism: out = Ms(F2) * F2 with F2 = Mc(x) * x.

    GAM(in_channels, out_channels=None, rate=4, variant="paper", groups=1)
    x: (B, C, H, W) -> (B, C, H, W).  After forward, self.channel_gate and
    self.spatial_gate hold the two gates (B, C, H, W), for plotting.
    variant="paper": sigmoid on the channel gate, zero padding.
    variant="blog": the blog's PyTorch class exactly (no channel sigmoid,
    replicate padding).  groups > 1: grouped 7x7 convolutions and a channel
    shuffle of the spatial gate (the paper's parameter-saving variant for ResNet50).
    method: the 7x7 convolutions' method on the fast floor ("auto", "reference",
    "gemm", "dft"; numpygam.fast.conv2d_forward).
    self.fast (nn.Module's switch, True by default): the gates of numpygam.fast, a large
    batch in shares, one per core (numpygam.fast.gam); gam.set_fast(False): the
    textbook gates of numpygam.functional.gam.  The same numbers either way.
    """

    def __init__(self, in_channels, out_channels=None, rate=4, variant="paper", groups=1,
                 method="auto", dtype=np.float32, rng=None):
        _check_config("GAM", in_channels, out_channels, rate, groups, variant)
        self.in_channels, self.rate, self.variant, self.groups = in_channels, rate, variant, groups
        _make_channel_layers(self, in_channels, rate=rate, dtype=dtype, rng=rng)
        _make_spatial_layers(self, in_channels, rate=rate,
                             padding_mode="zeros" if variant == "paper" else "replicate",
                             groups=groups, kernel_size=7, method=method, dtype=dtype, rng=rng)

    def forward(self, x):
        f2, channel_cache = _channel_forward(self, x, self.variant == "paper")
        out, spatial_cache = _spatial_forward(self, f2, self.groups)
        self.channel_gate, self.spatial_gate = channel_cache.gate, spatial_cache.gate
        self.push_cache((channel_cache, spatial_cache))
        return out

    def backward(self, dout):
        channel_cache, spatial_cache = self.pop_cache()
        return _channel_backward(self, _spatial_backward(self, dout, spatial_cache),
                                 channel_cache)

    def extra_repr(self):
        return (f"in_channels={self.in_channels}, rate={self.rate}, variant={self.variant!r}, "
                f"groups={self.groups}")
