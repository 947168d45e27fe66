"""The GRU, the decoders and the whole encoder-decoder: FD, PyTorch, training, CLI."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import numpygam.functional as F
from numpygam import gradcheck, gradcheck_module, nn
from numpygam.__main__ import main
from numpygam.tasks import copy_task, date_task, make_batch
from numpygam.train import TrainConfig, Trainer
from oracle import arrays, assert_close, t
from torch_seq2seq import Seq2Seq as TorchSeq2Seq


@st.composite
def gru_case(draw):
    B, T, In, H = (draw(st.integers(1, 3)) for _ in range(4))
    lengths = np.array(draw(st.lists(st.integers(1, T), min_size=B, max_size=B)))
    return {"x": draw(arrays((B, T, In))), "h0": draw(st.one_of(st.none(), arrays((B, H)))),
            "W_ih": draw(arrays((3 * H, In))), "W_hh": draw(arrays((3 * H, H))),
            "b_ih": draw(arrays((3 * H,))), "b_hh": draw(arrays((3 * H,)))}, lengths


@given(case=gru_case(), reverse=st.booleans())
def test_gru_sequence_matches_finite_differences(case, reverse):
    inputs, lengths = case
    gradcheck(F.gru_forward, F.gru_backward, inputs,
              {"lengths": lengths, "reverse": reverse}).raise_if_failed()


@given(case=gru_case(), data=st.data())
def test_gru_cell_matches_finite_differences(case, data):
    inputs, _ = case
    x = inputs["x"][:, 0]
    h = data.draw(arrays((x.shape[0], inputs["W_hh"].shape[1])))
    gradcheck(F.gru_cell_forward, F.gru_cell_backward,
              {"x": x, "h": h, **{k: inputs[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh")}}
              ).raise_if_failed()


@pytest.mark.parametrize("bidirectional", [False, True])
@given(data=st.data())
def test_gru_matches_torch_on_padded_batches(bidirectional, data):
    B, T, In, H = (data.draw(st.integers(1, 4)) for _ in range(4))
    lengths = np.array(data.draw(st.lists(st.integers(1, T), min_size=B, max_size=B)))
    torch.manual_seed(data.draw(st.integers(0, 100)))
    theirs = torch.nn.GRU(In, H, batch_first=True, bidirectional=bidirectional)
    ours = nn.GRU(In, H, bidirectional=bidirectional).to(np.float64)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    D = 2 if bidirectional else 1
    x, h0 = data.draw(arrays((B, T, In))), data.draw(arrays((D, B, H)))
    out, h_n = ours(x, h0, lengths)
    dout, dh_n = data.draw(arrays(out.shape)), data.draw(arrays(h_n.shape))
    dx, dh0 = ours.backward(dout, dh_n)
    xt, h0t = t(x), t(h0)
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.as_tensor(lengths),
                                                     batch_first=True, enforce_sorted=False)
    out_t, h_n_t = theirs(packed, h0t)
    out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_t, batch_first=True, total_length=T)
    (torch.sum(out_t * torch.as_tensor(dout)) + torch.sum(h_n_t * torch.as_tensor(dh_n))).backward()
    assert_close(out, out_t, name="output")
    assert_close(h_n, h_n_t, name="h_n")
    assert_close(dx, xt.grad, name="dx")
    assert_close(dh0, h0t.grad, name="dh0")
    params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert_close(params[name].grad, p.grad, name=name)


def test_padding_never_changes_the_real_tokens(rng):
    gru = nn.GRU(3, 4, bidirectional=True).to(np.float64)
    x = rng.standard_normal((1, 4, 3))
    padded = np.concatenate([x, rng.standard_normal((1, 3, 3))], axis=1)  # garbage padding
    out, h = gru(x, None, np.array([4]))
    out_p, h_p = gru(padded, None, np.array([4]))
    np.testing.assert_allclose(out_p[:, :4], out, rtol=1e-12)
    assert np.all(out_p[:, 4:] == 0)
    np.testing.assert_allclose(h_p, h, rtol=1e-12)


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


@pytest.mark.slow
def test_a_short_run_learns_the_copy_task_and_is_reproducible():
    config = TrainConfig(task="copy", steps=400, batch_size=32, lr=5e-3, warmup=20,
                         emb_dim=16, enc_hidden=32, dec_hidden=64, attn_dim=32, train_size=4000,
                         eval_every=10_000)
    trainer = Trainer(config)
    losses = [trainer.train_step() for _ in range(config.steps)]
    accuracy = trainer.evaluate()
    assert accuracy >= 0.9, f"copy task exact match {accuracy:.1%} after {config.steps} steps"
    again = Trainer(config)
    assert [again.train_step() for _ in range(3)] == losses[:3]  # the same seed, the same numbers


def test_checkpoint_round_trips_and_resuming_gives_the_same_next_step(tmp_path):
    config = TrainConfig(task="reverse", steps=50, batch_size=8, emb_dim=8, enc_hidden=8,
                         dec_hidden=16, attn_dim=8, train_size=200)
    a = Trainer(config)
    for _ in range(3):
        a.train_step()
    path = a.save(tmp_path / "checkpoint.npz")
    b = Trainer.load(path)
    assert b.step == 3
    for key, value in a.model.state_dict().items():
        np.testing.assert_array_equal(b.model.state_dict()[key], value)
    assert a.train_step() == b.train_step()
    for key, value in a.model.state_dict().items():
        np.testing.assert_array_equal(b.model.state_dict()[key], value)


@pytest.mark.slow
def test_greedy_and_beam_search_agree_on_a_trained_model():
    config = TrainConfig(task="copy", steps=300, batch_size=32, lr=5e-3, warmup=20, emb_dim=16,
                         enc_hidden=32, dec_hidden=64, attn_dim=32, train_size=3000)
    trainer = Trainer(config)
    for _ in range(config.steps):
        trainer.train_step()
    for src, target in trainer.heldout[:5]:
        greedy, w = trainer.translate(src)
        beam, w_beam = trainer.translate(src, beam_size=4)
        assert beam == greedy == target or beam == target
        assert w_beam.shape == (len(beam) + 1, len(src))
        np.testing.assert_allclose(w_beam.sum(-1), 1.0, rtol=1e-5)


def test_train_command_writes_a_checkpoint_and_heatmaps(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--task", "reverse", "--steps", "60", "--batch-size", "8",
                 "--emb-dim", "8", "--enc-hidden", "8", "--dec-hidden", "16", "--attn-dim", "8",
                 "--train-size", "200", "--eval-every", "30", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "held-out exact-match accuracy" in printed
    progress = [line.split("[")[0].strip() for line in printed.splitlines()
                if line.startswith("step ")]
    assert progress == ["step    50/60", "step    60/60"]  # every 50 steps, and the last
    evaluations = [line.strip().split(":")[0] for line in printed.splitlines()
                   if "held-out exact match after" in line and "%" in line]
    assert evaluations == ["held-out exact match after 30 steps",  # every 30, not every step
                           "held-out exact match after 60 steps"]
    assert "token acc" in printed
    assert (out / "checkpoint.npz").exists()
    assert sorted(p.name for p in out.glob("attention_*.png")) == [f"attention_{i}.png"
                                                                  for i in range(4)]


@pytest.mark.parametrize("text, words", [
    ("", ["give a date"]),
    ("   ", ["give a date"]),
    ("3 may 1979 ★", ["'★'", "not in the translator's alphabet"]),
    ("x" * 41, ["41 characters", "at most 40"]),
])
def test_translate_explains_bad_input_without_a_traceback(text, words, tmp_path, capsys):
    config = TrainConfig(steps=1, batch_size=4, emb_dim=8, enc_hidden=8, dec_hidden=16,
                         attn_dim=8, train_size=100, heldout_limit=10)
    path = Trainer(config).save(tmp_path / "checkpoint.npz")
    assert main(["translate", text, "--checkpoint", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"


def test_translate_without_any_checkpoint_says_what_to_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["translate", "3 may 1979"]) == 2
    assert "python -m numpygam train" in capsys.readouterr().err


def test_date_data_is_reproducible_and_heldout_is_disjoint():
    train_a, held_a, src_vocab, tgt_vocab = date_task(500, seed=1)
    train_b, held_b, _, _ = date_task(500, seed=1)
    assert train_a == train_b and held_a == held_b
    assert not {s for s, _ in held_a} & {s for s, _ in train_a}
    assert date_task(500, seed=2)[1] == held_a  # the held-out set does not move with the seed
    for src, iso in train_a[:50]:
        assert len(iso) == 10 and iso[4] == iso[7] == "-"
        src_vocab.encode(src)


def test_translate_uses_beam_search_only_for_a_beam_above_1(monkeypatch):
    from numpygam.train import TrainConfig, Trainer
    trainer = Trainer(TrainConfig(task="reverse", steps=1, batch_size=4, emb_dim=8,
                                  enc_hidden=8, dec_hidden=16, attn_dim=8, train_size=50))
    calls = []
    real = trainer.model.beam_search
    monkeypatch.setattr(trainer.model, "beam_search",
                        lambda *a, **k: (calls.append(a[2]), real(*a, **k))[1])
    trainer.translate("123", beam_size=1)
    assert calls == []
    trainer.translate("123", beam_size=2)
    assert calls == [2]


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


def test_translate_decodes_one_step_past_the_longest_target(monkeypatch):
    """Trainer.translate asks the decoder for max_out + 1 steps (room for <eos>), here with
    an odd max_out (7), where max_out | 1 would not be max_out + 1."""
    trainer = Trainer(TrainConfig(task="copy", steps=1, min_len=3, max_len=7, emb_dim=4,
                                  enc_hidden=4, dec_hidden=8, attn_dim=4, train_size=20))
    asked = []
    real = trainer.model.greedy

    def greedy(src, lengths, max_len):
        asked.append(max_len)
        return real(src, lengths, max_len)
    monkeypatch.setattr(trainer.model, "greedy", greedy)
    trainer.translate("123")
    assert trainer.max_out == 7 and asked == [8]


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


def _source_lengths(pairs, vocab, steps, **options):
    from numpygam.train import sample_batch
    config = TrainConfig(task="copy", batch_size=16, **options)
    return np.array([sample_batch(pairs, config, step, vocab, vocab).src_lengths
                     for step in range(steps)])


def test_one_length_group_draws_each_batch_as_it_always_has():
    # checkpoints of earlier runs resume on the batches they would have seen
    from numpygam.train import sample_batch
    pairs, vocab = copy_task(300, 0, False, 1, 20)
    config = TrainConfig(task="copy", batch_size=16, seed=3)
    batch = sample_batch(pairs, config, 7, vocab, vocab)
    drawn = np.random.default_rng([3, 7]).integers(0, len(pairs), 16)
    expected = make_batch([pairs[i] for i in drawn], vocab, vocab)
    for got, want in zip(batch, expected):
        np.testing.assert_array_equal(got, want)


def test_length_groups_batch_like_lengths_and_draw_every_length_as_often():
    pairs, vocab = copy_task(2000, 0, False, 1, 20)
    steps = 1500
    plain = _source_lengths(pairs, vocab, steps)
    grouped = _source_lengths(pairs, vocab, steps, length_groups=8)
    # like lengths: a batch spans a few lengths, not most of 1..20
    def spread(lengths):
        return np.mean(lengths.max(axis=1) - lengths.min(axis=1))

    assert spread(grouped) < spread(plain) / 3, (spread(grouped), spread(plain))
    # every pair as likely as without groups: each length's mean share of a batch is within
    # 5 standard errors of the share of the pairs with that length (the steps are the
    # independent draws: a batch's lengths are not, with groups)
    share = np.bincount([len(s) for s, _ in pairs], minlength=21)[1:] / len(pairs)
    for lengths in (plain, grouped):
        per_step = np.array([np.bincount(row, minlength=21)[1:] for row in lengths]) / 16
        error = per_step.std(axis=0) / np.sqrt(steps)
        np.testing.assert_array_less(np.abs(per_step.mean(axis=0) - share), 5 * error)
    # and the batch of a step is the same whenever it is drawn (resume sees the same batches)
    np.testing.assert_array_equal(grouped[:20], _source_lengths(pairs, vocab, 20,
                                                                length_groups=8))
