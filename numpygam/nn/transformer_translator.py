"""A Transformer translator with the same interface as nn.Seq2Seq, for the date task.

    x = src_embedding(src) sqrt(d_model) + PE            (B, S, d_model)
    y = tgt_embedding(tgt_in) sqrt(d_model) + PE         (B, T, d_model)
    h = Transformer(x, y, causal mask on y, padding mask on the source)
    logits = out(h)                                      (B, T, V)

(Vaswani et al. 2017, secs. 3.4 and 3.5: embeddings scaled by sqrt(d_model), sinusoidal
positions; the embeddings start N(0, 1/d_model), so both terms have unit size.)
Training is teacher-forced in one call (the causal mask lets position t see only
tgt_in[:t + 1]); decoding runs the decoder again on the growing prefix at each
step, which at a dozen output characters costs little.
forward(src (B, S), src_lengths (B,), tgt_in (B, T), rng=None) -> logits (B, T, V);
after it, self.weights (B, T, S) is the last decoder layer's cross-attention averaged
over the heads, and self.head_weights (B, nhead, T, S) the same per head.
greedy(...) and beam_search(...) as nn.Seq2Seq's.
"""
import math

import numpy as np

from .. import functional as F
from ..data.vocab import EOS, PAD, SOS
from .dropout import Dropout
from .embedding import Embedding
from .linear import Linear
from .module import Module
from .transformer import PositionalEncoding, Transformer


class TransformerTranslator(Module):
    """Embeddings + positions, nn.Transformer (batch first), a Linear to the vocabulary."""

    def __init__(self, src_vocab_size, tgt_vocab_size, d_model=64, nhead=4, num_layers=2,
                 dim_feedforward=256, dropout=0.1, max_len=64, dtype=np.float32, rng=None):
        self.src_embedding = Embedding(src_vocab_size, d_model, padding_idx=PAD, dtype=dtype,
                                       rng=rng)
        self.tgt_embedding = Embedding(tgt_vocab_size, d_model, padding_idx=PAD, dtype=dtype,
                                       rng=rng)
        self.positions = PositionalEncoding(d_model, max_len, dtype=dtype)
        self.transformer = Transformer(d_model, nhead, num_layers, num_layers, dim_feedforward,
                                       dropout, batch_first=True, dtype=dtype, rng=rng)
        self.out = Linear(d_model, tgt_vocab_size, dtype=dtype, rng=rng)
        self.scale = math.sqrt(d_model)
        # embeddings start N(0, 1/d_model), so that scaled by sqrt(d_model) they have the
        # unit size of the positions they are added to (N(0, 1) would drown the positions)
        for embedding in (self.src_embedding, self.tgt_embedding):
            embedding.weight.data *= embedding.weight.data.dtype.type(1 / self.scale)

    def _embed(self, embedding, ids):
        return self.positions(embedding(ids) * embedding.weight.data.dtype.type(self.scale))

    def _embed_backward(self, embedding, d):
        embedding.backward(self.positions.backward(d) * d.dtype.type(self.scale))

    @staticmethod
    def _padding(src, src_lengths):
        return np.arange(src.shape[1])[None] >= np.asarray(src_lengths)[:, None]

    def _reseed(self, rng):
        """Fresh dropout masks from rng (the trainer's per-step generator)."""
        for m in self.modules():
            if isinstance(m, Dropout):
                m.rng = np.random.default_rng(rng.integers(2**63))

    def forward(self, src, src_lengths, tgt_in, rng=None):
        if rng is not None:
            self._reseed(rng)
        padding = self._padding(src, src_lengths)
        h = self.transformer(self._embed(self.src_embedding, src),
                             self._embed(self.tgt_embedding, tgt_in),
                             tgt_mask=F.causal_mask(tgt_in.shape[1]),
                             src_key_padding_mask=padding, memory_key_padding_mask=padding)
        self.head_weights = self.transformer.decoder.layers[-1].cross_weights
        self.weights = self.head_weights.mean(axis=1)
        return self.out(h)

    def backward(self, dlogits):
        dsrc, dtgt = self.transformer.backward(self.out.backward(dlogits))
        self._embed_backward(self.tgt_embedding, dtgt)  # the reverse of forward's order
        self._embed_backward(self.src_embedding, dsrc)

    # -- inference ------------------------------------------------------------------
    def _encode(self, src, src_lengths):
        padding = self._padding(src, src_lengths)
        memory = self.transformer.encoder(self._embed(self.src_embedding, src),
                                          src_key_padding_mask=padding)
        return memory, padding

    def _next(self, prefix, memory, padding):
        """Log-probabilities of the next token after each prefix (B, t) and the last
        layer's cross-attention of its last position per head, (B, nhead, S)."""
        h = self.transformer.decoder(self._embed(self.tgt_embedding, prefix), memory,
                                     tgt_mask=F.causal_mask(prefix.shape[1]),
                                     memory_key_padding_mask=padding)
        logp, _ = F.log_softmax_forward(self.out(h[:, -1]).astype(np.float64))
        return logp, self.transformer.decoder.layers[-1].cross_weights[:, :, -1]

    def greedy(self, src, src_lengths, max_len):
        """Most likely token at each step.  -> tokens (B, max_len), weights (B, max_len, S);
        self.last_head_weights (B, nhead, max_len, S).  Eval mode; the mode is restored."""
        was_training = self.training
        self.eval()
        memory, padding = self._encode(src, src_lengths)
        prefix = np.full((src.shape[0], 1), SOS)
        heads = []
        for _ in range(max_len):
            logp, a = self._next(prefix, memory, padding)
            prefix = np.concatenate([prefix, logp.argmax(-1)[:, None]], 1)
            heads.append(a)
        self.train(was_training)
        self.last_head_weights = np.stack(heads, 2)
        return prefix[:, 1:], self.last_head_weights.mean(axis=1)

    def beam_search(self, src, src_length, beam_size=5, max_len=20):
        """Best sequence for one source (src (S,) ids), length-normalised log-probability.
        -> (tokens list ending with EOS, weights (T, S)); self.last_head_weights
        (nhead, T, S) for that sequence."""
        was_training = self.training
        self.eval()
        memory, padding = self._encode(src[None], np.array([src_length]))
        memory, padding = np.repeat(memory, beam_size, 0), np.repeat(padding, beam_size, 0)
        prefix = np.full((beam_size, 1), SOS)
        scores = np.full(beam_size, -np.inf)
        scores[0] = 0.0
        heads = np.zeros((beam_size, self.transformer.nhead, 0, memory.shape[1]))
        finished = []
        for t in range(max_len):
            logp, a = self._next(prefix, memory, padding)
            total = (scores[:, None] + logp).ravel()
            best = np.argsort(-total)[:beam_size]
            beam, y = best // logp.shape[1], best % logp.shape[1]
            prefix = np.concatenate([prefix[beam], y[:, None]], 1)
            heads = np.concatenate([heads[beam], a[beam][:, :, None]], 2)
            scores = total[best]
            for k in np.flatnonzero(y == EOS):
                finished.append((scores[k] / (t + 1), prefix[k, 1:].tolist(), heads[k]))
                scores[k] = -np.inf
            if len(finished) >= beam_size or np.all(np.isinf(scores)):
                break
        self.train(was_training)
        if not finished:
            k = int(np.argmax(scores))
            finished.append((scores[k], prefix[k, 1:].tolist(), heads[k]))
        _, tokens, head_weights = max(finished, key=lambda f: f[0])
        self.last_head_weights = head_weights[:, :, :src_length]
        return tokens, self.last_head_weights.mean(axis=0)
