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
# # Lesson 4: Backpropagating through attention
#
# Each op in numpygam is a pair: `out, cache = op_forward(...)` and
# `grads = op_backward(dout, cache)`. A backward pass receives $\bar{y} =
# \partial L / \partial y$ for the output and returns $\partial L / \partial x$
# for each input. We derive the three of attention, then check them.
#
# ## Softmax
#
# For one row, $a_j = e^{x_j} / \sum_k e^{x_k}$ has Jacobian
# $\partial a_j / \partial x_m = a_j(\delta_{jm} - a_m)$, i.e. $J = \mathrm{diag}(a) - a a^\top$.
# So
#
# $$\bar{x} = J^\top \bar{a} = a \odot \bar{a} - a\,(a^\top \bar{a}) = a \odot \big(\bar{a} - \langle a, \bar{a}\rangle\big).$$
#
# No $T_k \times T_k$ matrix is ever built: one dot product per row.
#
# ## Context
#
# $c = a V$ with $a$ $(T_q \times T_k)$ and $V$ $(T_k \times D_v)$ is a matrix
# product, so $\bar{a} = \bar{c} V^\top$ and $\bar{V} = a^\top \bar{c}$.
#
# ## The general score
#
# $e = q W k^\top$: with $u = qW$, $\bar{u} = \bar{e}\,k$, so $\bar{q} = \bar{e}\,k W^\top$,
# $\bar{k} = \bar{e}^\top q W$, $\bar{W} = q^\top \bar{e}\, k$ (summed over the batch).

# %%
import numpy as np

import numpygam.functional as F
from numpygam import gradcheck
from numpygam.course.translation import printed  # the Chinese edition prints in Chinese

rng = np.random.default_rng(0)

# %% [markdown]
# ## The softmax backward, written out, against the library

# %%
def softmax_backward_by_hand(da, a):
    return a * (da - np.sum(a * da, axis=-1, keepdims=True))


x, da = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
a, cache = F.softmax_forward(x)
J = np.stack([np.diag(row) - np.outer(row, row) for row in a])   # the full Jacobians
print(printed("via the Jacobian", "<17") + ":", np.einsum("bjm,bj->bm", J, da)[0].round(6))
print(printed("by hand", "<17") + ":", softmax_backward_by_hand(da, a)[0].round(6))
print(printed("numpygam", "<17") + ":", F.softmax_backward(da, cache)[0].round(6))

# %% [markdown]
# ## Finite differences
#
# `gradcheck` perturbs every input element by $\pm h, \pm 2h$ and compares the
# five-point central difference of $L = \sum y \odot \bar{y}$ with the backward.
# It reports the worst element and says in words whether it is float64 rounding
# or a real bug.

# %%
q, k, v = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 2))
W = rng.standard_normal((4, 4))
print(gradcheck(F.general_score_forward, F.general_score_backward, {"q": q, "k": k, "W": W}))
print(gradcheck(F.context_forward, F.context_backward, {"weights": F.softmax_forward(rng.standard_normal((2, 3, 5)))[0],
                                                         "values": v}))

# %% [markdown]
# ## What a bug looks like
#
# Forget the $\langle a, \bar{a}\rangle$ term (a classic mistake) and the check
# points at the input and the element:

# %%
report = gradcheck(F.softmax_forward, lambda da, c: c.weights * da, {"scores": x})
print(report)
assert not report.passed

# %% [markdown]
# ## Against PyTorch
#
# The tests compare every op with PyTorch's autograd in float64. The same here,
# if PyTorch is installed (it is only the tests' oracle, never needed by numpygam).

# %%
try:
    import torch
except ImportError:
    torch = None
    print(printed("PyTorch is not installed; skipping the comparison"))
if torch is not None:
    (c, a), cache = F.attention_forward(q, k, v, "general", W=W)
    dc = rng.standard_normal(c.shape)
    dq, dk, dv, dW = F.attention_backward((dc, None), cache)
    qt, kt, vt, Wt = (torch.tensor(t, requires_grad=True) for t in (q, k, v, W))
    ct = torch.softmax(qt @ Wt @ kt.transpose(1, 2), -1) @ vt
    ct.backward(torch.tensor(dc))
    for name, ours, theirs in (("dq", dq, qt), ("dk", dk, kt), ("dv", dv, vt), ("dW", dW, Wt)):
        err = np.abs(ours - theirs.grad.numpy()).max()
        print(printed(f"{name}: largest difference from PyTorch {err:.1e}"))

# %% [markdown]
# ## Your turn
#
# `python -m numpygam homework my_homework` writes the exercises (softmax, the
# scores, the context vector, the channel gate, conv2d, batch norm, a GRU step),
# one short file each: a walkthrough of the derivation, the function to write, and a
# check cell (each file opens as a notebook too). `python -m numpygam grade softmax
# --dir my_homework` checks yours and says which gradient is wrong, where, and what
# the reference and finite differences give there.
