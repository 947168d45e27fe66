"""An encoder-decoder with attention (Bahdanau et al. 2014; Luong et al. 2015).

    encoder:  h_j = [GRU_fwd(x)_j ; GRU_bwd(x)_j]          (B, S, 2 He), the keys and values
    bridge:   s_0 = tanh(W_b [h_fwd_last ; h_bwd_first])    (B, Hd)
    Bahdanau decoder, step i (the previous state asks):
        c_i = attention(s_{i-1}, h)                         (Bahdanau eqs. 5, 6; A.1.2)
        s_i = GRU([emb(y_{i-1}); c_i], s_{i-1})             (s_i = f(s_{i-1}, y_{i-1}, c_i))
        logits_i = W_o [s_i; c_i]
    Luong decoder, step t (the current state asks):
        h_t = GRU([emb(y_{t-1}); h~_{t-1}], h_{t-1})        (input feeding, Luong 3.3; h~_0 = 0)
        c_t = attention(h_t, h)                             (Luong eq. 7, sec. 3.1)
        h~_t = tanh(W_c [c_t; h_t])                         (Luong eq. 5)
        logits_t = W_s h~_t                                 (Luong eq. 6)

What is simplified, on purpose (the papers' models are larger machine
translation systems; these choices keep one small model for both decoders):
  - one encoder for both: a single-layer bidirectional GRU.  Bahdanau et al.
    use a bidirectional GRU-like RNN (section 3.2); Luong et al. use stacked
    one-directional LSTMs (4 layers, section 4.1).
  - the bridge reads both directions, s_0 = tanh(W_b [h_fwd_last; h_bwd_first]);
    Bahdanau's is s_0 = tanh(W_s h_bwd_1), the backward direction only (A.2.2).
  - Bahdanau's output layer here is one Linear over [s_i; c_i]; the paper's is a
    deep output with a maxout hidden layer over s_{i-1}, E y_{i-1} and c_i (A.2.2).
  - Luong's decoder here is a GRU, not an LSTM.
  - dropout (off by default) on the connections that are not recurrent, as
    Zaremba et al. 2014 place it: the encoder's and the decoder's embeddings
    and the output layer's input ([s_i; c_i], or h~_t).  Neither paper uses it
    for its model; a small dictionary task (g2p) overfits without it.

Training is teacher-forced (y_{i-1} is the true previous token; with
teacher_forcing < 1 it is sometimes the model's own guess).  Backpropagation
through time walks the decoder steps in reverse: each module called at every
step keeps one cache per call (nn/module.py), so calling its backward once per
step, last step first, undoes the calls in the right order.  Inference
(greedy, beam_search) runs in eval mode and keeps no caches.
"""
import numpy as np

from .. import functional as F
from ..tasks.vocab import PAD
from .attention import Attention, AttentionalHidden, LocalAttention
from .decoding import beam_search, greedy_search, repeat_rows
from .dropout import Dropout
from .embedding import Embedding
from .linear import Linear
from .module import Module, evaluating, positive_ints
from .recurrent import GRU, GRUCell

ATTENTIONS = ("bahdanau", "luong")       # whose decoder: when the query is read
WINDOWS = ("global", "local-m", "local-p")  # Luong's global and local attention
CONTEXTS = ("attention", "fixed")          # "fixed": one summary vector, no attention


def _drop(dropout, x):
    """dropout(x), or x where the model has no dropout (None)."""
    return x if dropout is None else dropout(x)


def _drop_backward(dropout, dx):
    return dx if dropout is None else dropout.backward(dx)


class Encoder(Module):
    """Embedding (+ dropout) + bidirectional GRU.  src (B, S) ids, lengths (B,) ->
    keys (B, S, 2 He), final (B, 2 He) = [last forward state; first backward state]."""

    def __init__(self, vocab_size, emb_dim, hidden, dtype, rng):
        self.embedding = Embedding(vocab_size, emb_dim, padding_idx=PAD, dtype=dtype, rng=rng)
        self.rnn = GRU(emb_dim, hidden, bidirectional=True, dtype=dtype, rng=rng)
        self.dropout = None  # Seq2Seq sets it

    def forward(self, src, lengths):
        keys, h_n = self.rnn(_drop(self.dropout, self.embedding(src)), None, lengths)
        return keys, np.concatenate([h_n[0], h_n[1]], axis=-1)

    def backward(self, dkeys, dfinal):
        H = dfinal.shape[-1] // 2
        dx = self.rnn.backward(dkeys, np.stack([dfinal[:, :H], dfinal[:, H:]]))
        self.embedding.backward(_drop_backward(self.dropout, dx))


class Memory:
    """What every decoder step reads: the encoder's states, which of them are real and,
    for a score with a key side (F.SCORES[score].key_side: additive, concat), their
    projection U_a h_j (computed once here, not once per step; nn.Attention.project_keys)."""

    def __init__(self, keys, lengths, num_keys=None, attention=None):
        if num_keys is not None:  # the location score has one weight row per source position
            if keys.shape[1] > num_keys:
                raise ValueError(f"the source has {keys.shape[1]} characters, more than the "
                                 f"max_src_len={num_keys} the location score was built for")
            keys = np.pad(keys, ((0, 0), (0, num_keys - keys.shape[1]), (0, 0)))
        self.keys, self.lengths, self.source_len = keys, np.asarray(lengths), keys.shape[1]
        # True = a real character the decoder may attend to: (B, 1, S)
        self.allowed = (np.arange(keys.shape[1]) < self.lengths[:, None])[:, None, :]
        self.projected = (attention.project_keys(keys) if isinstance(attention, Attention)
                          and F.SCORES[attention.score].key_side is not None else None)

    def repeat(self, k):
        """Each batch entry k times, for beam search."""
        m = Memory.__new__(Memory)
        m.keys, m.lengths = np.repeat(self.keys, k, axis=0), np.repeat(self.lengths, k)
        m.allowed, m.source_len = np.repeat(self.allowed, k, axis=0), self.source_len
        m.projected = None if self.projected is None else np.repeat(self.projected, k, axis=0)
        return m


def _make_attention(window, score, query_dim, key_dim, attn_dim, D, max_src_len, dtype, rng):
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {WINDOWS}, got {window!r}")
    if window == "global":
        return Attention(score, query_dim, key_dim, attn_dim, num_keys=max_src_len, dtype=dtype,
                         rng=rng)
    return LocalAttention(window[-1], D, score, query_dim, key_dim, attn_dim, dtype=dtype, rng=rng)


def _attend(attention, query, memory, t):
    """Context (B, Dk) and weights (B, S) for a query (B, Dq) at decoder step t."""
    if isinstance(attention, LocalAttention):
        c, a = attention(query[:, None], memory.keys, lengths=memory.lengths,
                         positions=np.array([t]))
    else:
        c, a = attention(query[:, None], memory.keys, allowed=memory.allowed,
                         projected_keys=memory.projected)
    return c[:, 0], a[:, 0]


class _Decoder(Module):
    """The teacher-forced loop and its backward, shared by both decoders; each
    decoder defines step() and step_backward().  dropout_in and dropout_out (None
    unless Seq2Seq sets them) act on the embedding and on the output layer's input."""
    dropout_in = dropout_out = None

    def forward(self, tgt_in, state, memory, teacher_forcing=1.0, rng=None):
        B, T = tgt_in.shape
        logits, weights = [], []
        y_prev = tgt_in[:, 0]
        for t in range(T):
            if t > 0:
                y_prev = tgt_in[:, t]
                if teacher_forcing < 1 and rng.random() > teacher_forcing:
                    y_prev = logits[-1].argmax(axis=-1)  # the model's own guess
            out, state, a = self.step(y_prev, state, memory, t)
            logits.append(out)
            weights.append(a)
        self.push_cache(memory)
        return np.stack(logits, axis=1), np.stack(weights, axis=1)

    def backward(self, dlogits):
        """-> (dkeys (B, S, Dk), dstate0).  One step_backward per step, last step first;
        what each step gives the memory (dkeys, or dK and dvalues when the keys were
        projected once) is summed, and dK goes through the projection once."""
        memory = self.pop_cache()
        dmemory, dstate = None, None
        for t in reversed(range(dlogits.shape[1])):
            dstate, dm = self.step_backward(dlogits[:, t], dstate)
            if dmemory is None:
                dmemory = [d.copy() for d in dm]
            else:
                for total, d in zip(dmemory, dm):
                    total += d
        if memory.projected is None:
            return dmemory[0], dstate
        dK, dvalues = dmemory
        return dvalues + self.attention.project_keys_backward(dK, memory.keys), dstate


class BahdanauDecoder(_Decoder):
    """The previous state s_{i-1} queries; the context enters the GRU input.  State: s."""

    def __init__(self, vocab_size, emb_dim, hidden, key_dim, attention, dtype, rng):
        self.embedding = Embedding(vocab_size, emb_dim, padding_idx=PAD, dtype=dtype, rng=rng)
        self.attention = attention
        self.cell = GRUCell(emb_dim + key_dim, hidden, dtype=dtype, rng=rng)
        self.out = Linear(hidden + key_dim, vocab_size, dtype=dtype, rng=rng)

    def initial_state(self, s0):
        return s0

    def step(self, y_prev, s, memory, t):
        e = _drop(self.dropout_in, self.embedding(y_prev))
        c, a = _attend(self.attention, s, memory, t)
        s = self.cell(np.concatenate([e, c], axis=-1), s)
        logits = self.out(_drop(self.dropout_out, np.concatenate([s, c], axis=-1)))
        return logits, s, a

    def step_backward(self, dlogits, ds_next):
        """Undo the latest step not yet undone: each module's backward, in reverse."""
        H = self.cell.hidden_size
        do = _drop_backward(self.dropout_out, self.out.backward(dlogits))
        ds = do[:, :H] if ds_next is None else do[:, :H] + ds_next
        dinp, ds_prev = self.cell.backward(ds)
        E = self.embedding.embedding_dim
        dq, *dmemory = self.attention.backward((do[:, H:] + dinp[:, E:])[:, None])
        self.embedding.backward(_drop_backward(self.dropout_in, dinp[:, :E]))
        return ds_prev + dq[:, 0], dmemory


class LuongDecoder(_Decoder):
    """The current state h_t queries; h~_t = tanh(W_c [c_t; h_t]) predicts.
    State: (h, h~) (h~ is fed to the next step's input when input_feeding)."""

    def __init__(self, vocab_size, emb_dim, hidden, key_dim, attention, input_feeding, dtype,
                 rng):
        self.input_feeding = input_feeding
        self.embedding = Embedding(vocab_size, emb_dim, padding_idx=PAD, dtype=dtype, rng=rng)
        self.cell = GRUCell(emb_dim + (hidden if input_feeding else 0), hidden, dtype=dtype,
                            rng=rng)
        self.attention = attention
        self.attentional = AttentionalHidden(key_dim, hidden, hidden, dtype=dtype, rng=rng)
        self.out = Linear(hidden, vocab_size, dtype=dtype, rng=rng)

    def initial_state(self, s0):
        return s0, np.zeros_like(s0)

    def step(self, y_prev, state, memory, t):
        h, h_tilde = state
        e = _drop(self.dropout_in, self.embedding(y_prev))
        h = self.cell(np.concatenate([e, h_tilde], axis=-1) if self.input_feeding else e, h)
        c, a = _attend(self.attention, h, memory, t)
        h_tilde = self.attentional(c, h)
        logits = self.out(_drop(self.dropout_out, h_tilde))
        return logits, (h, h_tilde), a

    def step_backward(self, dlogits, dstate_next):
        """Undo the latest step not yet undone: each module's backward, in reverse."""
        dh_next, dh_tilde_next = (0, 0) if dstate_next is None else dstate_next
        dh_tilde = _drop_backward(self.dropout_out, self.out.backward(dlogits)) + dh_tilde_next
        dc, dh = self.attentional.backward(dh_tilde)
        dq, *dmemory = self.attention.backward(dc[:, None])
        dinp, dh_prev = self.cell.backward(dh + dq[:, 0] + dh_next)
        E = self.embedding.embedding_dim
        self.embedding.backward(_drop_backward(self.dropout_in, dinp[:, :E]))
        dh_tilde_prev = dinp[:, E:] if self.input_feeding else np.zeros_like(dh_prev)
        return (dh_prev, dh_tilde_prev), dmemory


class Seq2Seq(Module):
    """Encoder-decoder with attention, trained with cross-entropy on teacher-forced targets.

    attention: "bahdanau" or "luong";  context: "attention", or "fixed" for a model
    without attention: the only key is the encoder's final summary [h_fwd_last;
    h_bwd_first], so every step reads the same fixed-length vector.  That summary of
    both directions is this project's choice; Cho et al. 2014's RNN Encoder-Decoder
    reads the source one way and uses its last state (Bahdanau et al. A.2.2: fixing
    c_i to h_fwd_{T_x}).  The bidirectional summary is the stronger baseline;
    score: "dot", "scaled_dot", "general", "concat", "additive" or "location" (needs
    max_src_len);  window: "global", "local-m" or "local-p" (half-width D).
    "dot" needs dec_hidden == 2 * enc_hidden (keys and queries compared).
    dropout: the probability of zeroing an embedding or output-layer input in
    training mode (the module docstring; 0, the default, leaves dropout out).
    forward(src (B, S), src_lengths (B,), tgt_in (B, T)) -> logits (B, T, V); the
    attention weights of that pass are self.weights (B, T, S).
    backward(dlogits) fills every parameter's .grad; SequenceLoss(model) adds the loss.
    """

    def __init__(self, src_vocab_size, tgt_vocab_size, emb_dim=32, enc_hidden=64,
                 dec_hidden=128, attention="bahdanau", score="additive", window="global", D=3,
                 attn_dim=None, input_feeding=True, max_src_len=None, teacher_forcing=1.0,
                 context="attention", dropout=0.0, dtype=np.float32, rng=None):
        positive_ints("Seq2Seq", src_vocab_size=src_vocab_size, tgt_vocab_size=tgt_vocab_size,
                      emb_dim=emb_dim, enc_hidden=enc_hidden, dec_hidden=dec_hidden, D=D,
                      attn_dim=attn_dim or dec_hidden)
        if not 0 <= teacher_forcing <= 1:
            raise ValueError(f"Seq2Seq: teacher_forcing is a probability in [0, 1], got "
                             f"{teacher_forcing!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0 <= dropout < 1:
            raise ValueError(f"Seq2Seq: dropout is a probability in [0, 1), got {dropout!r}")
        if attention not in ATTENTIONS:
            raise ValueError(f"Seq2Seq: attention must be one of {ATTENTIONS}, got {attention!r}")
        if context not in CONTEXTS:
            raise ValueError(f"Seq2Seq: context must be one of {CONTEXTS}, got {context!r}")
        if score not in F.SCORES:
            raise ValueError(f"Seq2Seq: unknown score {score!r}; choose one of {sorted(F.SCORES)}")
        if context == "fixed" and (window != "global" or not F.SCORES[score].uses_keys):
            keyless = sorted(n for n, s in F.SCORES.items() if not s.uses_keys)
            raise ValueError(f"context='fixed' has one key: use window='global' and a score "
                             f"other than {', '.join(map(repr, keyless))}")
        self.context = context
        key_dim = 2 * enc_hidden
        self.teacher_forcing = teacher_forcing
        self.num_keys = None if F.SCORES[score].uses_keys else max_src_len
        self.encoder = Encoder(src_vocab_size, emb_dim, hidden=enc_hidden, dtype=dtype, rng=rng)
        self.bridge = Linear(key_dim, dec_hidden, dtype=dtype, rng=rng)
        att = _make_attention(window, score, query_dim=dec_hidden, key_dim=key_dim,
                              attn_dim=attn_dim, D=D, max_src_len=max_src_len, dtype=dtype, rng=rng)
        sizes = dict(vocab_size=tgt_vocab_size, emb_dim=emb_dim, hidden=dec_hidden,
                     key_dim=key_dim, attention=att, dtype=dtype, rng=rng)
        if attention == "bahdanau":
            self.decoder = BahdanauDecoder(**sizes)
        else:
            self.decoder = LuongDecoder(**sizes, input_feeding=input_feeding)
        self.dropout = dropout
        if dropout > 0:  # made last: their generators' draws leave the weights as without
            self.encoder.dropout = Dropout(dropout, rng)
            self.decoder.dropout_in = Dropout(dropout, rng)
            self.decoder.dropout_out = Dropout(dropout, rng)

    def encode(self, src, src_lengths):
        """-> memory, the decoder's initial state, and the cache of the bridge's tanh."""
        keys, final = self.encoder(src, src_lengths)
        s0, tanh_cache = F.tanh_forward(self.bridge(final))
        if self.context == "fixed":  # one key, the summary: its weight is always 1
            memory = Memory(final[:, None], np.ones(len(final), int),
                            attention=self.decoder.attention)
        else:
            memory = Memory(keys, src_lengths, self.num_keys, self.decoder.attention)
        return memory, self.decoder.initial_state(s0), (tanh_cache, keys.shape)

    def forward(self, src, src_lengths, tgt_in, rng=None):
        if rng is not None and self.dropout > 0:  # the trainer's per-step generator
            Dropout.reseed(self, rng)
        memory, state, encode_cache = self.encode(src, src_lengths)
        logits, self.weights = self.decoder(tgt_in, state, memory, self.teacher_forcing,
                                            rng or np.random.default_rng(0))
        self.push_cache(encode_cache)
        return logits

    def backward(self, dlogits):
        tanh_cache, keys_shape = self.pop_cache()
        dkeys, dstate0 = self.decoder.backward(dlogits)
        ds0 = dstate0[0] if isinstance(dstate0, tuple) else dstate0  # h~_0 = 0 is no parameter
        dfinal = self.bridge.backward(F.tanh_backward(ds0, tanh_cache))
        if self.context == "fixed":
            dfinal = dfinal + dkeys[:, 0]
            dkeys = np.zeros(keys_shape, dkeys.dtype)
        self.encoder.backward(dkeys[:, :keys_shape[1]], dfinal)

    # -- inference ------------------------------------------------------------------
    def _step_function(self, memory):
        """The decoder's step as nn.decoding wants it: (y_prev, state, t) -> (logp, state, a)."""
        def step(y_prev, state, t):
            logits, state, a = self.decoder.step(y_prev, state, memory, t)
            logp, _ = F.log_softmax_forward(logits.astype(np.float64))
            return logp, state, a
        return step

    def greedy(self, src, src_lengths, max_len):
        """Most likely token at each step.  -> tokens (B, max_len), weights (B, max_len, S)
        (one column, not S, for context="fixed").

        Runs in eval mode (no caches), whatever the model's mode; it is restored."""
        with evaluating(self):
            memory, state, _ = self.encode(src, src_lengths)
            tokens, weights = greedy_search(self._step_function(memory), state, src.shape[0],
                                            max_len)
        # the location score pads its keys to max_src_len: keep the source's columns (a
        # fixed context's single column is kept as it is)
        return tokens, weights[:, :, :src.shape[1]]

    def beam_search(self, src, src_length, beam_size=5, max_len=20):
        """Best sequence for one source (src (S,) ids) by beam search with length-
        normalised log-probability (nn/decoding.py).
        -> (tokens list ending with EOS, weights (T, S))."""
        with evaluating(self):
            memory, state, _ = self.encode(src[None], np.array([src_length]))
            tokens, weights, _ = beam_search(self._step_function(memory.repeat(beam_size)),
                                             repeat_rows(state, beam_size), beam_size, max_len)
        # drop the columns past src_length: src's own padding and the location score's
        # (a fixed context's single column is kept as it is)
        return tokens, weights[:, :src_length]


class SequenceLoss(Module):
    """L = cross-entropy of model(src, lengths, tgt_in) against tgt_out, <pad> ignored.

    forward(src, src_lengths, tgt_in, tgt_out) -> L (0-d array);
    backward(dL=1) fills the model's .grad (the inputs are token ids: no gradient).
    After forward, token_accuracy is the share of real target tokens predicted right.
    A Module, so that gradcheck_module checks the loss against every parameter.
    """

    def __init__(self, model):
        self.model = model

    def forward(self, src, src_lengths, tgt_in, tgt_out, rng=None):
        logits = self.model(src, src_lengths, tgt_in, rng)
        value, cache = F.cross_entropy_forward(logits, tgt_out, ignore_index=PAD)
        real = tgt_out != PAD
        self.token_accuracy = float(np.mean((logits.argmax(-1) == tgt_out)[real]))
        self.push_cache(cache)
        return value

    def backward(self, dloss=1.0):
        cache = self.pop_cache()
        dloss = np.asarray(dloss, cache.probs.dtype)
        self.model.backward(F.cross_entropy_backward(dloss, cache))
        return ()

