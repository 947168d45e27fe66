"""Decoding: greedy search and beam search, written once for every translator.

A model decodes by handing over a step function,

    logp, state, weights = step(y_prev, state, t)

    y_prev   (N,) int       the previous token of each hypothesis (SOS at t = 0)
    state                   the decoder's state: an array, or a tuple of arrays, with the
                            N hypotheses on axis 0 (an RNN's hidden state; a
                            Transformer's prefix of tokens)
    logp     (N, V) float   log-probabilities of the next token
    weights  (N, ...)       the attention weights of this step (e.g. (N, S))

Greedy search takes the most likely token at every step.  Beam search keeps the
beam_size best partial sequences by their summed log-probability; a sequence ends
when it emits EOS, and the finished ones are compared by their length-normalised
score
    score(y) = (1 / |y|) sum_t log p(y_t | y_<t, x),    |y| counting the EOS,
because the plain sum favours short outputs (every extra token adds a negative term).
"""
import numpy as np

from ..tasks.vocab import EOS, SOS


def select_rows(state, index):
    """The rows `index` of every array in state (an array or a tuple of them)."""
    if isinstance(state, tuple):
        return tuple(select_rows(s, index) for s in state)
    return state[index]


def repeat_rows(state, k):
    """Each row of every array in state repeated k times (a source's beam of k)."""
    if isinstance(state, tuple):
        return tuple(repeat_rows(s, k) for s in state)
    return np.repeat(state, k, axis=0)


def greedy_search(step, state, batch_size, max_len):
    """The most likely token at each of max_len steps.
    -> tokens (N, max_len), weights (N, max_len, ...)."""
    y = np.full(batch_size, SOS)
    tokens, weights = [], []
    for t in range(max_len):
        logp, state, a = step(y, state, t)
        y = logp.argmax(axis=-1)
        tokens.append(y)
        weights.append(a)
    return np.stack(tokens, 1), np.stack(weights, 1)


def beam_search(step, state, beam_size, max_len):
    """The best sequence for one source by beam search over at most max_len tokens.

    state: the start state repeated beam_size times (repeat_rows).
    -> (tokens: list of ints ending with EOS, weights (len(tokens), ...), score): the
    finished sequence with the highest length-normalised score; if none finished
    within max_len, the best unfinished one (its sum over max_len tokens, normalised
    the same way).
    """
    scores = np.full(beam_size, -np.inf)
    scores[0] = 0.0  # one live start; beam_size live copies would fill the beam with one sequence
    history = np.zeros((beam_size, 0), int)
    attention = None
    y = np.full(beam_size, SOS)
    finished = []
    for t in range(max_len):
        logp, state, a = step(y, state, t)
        total = (scores[:, None] + logp).ravel()
        best = np.argsort(-total, kind="stable")[:beam_size]
        beam, y = np.divmod(best, logp.shape[1])
        history = np.concatenate([history[beam], y[:, None]], 1)
        if attention is None:
            attention = np.zeros((beam_size, 0) + a.shape[1:], a.dtype)
        attention = np.concatenate([attention[beam], a[beam][:, None]], 1)
        scores = total[best]
        state = select_rows(state, beam)
        for k in np.flatnonzero((y == EOS) & np.isfinite(scores)):
            finished.append((scores[k] / (t + 1), history[k].tolist(), attention[k]))
            scores[k] = -np.inf  # a finished sequence grows no further
        if len(finished) >= beam_size or np.all(np.isinf(scores)):
            break
    if not finished:
        k = int(np.argmax(scores))
        finished.append((scores[k] / max_len, history[k].tolist(), attention[k]))
    score, tokens, weights = max(finished, key=lambda f: f[0])
    return tokens, weights, score
