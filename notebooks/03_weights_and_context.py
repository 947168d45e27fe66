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
# # Lesson 3: From scores to weights to the context vector
#
# Scores become weights by a softmax over the keys, and the weights average the
# values (the encoder states) into the context:
#
# $$a_{ij} = \frac{\exp(e_{ij})}{\sum_{k} \exp(e_{ik})}, \qquad c_i = \sum_j a_{ij} h_j.$$
#
# The weights of each query are positive and sum to 1: $c_i$ is a weighted
# average of the $h_j$, and $a_{ij}$ says how much query $i$ looks at key $j$.

# %%
import matplotlib.pyplot as plt
import numpy as np

import numpygam.functional as F
from numpygam import gradcheck
from numpygam.course.translation import printed  # the Chinese edition prints in Chinese

# %% [markdown]
# ## By hand
#
# Scores $e = (0, \ln 2, \ln 3)$ give $\exp(e) = (1, 2, 3)$, so $a = (1/6, 2/6, 3/6)$.
# With values $h_1 = (6, 0)$, $h_2 = (0, 6)$, $h_3 = (6, 6)$:
# $c = \tfrac16 (6, 0) + \tfrac26 (0, 6) + \tfrac36 (6, 6) = (4, 5)$.

# %%
e = np.log(np.array([[[1.0, 2.0, 3.0]]]))
a, _ = F.softmax_forward(e)
h = np.array([[[6.0, 0.0], [0.0, 6.0], [6.0, 6.0]]])
c, _ = F.context_forward(a, h)
print("a =", a, "  c =", c)

# %% [markdown]
# ## Stability
#
# $\exp(1000)$ overflows. Softmax is unchanged by subtracting a constant from a
# row, so numpygam subtracts the row maximum first and never exponentiates
# anything above 0.

# %%
with np.errstate(all="raise"):
    print(F.softmax_forward(np.array([[1000.0, 1001.0, -1e4]]))[0])

# %% [markdown]
# ## Masking
#
# Batches pad short sources to the longest. Padding must get no weight: a mask
# (True = may attend) sets those $\exp$ terms to 0 before normalising. A query
# with nothing to attend to gets all-zero weights and a zero context, not NaN.

# %%
rng = np.random.default_rng(0)
B, Tq, Tk, D = 2, 4, 6, 3
lengths = np.array([6, 4])                           # the second source is 2 shorter
mask = (np.arange(Tk) < lengths[:, None])[:, None]   # (B, 1, Tk), broadcast over queries
q, k, values = (rng.standard_normal(s) for s in ((B, Tq, D), (B, Tk, D), (B, Tk, D)))
(c, a), cache = F.attention_forward(q, k, values, "dot", mask)
print(printed("weights of example 1, query 0:"), a[1, 0].round(3), printed(" sum:"), a[1, 0].sum())

fig, axes = plt.subplots(1, 2, figsize=(7, 2.8))
for b, ax in enumerate(axes):
    ax.imshow(a[b], cmap="viridis", vmin=0, vmax=1)
    ax.set_title(f"example {b}: {lengths[b]} real keys")
    ax.set_xlabel("key j")
axes[0].set_ylabel("query i")
plt.show()

# %%
empty = np.zeros((1, 1, Tk), bool)
(c0, a0), _ = F.attention_forward(q[:1, :1], k[:1], values[:1], "dot", empty)
print(printed("all keys masked -> weights"), a0, printed("context"), c0)

# %% [markdown]
# ## The whole pipeline, and its gradient
#
# `attention_forward` runs score, mask, softmax and context, and returns the
# context and the weights; `attention_backward` returns the gradients with
# respect to queries, keys, values and the score's parameters.

# %%
report = gradcheck(F.attention_forward, F.attention_backward,
                   {"q": q, "k": k, "values": values, "W": rng.standard_normal((D, D))},
                   {"score": "general", "mask": mask})
print(report)
assert report.passed
