"""GAM's channel gate without its two permutations: channel_gate_forward's op (gam.py;
read it there first), arranged for speed.  The nn modules run this one.

Permuting x to (B, H, W, C) and running the MLP on each pixel's C channels is, written
for one image b with its pixels as the columns of a (C, HW) matrix X_b, two matrix
products over the channels (a 1 x 1 convolution):

    h_b = relu(W1 X_b + b1)          (C/r, HW)
    a_b = W2 h_b + b2                (C, HW)
    Mc(x)[b] = sigmoid(a_b)          as (C, H, W): the layout x already has
    out = Mc(x) * x

so nothing is copied to move the channels last and back.  Backward, with
datt_b = (dout * x)_b g (1 - g) as (C, HW)  (no g (1 - g) for the blog's variant):

    dW2 = sum_b datt_b h_b^T          db2 = sum over images and pixels of datt
    dh_b = (W2^T datt_b) [h_b > 0]
    dW1 = sum_b dh_b X_b^T            db1 = sum over images and pixels of dh
    dx = dout * Mc(x) + W1^T dh_b     as (C, H, W)

The same numbers as channel_gate_forward / channel_gate_backward up to the order of
the sums.  Forward + backward, float32, against the textbook op with its permutations
(`python benchmarks/bench_idioms.py`, 2 cores): 2.17 against 4.48 ms at x (4, 64, 32, 32),
4.35 against 8.34 ms at (8, 64, 32, 32).  Timed op by op on one core at B = 4, the
textbook op spent 2.15 of its 4.27 ms outside its layers: in the copies that move the
channels last and back (strided reads of every value) and the products.  nn.GAM at
(8, 64, 32, 32) with freed memory kept: 35.17 -> 31.16 ms (benchmarks/ab.py medians).
"""
from typing import NamedTuple, Optional

import numpy as np

from .activations import (
    ReluCache,
    SigmoidCache,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
)
from .gam import channel_gate_arguments
from .linear import linear_arguments


class ChannelGateNCHWCache(NamedTuple):
    x: np.ndarray
    gate: np.ndarray                  # Mc(x), (B, C, H, W)
    W1: np.ndarray                    # (C/r, C)
    W2: np.ndarray                    # (C, C/r)
    hidden: np.ndarray                # h, (B, C/r, HW)
    relu: ReluCache
    sigmoid: Optional[SigmoidCache]   # None for the blog's variant
    has_bias: tuple                   # (b1 is not None, b2 is not None)


def channel_gate_nchw_forward(x, W1, b1, W2, b2, sigmoid=True):
    """out = Mc(x) * x (channel_gate_forward's op and arguments), as two products over
    the channel axis of x (B, C, H, W) viewed as X (B, C, HW): no permutation.

        h = relu(W1 X + b1)   (B, C/r, HW)      Mc(x) = sigmoid(W2 h + b2)   (B, C, HW)
        (no sigmoid for the blog's variant, sigmoid=False)

    x: (B, C, H, W)   W1: (C/r, C)   b1: (C/r,)   W2: (C, C/r)   b2: (C,)   (biases may be None)
    -> out: (B, C, H, W); the gate Mc(x), (B, C, H, W), is cache.gate.
    Backward: channel_gate_nchw_backward.  Errors: channel_gate_forward's.
    """
    channel_gate_arguments(x, W1, W2)
    linear_arguments("linear_forward", x.transpose(0, 2, 3, 1), W1, b1)  # as the MLP sees x
    B, C, H, W = x.shape
    pre = W1 @ x.reshape(B, C, H * W)                      # (B, C/r, HW)
    if b1 is not None:
        pre += b1[:, None]
    hidden, relu_cache = relu_forward(pre)
    linear_arguments("linear_forward", hidden.transpose(0, 2, 1), W2, b2)
    att = W2 @ hidden                                      # (B, C, HW)
    if b2 is not None:
        att += b2[:, None]
    sigmoid_cache = None
    if sigmoid:
        att, sigmoid_cache = sigmoid_forward(att)
    gate = att.reshape(x.shape)
    return x * gate, ChannelGateNCHWCache(x, gate, W1, W2, hidden, relu_cache, sigmoid_cache,
                                          (b1 is not None, b2 is not None))


def channel_gate_nchw_backward(dout, cache):
    """Backward of channel_gate_nchw_forward, with g = Mc(x) and every image's pixels
    as columns (X, dout, datt: (B, C, HW); h, dh: (B, C/r, HW)):

        datt = (dout * x) g (1 - g)      (dout * x without the sigmoid)
        dW2 = sum_b datt h^T             db2 = sum over images and pixels of datt
        dh = (W2^T datt) [h > 0]
        dW1 = sum_b dh X^T               db1 = sum over images and pixels of dh
        dx = dout * g + W1^T dh

    dout: (B, C, H, W)   cache: ChannelGateNCHWCache
    Returns (dx (B, C, H, W), dW1 (C/r, C), db1 (C/r,), dW2 (C, C/r), db2 (C,)), as
    channel_gate_backward; db None without biases.
    """
    B, C = dout.shape[:2]
    datt = (dout * cache.x).reshape(B, C, -1)              # dgate, (B, C, HW)
    if cache.sigmoid is not None:
        datt = sigmoid_backward(datt, cache.sigmoid)
    dW2 = np.sum(datt @ cache.hidden.transpose(0, 2, 1), axis=0)
    dhidden = relu_backward(cache.W2.T @ datt, cache.relu)
    dW1 = np.sum(dhidden @ cache.x.reshape(B, C, -1).transpose(0, 2, 1), axis=0)
    db1 = dhidden.sum(axis=(0, 2)) if cache.has_bias[0] else None
    db2 = datt.sum(axis=(0, 2)) if cache.has_bias[1] else None
    dx = dout * cache.gate + (cache.W1.T @ dhidden).reshape(dout.shape)
    return dx, dW1, db1, dW2, db2
