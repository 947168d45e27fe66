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
# # Lesson 9: GAM in a small CNN, the paper's ablation in miniature
#
# The paper adds GAM to ResNets on CIFAR-100 and ImageNet and compares it with
# SE and CBAM, and its two gates alone. We do the same on a data set small
# enough for NumPy on two cores: scikit-learn's handwritten digits (1797 images,
# 8x8 pixels, shipped inside the package). The network:
#
# conv 3x3 (1 -> 16), BN, ReLU, a residual block (16 -> 16) **with the attention
# module after its second convolution**, a residual block (16 -> 32, stride 2),
# global average pooling, linear (32 -> 10).

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

import numpygam.functional as F
from numpygam import gradcheck_module, nn, optim
from numpygam.course.translation import printed  # the Chinese edition prints the table in Chinese

digits = load_digits()
X = (digits.images / 16.0).astype(np.float32)[:, None]       # (N, 1, 8, 8)
y = digits.target
order = np.random.default_rng(0).permutation(len(X))
train_idx, test_idx = order[:1400], order[1400:]
print(printed("train"), len(train_idx), printed("test"), len(test_idx), printed("image"), X.shape[1:])

# %%
ATTENTION = {
    "none": lambda c: None,
    "SE": lambda c: nn.SEBlock(c, reduction=4),
    "CBAM": lambda c: nn.CBAM(c, reduction=4),
    "GAM channel only": lambda c: nn.ChannelGate(c, rate=4),
    "GAM spatial only": lambda c: nn.SpatialGate(c, rate=4),
    "GAM (paper)": lambda c: nn.GAM(c, rate=4),
    "GAM (blog)": lambda c: nn.GAM(c, rate=4, variant="blog"),
}


def make_net(attention, seed, width=16):
    nn.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                         nn.ReLU(), nn.BasicBlock(width, width, attention=ATTENTION[attention](width)),
                         nn.BasicBlock(width, 2 * width, stride=2), nn.GlobalAvgPool2d(),
                         nn.Linear(2 * width, 10))


def train_and_test(attention, seed, epochs=4, batch_size=50):
    net = make_net(attention, seed)
    opt = optim.Adam(net.parameters(), lr=3e-3)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        net.train()
        for start in range(0, len(train_idx), batch_size):
            idx = train_idx[rng.permutation(len(train_idx))[start:start + batch_size]]
            net.zero_grad()
            logits = net(X[idx])
            loss, cache = F.cross_entropy_forward(logits, y[idx])
            net.backward(F.cross_entropy_backward(np.float32(1), cache))
            opt.step()
    net.eval()
    predictions = net(X[test_idx]).argmax(-1)
    return (predictions == y[test_idx]).mean(), sum(p.data.size for p in net.parameters())

# %% [markdown]
# ## The table
#
# Each variant is trained from two seeds; mean test accuracy, and the spread
# between the two runs.

# %%
rows = []
for name in ATTENTION:
    start = time.time()
    results = [train_and_test(name, seed) for seed in (0, 1)]
    accs = [a for a, _ in results]
    rows.append((name, np.mean(accs), abs(accs[0] - accs[1]), results[0][1], time.time() - start))
print(printed("attention", "<18") + printed("test acc.", ">10") + printed("spread", ">8")
      + printed("params", ">8") + printed("time", ">7"))
for name, acc, spread, params, seconds in rows:
    print(f"{printed(name, '<18')}{acc:>10.2%}{spread:>8.2%}{params:>8}{seconds:>6.0f}s")

fig, ax = plt.subplots(figsize=(8, 3))
ax.bar([r[0] for r in rows], [r[1] for r in rows], yerr=[r[2] / 2 for r in rows], capsize=4,
       color="#7a9")
ax.set_ylim(0.85, 1.0)
ax.set_ylabel("test accuracy (mean of 2 seeds)")
ax.tick_params(axis="x", rotation=25)
plt.show()

# %% [markdown]
# ## Reading the table honestly
#
# With 397 test images one image is 0.25%. Compare the spread column (the
# same variant, two seeds) with the gaps between rows: wherever a spread is as
# large as the gap between two variants, this table cannot rank them, and at
# this size most gaps are of that order. The paper's gains come from large networks
# and data sets: the GAM paper reports ResNet50 + GAM on CIFAR-100 at Top-1 error
# 18.67%, the version without grouped convolutions, a figure the blog
# repeats (adding that the grouped version, the paper's parameter-saving variant, does
# slightly worse). What the
# miniature shows is that every block trains, and what each costs in
# parameters. GAM's two 7x7 convolutions make it by far the largest block.
#
# **Paper vs blog.** The blog's variant has no sigmoid on the channel gate, so
# the channel "gate" is an unbounded, signed rescaling; with batch norm after
# it, training still works, but the product is no longer an attention weight in
# $(0, 1)$. Its replicate padding does not change only the border: each 7x7
# convolution reads 3 pixels beyond the edge, so two of them change a band 6 pixels
# wide on each side, which on these 8x8 maps is every pixel; and in training mode
# batch norm's statistics carry the change to every pixel of any map. (The paper's
# text does not state a padding mode; `variant="paper"` uses zeros, as the blog's
# Keras code does.)
#
# ## Gradient check of the network with GAM
#
# The same network, 4 channels wide (GAM with rate 4 becomes rate 2), on two
# images: every parameter tensor and the input, against central differences.

# %%
ATTENTION["GAM (paper)"] = lambda c: nn.GAM(c, rate=2)
net = make_net("GAM (paper)", 0, width=4)
report = gradcheck_module(net.to(np.float64), [X[:2].astype(np.float64)], h=1e-6)
verdict = "PASSED" if report.passed else "FAILED"
print(printed(f"{verdict}: {len(report.inputs)} tensors, worst relative error "
              f"{report.max_rel_error:.1e}"))
assert report.passed
