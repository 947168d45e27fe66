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
# # Lesson 6: Self-attention and multi-head attention
#
# The blog's variants section lists these beside Luong's variants; they come from
# Vaswani et al. 2017 ("Attention Is All You Need"). In **self-attention** the
# queries, keys and values all come from the same sequence $X$; with learned
# projections (Vaswani eq. 1, with $d = d_k$),
#
# $$Q = X W_q^\top,\ K = X W_k^\top,\ V = X W_v^\top, \qquad
# \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\Big(\frac{Q K^\top}{\sqrt{d}}\Big) V.$$
#
# **Multi-head** attention splits the $E$ features into $H$ heads of $d = E/H$,
# attends in each separately, concatenates, and projects with $W_o$ (Vaswani's $W^O$,
# sec. 3.2.2: $\mathrm{MultiHead} = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_H) W^O$):
# each head can look for something different.

# %%
import matplotlib.pyplot as plt
import numpy as np

import numpygam.functional as F
from numpygam import gradcheck_module, nn
from numpygam.course.translation import printed  # the Chinese edition prints in Chinese

rng = np.random.default_rng(0)

# %% [markdown]
# ## Self-attention from the pieces of lesson 3
#
# The same `attention_forward`, with `q = k = values = X` and the scaled dot
# score. A **causal** mask (query $i$ may see keys $j \le i$) makes it usable
# for generation.

# %%
T, E = 6, 8
X = rng.standard_normal((1, T, E))
causal = np.tril(np.ones((T, T), bool))[None]
(c, a), _ = F.attention_forward(X, X, X, "dot", causal, scale=1 / np.sqrt(E))
print(a[0].round(2))

# %% [markdown]
# ## Multi-head attention
#
# `nn.MultiheadAttention` has PyTorch's parameters (`in_proj_weight` $= [W_q; W_k; W_v]$,
# `out_proj`) and mask conventions, so `torch.nn.MultiheadAttention(batch_first=True)`
# weights load unchanged.

# %%
E, H, T = 16, 4, 10
mha = nn.MultiheadAttention(E, H).to(np.float64)
X = np.sin(np.arange(T)[:, None] * np.linspace(0.2, 2, E))[None] + 0.1 * rng.standard_normal((1, T, E))
out, weights = mha(X, X, X, average_attn_weights=False)
print("out", out.shape, printed(" weights per head"), weights.shape)
fig, axes = plt.subplots(1, H, figsize=(12, 3))
for h, ax in enumerate(axes):
    ax.imshow(weights[0, h], cmap="viridis", vmin=0)
    ax.set_title(f"head {h}")
    ax.set_xlabel("key")
axes[0].set_ylabel("query")
plt.show()

# %% [markdown]
# ## Against PyTorch (if installed), and the gradient check

# %%
try:
    import torch
except ImportError:
    torch = None
if torch is not None:
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(E, H, batch_first=True).double()
    mha.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    out, w = mha(X, X, X)
    out_t, w_t = ref(*(torch.tensor(X),) * 3)
    print(printed("largest difference from PyTorch:"), np.abs(out - out_t.detach().numpy()).max())

report = gradcheck_module(nn.MultiheadAttention(4, 2), [rng.standard_normal((2, 3, 4))] * 3)
print(report)
assert report.passed

# %% [markdown]
# ## Two floors: the textbook and the fast path
#
# Every op above is written twice. `numpygam.functional` is the textbook: the formulas
# of this lesson, line for line, and what the homework's answer keys show.
# `numpygam.fast` computes the same ops faster (for multi-head attention: the batch
# split into shares, one per core) and is tested equal to its textbook twin. A module
# runs on the fast floor by default; `set_fast(False)` switches it, and every module
# inside it, to the textbook, so that you can step into the formulas.

# %%
batch = rng.standard_normal((8, 32, E))
fast_out, _ = mha(batch, batch, batch)
mha.set_fast(False)   # the textbook: numpygam.functional.multi_head_attention_forward
textbook_out, _ = mha(batch, batch, batch)
mha.set_fast(True)
print(printed("fast floor == textbook floor:"), np.allclose(fast_out, textbook_out, rtol=1e-12, atol=1e-12))
