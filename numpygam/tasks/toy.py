"""Copy and reverse: tiny tasks that attention solves fast, for tests and lessons."""
import numpy as np

from .vocab import Vocab

DIGITS = "0123456789"


def copy_task(n, seed, reverse=False, min_len=3, max_len=8):
    """n (digits, same digits or reversed) pairs, and the (shared) vocabulary."""
    rng = np.random.default_rng(seed)
    pairs = []
    for length in rng.integers(min_len, max_len + 1, n):
        s = "".join(rng.choice(list(DIGITS), length))
        pairs.append((s, s[::-1] if reverse else s))
    vocab = Vocab(DIGITS)
    return pairs, vocab
