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
# # Lesson 2: Score functions
#
# A score $e_{ij} = \mathrm{score}(q_i, k_j)$ says how well query $i$ (a decoder
# state) matches key $j$ (an encoder state). The blog lists Luong et al.'s three,
# and Bahdanau's original is the fourth:
#
# | name | formula | parameters | source |
# |---|---|---|---|
# | dot | $e = q^\top k$ | none | Luong sec. 3.1 |
# | general | $e = q^\top W_a k$ | $W_a \in \mathbb{R}^{D_q \times D_k}$ | Luong sec. 3.1 |
# | concat | $e = v_a^\top \tanh(W_a [q; k])$ | $W_a \in \mathbb{R}^{A \times (D_q + D_k)}$, $v_a \in \mathbb{R}^A$ | Luong sec. 3.1 |
# | additive | $e = v_a^\top \tanh(W_a q + U_a k + b_a)$ | $W_a, U_a, v_a$; $b_a$ is numpygam's (optional, as in most implementations; the paper has none) | Bahdanau app. A.1.2 |
#
# **Who is the query?** The papers name the same things differently (the book's
# notation page has the full table):
#
# | here | Bahdanau et al. 2014 | Luong et al. 2015 | Vaswani et al. 2017 |
# |---|---|---|---|
# | query $q_i$ | $s_{i-1}$, the decoder state *before* step $i$ | $h_t$, the top decoder state *after* step $t$'s update | a row of $Q$ |
# | keys $k_j$ = values | annotations $h_j = [\overrightarrow{h}_j; \overleftarrow{h}_j]$ | source states $\bar{h}_s$ | rows of $K$ (and $V$) |
# | score $e_{ij}$ | $e_{ij} = a(s_{i-1}, h_j)$ | $\mathrm{score}(h_t, \bar{h}_s)$ (sec. 3.1) | $q_i^\top k_j / \sqrt{d_k}$ (eq. 1) |
# | weights $a_{ij}$ | $\alpha_{ij}$ (eq. 6) | $a_t(s)$ (eq. 7) | $\mathrm{softmax}(QK^\top/\sqrt{d_k})$ |
# | context $c_i$ | $c_i$ (eq. 5) | $c_t$ | $\mathrm{Attention}(Q, K, V)$ |
#
# concat and additive are the same function: split $W_a = [W_q \mid W_k]$ by
# columns and $W_a [q; k] = W_q q + W_k k$.

# %%
import math
import time

import matplotlib.pyplot as plt
import numpy as np

import numpygam.functional as F
from numpygam import gradcheck
from numpygam.course.translation import printed  # the Chinese edition prints in Chinese

# %% [markdown]
# ## A worked example, by hand first
#
# One query $q = (1, 2)$ and two keys $k_1 = (3, -1)$, $k_2 = (0, 1)$.
#
# * dot: $e_1 = 1\cdot 3 + 2\cdot(-1) = 1$, $e_2 = 0 + 2 = 2$.
# * general with $W_a = \begin{pmatrix} 1 & 0 \\ 0 & 2 \end{pmatrix}$:
#   $W_a k_1 = (3, -2)$, $e_1 = 3 - 4 = -1$; $W_a k_2 = (0, 2)$, $e_2 = 4$.

# %%
q = np.array([[[1.0, 2.0]]])                   # (B=1, Tq=1, D=2)
k = np.array([[[3.0, -1.0], [0.0, 1.0]]])      # (B=1, Tk=2, D=2)
W = np.array([[1.0, 0.0], [0.0, 2.0]])
print(printed("dot", "<7"), F.dot_score_forward(q, k)[0])
print(printed("general", "<7"), F.general_score_forward(q, k, W)[0])

# %% [markdown]
# concat and additive need an attention size $A$; take $A = 1$,
# $W_a = (1, 0, 0, 1)$ (so $W_q = (1, 0)$, $W_k = (0, 1)$), $v_a = 2$:
# $e_1 = 2\tanh(1 + (-1)) = 0$ and $e_2 = 2\tanh(1 + 1) = 2\tanh 2 \approx 1.928$.

# %%
Wa = np.array([[1.0, 0.0, 0.0, 1.0]])
va = np.array([2.0])
e_concat, _ = F.concat_score_forward(q, k, Wa, va)
e_additive, _ = F.additive_score_forward(q, k, Wa[:, :2], Wa[:, 2:], va)
print(printed("concat", "<8"), e_concat, " 2 tanh 2 =", 2 * math.tanh(2))
print(printed("additive", "<8"), e_additive, printed("(the same numbers: the same function)"))

# %% [markdown]
# ## All four on the same random vectors
#
# Shapes are batch-first: queries $(B, T_q, D_q)$, keys $(B, T_k, D_k)$, scores
# $(B, T_q, T_k)$.

# %%
rng = np.random.default_rng(0)
B, Tq, Tk, D, A = 1, 4, 6, 8, 8
q, k = rng.standard_normal((B, Tq, D)), rng.standard_normal((B, Tk, D))
params = {"dot": {}, "general": {"W": rng.standard_normal((D, D)) / math.sqrt(D)},
          "concat": {"W": rng.standard_normal((A, 2 * D)) / 4, "v": rng.standard_normal(A)},
          "additive": {"Wq": rng.standard_normal((A, D)) / 3, "Wk": rng.standard_normal((A, D)) / 3,
                       "v": rng.standard_normal(A), "b": np.zeros(A)}}
fig, axes = plt.subplots(1, 4, figsize=(12, 2.8))
for ax, (name, p) in zip(axes, params.items()):
    e, _ = getattr(F, f"{name}_score_forward")(q, k, **p)
    a, _ = F.softmax_forward(e)
    ax.imshow(a[0], cmap="viridis", vmin=0, vmax=1)
    ax.set_title(f"{name}: softmax(e)")
    ax.set_xlabel("key j")
axes[0].set_ylabel("query i")
plt.show()

# %% [markdown]
# ## Why scale the dot product?
#
# With $q, k$ of $d_k$ (the code's `D`) independent entries of mean 0 and variance 1,
# $q^\top k = \sum_d q_d k_d$ has mean 0 and variance $d_k$ (Vaswani et al. 2017,
# section 3.2.1, footnote 4; without the zero means the variance is larger still).
# Large scores make the softmax nearly one-hot, and its gradient nearly zero.
# Dividing by $\sqrt{d_k}$ (Vaswani et al.'s "scaled dot-product", their eq. 1) keeps
# the variance at 1 whatever $d_k$.

# %%
dims = [4, 16, 64, 256, 1024]
peak = {"dot": [], "scaled dot": []}
for D_ in dims:
    qq, kk = rng.standard_normal((200, 1, D_)), rng.standard_normal((200, 10, D_))
    for name, scale in (("dot", None), ("scaled dot", 1 / math.sqrt(D_))):
        a, _ = F.softmax_forward(F.dot_score_forward(qq, kk, scale)[0])
        peak[name].append(a.max(axis=-1).mean())
fig, ax = plt.subplots(figsize=(5, 3))
for name, values in peak.items():
    ax.semilogx(dims, values, marker="o", label=name, base=2)
ax.set_xlabel("feature size D")
ax.set_ylabel("mean largest weight (10 keys)")
ax.legend()
plt.show()

# %% [markdown]
# ## What each costs
#
# Per (query, key) pair: dot and general are one length-$D$ product (general also
# projects each query once, $D^2$ per query); concat and additive project each
# query and key once ($A D$ each) and then evaluate a $\tanh$ of size $A$ for
# **every pair**: $B T_q T_k A$ values, the expensive part.

# %%
B, Tq, Tk, D, A = 32, 20, 50, 128, 128
q, k = rng.standard_normal((B, Tq, D)).astype(np.float32), rng.standard_normal((B, Tk, D)).astype(np.float32)
sizes = {"dot": {}, "general": {"W": np.eye(D, dtype=np.float32)},
         "concat": {"W": rng.standard_normal((A, 2 * D)).astype(np.float32), "v": np.ones(A, np.float32)},
         "additive": {"Wq": np.eye(A, D, dtype=np.float32), "Wk": np.eye(A, D, dtype=np.float32),
                      "v": np.ones(A, np.float32)}}
for name, p in sizes.items():
    start = time.perf_counter()
    for _ in range(5):
        e, cache = getattr(F, f"{name}_score_forward")(q, k, **p)
        getattr(F, f"{name}_score_backward")(np.ones_like(e), cache)
    print(f"{printed(name, '>9')}: {(time.perf_counter() - start) / 5 * 1e3:6.1f} {printed('ms forward+backward')}")

# %% [markdown]
# ## Gradient check of every score
#
# `gradcheck` compares each backward pass with central differences in float64
# and reports the worst relative error per input.

# %%
q, k = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
checks = {
    "dot": ({"q": q, "k": k}, {"scale": 0.5}),
    "general": ({"q": q, "k": k, "W": rng.standard_normal((4, 4))}, {}),
    "concat": ({"q": q, "k": k, "W": rng.standard_normal((3, 8)), "v": rng.standard_normal(3)}, {}),
    "additive": ({"q": q, "k": k, "Wq": rng.standard_normal((3, 4)), "Wk": rng.standard_normal((3, 4)),
                  "v": rng.standard_normal(3), "b": rng.standard_normal(3)}, {}),
}
for name, (inputs, options) in checks.items():
    report = gradcheck(getattr(F, f"{name}_score_forward"), getattr(F, f"{name}_score_backward"),
                       inputs, options)
    print(report, end="\n\n")
    assert report.passed
