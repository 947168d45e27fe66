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
# # Lesson 5: The encoder-decoder with attention, on dates
#
# The task: human-written dates to ISO, e.g. `"tuesday, march 5, 1991"` $\to$
# `"1991-03-05"`, generated offline from a seed.
#
# * Encoder: a bidirectional GRU; its states $h_j = [\overrightarrow{h}_j; \overleftarrow{h}_j]$ are the keys and values.
# * **Bahdanau** decoder: the previous state asks,
#   $c_i = \sum_j a_{ij} h_j$ with $e_{ij} = v_a^\top \tanh(W_a s_{i-1} + U_a h_j)$,
#   then $s_i = \mathrm{GRU}([y_{i-1}; c_i], s_{i-1})$.
# * **Luong** decoder: the current state asks, $h_t = \mathrm{GRU}([y_{t-1}; \tilde{h}_{t-1}], h_{t-1})$,
#   $c_t$ from $\mathrm{score}(h_t, h_j)$, then $\tilde{h}_t = \tanh(W_c [c_t; h_t])$ predicts.
# * **Local-p** (Luong): predict a position $p_t = S\,\mathrm{sigmoid}(v_p^\top \tanh(W_p h_t))$ and
#   attend to $[p_t - D, p_t + D]$, the weights multiplied by $\exp(-(s - p_t)^2 / 2\sigma^2)$ with $\sigma = D/2$ (Luong eqs. 9, 10).
#
# **Simplified on purpose.** Both decoders read one small encoder, a single-layer
# bidirectional GRU. That is close to Bahdanau et al.'s (a bidirectional RNN, their
# sec. 3.2), not to Luong et al.'s, which is a stack of 4 one-directional LSTMs (their
# sec. 4.1); and Luong's decoder here is a GRU, not an LSTM. The decoder's first state
# is $s_0 = \tanh(W_b [\overrightarrow{h}_S; \overleftarrow{h}_1])$, where Bahdanau's is
# $\tanh(W_s \overleftarrow{h}_1)$ (app. A.2.2), and Bahdanau's output layer here is one
# linear map of $[s_i; c_i]$ instead of the paper's deep output with a maxout layer over
# $s_{i-1}$, $E y_{i-1}$ and $c_i$ (app. A.2.2). The attention itself is the papers'.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from numpygam import gradcheck_module, nn
from numpygam.course.translation import printed  # the Chinese edition prints in Chinese
from numpygam.tasks import make_batch
from numpygam.train import TrainConfig, Trainer

# %% [markdown]
# ## Train two translators
#
# Bahdanau with the additive score (global), and Luong with the general score
# and a local-p window. 300 steps of 64 dates each, Adam, clipping, warm-up.

# %%
variants = {
    "Bahdanau, additive, global": dict(attention="bahdanau", score="additive", window="global"),
    "Luong, general, local-p": dict(attention="luong", score="general", window="local-p", D=4),
}
trainers = {}
for name, kwargs in variants.items():
    trainer = Trainer(TrainConfig(steps=300, train_size=20000, heldout_limit=300, **kwargs))
    start = time.time()
    for _ in range(trainer.config.steps):
        loss = trainer.train_step()
    trainers[name] = trainer
    print(printed(f"{name}: loss {loss:.4f}, held-out exact match {trainer.evaluate():.1%}, "
                  f"{time.time() - start:.0f}s"))

# %% [markdown]
# ## Alignments
#
# Each row is an output character; each column an input character. Global
# attention may look anywhere; local-p looks only inside its Gaussian window
# around the predicted $p_t$.

# %%
example = "saturday, 7 march 1987"
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, (name, trainer) in zip(axes, trainers.items()):
    out, weights = trainer.translate(example)
    ax.imshow(weights, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(example)), [c if c != " " else "␣" for c in example])
    ax.set_yticks(range(len(weights)), list(out) + ["<eos>"])
    ax.set_title(f"{name}\n-> {out}")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Greedy and beam search
#
# Greedy decoding takes the most likely character at each step; beam search
# keeps the 5 best partial outputs (by length-normalised log-probability).

# %%
trainer = trainers["Bahdanau, additive, global"]
for text in ["5/3/79", "the 1 of january 2000", "dec 31, 1999"]:
    print(f"{text!r:>26} -> {printed('greedy')} {trainer.translate(text)[0]}, "
          f"{printed('beam')} {trainer.translate(text, 5)[0]}")

# %% [markdown]
# ## Backpropagation through time: one cache per call
#
# The decoder calls the same modules (its GRU cell, the attention, the output
# layer) once per step. Each module keeps a stack of caches, one per forward
# call in training mode; `backward` pops the latest one. So the decoder's
# backward is just each module's `backward`, step by step from the last step to
# the first: last in, first out, which is exactly the order of backpropagation
# through time. No code outside a module touches its caches, and in eval mode
# (greedy and beam search) a module keeps only its latest call, so inference
# never grows memory. A GRU cell unrolled over three steps:

# %%
cell = nn.GRUCell(2, 3).to(np.float64)
xs = np.random.default_rng(0).standard_normal((3, 1, 2))
h = np.zeros((1, 3))
for x_t in xs:                      # forward: three calls, three caches pushed
    h = cell(x_t, h)
dh = np.ones((1, 3))                # dL/dh_3
for t in reversed(range(3)):        # backward: three calls, last step first
    dx_t, dh = cell.backward(dh)
    print(printed(f"step {t}:"), f"dL/dx_{t} = {dx_t.round(4)}")
try:
    cell.backward(dh)               # a fourth backward has no forward left to undo
except RuntimeError as err:
    print("RuntimeError:", err)

# %% [markdown]
# ## Gradient check of both decoders
#
# The loss of a tiny model against every parameter, in float64.

# %%
vocab_src, vocab_tgt = trainer.src_vocab, trainer.tgt_vocab
batch = make_batch([("5/3/79", "1979-05-03"), ("1 may 2001", "2001-05-01")], vocab_src, vocab_tgt)
for attention in ("bahdanau", "luong"):
    nn.manual_seed(0)
    tiny = nn.Seq2Seq(len(vocab_src), len(vocab_tgt), 3, 2, 4, attention, "general",
                      "local-p" if attention == "luong" else "global", D=30, attn_dim=3)
    report = gradcheck_module(nn.SequenceLoss(tiny),
                              [batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out], h=1e-5)
    verdict = "PASSED" if report.passed else "FAILED"
    print(printed(f"{attention}: {verdict}, worst relative error {report.max_rel_error:.1e} "
                  f"over {len(report.inputs)} parameter tensors"))
    assert report.passed
