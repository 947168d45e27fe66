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
# # Lesson 1: Why attention? The fixed-length bottleneck
#
# An encoder-decoder without attention reads the source $x_1, \dots, x_S$ into
# hidden states $h_1, \dots, h_S$ and hands the decoder **one** vector, a summary
# $c$. In Cho et al. (2014)'s RNN Encoder-Decoder the encoder reads the source one
# way and $c = \tanh(V h_S)$ summarises its last state (Cho et al. 2014, appendix A.1;
# Bahdanau et al. 2014, appendix A.2.2, say their model "becomes RNN Encoder-Decoder"
# if $c_i$ is fixed to $\overrightarrow{h}_{T_x}$). Here the encoder is bidirectional, so the baseline's
# summary is $c = [\overrightarrow{h}_S; \overleftarrow{h}_1]$: our choice, a
# stronger baseline than Cho et al.'s, with the same bottleneck. Every output step
# reads the same $c$:
#
# $$s_i = \mathrm{GRU}([y_{i-1}; c],\ s_{i-1}).$$
#
# However long the sentence, $c$ has the same size. Bahdanau et al. (2014)
# let each step build its **own** context from all the encoder states,
#
# $$c_i = \sum_{j=1}^{S} a_{ij} h_j, \qquad a_{ij} = \mathrm{softmax}_j(e_{ij}),$$
#
# so nothing has to be squeezed through one vector. This lesson measures the
# difference on a toy task: **reverse a string of digits**. Reversing needs every
# digit, in order, so a summary vector must hold the whole string.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from numpygam import gradcheck_module, nn
from numpygam.course.translation import printed  # the Chinese edition prints in Chinese
from numpygam.tasks import make_batch
from numpygam.train import TrainConfig, Trainer

# %% [markdown]
# ## The two models
#
# `nn.Seq2Seq(context="fixed")` is the bottleneck model: its decoder attends to a
# single key, the summary $c$, so its weight is always 1 and $c_i = c$ at every step.
# `context="attention"` is Bahdanau's model. Everything else is identical.

# %%
def make_trainer(context, steps=500):
    config = TrainConfig(task="reverse", steps=steps, batch_size=32, lr=5e-3, warmup=30,
                         emb_dim=16, enc_hidden=32, dec_hidden=64, attn_dim=32,
                         train_size=6000, min_len=4, max_len=16, context=context,
                         eval_every=10_000)
    return Trainer(config)


trainers = {context: make_trainer(context) for context in ("fixed", "attention")}
for context, trainer in trainers.items():
    start = time.time()
    losses = [trainer.train_step() for _ in range(trainer.config.steps)]
    print(printed(context, ">9") + ":", printed(f"loss {np.mean(losses[:20]):.3f} -> "
                                                f"{np.mean(losses[-20:]):.3f} in {time.time() - start:.0f}s"))

# %% [markdown]
# ## Accuracy by length
#
# Exact match: the whole reversed string must be right. We group the held-out
# strings by length.

# %%
def accuracy_by_length(trainer):
    result = {}
    for length in range(4, 17, 2):
        pairs = [p for p in trainer.heldout if len(p[0]) in (length, length + 1)]
        result[length] = trainer.evaluate(pairs)
    return result


curves = {context: accuracy_by_length(t) for context, t in trainers.items()}
for context, curve in curves.items():
    print(printed(context), {k: f"{v:.0%}" for k, v in curve.items()})

# %%
fig, ax = plt.subplots(figsize=(6, 3.5))
for context, curve in curves.items():
    label = "attention (Bahdanau)" if context == "attention" else "fixed-length vector"
    ax.plot(list(curve), list(curve.values()), marker="o", label=label)
ax.set_xlabel("length of the digit string")
ax.set_ylabel("held-out exact match")
ax.set_title("Reversing digits after 500 training steps")
ax.set_ylim(-0.05, 1.05)
ax.legend()
plt.show()

# %% [markdown]
# The bottleneck model does well on short strings and falls off as they grow;
# with attention the decoder looks up the digit it needs at each step, and
# length hardly matters. That is the observation that motivated the blog's
# section 1 (and Bahdanau et al.'s Figure 2, on real sentences).
#
# ## Where does each output look?
#
# The attention weights $a_{ij}$ of the attention model: output step $i$
# (rows) against input position $j$ (columns). For reversal they should form
# the anti-diagonal.

# %%
src, target = "3141592653", "3562951413"
out, weights = trainers["attention"].translate(src)
print(printed(f"{src} -> {out} (target {target})"))
fig, ax = plt.subplots(figsize=(4.5, 4))
ax.imshow(weights, cmap="viridis")
ax.set_xticks(range(len(src)), list(src))
ax.set_yticks(range(len(weights)), list(out) + ["<eos>"])
ax.set_xlabel("input digit $j$")
ax.set_ylabel("output digit $i$")
ax.set_title("attention weights $a_{ij}$")
plt.show()

# %% [markdown]
# ## Gradient check
#
# Every backward pass in numpygam is written by hand, so we check it. Here the
# whole bottleneck model's loss, against every parameter, on a tiny copy
# (float64, central differences): each row is one parameter tensor.

# %%
pairs = [("1234", "4321"), ("907", "709")]
vocab = trainers["fixed"].src_vocab
batch = make_batch(pairs, vocab, vocab)
tiny = nn.Seq2Seq(len(vocab), len(vocab), 3, 2, 4, context="fixed", attn_dim=3)
report = gradcheck_module(nn.SequenceLoss(tiny),
                          [batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out], h=1e-5)
print(report)
assert report.passed
