"""numpygam.train: training, checkpoints, batches by length, translate, and the train/translate commands."""
import numpy as np
import pytest

from numpygam.__main__ import main
from numpygam.tasks import copy_task, make_batch
from numpygam.train import TrainConfig, Trainer


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


TINY = ["--model", "transformer", "--task", "reverse", "--d-model", "8", "--nhead", "2",
        "--num-layers", "1", "--dim-feedforward", "16", "--batch-size", "8",
        "--train-size", "200", "--heldout-limit", "20"]


def test_train_resume_and_translate_with_a_transformer(tmp_path, capsys):
    from numpygam.__main__ import main
    from numpygam.train import Trainer
    out = tmp_path / "run"
    assert main(["train", *TINY, "--steps", "6", "--eval-every", "3", "--out", str(out)]) == 0
    assert "Transformer, d_model 8, 2 heads, 1+1 layers" in capsys.readouterr().out
    assert main(["train", "--resume", str(out), "--steps", "8"]) == 0
    trainer = Trainer.load(str(out / "checkpoint.npz"))
    assert trainer.step == 8 and trainer.config.model == "transformer"
    capsys.readouterr()
    assert main(["translate", "1234", "--checkpoint", str(out / "checkpoint.npz")]) == 0
    assert "cross-attention of each head" in capsys.readouterr().out
    assert (out / "translate.png").exists()
    assert main(["translate", "1234", "--beam", "3", "--checkpoint",
                 str(out / "checkpoint.npz")]) == 0
    assert main(["train", *TINY, "--nhead", "3", "--out", str(tmp_path / "bad")]) == 2
    assert "divisible" in capsys.readouterr().err and not (tmp_path / "bad").exists()
