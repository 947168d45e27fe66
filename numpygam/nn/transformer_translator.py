"""A Transformer translator with the same interface as nn.Seq2Seq, for the date task.

    x = src_embedding(src) sqrt(d_model) + PE            (B, S, d_model)
    y = tgt_embedding(tgt_in) sqrt(d_model) + PE         (B, T, d_model)
    h = Transformer(x, y, causal mask on y, padding mask on the source)
    logits = out(h)                                      (B, T, V)

From Vaswani et al. 2017: embeddings scaled by sqrt(d_model) (sec. 3.4), sinusoidal
positions (sec. 3.5).  This project's choices, departing from the paper:
  - the embeddings start N(0, 1/d_model), so that scaled by sqrt(d_model) each entry
    has unit variance; the positional table's entries have RMS sqrt(1/2) ~ 0.71, of
    the same order (an N(0, 1) start would drown the positions);
  - the source and target embeddings and the output layer have their own weights
    (the paper shares them, sec. 3.4);
  - no dropout on the sums of embeddings and positions (the paper has it, sec. 5.4);
  - nn.Transformer ends each stack with a LayerNorm, as PyTorch's does.
Training is teacher-forced in one call (the causal mask lets position t see only
tgt_in[:t + 1]); decoding runs the decoder again on the growing prefix at each
step, which at a dozen output characters costs little.
forward(src (B, S), src_lengths (B,), tgt_in (B, T), rng=None) -> logits (B, T, V);
after it, self.weights (B, T, S) is the last decoder layer's cross-attention averaged
over the heads, and self.head_weights (B, nhead, T, S) the same per head.
greedy(...) and beam_search(...) as nn.Seq2Seq's (both from nn/decoding.py).
"""
import math

import numpy as np

from .. import functional as F
from ..tasks.vocab import PAD
from .decoding import beam_search, greedy_search, repeat_rows
from .dropout import Dropout
from .embedding import Embedding
from .linear import Linear
from .module import Module, evaluating
from .transformer import PositionalEncoding, Transformer


class TransformerTranslator(Module):
    """Embeddings + positions, nn.Transformer (batch first), a Linear to the vocabulary."""

    def __init__(self, src_vocab_size, tgt_vocab_size, d_model=64, nhead=4, num_layers=2,
                 dim_feedforward=256, dropout=0.1, max_len=64, dtype=np.float32, rng=None):
        self.src_embedding = Embedding(src_vocab_size, d_model, padding_idx=PAD, dtype=dtype,
                                       rng=rng)
        self.tgt_embedding = Embedding(tgt_vocab_size, d_model, padding_idx=PAD, dtype=dtype,
                                       rng=rng)
        # one PositionalEncoding each: a module's calls are undone in reverse order, and
        # the source's and the target's are separate paths of the graph
        self.src_positions = PositionalEncoding(d_model, max_len, dtype=dtype)
        self.tgt_positions = PositionalEncoding(d_model, max_len, dtype=dtype)
        self.transformer = Transformer(d_model=d_model, nhead=nhead, num_encoder_layers=num_layers,
                                       num_decoder_layers=num_layers,
                                       dim_feedforward=dim_feedforward, dropout=dropout,
                                       batch_first=True, dtype=dtype, rng=rng)
        self.out = Linear(d_model, tgt_vocab_size, dtype=dtype, rng=rng)
        self.scale = math.sqrt(d_model)
        for embedding in (self.src_embedding, self.tgt_embedding):  # N(0, 1/d_model): above
            embedding.weight.data *= embedding.weight.data.dtype.type(1 / self.scale)

    def _embed(self, embedding, positions, ids):
        return positions(embedding(ids) * embedding.weight.data.dtype.type(self.scale))

    def _embed_backward(self, embedding, positions, d):
        embedding.backward(positions.backward(d) * d.dtype.type(self.scale))

    @staticmethod
    def _padding(src, src_lengths):
        return np.arange(src.shape[1])[None] >= np.asarray(src_lengths)[:, None]

    def forward(self, src, src_lengths, tgt_in, rng=None):
        if rng is not None:  # the trainer's per-step generator: fresh, reproducible masks
            Dropout.reseed(self, rng)
        padding = self._padding(src, src_lengths)
        h = self.transformer(self._embed(self.src_embedding, self.src_positions, src),
                             self._embed(self.tgt_embedding, self.tgt_positions, tgt_in),
                             tgt_is_causal=True, src_key_padding_mask=padding,
                             memory_key_padding_mask=padding)
        self.head_weights = self.transformer.decoder.layers[-1].cross_weights
        self.weights = self.head_weights.mean(axis=1)
        return self.out(h)

    def backward(self, dlogits):
        dsrc, dtgt = self.transformer.backward(self.out.backward(dlogits))
        self._embed_backward(self.tgt_embedding, self.tgt_positions, dtgt)
        self._embed_backward(self.src_embedding, self.src_positions, dsrc)

    # -- inference ------------------------------------------------------------------
    def _encode(self, src, src_lengths):
        padding = self._padding(src, src_lengths)
        memory = self.transformer.encoder(self._embed(self.src_embedding, self.src_positions, src),
                                          src_key_padding_mask=padding)
        return memory, padding

    def _step_function(self, memory, padding):
        """The decoder as nn.decoding wants it.  The state is the prefix of tokens before
        y_prev, (N, t); the decoder reads the whole prefix again at every step.
        -> log-probabilities (N, V), the prefix with y_prev, and the last layer's
        cross-attention of the new position per head, (N, nhead, S)."""
        def step(y_prev, prefix, t):
            prefix = np.concatenate([prefix, y_prev[:, None]], 1)
            h = self.transformer.decoder(self._embed(self.tgt_embedding, self.tgt_positions,
                                                     prefix), memory,
                                         tgt_is_causal=True, memory_key_padding_mask=padding)
            logp, _ = F.log_softmax_forward(self.out(h[:, -1]).astype(np.float64))
            return logp, prefix, self.transformer.decoder.layers[-1].cross_weights[:, :, -1]
        return step

    def greedy(self, src, src_lengths, max_len):
        """Most likely token at each step.  -> tokens (B, max_len), weights (B, max_len, S);
        self.last_head_weights (B, nhead, max_len, S).  Eval mode; the mode is restored."""
        with evaluating(self):
            memory, padding = self._encode(src, src_lengths)
            B = src.shape[0]
            tokens, heads = greedy_search(self._step_function(memory, padding),
                                          np.zeros((B, 0), int), B, max_len)
        self.last_head_weights = heads.transpose(0, 2, 1, 3)  # (B, nhead, max_len, S)
        return tokens, self.last_head_weights.mean(axis=1)

    def beam_search(self, src, src_length, beam_size=5, max_len=20):
        """Best sequence for one source (src (S,) ids), length-normalised log-probability.
        -> (tokens list ending with EOS, weights (T, S)); self.last_head_weights
        (nhead, T, S) for that sequence."""
        with evaluating(self):
            memory, padding = self._encode(src[None], np.array([src_length]))
            step = self._step_function(repeat_rows(memory, beam_size),
                                       repeat_rows(padding, beam_size))
            tokens, heads, _ = beam_search(step, np.zeros((beam_size, 0), int), beam_size,
                                           max_len)
        self.last_head_weights = heads.transpose(1, 0, 2)[:, :, :src_length]
        return tokens, self.last_head_weights.mean(axis=0)
