"""numpygam.nn.seq2seq: the encoder-decoder, every attention, score and window, against FD and PyTorch."""
import numpy as np
import pytest
import torch

from numpygam import gradcheck_module, nn
from numpygam.tasks import copy_task, make_batch
from oracle import assert_close
from torch_seq2seq import Seq2Seq as TorchSeq2Seq

SCORES = ["dot", "scaled_dot", "general", "concat", "additive", "location"]


def tiny_batch():
    pairs, vocab = copy_task(3, seed=5, min_len=2, max_len=5)
    return make_batch(pairs, vocab, vocab), len(vocab)


@pytest.mark.slow
@pytest.mark.parametrize("attention", ["bahdanau", "luong"])
@pytest.mark.parametrize("score, window", [(s, "global") for s in SCORES] +
                         [("general", "local-m"), ("additive", "local-p")])
def test_whole_model_loss_matches_finite_differences_for_every_parameter(attention, score, window):
    batch, V = tiny_batch()
    nn.manual_seed(2)
    model = nn.Seq2Seq(V, V, 3, 2, 4, attention, score, window, D=8, attn_dim=3, max_src_len=6)
    report = gradcheck_module(nn.SequenceLoss(model.to(np.float64)),
                              [batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out], h=1e-5)
    assert report.passed, str(report)
    assert len(report.inputs) == len(model.parameters())


@pytest.mark.slow
@pytest.mark.parametrize("attention", ["bahdanau", "luong"])
def test_fixed_context_model_matches_finite_differences(attention):
    batch, V = tiny_batch()
    nn.manual_seed(3)
    model = nn.Seq2Seq(V, V, 3, 2, 4, attention, "additive", attn_dim=3, context="fixed")
    report = gradcheck_module(nn.SequenceLoss(model.to(np.float64)),
                              [batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out], h=1e-5)
    assert report.passed, str(report)
    model(batch.src, batch.src_lengths, batch.tgt_in)
    assert np.all(model.weights == 1)  # one key: all attention on the summary vector


@pytest.mark.parametrize("attention", ["bahdanau", "luong"])
@pytest.mark.parametrize("score", SCORES)
def test_whole_model_matches_pytorch_loss_and_every_gradient(attention, score):
    batch, V = tiny_batch()
    torch.manual_seed(0)
    theirs = TorchSeq2Seq(V, V, 4, 3, 6, attention, score, 5, max_src_len=7)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape) * 0.5)
    ours = nn.Seq2Seq(V, V, 4, 3, 6, attention, score, attn_dim=5, max_src_len=7).to(np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    criterion = nn.SequenceLoss(ours)
    loss = criterion(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)
    criterion.backward()
    loss_t = theirs.loss(batch)
    loss_t.backward()
    assert_close(loss, loss_t, name="loss")
    params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert_close(params[name].grad, p.grad, name=name)


def test_fixed_context_encoder_gradient_matches_finite_differences_at_a_few_entries():
    """The quick cousin of the slow whole-model check: the summary vector is both the
    bridge's input and the only key, and both paths reach the encoder."""
    batch, V = tiny_batch()
    nn.manual_seed(3)
    model = nn.Seq2Seq(V, V, 3, 2, 4, "bahdanau", "additive", attn_dim=3,
                       context="fixed").to(np.float64)
    loss = nn.SequenceLoss(model)
    args = [batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out]
    model.zero_grad()
    loss(*args)
    loss.backward()
    params = dict(model.named_parameters())
    for name in ("encoder.rnn.weight_hh_l0", "encoder.rnn.weight_ih_l0_reverse"):
        p = params[name]
        for index in [(0, 0), (3, 1), (5, 1)]:
            old = p.data[index]
            values = []
            for shift in (1e-6, -1e-6):
                p.data[index] = old + shift
                values.append(float(loss(*args)))
                loss.clear_caches()
            p.data[index] = old
            fd = (values[0] - values[1]) / 2e-6
            assert p.grad[index] == pytest.approx(fd, rel=1e-5, abs=1e-8), (name, index)


@pytest.mark.parametrize("window, kind", [("global", "Attention"), ("local-m", "LocalAttention"),
                                          ("local-p", "LocalAttention")])
def test_each_window_builds_its_own_attention(window, kind):
    """The window option reaches the model: a local window is a LocalAttention (with its
    predictor W_p, v_p for local-p), global attention is not."""
    model = nn.Seq2Seq(10, 10, emb_dim=4, enc_hidden=4, dec_hidden=8, attn_dim=4,
                       attention="luong", score="general", window=window)
    attention = model.decoder.attention
    assert type(attention).__name__ == kind
    names = {name for name, _ in model.named_parameters()}
    assert any("W_p" in n for n in names) == (window == "local-p")


def test_a_fixed_context_spelled_at_run_time_still_refuses_a_window():
    """The check compares the text, not the object: a "fixed" built at run time (as a
    checkpoint's JSON gives it) with a local window is refused like the literal."""
    context = "".join(["fix", "ed"])
    with pytest.raises(ValueError, match="context='fixed' has one key"):
        nn.Seq2Seq(5, 5, context=context, window="local-p")


def test_a_context_read_from_a_checkpoints_json_behaves_as_the_literal():
    """A config loaded from JSON holds strings that are equal to the literals but not the
    same objects: the fixed-context model must train the same with either (its gradients
    agree to the last bit)."""
    batch, V = tiny_batch()
    grads = []
    for context in ("fixed", "".join(["fix", "ed"])):
        nn.manual_seed(3)
        model = nn.Seq2Seq(V, V, 3, 2, 4, "bahdanau", "additive", attn_dim=3, context=context)
        loss = nn.SequenceLoss(model)
        loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)
        loss.backward(np.float32(1))
        grads.append({name: p.grad.copy() for name, p in model.named_parameters()})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        np.testing.assert_array_equal(grads[0][name], grads[1][name])


def test_the_location_score_takes_a_source_of_exactly_max_src_len_and_refuses_a_longer_one():
    nn.manual_seed(0)
    model = nn.Seq2Seq(7, 6, emb_dim=4, enc_hidden=4, dec_hidden=6, attn_dim=5, score="location",
                       max_src_len=4)
    tokens, weights = model.greedy(np.array([[3, 4, 5, 6]]), np.array([4]), 3)
    assert weights.shape == (1, 3, 4)
    with pytest.raises(ValueError, match="5 characters, more than the max_src_len=4"):
        model.greedy(np.array([[3, 4, 5, 6, 3]]), np.array([5]), 3)


class _SameMasks(nn.SequenceLoss):
    """The loss with one dropout generator per call: every call draws the same masks, so
    that finite differences see one function of the weights."""

    def forward(self, src, src_lengths, tgt_in, tgt_out):
        return super().forward(src, src_lengths, tgt_in, tgt_out, np.random.default_rng(4))


@pytest.mark.parametrize("attention, score", [("bahdanau", "additive"), ("luong", "general")])
def test_dropout_in_training_mode_matches_finite_differences(attention, score):
    batch, V = tiny_batch()
    nn.manual_seed(2)
    model = nn.Seq2Seq(V, V, 3, 2, 4, attention, score, attn_dim=3, dropout=0.4).to(np.float64)
    args = [batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out]
    loss = _SameMasks(model)
    report = gradcheck_module(loss, args, h=1e-5)
    assert report.passed, str(report)
    dropped = float(loss(*args))
    model.eval()
    assert dropped != float(loss(*args))  # the masks changed the loss in training mode


def test_dropout_leaves_the_initial_weights_and_inference_as_without_it():
    batch, V = tiny_batch()
    models = []
    for p in (0.0, 0.3):
        nn.manual_seed(5)
        models.append(nn.Seq2Seq(V, V, 3, 2, 4, dropout=p))
    plain, dropped = models
    assert dropped.decoder.dropout_out.p == 0.3 and plain.decoder.dropout_out is None
    for (name, a), b in zip(plain.state_dict().items(), dropped.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    np.testing.assert_array_equal(plain.greedy(batch.src, batch.src_lengths, 6)[0],
                                  dropped.greedy(batch.src, batch.src_lengths, 6)[0])


@pytest.mark.parametrize("p", [1.0, -0.1, True, "0.2"])
def test_seq2seq_dropout_must_be_a_probability_below_one(p):
    with pytest.raises(ValueError, match=f"dropout.*{p!r}"):
        nn.Seq2Seq(5, 5, dropout=p)
