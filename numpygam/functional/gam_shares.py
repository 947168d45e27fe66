"""GAM's spatial gate on a batch in shares, one per core (numpygam/parallel.py).

The formulas are spatial_gate_forward's (gam.py: read them there first); only the
order of the work differs.  Every step of the gate acts on each image alone, except
batch norm in training: its mean and variance, and backward its sums of dy and of
dy xhat, are taken over the whole batch, N = B H W values per channel.  So each
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

Each share's mean and (biased) variance are batch_norm2d_forward's two passes on its
n_s values; the batch's follow exactly (Chan, Golub and LeVeque, 1979):

    mu = sum_s n_s mu_s / N,      var = sum_s n_s (var_s + (mu_s - mu)^2) / N

Each share's batch norm is then batch_norm2d_forward in eval mode with the batch's
mu and var in place of the running ones: the same xhat and y.  In eval mode batch
norm uses its running statistics, and nothing is put together.

Why: on 2 cores the convolutions already ran in shares (conv2d.dft_shares), but the
element-wise work around them (batch norm, ReLU, sigmoid, the products; 6 ms of
GAM's step at (8, 64, 32, 32)) ran on one core.  nn.SpatialGate forward + backward
at (8, 64, 32, 32), float32, all in shares / only the convolutions in shares
(`python benchmarks/bench_idioms.py`, freed memory kept): 1.01x, 1.06x, 1.09x, 1.23x
faster in four runs; 26.3 against 28.1 ms timed alternately in one process (1.07x), and
nn.GAM 32.3 against 34.0 ms; as a process starts, nn.GAM 46.1 -> 40.3 ms (benchmarks/
ab.py medians).  spatial_gate_forward splits where its first convolution would
(conv2d.dft_shares: where the channels are few).
"""
from typing import Any, NamedTuple

import numpy as np

from .. import parallel
from ._checks import forward_output_shape
from .activations import relu_backward, relu_forward, sigmoid_backward, sigmoid_forward
from .conv2d import conv2d_backward, conv2d_forward
from .norm import batch_norm2d_forward, updated_running_stats
from .shuffle import channel_shuffle_backward, channel_shuffle_forward

AXES = (0, 2, 3)  # batch norm's sums: over images and pixels, one per channel


class ShareCache(NamedTuple):
    """One share's caches, as SpatialGateCache's."""
    x: np.ndarray
    gate: np.ndarray
    conv1: Any
    norm1: Any       # BatchNormCache of the eval-mode call with the batch's statistics
    relu: Any
    conv2: Any
    norm2: Any
    sigmoid: Any


class SpatialGateSharesCache(NamedTuple):
    gate: np.ndarray        # Ms(x) of the whole batch, (B, C, H, W), as SpatialGateCache.gate
    shares: list            # the batch's slices
    caches: list            # each share's ShareCache
    groups: int             # the shuffle's groups (1: no shuffle)
    training: bool          # batch norm's statistics were the batch's (backward sums them)
    running_stats: tuple    # updated (mean1, var1, mean2, var2); None in eval mode
    out_shape: tuple        # (B, C, H, W): dout must match it


def _moments(z):
    """A share's count, mean and biased variance per channel (batch_norm2d_forward's two
    passes); (C,) each but the count."""
    mean = z.mean(axis=AXES)
    return z.size // z.shape[1], mean, np.square(z - mean[:, None, None]).mean(axis=AXES)


def _batch_moments(moments):
    """The whole batch's mean and biased variance from its shares' (n_s, mu_s, var_s),
    combined as Chan, Golub and LeVeque (1979) do, exactly (no second pass):
        mu = sum_s n_s mu_s / N,    var = sum_s n_s (var_s + (mu_s - mu)^2) / N."""
    count = sum(n for n, _, _ in moments)
    mu = sum(n * mean for n, mean, _ in moments) / count
    return mu, sum(n * (var + np.square(mean - mu)) for n, mean, var in moments) / count


def spatial_gate_forward_in_shares(x, shares, *, W1, b1, gamma1, beta1, W2, b2, gamma2,
                                   beta2, running_stats, training=True, momentum=0.1, eps=1e-5,
                                   padding_mode="zeros", groups=1, shuffle=None):
    """spatial_gate_forward (gam.py) on the batch's slices `shares`, each on its own thread.

    x: (B, C, H, W)   shares: slices of the batch (parallel.batch_shares)
    The other arguments, the result and the formulas are spatial_gate_forward's; the
    convolutions take the DFT path (conv2d_forward's method "dft").
    -> out: (B, C, H, W), SpatialGateSharesCache (its gate and running_stats as
       SpatialGateCache's).
    """
    rm1, rv1, rm2, rv2 = running_stats
    shuffle = groups if shuffle is None else shuffle
    conv = dict(stride=1, padding_mode=padding_mode, groups=groups, method="dft")
    count = x.shape[0] * x.shape[2] * x.shape[3]
    xs = [x[rows] for rows in shares]

    def norm(z, mu, var, gamma, beta):  # batch norm with the batch's mu, var
        return batch_norm2d_forward(z, gamma, beta, running_mean=mu, running_var=var,
                                    training=False, eps=eps)

    def first(x_s):
        z, cc1 = conv2d_forward(x_s, W1, b1, padding=W1.shape[2] // 2, **conv)
        return z, cc1, _moments(z) if training else None

    ones = parallel.map_shares(first, xs)
    mu1, var1 = _batch_moments([m for *_, m in ones]) if training else (rm1, rv1)

    def middle(z):
        z, cn1 = norm(z, mu1, var1, gamma1, beta1)
        z, cr = relu_forward(z)
        z, cc2 = conv2d_forward(z, W2, b2, padding=W2.shape[2] // 2, **conv)
        return z, (cn1, cr, cc2), _moments(z) if training else None

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
    return out, SpatialGateSharesCache(parallel.joined([c.gate for c in caches]), list(shares),
                                       caches, shuffle, training, stats, out.shape)


def _norm_dx(dy, cache, sums, count):
    """Batch norm's dx (batch_norm2d_backward's formula) with the batch's sums:
    training: dx = (g - mean(g) - xhat mean(g xhat)) inv_std, g = dy gamma, where
    mean(g) = gamma sum(dy) / N and mean(g xhat) = gamma sum(dy xhat) / N;
    eval (sums None): dx = g inv_std."""
    gamma, inv_std = cache.gamma[:, None, None], cache.inv_std[:, None, None]
    g = dy * gamma
    if sums is None:
        return g * inv_std
    dgamma, dbeta = sums
    mean_g, mean_gx = (dbeta / count)[:, None, None], (dgamma / count)[:, None, None]
    return (g - gamma * (mean_g + cache.xhat * mean_gx)) * inv_std


def _norm_sums(dy, cache):
    """dgamma = sum dy xhat and dbeta = sum dy, over the share's images and pixels."""
    return np.sum(dy * cache.xhat, axis=AXES), dy.sum(axis=AXES)


def spatial_gate_backward_in_shares(dout, cache):
    """Backward of spatial_gate_forward_in_shares: spatial_gate_backward's formulas,
    share by share, with batch norm's sums over the whole batch.

    dout: (B, C, H, W)   cache: SpatialGateSharesCache
    -> (dx, dW1, db1, dgamma1, dbeta1, dW2, db2, dgamma2, dbeta2), in SpatialGateGrads'
       order (db1, db2 None without biases).
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
        return dz, _norm_sums(dz, c.norm2)

    ones = parallel.map_shares(first, zip(douts, cache.caches))
    sums2 = parallel.combined([s for _, s in ones], batched=0)   # (dgamma2, dbeta2)

    def middle(share):
        (dz, _), c = share
        dz = _norm_dx(dz, c.norm2, sums2 if cache.training else None, count)
        dz, dW2, db2 = conv2d_backward(dz, c.conv2)
        dz = relu_backward(dz, c.relu)
        return dz, dW2, db2, _norm_sums(dz, c.norm1)

    twos = parallel.map_shares(middle, zip(ones, cache.caches))
    sums1 = parallel.combined([s for *_, s in twos], batched=0)  # (dgamma1, dbeta1)

    def last(share):
        dout_s, (dz, *_), c = share
        dz = _norm_dx(dz, c.norm1, sums1 if cache.training else None, count)
        dx, dW1, db1 = conv2d_backward(dz, c.conv1)
        return dout_s * c.gate + dx, dW1, db1

    dx, dW1, db1 = parallel.combined(parallel.map_shares(last, zip(douts, twos, cache.caches)),
                                     batched=1)
    dW2, db2 = parallel.combined([(dW2, db2) for _, dW2, db2, _ in twos], batched=0)
    return dx, dW1, db1, *sums1, dW2, db2, *sums2
