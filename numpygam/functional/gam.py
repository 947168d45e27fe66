"""GAM's two gates (Liu, Shao, Hoffmann 2021), applied in series:

    F2 = Mc(F1) * F1        channel gate
    F3 = Ms(F2) * F2        spatial gate          (* is element-wise)

Channel gate Mc: permute (B, C, H, W) -> (B, H, W, C), so that every pixel's
C-vector goes through a two-layer MLP  C -> C/r -> C  (ReLU between), then
permute back; the paper ends with a sigmoid, the blog's code does not.
Spatial gate Ms: conv K x K (C -> C/r), batch norm, ReLU, conv K x K (C/r -> C),
batch norm, sigmoid; with groups > 1 both convolutions are grouped and the
gate's channels are shuffled (the paper's parameter-saving variant for ResNet50).
"""
from collections import namedtuple
from typing import Any, NamedTuple, Optional

import numpy as np

from ._checks import conv_arguments, dim_equal, float_array
from .activations import relu_backward, relu_forward, sigmoid_backward, sigmoid_forward
from .conv import conv2d_backward, conv2d_forward
from .linear import linear_backward, linear_forward
from .norm import batch_norm2d_backward, batch_norm2d_forward, batch_norm_arguments
from .shuffle import channel_shuffle_backward, channel_shuffle_forward


class ChannelGateCache(NamedTuple):
    x: np.ndarray
    gate: np.ndarray             # Mc(x), (B, C, H, W)
    linear1: Any
    relu: Any
    linear2: Any
    sigmoid: Optional[Any]       # None for the blog's variant


def channel_gate_arguments(x, W1, W2):
    """Raise unless x (B, C, H, W) is a float array whose C matches W1 (C/r, C) and
    W2 (C, C/r); the Linear layers check the rest."""
    op = "channel_gate_forward"
    float_array(op, "x", x, ndim=4)
    dim_equal(op, "W1.shape[1] must equal the channels C = x.shape[1]", W1.shape[1], x.shape[1])
    dim_equal(op, "W2.shape[0] must equal the channels C = x.shape[1] (the gate multiplies x)",
              W2.shape[0], x.shape[1])


def channel_gate_forward(x, W1, b1, W2, b2, sigmoid=True):
    """out = Mc(x) * x, with Mc(x) = permute_back(sigmoid(W2 relu(W1 permute(x) + b1) + b2)).

    x: (B, C, H, W)   W1: (C/r, C)   b1: (C/r,)   W2: (C, C/r)   b2: (C,)   (biases may be None)
    sigmoid: True for the paper, False for the blog's code (gate unbounded)
    -> out: (B, C, H, W); the gate is cache.gate.

    The 3-D permutation is a transpose to (B, H, W, C): the MLP then acts on
    each pixel's channel vector separately (a 1 x 1 convolution, in effect),
    mixing the channels at that pixel and nowhere else.  (The fast floor writes it
    as that 1 x 1 convolution, with no permutation: numpygam.fast.channel_gate_forward.)
    Backward, with g = Mc(x):
        dx = dout * g + permute_back(MLP backward of permute(dout * x))
    Returns (dx, dW1, db1, dW2, db2).
    """
    channel_gate_arguments(x, W1, W2)
    pixels = np.ascontiguousarray(x.transpose(0, 2, 3, 1))   # (B, H, W, C)
    hidden, c1 = linear_forward(pixels, W1, b1)              # (B, H, W, C/r)
    hidden, cr = relu_forward(hidden)
    att, c2 = linear_forward(hidden, W2, b2)                 # (B, H, W, C)
    cs = None
    if sigmoid:
        att, cs = sigmoid_forward(att)
    gate = np.ascontiguousarray(att.transpose(0, 3, 1, 2))   # (B, C, H, W)
    return x * gate, ChannelGateCache(x, gate, c1, cr, c2, cs)


def channel_gate_backward(dout, cache):
    """Backward of channel_gate_forward, with g = Mc(x) and p = permute:

        dgate = dout * x                       (B, C, H, W), permuted to (B, H, W, C)
        [sigmoid]  datt = dgate * g (1 - g)    (paper variant only)
        MLP backward: dW2 = sum_pixels datt^T relu_h,   db2 = sum datt,
                      dh = datt W2 [h > 0],  dW1 = sum dh^T p(x),  db1 = sum dh
        dx = dout * g + p^-1(dh W1)            (B, C, H, W)

    dout: (B, C, H, W)   cache: ChannelGateCache (x, gate g, the caches of linear1,
    relu, linear2 and the sigmoid (None for the blog's variant))
    Returns (dx, dW1 (C/r, C), db1 (C/r,), dW2 (C, C/r), db2 (C,)); db None without biases.
    """
    # BEGIN SOLUTION
    datt = np.ascontiguousarray((dout * cache.x).transpose(0, 2, 3, 1))
    if cache.sigmoid is not None:
        datt = sigmoid_backward(datt, cache.sigmoid)
    dhidden, dW2, db2 = linear_backward(datt, cache.linear2)
    dhidden = relu_backward(dhidden, cache.relu)
    dpixels, dW1, db1 = linear_backward(dhidden, cache.linear1)
    return dout * cache.gate + dpixels.transpose(0, 3, 1, 2), dW1, db1, dW2, db2
    # END SOLUTION


class SpatialGateCache(NamedTuple):
    x: np.ndarray
    gate: np.ndarray        # Ms(x), (B, C, H, W)
    conv1: Any
    norm1: Any
    relu: Any
    conv2: Any
    norm2: Any
    sigmoid: Any
    groups: int             # the shuffle's groups (1: no shuffle)
    running_stats: tuple    # updated (mean1, var1, mean2, var2); None in eval mode


# spatial_gate_backward's result: a tuple in the forward's order, readable by name
SpatialGateGrads = namedtuple("SpatialGateGrads", "dx dW1 db1 dgamma1 dbeta1 dW2 db2 dgamma2 dbeta2")


def spatial_gate_arguments(x, *, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, running_stats,
                           training, padding_mode, groups):
    """Raise unless spatial_gate_forward's arguments fit together, with the error of the
    step that would fail (conv2d_forward's, batch_norm2d_forward's), before any step runs."""
    op = "spatial_gate_forward"
    float_array(op, "x", x, ndim=4)
    dim_equal(op, "W2.shape[0] must equal the channels C = x.shape[1] (the gate multiplies x)",
              W2.shape[0], x.shape[1])
    rm1, rv1, rm2, rv2 = running_stats
    conv_arguments("conv2d_forward", x, W1, b1, 1, W1.shape[2] // 2, padding_mode, groups)
    # z1 and z2 stand for the convolutions' outputs: their shapes and dtype, no memory
    K, (B, _, H, Wd) = W1.shape[2], x.shape
    shape1 = (B, W1.shape[0], H + 2 * (K // 2) - K + 1, Wd + 2 * (K // 2) - K + 1)
    z1 = np.broadcast_to(np.zeros((), x.dtype), shape1)
    batch_norm_arguments("batch_norm2d_forward", z1, gamma1, beta1, rm1, rv1, training)
    conv_arguments("conv2d_forward", z1, W2, b2, 1, W2.shape[2] // 2, padding_mode, groups)
    K2 = W2.shape[2]
    shape2 = (B, W2.shape[0], shape1[2] + 2 * (K2 // 2) - K2 + 1, shape1[3] + 2 * (K2 // 2) - K2 + 1)
    z2 = np.broadcast_to(np.zeros((), x.dtype), shape2)
    batch_norm_arguments("batch_norm2d_forward", z2, gamma2, beta2, rm2, rv2, training)


def spatial_gate_forward(x, *, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, running_stats,
                         training=True, momentum=0.1, eps=1e-5, padding_mode="zeros", groups=1,
                         shuffle=None):
    """out = Ms(x) * x, Ms(x) = sigmoid(BN2(conv2(relu(BN1(conv1(x)))))) [channel-shuffled].

    Every argument after x is passed by name (there are fourteen):
    x: (B, C, H, W)   W1: (C/r, C/groups, K, K)   W2: (C, C/(r groups), K, K)
    b1: (C/r,)  b2: (C,)  (or None)   gamma1, beta1: (C/r,)   gamma2, beta2: (C,)
    running_stats: (running_mean1, running_var1, running_mean2, running_var2)
    padding: K // 2 on every side ("same"), "zeros" (paper) or "replicate" (blog)
    shuffle: the channel shuffle's groups for the gate; None: `groups` (the paper's
             variant shuffles as many groups as it convolves; 1 = no shuffle); the
             YOLO-family port shuffles 4 groups whatever its convolutions' groups
    -> out: (B, C, H, W); the gate is cache.gate, and in training the updated
       running statistics are cache.running_stats (the inputs are not modified).

    Backward (spatial_gate_backward), given dout (B, C, H, W): each step's
    backward in reverse,
        dgate = dout * x   [un-shuffled],   dz2 = sigmoid backward(dgate),
        BN2, conv2, ReLU, BN1, conv1 backwards in turn,
        dx = dout * Ms(x) + (conv1's input gradient).
    Returns SpatialGateGrads(dx, dW1, db1, dgamma1, dbeta1, dW2, db2, dgamma2, dbeta2),
    each the shape of its input (db1, db2 None without biases).
    """
    spatial_gate_arguments(x, W1=W1, b1=b1, gamma1=gamma1, beta1=beta1, W2=W2, b2=b2,
                           gamma2=gamma2, beta2=beta2, running_stats=running_stats,
                           training=training, padding_mode=padding_mode, groups=groups)
    rm1, rv1, rm2, rv2 = running_stats
    conv = dict(stride=1, padding_mode=padding_mode, groups=groups)
    z, cc1 = conv2d_forward(x, W1, b1, padding=W1.shape[2] // 2, **conv)
    norm = dict(training=training, momentum=momentum, eps=eps)
    z, cn1 = batch_norm2d_forward(z, gamma1, beta1, running_mean=rm1, running_var=rv1, **norm)
    z, cr = relu_forward(z)
    z, cc2 = conv2d_forward(z, W2, b2, padding=W2.shape[2] // 2, **conv)
    z, cn2 = batch_norm2d_forward(z, gamma2, beta2, running_mean=rm2, running_var=rv2, **norm)
    gate, cs = sigmoid_forward(z)
    shuffle = groups if shuffle is None else shuffle
    if shuffle > 1:
        gate, _ = channel_shuffle_forward(gate, shuffle)
    stats = (cn1.running_mean, cn1.running_var, cn2.running_mean, cn2.running_var) \
        if training else None
    return x * gate, SpatialGateCache(x, gate, cc1, cn1, cr, cc2, cn2, cs, shuffle, stats)


def spatial_gate_backward(dout, cache):
    """Backward of spatial_gate_forward (formulas there).

    dout: (B, C, H, W)   cache: SpatialGateCache (x, gate Ms(x), the caches of conv1,
    norm1, relu, conv2, norm2 and the sigmoid, the shuffle's groups, running_stats)
    Returns SpatialGateGrads(dx, dW1, db1, dgamma1, dbeta1, dW2, db2, dgamma2, dbeta2).
    """
    dgate = dout * cache.x
    if cache.groups > 1:
        dgate = channel_shuffle_backward(dgate, cache.groups)
    dz = sigmoid_backward(dgate, cache.sigmoid)
    dz, dgamma2, dbeta2 = batch_norm2d_backward(dz, cache.norm2)
    dz, dW2, db2 = conv2d_backward(dz, cache.conv2)
    dz = relu_backward(dz, cache.relu)
    dz, dgamma1, dbeta1 = batch_norm2d_backward(dz, cache.norm1)
    dx, dW1, db1 = conv2d_backward(dz, cache.conv1)
    return SpatialGateGrads(dout * cache.gate + dx, dW1, db1, dgamma1, dbeta1, dW2, db2,
                            dgamma2, dbeta2)
