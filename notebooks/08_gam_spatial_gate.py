# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lesson 8: GAM's spatial gate: convolution, batch norm, sigmoid
#
# $$M_s(F) = \mathrm{sigmoid}\Big(\mathrm{BN}\big(\mathrm{conv}_{7\times7}^{C/r \to C}(\mathrm{ReLU}(\mathrm{BN}(\mathrm{conv}_{7\times7}^{C \to C/r}(F))))\big)\Big)$$
#
# No pooling: the gate has a value for every channel *and* pixel. This lesson
# builds the convolution two ways, looks at batch norm, and draws the gates
# over a real photograph.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import cbook

import numpygam.functional as F
from numpygam import fast, gradcheck, nn
from numpygam.course.translation import printed  # the Chinese edition prints in Chinese

rng = np.random.default_rng(0)

# %% [markdown]
# ## Convolution as a matrix product (im2col)
#
# $y[o, i, j] = \sum_{c,u,v} W[o, c, u, v]\, x_p[c, i + u, j + v]$. Copy every
# $K \times K$ patch of the padded input into a column, and the convolution is
# one product: $(C_{out}, C K^2) \times (C K^2, B H W)$.

# %%
x = rng.standard_normal((1, 2, 4, 4))
xp, _ = F.pad2d_forward(x, 1)
cols = F.conv.im2col(xp, 3, 1)
print(printed("padded input"), xp.shape, printed("-> columns"), cols.shape, "= (C K K, B H W)")
Wk = rng.standard_normal((3, 2, 3, 3))
y_im2col = (Wk.reshape(3, -1) @ cols).reshape(3, 1, 4, 4).transpose(1, 0, 2, 3)
y, _ = F.conv2d_forward(x, Wk, padding=1)
print(printed("im2col == conv2d_forward:"), np.allclose(y_im2col, y))

# %% [markdown]
# The textbook version (`F.conv2d_forward`, in `numpygam/functional/conv.py`)
# builds those columns for the whole batch; on the fast floor beside it,
# `conv2d_gemm_forward` (in `numpygam/fast/conv_gemm.py`) takes them as one strided
# view in channels-last order and copies a chunk of images at a time.
#
# ## Convolution as a product per frequency (the DFT path)
#
# The discrete Fourier transform turns a correlation into a product. With
# $\hat{a}[k] = \sum_n a[n]\, e^{-2\pi i k n / N}$ on a grid of $N$ points,
# $y[i] = \sum_u x[i + u]\, w[u]$ becomes $\hat{y}[k] = \hat{x}[k]\, \overline{\hat{w}[k]}$.
# The DFT is periodic, so this is a circular correlation; taking $N$ as large as
# the padded input, no output reads past its end and the two agree. In one
# dimension:

# %%
x1, w1 = rng.standard_normal(12), rng.standard_normal(5)
direct = np.correlate(x1, w1, mode="valid")               # y[i] = sum_u x[i + u] w[u]
through_dft = np.fft.ifft(np.fft.fft(x1) * np.conj(np.fft.fft(w1, len(x1)))).real
print(printed("direct == through the DFT:"), np.allclose(direct, through_dft[:len(direct)]))

# %% [markdown]
# In 2-D with channels, the sum over input channels becomes one small matrix
# product per frequency $k = (k_1, k_2)$:
#
# $$\hat{y}[k, b, o] = \sum_c \hat{x}[k, b, c]\, \overline{\hat{W}[k, o, c]}$$
#
# that is $N_1 R\, B C_{in} C_{out}$ complex multiply-adds ($R = \lfloor N_2/2 \rfloor + 1$:
# a real map needs only half its spectrum). `conv2d_dft_forward` computes each DFT
# as a product with a small DFT matrix, so that BLAS runs it on every core, and
# cuts the map into a few overlapping tiles (2 x 2 tiles of 13 x 13 on a 14 x 14
# map), which keeps $\hat{W}$, one value per kernel and frequency, small. One
# honest count, in real multiply-adds (a complex one is 4 real ones), for a 7x7
# kernel on a 14x14 map, per image and pair of channels: the direct sum does
# $H W K^2 = 14 \cdot 14 \cdot 49 = 9604$. The tiled DFT path ($T = 13$,
# $R = \lfloor 13/2 \rfloor + 1 = 7$) does $4 \cdot 4 \cdot 13 \cdot 7 = 1456$ in its products
# (4 tiles of $13 \times 7$ frequencies), and on top of them three kinds of DFT, each
# shared by something else:
#
# - $\hat{W}$, once per (output, input) pair for the whole batch:
#   $2 \cdot 7 \cdot 7 \cdot 7 + 4 \cdot 13 \cdot 7 \cdot 7 = 3234$, so $3234 / B$ per image;
# - $\hat{x}$, once per image and input channel, shared by the $C_{out}$ outputs:
#   $4 \cdot (2 \cdot 13 \cdot 13 \cdot 7 + 4 \cdot 13 \cdot 13 \cdot 7) = 28392$, so $28392 / C_{out}$;
# - the inverse DFT of $\hat{y}$, once per image and output channel, shared by the
#   $C_{in}$ inputs: $4 \cdot (4 \cdot 7 \cdot 13 \cdot 7 + 2 \cdot 7 \cdot 7 \cdot 7) = 12936$, so $12936 / C_{in}$.
#
# With $B = 8$ and 64 channels in and out that is $1456 + 404 + 444 + 202 = 2506$
# against 9604, 3.8x fewer; with 16 channels, 2.2x fewer. `fast.conv2d_forward(..., method="auto")`
# picks it for stride 1 and kernels from 5x5 up, and the GEMM path otherwise
# (`benchmarks/bench_conv.py` measures both); `method="reference"`, `"gemm"` or
# `"dft"` picks one by hand, and `fast.conv2d_backward` follows the cache to the same
# path. Same numbers, three ways:

# %%
x = rng.standard_normal((8, 64, 32, 32)).astype(np.float32)
Wk = rng.standard_normal((16, 64, 7, 7)).astype(np.float32) * 0.02
for method in ("reference", "gemm", "dft"):
    for run in range(2):  # time the second run: the first pays for first-touch page faults
        start = time.perf_counter()
        y, cache = fast.conv2d_forward(x, Wk, None, 1, 3, method=method)
        fast.conv2d_backward(np.ones_like(y), cache)
    print(f"{method:>9}: {(time.perf_counter() - start) * 1e3:6.1f} {printed('ms forward+backward')}, "
          f"y[0, 0, 0, :3] = {y[0, 0, 0, :3]}")

# %% [markdown]
# ## Batch normalisation
#
# $\hat{x} = (x - \mu_B) / \sqrt{\mathrm{var}_B + \epsilon}$, $y = \gamma \hat{x} + \beta$,
# per channel over the batch and the pixels. In training the running statistics
# move towards the batch's, $\mu \leftarrow (1 - m)\mu + m\,\mu_B$ (and the
# *unbiased* variance likewise), as in PyTorch; eval mode uses them.

# %%
bn = nn.BatchNorm2d(2).to(np.float64)
batch = np.stack([np.full((3, 3), 1.0), np.full((3, 3), 5.0)])[None].repeat(2, 0)
batch[1] += 2
y = bn(batch)
print(printed("per-channel mean after BN:"), y.mean(axis=(0, 2, 3)).round(6), printed(" std:"), y.std(axis=(0, 2, 3)).round(3))
print(printed("running_mean after one step:"), bn.running_mean, printed("(0.9 * 0 + 0.1 * batch mean)"))

# %% [markdown]
# ## The gates over a real photograph
#
# matplotlib ships a photograph of Grace Hopper. We make 8 feature channels
# from it (the colours, two edge filters, two blurs, brightness) and run an
# **untrained** GAM over them: the gates below show what the mechanism
# computes, not what a trained network would emphasise.

# %%
with cbook.get_sample_data("grace_hopper.jpg") as f:
    photo = plt.imread(f).astype(np.float64) / 255      # (H, W, 3)
photo = photo[::4, ::4]                                # 150 x 128: quick
gray = photo.mean(-1)
sobel = np.array([[[[1, 0, -1], [2, 0, -2], [1, 0, -1]]]], float)
feat = [photo[..., i] for i in range(3)]
g = gray[None, None]
feat += [F.conv2d_forward(g, sobel, padding=1, padding_mode="replicate")[0][0, 0],
         F.conv2d_forward(g, sobel.transpose(0, 1, 3, 2), padding=1, padding_mode="replicate")[0][0, 0]]
feat += [F.avg_pool2d_forward(np.pad(g, ((0, 0), (0, 0), (k, k), (k, k)), mode="edge"), 2 * k + 1, 1)[0][0, 0]
         for k in (2, 5)]
feat += [gray]
x = np.stack(feat)[None]                                # (1, 8, H, W)
x = (x - x.mean(axis=(2, 3), keepdims=True)) / x.std(axis=(2, 3), keepdims=True)

nn.manual_seed(1)
gam = nn.GAM(8, rate=2).to(np.float64).eval()
out = gam(x)
fig, axes = plt.subplots(1, 4, figsize=(13, 3.6))
axes[0].imshow(photo)
axes[0].set_title("photograph")
axes[1].imshow(gam.channel_gate[0].mean(0), cmap="magma")
axes[1].set_title("channel gate $M_c$, mean over C")
axes[2].imshow(gam.spatial_gate[0].mean(0), cmap="magma")
axes[2].set_title("spatial gate $M_s$, mean over C")
axes[3].imshow(np.abs(out[0]).mean(0), cmap="gray")
axes[3].set_title("|GAM(x)|, mean over C")
for ax in axes:
    ax.axis("off")
plt.show()

# %% [markdown]
# ## Gradient check of the whole spatial gate
#
# Convolutions, batch norms (training mode), ReLU, sigmoid, grouped
# convolutions and the channel shuffle, in float64:

# %%
x = rng.standard_normal((2, 4, 5, 5))
report = gradcheck(
    F.spatial_gate_forward, F.spatial_gate_backward,
    {"x": x, "W1": rng.standard_normal((2, 2, 3, 3)), "b1": rng.standard_normal(2),
     "gamma1": rng.standard_normal(2), "beta1": rng.standard_normal(2),
     "W2": rng.standard_normal((4, 1, 3, 3)), "b2": rng.standard_normal(4),
     "gamma2": rng.standard_normal(4), "beta2": rng.standard_normal(4)},
    {"running_stats": (np.zeros(2), np.ones(2), np.zeros(4), np.ones(4)), "groups": 2}, h=1e-5)
print(report)
assert report.passed
