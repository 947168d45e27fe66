"""Sinusoidal positional encodings (Vaswani et al. 2017, sec. 3.5).

    PE[pos, 2i]     = sin(pos / 10000^(2i / d_model))
    PE[pos, 2i + 1] = cos(pos / 10000^(2i / d_model))

Attention itself is blind to order (permuting the key-value pairs together
leaves every output unchanged); adding PE to the token embeddings tells each position where it
is.  Each pair of columns is a sine and cosine of one frequency, so PE[pos + k]
is a fixed rotation of PE[pos]: relative offsets are linear functions of it.
A constant: no parameters, no backward (the gradient passes through the sum).
"""
import numpy as np


def sinusoidal_positions(length, d_model, dtype=np.float32):
    """The (length, d_model) table PE above; an odd d_model drops the last cosine."""
    if length < 0 or d_model < 1:
        raise ValueError(f"sinusoidal_positions: need length >= 0 and d_model >= 1, got "
                         f"{length} and {d_model}")
    pos = np.arange(length)[:, None]
    freq = 10000.0 ** (-np.arange(0, d_model, 2) / d_model)   # 1 / 10000^(2i / d_model)
    pe = np.zeros((length, d_model))
    pe[:, 0::2] = np.sin(pos * freq)
    pe[:, 1::2] = np.cos(pos * freq[:d_model // 2])
    return pe.astype(dtype)


def causal_mask(length):
    """bool (length, length), the lower triangle: mask[i, j] = (j <= i), position i may
    attend to itself and the positions before it (Vaswani et al. sec. 3.2.3).

    True = may attend, as every boolean mask in numpygam.functional (and PyTorch's
    scaled_dot_product_attention).  The nn modules that mirror torch.nn take PyTorch's
    module convention, True = may NOT attend: pass them ~causal_mask(T), or is_causal=True.
    """
    return np.tril(np.ones((length, length), dtype=bool))
