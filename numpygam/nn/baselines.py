"""The attention blocks GAM is compared with in its paper: SE and CBAM.

SE (Hu et al. 2018):   s = sigmoid(fc2(relu(fc1(avgpool(x))))),  out = s * x
CBAM (Woo et al. 2018): Mc = sigmoid(mlp(avgpool(x)) + mlp(maxpool(x))),  x1 = Mc * x
                        Ms = sigmoid(conv7x7([mean_c(x1); max_c(x1)])),   out = Ms * x1
Both pool space away before gating channels; GAM's channel gate keeps every pixel.
"""
import numpy as np

from .. import functional as F
from .conv import Conv2d
from .linear import Linear
from .module import Module, add_grads, positive_ints


def _mlp_forward(fc1, fc2, v):
    h, c1 = F.linear_forward(v, fc1.weight.data, fc1.bias.data)
    h, cr = F.relu_forward(h)
    out, c2 = F.linear_forward(h, fc2.weight.data, fc2.bias.data)
    return out, (c1, cr, c2)


def _mlp_backward(fc1, fc2, dout, caches):
    c1, cr, c2 = caches
    dh, dW2, db2 = F.linear_backward(dout, c2)
    dv, dW1, db1 = F.linear_backward(F.relu_backward(dh, cr), c1)
    add_grads((fc1.weight, dW1), (fc1.bias, db1), (fc2.weight, dW2), (fc2.bias, db2))
    return dv


def _max_forward(x, axis):
    """max over one axis, keeping the index of the (first) maximum for the backward."""
    idx = np.expand_dims(x.argmax(axis=axis), axis)
    return np.take_along_axis(x, idx, axis=axis).squeeze(axis), idx


def _max_backward(dy, idx, shape, axis):
    dx = np.zeros(shape, dtype=dy.dtype)
    np.put_along_axis(dx, idx, np.expand_dims(dy, axis), axis=axis)
    return dx


class SEBlock(Module):
    """Squeeze-and-excitation.  x: (B, C, H, W) -> (B, C, H, W); gate: self.gate (B, C)."""

    def __init__(self, channels, reduction=16, dtype=np.float32, rng=None):
        positive_ints("SEBlock", channels=channels, reduction=reduction)
        if channels // reduction == 0:
            raise ValueError(f"SEBlock: channels // reduction = {channels} // {reduction} = 0; "
                             "use reduction <= channels")
        self.fc1 = Linear(channels, channels // reduction, dtype=dtype, rng=rng)
        self.fc2 = Linear(channels // reduction, channels, dtype=dtype, rng=rng)

    def forward(self, x):
        pooled, pool_cache = F.global_avg_pool_forward(x)
        logits, mlp_cache = _mlp_forward(self.fc1, self.fc2, pooled)
        self.gate, sig_cache = F.sigmoid_forward(logits)
        self.push_cache((x, self.gate, pool_cache, mlp_cache, sig_cache))
        return x * self.gate[:, :, None, None]

    def backward(self, dout):
        x, gate, pool_cache, mlp_cache, sig_cache = self.pop_cache()
        dgate = F.sigmoid_backward(np.sum(dout * x, axis=(2, 3)), sig_cache)
        dpooled = _mlp_backward(self.fc1, self.fc2, dgate, mlp_cache)
        return dout * gate[:, :, None, None] + F.global_avg_pool_backward(dpooled, pool_cache)


class CBAM(Module):
    """Convolutional block attention module: a channel gate, then a spatial gate.

    x: (B, C, H, W) -> (B, C, H, W).  Gates: self.channel_gate (B, C),
    self.spatial_gate (B, 1, H, W).  The spatial convolution is 2 -> 1 channels,
    kernel_size x kernel_size, no bias, zero padding (CBAM's BN there is left out).
    """

    def __init__(self, channels, reduction=16, kernel_size=7, dtype=np.float32, rng=None):
        positive_ints("CBAM", channels=channels, reduction=reduction)
        if channels // reduction == 0:
            raise ValueError(f"CBAM: channels // reduction = {channels} // {reduction} = 0; "
                             "use reduction <= channels")
        self.fc1 = Linear(channels, channels // reduction, dtype=dtype, rng=rng)
        self.fc2 = Linear(channels // reduction, channels, dtype=dtype, rng=rng)
        self.conv = Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False, dtype=dtype,
                           rng=rng)

    def forward(self, x):
        avg, avg_cache = F.global_avg_pool_forward(x)
        mx, mx_idx = _max_forward(x.reshape(x.shape[0], x.shape[1], -1), axis=2)
        a_out, a_mlp = _mlp_forward(self.fc1, self.fc2, avg)
        m_out, m_mlp = _mlp_forward(self.fc1, self.fc2, mx)
        self.channel_gate, c_sig = F.sigmoid_forward(a_out + m_out)
        x1 = x * self.channel_gate[:, :, None, None]
        cmax, cmax_idx = _max_forward(x1, axis=1)
        pooled = np.stack([x1.mean(axis=1), cmax], axis=1)              # (B, 2, H, W)
        self.spatial_gate, s_sig = F.sigmoid_forward(self.conv(pooled))
        self.push_cache((x, avg_cache, mx_idx, a_mlp, m_mlp, c_sig, x1, cmax_idx, s_sig,
                         self.channel_gate, self.spatial_gate))
        return x1 * self.spatial_gate

    def backward(self, dout):
        (x, avg_cache, mx_idx, a_mlp, m_mlp, c_sig, x1, cmax_idx, s_sig, channel_gate,
         spatial_gate) = self.pop_cache()
        B, C, H, W = x.shape
        dgate_s = F.sigmoid_backward(np.sum(dout * x1, axis=1, keepdims=True), s_sig)
        dpooled = self.conv.backward(dgate_s)
        dx1 = dout * spatial_gate + dpooled[:, :1] / C \
            + _max_backward(dpooled[:, 1], cmax_idx, x1.shape, axis=1)
        dlogits = F.sigmoid_backward(np.sum(dx1 * x, axis=(2, 3)), c_sig)
        davg = _mlp_backward(self.fc1, self.fc2, dlogits, a_mlp)
        dmx = _mlp_backward(self.fc1, self.fc2, dlogits, m_mlp)
        dx = dx1 * channel_gate[:, :, None, None] + F.global_avg_pool_backward(davg, avg_cache)
        return dx + _max_backward(dmx, mx_idx, (B, C, H * W), axis=2).reshape(x.shape)
