"""numpygam.nn.decoding: greedy and beam search, for both translators, against a brute-force search."""
import itertools

import numpy as np
import pytest

import numpygam.nn.decoding as decoding
import numpygam.nn.seq2seq as seq2seq
import numpygam.nn.transformer_translator as transformer_translator
from numpygam import nn
from numpygam.functional import log_softmax_forward
from numpygam.tasks.vocab import EOS, SOS


def table_step(table):
    """A step function whose log-probabilities depend on (t, previous token) only:
    table (max_len, V, V) of logits.  The state is the previous tokens, so that a
    wrong selection of rows shows."""
    def step(y_prev, state, t):
        logp, _ = log_softmax_forward(table[t][y_prev])
        return logp, np.concatenate([state, y_prev[:, None]], 1), np.eye(3)[y_prev % 3]
    return step


def finished_sequences(V, max_len):
    """Every output that ends at its first EOS within max_len tokens."""
    for n in range(1, max_len + 1):
        for head in itertools.product([v for v in range(V) if v != EOS], repeat=n - 1):
            yield list(head) + [EOS]


def table_log_prob(table, tokens):
    total, prev = 0.0, SOS
    for t, y in enumerate(tokens):
        logp, _ = log_softmax_forward(table[t][np.array([prev])])
        total += logp[0, y]
        prev = y
    return total


def brute_force(log_prob, V, max_len):
    """(best sequence, its score) by the documented rule: sum of log-probabilities over
    the number of tokens, EOS included."""
    return max(((seq, log_prob(seq) / len(seq)) for seq in finished_sequences(V, max_len)),
               key=lambda pair: pair[1])


@pytest.mark.parametrize("seed", range(40))
def test_a_wide_beam_finds_the_best_length_normalised_sequence(seed):
    V, max_len = 4, 4
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((max_len, V, V)) * 2.5
    best, best_score = brute_force(lambda s: table_log_prob(table, s), V, max_len)
    beam = V ** max_len
    tokens, weights, score = decoding.beam_search(table_step(table), np.zeros((beam, 0), int),
                                                  beam, max_len)
    assert tokens == best
    assert score == pytest.approx(best_score, abs=1e-12)
    assert weights.shape == (len(tokens), 3)  # one row of attention per output token


def test_length_normalisation_prefers_the_better_average_over_the_shorter_sum():
    """EOS first has log p = log 0.3 ~ -1.20 (the best sum of any finished output); 'a'
    then EOS averages (log 0.7 + log 0.9) / 2 ~ -0.23, so the normalised rule picks it."""
    V, a = 4, 3
    probs = np.full((2, V, V), 1e-9)
    probs[0, SOS, EOS], probs[0, SOS, a] = 0.3, 0.7
    probs[1, a, EOS], probs[1, a, 0] = 0.9, 0.1
    probs[1, :, EOS] = np.maximum(probs[1, :, EOS], 0.9)
    table = np.log(probs)
    tokens, _, score = decoding.beam_search(table_step(table), np.zeros((4, 0), int), 4, 2)
    assert tokens == [a, EOS]
    assert score == pytest.approx((np.log(0.7) + np.log(0.9)) / 2, abs=1e-6)


def test_beam_search_keeps_a_second_best_start_that_greedy_drops():
    """Greedy takes 'a' (0.6) first, then can only go on badly; beam 2 keeps 'b' (0.4),
    whose continuation is sure."""
    V, a, b = 5, 3, 4
    probs = np.full((3, V, V), 1e-6)
    probs[0, SOS, a], probs[0, SOS, b] = 0.6, 0.4
    probs[1, a, :] = 0.2          # after 'a' every token is as likely
    probs[1, b, EOS] = 1.0        # after 'b' the end is sure
    probs[2, :, EOS] = 1.0
    table = np.log(probs)
    greedy, _ = decoding.greedy_search(table_step(table), np.zeros((1, 0), int), 1, 2)
    assert greedy[0].tolist()[0] == a
    tokens, _, _ = decoding.beam_search(table_step(table), np.zeros((2, 0), int), 2, 3)
    assert tokens == [b, EOS]


@pytest.mark.parametrize("beam", [1, 2, 9])
def test_an_output_that_never_ends_is_returned_with_its_normalised_score(beam):
    """EOS impossible (log p = -inf): nothing finishes; the best unfinished sequence is
    returned, never one of the impossible ones (a beam wider than the vocabulary holds
    some)."""
    V = 4
    table = np.zeros((3, V, V))
    table[:, :, EOS] = -np.inf
    table[:, :, 3] = 2.0
    tokens, _, score = decoding.beam_search(table_step(table), np.zeros((beam, 0), int), beam, 3)
    expected = np.log(np.exp(2) / (np.exp(2) + 2))  # log p of token 3 at each step
    assert tokens == [3, 3, 3] and score == pytest.approx(expected, abs=1e-12)


def test_both_translators_decode_with_the_one_decoding_module():
    for module in (seq2seq, transformer_translator):
        assert module.greedy_search is decoding.greedy_search
        assert module.beam_search is decoding.beam_search


def _models():
    nn.manual_seed(0)
    rnn = nn.Seq2Seq(7, 6, emb_dim=4, enc_hidden=4, dec_hidden=6, attn_dim=5)
    transformer = nn.TransformerTranslator(7, 6, d_model=8, nhead=2, num_layers=1,
                                           dim_feedforward=8, dropout=0.3, max_len=8)
    for model in (rnn, transformer):  # peaked distributions, so that sequences differ
        out = model.out if hasattr(model, "out") else model.decoder.out
        out.weight.data *= 6
    return {"rnn": rnn, "transformer": transformer}


@pytest.mark.parametrize("name", ["rnn", "transformer"])
def test_each_translators_wide_beam_finds_the_best_sequence_by_brute_force(name):
    """The log-probability of every output comes from the model's teacher-forced forward
    (eval mode), independently of the step-by-step decoding that beam search runs."""
    model = _models()[name]
    V, max_len = 6, 3
    src = np.array([3, 4, 5, 6])
    seqs = list(finished_sequences(V, max_len))
    by_length = {}
    with nn.evaluating(model):
        for n in range(1, max_len + 1):
            group = [s for s in seqs if len(s) == n]
            tgt_in = np.array([[SOS] + s[:-1] for s in group])
            logits = model(np.repeat(src[None], len(group), 0), np.full(len(group), 4), tgt_in)
            logp, _ = log_softmax_forward(logits.astype(np.float64))
            sums = np.take_along_axis(logp, np.array(group)[:, :, None], 2)[..., 0].sum(1)
            by_length.update({tuple(s): v for s, v in zip(group, sums)})
    best, best_score = brute_force(lambda s: by_length[tuple(s)], V, max_len)
    model.train()
    tokens, weights = model.beam_search(src, 4, beam_size=V ** max_len, max_len=max_len)
    assert model.training  # the mode is restored
    assert tokens == best
    assert weights.shape == (len(tokens), 4)
    scores = sorted(v / len(s) for s, v in by_length.items())
    assert scores[-1] - scores[0] > 1.0  # the outputs really differ in score


@pytest.mark.parametrize("name", ["rnn", "transformer"])
def test_greedy_is_the_argmax_of_the_teacher_forced_forward(name):
    model = _models()[name]
    src = np.array([[3, 4, 5, 6], [6, 5, 0, 0]])
    lengths = np.array([4, 2])
    tokens, weights = model.greedy(src, lengths, 5)
    with nn.evaluating(model):
        logits = model(src, lengths, np.concatenate([np.full((2, 1), SOS), tokens[:, :-1]], 1))
    np.testing.assert_array_equal(tokens, logits.argmax(-1))
    assert weights.shape == (2, 5, 4)
    np.testing.assert_allclose(weights[1, :, 2:], 0, atol=1e-12)  # padding gets no attention
    # each step's attention is that of the new position in the teacher-forced pass
    np.testing.assert_allclose(weights, model.weights, rtol=1e-5, atol=1e-6)


def test_greedy_weights_cover_the_source_only_when_keys_are_padded_for_the_location_score():
    nn.manual_seed(1)
    model = nn.Seq2Seq(7, 6, emb_dim=4, enc_hidden=4, dec_hidden=6, attn_dim=5, score="location",
                       max_src_len=9)
    tokens, weights = model.greedy(np.array([[3, 4, 5]]), np.array([3]), 4)
    assert weights.shape == (1, 4, 3)
    np.testing.assert_allclose(weights.sum(-1), 1, rtol=1e-5)
    tokens, weights = model.beam_search(np.array([3, 4, 5]), 3, beam_size=2, max_len=4)
    assert weights.shape == (len(tokens), 3)


@pytest.mark.parametrize("window", ["local-m", "local-p"])
def test_a_local_window_is_local_attention_with_no_weight_outside_it(window):
    nn.manual_seed(2)
    model = nn.Seq2Seq(7, 6, emb_dim=4, enc_hidden=4, dec_hidden=6, attn_dim=5, D=1,
                       window=window, attention="luong", score="general")
    assert isinstance(model.decoder.attention, nn.LocalAttention)
    src = np.array([[3, 4, 5, 6, 3, 4, 5, 6, 3]])
    _, weights = model.greedy(src, np.array([9]), 3)
    assert (np.count_nonzero(weights[0] > 1e-12, axis=-1) <= 2 * 1 + 1).all()
