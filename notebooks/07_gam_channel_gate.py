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
# # Lesson 7: GAM's channel gate, the 3-D permutation step by step
#
# GAM (Liu, Shao, Hoffmann 2021) refines a feature map $F_1 \in \mathbb{R}^{C \times H \times W}$
# with two gates in series:
#
# $$F_2 = M_c(F_1) \otimes F_1, \qquad F_3 = M_s(F_2) \otimes F_2$$
#
# (GAM eq. 1; the paper's $\otimes$ is the elementwise product, written $\odot$ in
# the rest of this book).
#
# SE and CBAM pool the spatial dimensions away before gating channels. GAM's
# channel gate keeps every pixel: it **permutes** the map so that channels come
# last, runs a two-layer MLP on each pixel's channel vector (each pixel separately,
# a 1x1 convolution in effect: channels mix within a pixel, never across pixels),
# and permutes back (GAM fig. 2):
#
# $$M_c(F) = \mathrm{sigmoid}\big(\mathrm{permute}^{-1}(\mathrm{MLP}(\mathrm{permute}(F)))\big), \quad
# \mathrm{MLP}(u) = W_2\, \mathrm{ReLU}(W_1 u + b_1) + b_2,$$
#
# with $W_1: C \to C/r$ and $W_2: C/r \to C$ ($r$ the reduction rate).

# %%
import matplotlib.pyplot as plt
import numpy as np

import numpygam.functional as F
from numpygam import gradcheck, nn
from numpygam.course.translation import printed  # the Chinese edition prints in Chinese

rng = np.random.default_rng(0)

# %% [markdown]
# ## The shapes, one step at a time
#
# The blog's code: `x.permute(0, 2, 3, 1).view(b, -1, c)`, then the MLP, then
# `.view(b, h, w, c)` and `.permute(0, 3, 1, 2)`.

# %%
B, C, H, W, r = 2, 8, 3, 4, 4
x = rng.standard_normal((B, C, H, W))
print("x                       ", x.shape, "(B, C, H, W)")
pixels = x.transpose(0, 2, 3, 1)
print("permute(0, 2, 3, 1)     ", pixels.shape, "(B, H, W, C)")
rows = pixels.reshape(B, H * W, C)
print("view(b, -1, c)          ", rows.shape, printed("(B, H*W, C): one row per pixel"))
W1, b1 = rng.standard_normal((C // r, C)), np.zeros(C // r)
W2, b2 = rng.standard_normal((C, C // r)), np.zeros(C)
hidden = np.maximum(rows @ W1.T + b1, 0)
print("linear1 + ReLU          ", hidden.shape, "(B, H*W, C/r)")
att = hidden @ W2.T + b2
print("linear2                 ", att.shape, "(B, H*W, C)")
gate = att.reshape(B, H, W, C).transpose(0, 3, 1, 2)
print("view + permute(0, 3, 1, 2)", gate.shape, "(B, C, H, W)")
gate = 1 / (1 + np.exp(-gate))
print(printed("sigmoid (the paper's)", "<24") + printed("values in"), (gate.min().round(3), gate.max().round(3)))

# %% [markdown]
# The library computes the same thing in one call:

# %%
out, cache = F.channel_gate_forward(x, W1, b1, W2, b2, sigmoid=True)
print(printed("the same gate:"), np.allclose(cache.gate, gate), "  out = gate * x:", np.allclose(out, gate * x))

# %% [markdown]
# ## A tiny example by hand
#
# One pixel, $C = 2$, $r = 2$: $u = (1, -2)$, $W_1 = (1, 1)$, $b_1 = 0$: hidden
# $\mathrm{ReLU}(1 - 2) = 0$, so the gate is $\mathrm{sigmoid}(b_2)$ whatever $W_2$. With
# $u = (3, -1)$: hidden $= 2$; $W_2 = (1, -1)^\top$ gives $(2, -2)$ and the gate
# $(\mathrm{sigmoid}(2), \mathrm{sigmoid}(-2)) = (0.881, 0.119)$: the MLP decides, per pixel, which
# channels pass.

# %%
W1_, W2_ = np.array([[1.0, 1.0]]), np.array([[1.0], [-1.0]])
for u in ([1.0, -2.0], [3.0, -1.0]):
    x1 = np.array(u).reshape(1, 2, 1, 1)
    _, c1 = F.channel_gate_forward(x1, W1_, np.zeros(1), W2_, np.zeros(2))
    print(u, printed("-> gate"), c1.gate.ravel().round(3))

# %% [markdown]
# ## Paper or blog
#
# The blog's PyTorch class has **no sigmoid** on the channel gate (its gate is
# unbounded and can flip signs); the paper's has one. `nn.GAM(variant="blog")`
# reproduces the blog exactly, `variant="paper"` the paper.

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3))
for ax, variant in zip(axes, ("paper", "blog")):
    nn.manual_seed(0)
    gam = nn.GAM(8, variant=variant).to(np.float64)
    gam(x)
    g = gam.channel_gate
    print(f"{variant:>5}: {printed('channel gate in')} [{g.min():+.2f}, {g.max():+.2f}]")
    image = ax.imshow(g[0].reshape(8, -1), cmap="coolwarm", vmin=-1.5, vmax=1.5)
    ax.set_title(f"variant={variant!r}: $M_c$ of example 0")
    ax.set_xlabel("pixel (h, w) flattened")
    ax.set_ylabel("channel")
fig.colorbar(image, ax=axes)
plt.show()

# %% [markdown]
# ## The backward pass, and its check
#
# With $g = M_c(x)$ and $y = g \odot x$: $\bar{x} = \bar{y} \odot g + \mathrm{permute}^{-1}\big(\mathrm{MLP}^\top(\mathrm{permute}(\bar{y} \odot x))\big)$,
# the second term being the gate's path back through sigmoid, linear2, ReLU and linear1.

# %%
report = gradcheck(F.channel_gate_forward, F.channel_gate_backward,
                   {"x": x, "W1": W1, "b1": b1 + 0.5, "W2": W2, "b2": b2})
print(report)
assert report.passed
