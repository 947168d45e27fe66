"""GAM's two gates on the fast floor: twins of F.channel_gate_* and F.spatial_gate_*
(numpygam/functional/gam.py: read the formulas there first).

channel_gate_forward / _backward: the channel gate as a 1 x 1 convolution.
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

A large batch runs in shares, one per core (parallel.py), once each share has
CHANNEL_GATE_SHARE_VALUES values of x: it is NumPy's element-wise passes (sigmoid,
products) that take its time, on one core.  nn.ChannelGate forward + backward on 2
cores, float32, in shares / whole (python benchmarks/bench_idioms.py): 1.19 / 0.83 ms
at (8, 64, 16, 16), 65536 values a share; 1.87 / 2.18 ms at (4, 64, 32, 32), 131072 a
share; at GAM's sizes 3.33 / 5.21 ms (8, 64, 32, 32) and 3.94 / 4.41 ms (8, 256, 14, 14).

spatial_gate_forward / _backward: the spatial gate in batch shares, its convolutions
by numpygam.fast.conv2d_forward (the DFT for 7 x 7 kernels).
The formulas are F.spatial_gate_forward's; only the order of the work differs.  Every
step of the gate acts on each image alone, except batch norm in training: its mean and
variance, and backward its sums of dy and of dy xhat, are taken over the whole batch,
N = B H W values per channel.  So each
share runs up to the next such sum, the shares' parts are put together, and each
share goes on with the whole batch's numbers:

    forward (each line is one call of map_shares)
      1. z1 = conv1(x)                                   the share's mean and variance of z1
      2. BN1 (with mu1, var1), ReLU, z2 = conv2          the share's mean and variance of z2
      3. BN2 (with mu2, var2), sigmoid, [shuffle], out = Ms(x) * x
    backward
      1. dz2 = sigmoid backward(dout * x [un-shuffled])  sum dz2, sum dz2 xhat2
      2. BN2 backward, conv2 backward, ReLU backward     sum dz1, sum dz1 xhat1
      3. BN1 backward, conv1 backward, dx = dout * Ms(x) + (conv1's input gradient)

Each share's mean and (biased) variance are F.batch_norm_moments of its n_s values; the
batch's follow exactly (Chan, Golub and LeVeque, 1979):

    mu = sum_s n_s mu_s / N,      var = sum_s n_s (var_s + (mu_s - mu)^2) / N

Each share then normalises with the batch's mu and var (F.batch_norm_apply), and
backward takes dx from the batch's sums (F.batch_norm_sums added over the shares, then
F.batch_norm_dx): the textbook op's pieces, not copies of them.  In eval mode batch
norm uses its running statistics, and nothing is put together.

Why: on 2 cores the convolutions already ran in shares (conv.dft_shares), but the
element-wise work around them (batch norm, ReLU, sigmoid, the products; 6 ms of
GAM's step at (8, 64, 32, 32)) ran on one core.  nn.SpatialGate forward + backward
at (8, 64, 32, 32), float32, all in shares / only the convolutions in shares
(`python benchmarks/bench_idioms.py`, freed memory kept): 1.01x, 1.06x, 1.09x, 1.23x
faster in four runs; 26.3 against 28.1 ms timed alternately in one process (1.07x), and
nn.GAM 32.3 against 34.0 ms; as a process starts, nn.GAM 46.1 -> 40.3 ms (benchmarks/
ab.py medians).  It splits where its first convolution would (conv.dft_shares: where
the channels are few); elsewhere it runs the same stages on the whole batch, as one share.
"""
from typing import Any, NamedTuple, Optional

import numpy as np

from ..functional._checks import forward_output_shape
from ..functional.activations import (
    ReluCache,
    SigmoidCache,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
)
from ..functional.gam import SpatialGateGrads, channel_gate_arguments, spatial_gate_arguments
from ..functional.linear import linear_arguments
from ..functional.norm import (
    BatchNormCache,
    batch_norm_apply,
    batch_norm_dx,
    batch_norm_moments,
    batch_norm_sums,
    updated_running_stats,
)
from ..functional.shuffle import channel_shuffle_backward, channel_shuffle_forward
from . import parallel
from .conv import DFT_MIN_KERNEL, conv2d_backward, conv2d_forward, dft_shares, resolved_method

# -- the channel gate as a 1 x 1 convolution -----------------------------------------

CHANNEL_GATE_SHARE_VALUES = 100_000


class ChannelGate1x1Cache(NamedTuple):
    x: np.ndarray
    gate: np.ndarray                  # Mc(x), (B, C, H, W)
    W1: np.ndarray                    # (C/r, C)
    W2: np.ndarray                    # (C, C/r)
    hidden: np.ndarray                # h, (B, C/r, HW)
    relu: ReluCache
    sigmoid: Optional[SigmoidCache]   # None for the blog's variant
    has_bias: tuple                   # (b1 is not None, b2 is not None)


def _channel_gate_1x1_forward(x, W1, b1, W2, b2, sigmoid=True):
    """out = Mc(x) * x (channel_gate_forward's op and arguments), as two products over
    the channel axis of x (B, C, H, W) viewed as X (B, C, HW): no permutation.

        h = relu(W1 X + b1)   (B, C/r, HW)      Mc(x) = sigmoid(W2 h + b2)   (B, C, HW)
        (no sigmoid for the blog's variant, sigmoid=False)

    x: (B, C, H, W)   W1: (C/r, C)   b1: (C/r,)   W2: (C, C/r)   b2: (C,)   (biases may be None)
    -> out: (B, C, H, W); the gate Mc(x), (B, C, H, W), is cache.gate.
    Backward: _channel_gate_1x1_backward.  Errors: channel_gate_forward's.
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
    return x * gate, ChannelGate1x1Cache(x, gate, W1, W2, hidden, relu_cache, sigmoid_cache,
                                          (b1 is not None, b2 is not None))


def _channel_gate_1x1_backward(dout, cache):
    """Backward of _channel_gate_1x1_forward, with g = Mc(x) and every image's pixels
    as columns (X, dout, datt: (B, C, HW); h, dh: (B, C/r, HW)):

        datt = (dout * x) g (1 - g)      (dout * x without the sigmoid)
        dW2 = sum_b datt h^T             db2 = sum over images and pixels of datt
        dh = (W2^T datt) [h > 0]
        dW1 = sum_b dh X^T               db1 = sum over images and pixels of dh
        dx = dout * g + W1^T dh

    dout: (B, C, H, W)   cache: ChannelGate1x1Cache
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


class ChannelGateCache(NamedTuple):
    gate: np.ndarray   # Mc(x) of the whole batch, (B, C, H, W), as F's ChannelGateCache.gate
    shares: list       # the batch's slices
    caches: list       # each share's ChannelGate1x1Cache
    out_shape: tuple   # (B, C, H, W): dout must match it


def channel_gate_forward(x, W1, b1, W2, b2, sigmoid=True):
    """F.channel_gate_forward's twin: out = Mc(x) * x, the MLP as two products over the
    channel axis (no permutation), a large batch in shares.

    x: (B, C, H, W)   W1: (C/r, C)   b1: (C/r,)   W2: (C, C/r)   b2: (C,)   (biases may be None)
    -> out: (B, C, H, W); the gate Mc(x) is cache.gate.  Errors: F.channel_gate_forward's.
    Measured gain (forward + backward, float32, 2 cores, bench_idioms.py): 4.35 against
    8.34 ms at (8, 64, 32, 32) for the 1 x 1 form alone, and the shares above.
    """
    channel_gate_arguments(x, W1, W2)
    shares = parallel.batch_shares(len(x), x.size, min_work=CHANNEL_GATE_SHARE_VALUES)
    outs = parallel.map_shares(lambda rows: _channel_gate_1x1_forward(x[rows], W1, b1, W2, b2,
                                                                      sigmoid), shares)
    caches = [cache for _, cache in outs]
    out = parallel.joined([out for out, _ in outs])
    return out, ChannelGateCache(parallel.joined([c.gate for c in caches]), shares, caches,
                                 out.shape)


def channel_gate_backward(dout, cache):
    """Backward of channel_gate_forward (formulas: _channel_gate_1x1_backward), share by
    share, the weights' gradients summed.
    -> (dx (B, C, H, W), dW1 (C/r, C), db1 (C/r,), dW2 (C, C/r), db2 (C,)); db None
       without biases.
    """
    forward_output_shape("channel_gate_backward", "dout", dout, cache.out_shape, "output")
    outs = parallel.map_shares(lambda share: _channel_gate_1x1_backward(dout[share[0]], share[1]),
                               zip(cache.shares, cache.caches))
    return parallel.combined(outs, batched=1)


# -- the spatial gate in batch shares -----------------------------------------------

class ShareCache(NamedTuple):
    """One share's caches, as F's SpatialGateCache."""
    x: np.ndarray
    gate: np.ndarray
    conv1: Any
    norm1: BatchNormCache   # with the whole batch's statistics
    relu: Any
    conv2: Any
    norm2: BatchNormCache
    sigmoid: Any


class SpatialGateCache(NamedTuple):
    gate: np.ndarray        # Ms(x) of the whole batch, (B, C, H, W), as F's SpatialGateCache.gate
    shares: list            # the batch's slices
    caches: list            # each share's ShareCache
    groups: int             # the shuffle's groups (1: no shuffle)
    running_stats: Optional[tuple]  # updated (mean1, var1, mean2, var2); None in eval mode
    out_shape: tuple        # (B, C, H, W): dout must match it


def _batch_moments(moments):
    """The whole batch's mean and biased variance from its shares' (n_s, mu_s, var_s),
    combined as Chan, Golub and LeVeque (1979) do, exactly (no second pass):
        mu = sum_s n_s mu_s / N,    var = sum_s n_s (var_s + (mu_s - mu)^2) / N."""
    count = sum(n for n, _, _ in moments)
    mu = sum(n * mean for n, mean, _ in moments) / count
    return mu, sum(n * (var + np.square(mean - mu)) for n, mean, var in moments) / count


def _share_moments(z):
    """(n_s, mu_s, var_s): a share's count of values per channel and its moments."""
    return (z.size // z.shape[1], *batch_norm_moments(z))


def spatial_gate_forward(x, *, W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, running_stats,
                         training=True, momentum=0.1, eps=1e-5, padding_mode="zeros", groups=1,
                         shuffle=None, method="auto"):
    """F.spatial_gate_forward's twin: the same arguments and result, in three stages on
    the batch's shares (this module's docstring); its convolutions by fast.conv2d_forward.

    method: fast.conv2d_forward's ("auto": the DFT for 7 x 7 kernels, the batch in shares
            where the channels are few, conv.dft_shares).
    -> out: (B, C, H, W), SpatialGateCache (gate and running_stats as F's cache).
    Errors: F.spatial_gate_forward's (spatial_gate_arguments).
    Measured gain: nn.GAM at (8, 64, 32, 32) forward + backward 46.1 -> 40.3 ms as a
    process starts (benchmarks/ab.py medians), over the convolutions alone in shares.
    """
    spatial_gate_arguments(x, W1=W1, b1=b1, gamma1=gamma1, beta1=beta1, W2=W2, b2=b2,
                           gamma2=gamma2, beta2=beta2, running_stats=running_stats,
                           training=training, padding_mode=padding_mode, groups=groups)
    rm1, rv1, rm2, rv2 = running_stats
    shuffle = groups if shuffle is None else shuffle
    method = resolved_method(method, 1, W1.shape[2], x, W1)  # x not finite or huge: gemm
    shares = [slice(None)]
    if method == "dft" and W1.shape[2] >= DFT_MIN_KERNEL:
        shares = dft_shares(x, W1, groups)
    conv = dict(stride=1, padding_mode=padding_mode, groups=groups, method=method)
    count = x.shape[0] * x.shape[2] * x.shape[3]
    xs = [x[rows] for rows in shares]

    def norm(z, mu, var, gamma, beta):  # batch norm with the batch's (or running) mu, var
        y, xhat, inv_std = batch_norm_apply(z, gamma, beta, mu.astype(z.dtype),
                                            var.astype(z.dtype), eps)
        return y, BatchNormCache(xhat, gamma, inv_std, training, None, None)

    def first(x_s):
        z, cc1 = conv2d_forward(x_s, W1, b1, padding=W1.shape[2] // 2, **conv)
        return z, cc1, _share_moments(z) if training else None

    ones = parallel.map_shares(first, xs)
    mu1, var1 = _batch_moments([m for *_, m in ones]) if training else (rm1, rv1)

    def middle(z):
        z, cn1 = norm(z, mu1, var1, gamma1, beta1)
        z, cr = relu_forward(z)
        z, cc2 = conv2d_forward(z, W2, b2, padding=W2.shape[2] // 2, **conv)
        return z, (cn1, cr, cc2), _share_moments(z) if training else None

    twos = parallel.map_shares(middle, [z for z, _, _ in ones])
    mu2, var2 = _batch_moments([m for *_, m in twos]) if training else (rm2, rv2)

    def last(share):
        x_s, (_, cc1, _), (z, (cn1, cr, cc2), _) = share
        z, cn2 = norm(z, mu2, var2, gamma2, beta2)
        gate, cs = sigmoid_forward(z)
        if shuffle > 1:
            gate, _ = channel_shuffle_forward(gate, shuffle)
        return x_s * gate, ShareCache(x_s, gate, cc1, cn1, cr, cc2, cn2, cs)

    outs = parallel.map_shares(last, zip(xs, ones, twos))
    caches = [cache for _, cache in outs]
    stats = None
    if training:
        stats = (*updated_running_stats(rm1, rv1, mu1, var1, count, momentum),
                 *updated_running_stats(rm2, rv2, mu2, var2, count, momentum))
    out = parallel.joined([out for out, _ in outs])
    return out, SpatialGateCache(parallel.joined([c.gate for c in caches]), list(shares),
                                 caches, shuffle, stats, out.shape)


def spatial_gate_backward(dout, cache):
    """Backward of spatial_gate_forward: F.spatial_gate_backward's formulas, share by
    share, with batch norm's sums (F.batch_norm_sums) added over the whole batch before
    any share takes its dx (F.batch_norm_dx).

    dout: (B, C, H, W)   cache: SpatialGateCache
    -> SpatialGateGrads(dx, dW1, db1, dgamma1, dbeta1, dW2, db2, dgamma2, dbeta2)
       (db1, db2 None without biases).
    """
    forward_output_shape("spatial_gate_backward", "dout", dout, cache.out_shape, "output")
    count = cache.out_shape[0] * cache.out_shape[2] * cache.out_shape[3]
    douts = [dout[rows] for rows in cache.shares]

    def first(share):
        dout_s, c = share
        dgate = dout_s * c.x
        if cache.groups > 1:
            dgate = channel_shuffle_backward(dgate, cache.groups)
        dz = sigmoid_backward(dgate, c.sigmoid)
        return dz, batch_norm_sums(dz, c.norm2.xhat)

    ones = parallel.map_shares(first, zip(douts, cache.caches))
    dgamma2, dbeta2 = parallel.combined([s for _, s in ones], batched=0)

    def middle(share):
        (dz, _), c = share
        dz = batch_norm_dx(dz, c.norm2, dgamma2, dbeta2, count)
        dz, dW2, db2 = conv2d_backward(dz, c.conv2)
        dz = relu_backward(dz, c.relu)
        return dz, dW2, db2, batch_norm_sums(dz, c.norm1.xhat)

    twos = parallel.map_shares(middle, zip(ones, cache.caches))
    dgamma1, dbeta1 = parallel.combined([s for *_, s in twos], batched=0)

    def last(share):
        dout_s, (dz, *_), c = share
        dz = batch_norm_dx(dz, c.norm1, dgamma1, dbeta1, count)
        dx, dW1, db1 = conv2d_backward(dz, c.conv1)
        return dout_s * c.gate + dx, dW1, db1

    dx, dW1, db1 = parallel.combined(parallel.map_shares(last, zip(douts, twos, cache.caches)),
                                     batched=1)
    dW2, db2 = parallel.combined([(dW2, db2) for _, dW2, db2, _ in twos], batched=0)
    return SpatialGateGrads(dx, dW1, db1, dgamma1, dbeta1, dW2, db2, dgamma2, dbeta2)
