"""Character vocabularies and padded batches for the sequence tasks."""
from typing import NamedTuple

import numpy as np

PAD, SOS, EOS = 0, 1, 2
SPECIALS = ["<pad>", "<sos>", "<eos>"]


class Vocab:
    """Symbols <-> ids; ids 0, 1, 2 are <pad>, <sos>, <eos>.

    sep="": the symbols are characters ("1979-05-03"); sep=" ": they are words of a
    space-separated text (phones: "AH T EH N SH AH N")."""

    def __init__(self, chars, sep=""):
        self.sep = sep
        self.itos = SPECIALS + sorted(set(chars))
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    def symbols(self, text):
        """The symbols of text: its characters, or its sep-separated words."""
        return text.split(self.sep) if self.sep and text else list(text)

    def __len__(self):
        return len(self.itos)

    def encode(self, text):
        """Ids of the characters of text; an unknown character raises ValueError naming it."""
        symbols = self.symbols(text)
        unknown = sorted({c for c in symbols if c not in self.stoi})
        if unknown:
            raise ValueError(f"{'characters' if not self.sep else 'symbols'} {unknown!r} are "
                             f"not in the vocabulary; it has "
                             f"{self.sep.join(self.itos[len(SPECIALS):])!r}")
        return [self.stoi[c] for c in symbols]

    def decode(self, ids):
        """Text of ids, stopping at <eos> and skipping <pad>/<sos>."""
        out = []
        for i in ids:
            if i == EOS:
                break
            if i > EOS:
                out.append(self.itos[i])
        return self.sep.join(out)


class Batch(NamedTuple):
    src: np.ndarray          # (B, S) int, padded with PAD
    src_lengths: np.ndarray  # (B,)
    tgt_in: np.ndarray       # (B, T): <sos> y1 ... y_{T-1}
    tgt_out: np.ndarray      # (B, T): y1 ... y_T <eos>, padded with PAD


def make_batch(pairs, src_vocab, tgt_vocab):
    """Pad a list of (source text, target text) pairs into one Batch."""
    src = [src_vocab.encode(s) for s, _ in pairs]
    tgt = [tgt_vocab.encode(t) for _, t in pairs]
    B, S, T = len(pairs), max(map(len, src)), max(map(len, tgt)) + 1
    batch = Batch(np.full((B, S), PAD), np.array([len(s) for s in src]),
                  np.full((B, T), PAD), np.full((B, T), PAD))
    for b, (s, t) in enumerate(zip(src, tgt)):
        batch.src[b, :len(s)] = s
        batch.tgt_in[b, :len(t) + 1] = [SOS] + t
        batch.tgt_out[b, :len(t) + 1] = t + [EOS]
    return batch


def batches(pairs, batch_size, src_vocab, tgt_vocab, rng):
    """Shuffle pairs with rng and yield padded Batches, endlessly."""
    pairs = list(pairs)
    while True:
        order = rng.permutation(len(pairs))
        for start in range(0, len(pairs) - batch_size + 1, batch_size):
            yield make_batch([pairs[i] for i in order[start:start + batch_size]], src_vocab,
                             tgt_vocab)
