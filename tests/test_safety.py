"""Nothing lost, nothing silent: checkpoints survive kills, bad options and inputs are refused."""
import datetime
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from forged import npy_claiming

import numpygam.functional as F
from numpygam import nn
from numpygam.__main__ import MAX_INPUT, is_calendar_date, main
from numpygam.checkpoint import CheckpointError, load_checkpoint, previous_path, save_checkpoint
from numpygam.tasks import date_task, dates
from numpygam.train import NonFiniteError, TrainConfig, Trainer, loadable_checkpoint, train

TINY = ["--task", "reverse", "--batch-size", "8", "--emb-dim", "8", "--enc-hidden", "8",
        "--dec-hidden", "16", "--attn-dim", "8", "--train-size", "200"]


def tiny_config(**changes):
    return TrainConfig(**{**dict(task="reverse", steps=20, batch_size=8, emb_dim=8, enc_hidden=8,
                                 dec_hidden=16, attn_dim=8, train_size=200), **changes})


# -- checkpoints ----------------------------------------------------------------------

def test_a_save_fsyncs_the_file_before_moving_it_into_place_then_the_folder(tmp_path,
                                                                           monkeypatch):
    """What a kill test cannot see: without the fsyncs a power cut may leave an empty file."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.fstat(fd).st_mode)),
                                                 real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", str(b))),
                                                     real_replace(a, b))[1])
    path = str(tmp_path / "checkpoint.npz")
    save_checkpoint(path, {"step": np.array(1), "config": np.array("{}")})
    import stat
    kinds = [(e, stat.S_ISDIR(m) if e == "fsync" else m) for e, m in events]
    assert kinds == [("fsync", False), ("replace", path), ("fsync", True)]


def test_a_plain_npy_file_named_checkpoint_is_refused_before_np_load(tmp_path):
    path = tmp_path / "checkpoint.npz"
    with open(path, "wb") as f:
        np.save(f, np.arange(3))  # np.load would return an array, not an archive
    with pytest.raises(CheckpointError, match="not an .npz archive"):
        load_checkpoint(str(path))


def test_saving_keeps_the_previous_checkpoint_and_never_leaves_temporaries(tmp_path):
    path = str(tmp_path / "checkpoint.npz")
    save_checkpoint(path, {"step": np.array(1), "config": np.array("{}")})
    save_checkpoint(path, {"step": np.array(2), "config": np.array("{}")})
    assert int(load_checkpoint(path)["step"]) == 2
    assert int(load_checkpoint(previous_path(path))["step"]) == 1
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "checkpoint.prev.npz"]


@pytest.mark.parametrize("content, words", [
    (b"", ["not a readable checkpoint"]),
    (b"garbage, not a zip file" * 10, ["not a readable checkpoint"]),
    (None, ["not a readable checkpoint"]),           # a real checkpoint cut in half
    ("object", ["not a readable checkpoint"]),       # needs pickle: refused, not suggested
])
def test_a_damaged_checkpoint_is_one_error_naming_the_file(content, words, tmp_path):
    path = tmp_path / "checkpoint.npz"
    if content is None:
        Trainer(tiny_config()).save(path)
        path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    elif content == "object":
        np.savez(path, step=np.array(1), config=np.array([{"a": 1}], dtype=object))
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        Trainer.load(path)
    message = str(info.value)
    assert str(path) in message and "allow_pickle" not in message
    for w in words:
        assert w in message


SAVER = """
import sys
from numpygam.train import Trainer, TrainConfig
trainer = Trainer(TrainConfig(task="reverse", steps=10**6, batch_size=8, emb_dim=8, enc_hidden=8,
                              dec_hidden=16, attn_dim=8, train_size=200))
trainer.train_step()
while True:  # nothing but checkpoint writes, so that a kill lands inside one
    trainer.save(sys.argv[1])
    trainer.step += 1
"""


@pytest.mark.slow
def test_a_kill_at_any_instant_of_a_save_leaves_a_loadable_checkpoint(tmp_path, capsys):
    """SIGKILL a process that does nothing but write checkpoints, at random
    instants: inside np.savez, the fsync or the renames.  Every time the folder
    must hold a checkpoint that loads; the last one must translate and resume."""
    rng = np.random.default_rng(0)
    trials, survived, mid_write = 30, 0, 0
    for trial in range(trials):
        folder = tmp_path / f"run{trial}"
        folder.mkdir()
        path = folder / "checkpoint.npz"
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(path)])
        deadline = time.time() + 60
        while not path.exists() and time.time() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.3))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # a temporary left behind means the kill landed inside a write
        mid_write += any(name.startswith(".checkpoint-") or name.endswith(".tmp")
                         for name in os.listdir(folder))
        found = loadable_checkpoint(str(folder))
        assert found == str(path), f"trial {trial}: no loadable checkpoint in {os.listdir(folder)}"
        Trainer.load(found)
        survived += 1
    print(f"{survived} of {trials} kills left a loadable checkpoint; {mid_write} landed mid-write")
    assert survived == trials and mid_write >= trials // 4
    # the last folder: translate and resume both accept what the kill left
    assert main(["translate", "123", "--checkpoint", found]) == 0
    step = Trainer.load(found).step
    assert main(["train", "--resume", str(folder), "--steps", str(step + 2),
                 "--eval-every", "1"]) == 0
    assert Trainer.load(found).step == step + 2


@pytest.mark.slow
def test_killing_the_real_train_command_always_leaves_a_run_that_resumes(tmp_path):
    """The same through `python -m numpygam train --eval-every 1` (a save every step)."""
    rng = np.random.default_rng(1)
    trials, survived = 6, 0
    for trial in range(trials):
        folder = tmp_path / f"run{trial}"
        proc = subprocess.Popen([sys.executable, "-m", "numpygam", "train", *TINY, "--steps",
                                 "100000", "--eval-every", "1", "--heldout-limit", "1",
                                 "--out", str(folder)], stdout=subprocess.DEVNULL)
        deadline = time.time() + 60
        while not (folder / "checkpoint.npz").exists() and time.time() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.5))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        found = loadable_checkpoint(str(folder))
        assert found is not None, f"trial {trial}: nothing loads in {os.listdir(folder)}"
        step = Trainer.load(found).step
        resumed = subprocess.run([sys.executable, "-m", "numpygam", "train", "--resume",
                                  str(folder), "--steps", str(step + 1)], capture_output=True,
                                 text=True)
        assert resumed.returncode == 0, resumed.stderr
        assert Trainer.load(loadable_checkpoint(str(folder))).step == step + 1
        survived += 1
    print(f"{survived} of {trials} kills of the train command left a run that resumed")
    assert survived == trials


# -- the training command ---------------------------------------------------------------

@pytest.mark.parametrize("option, value, words", [
    ("--lr", "nan", ["--lr nan", "finite number above 0"]),
    ("--lr", "-1", ["--lr -1.0"]),
    ("--clip", "-1", ["--clip -1.0"]),
    ("--clip", "nan", ["--clip nan"]),
    ("--steps", "0", ["--steps 0", "at least 1"]),
    ("--steps", "-5", ["--steps -5"]),
    ("--batch-size", "0", ["--batch-size 0"]),
    ("--eval-every", "0", ["--eval-every 0"]),
    ("--heldout-limit", "0", ["--heldout-limit 0"]),
    ("--emb-dim", "0", ["--emb-dim 0"]),
    ("--score", "cosine", ["--score", "'cosine'", "additive"]),
    ("--window", "local-x", ["--window", "'local-x'", "local-p"]),
    ("--attention", "bahdanu", ["--attention", "'bahdanu'", "luong"]),
    ("--task", "poems", ["--task", "'poems'", "dates"]),
    ("--dtype", "float16", ["--dtype", "'float16'", "float64"]),
    ("--steps", "ten", ["--steps", "invalid int value: 'ten'"]),
    ("--score", "dot", ["do not make a model", "query_dim == key_dim"]),  # with --dec-hidden 100
    *[(f"--{name}", "0", [f"--{name} 0", "at least 1"])
      for name in ("d-model", "nhead", "num-layers", "dim-feedforward", "D", "attn-dim",
                   "train-size", "min-len", "max-len", "enc-hidden")],
    ("--dropout", "1.0", ["--dropout 1.0", "below 1"]),
    ("--dropout", "-0.1", ["--dropout -0.1"]),
    ("--rnn-dropout", "1.0", ["--rnn-dropout 1.0", "below 1"]),
    ("--length-groups", "0", ["--length-groups 0", "at least 1"]),
    ("--length-groups", "100000000", ["--length-groups 100000000", "at most 1024"]),
    ("--warmup", "-1", ["--warmup -1", "0 or more"]),
    ("--max-len", "3", ["--max-len 3", "at least --min-len 4"]),  # with --min-len 4 below
    ("--seed", "-1", ["--seed -1"]),
])
def test_bad_train_options_are_usage_errors_before_anything_starts(option, value, words, tmp_path,
                                                                   monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dec-hidden", "100", "--min-len", "4", option, value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"
    assert not (tmp_path / "runs").exists()


def test_transformer_sizes_that_make_no_model_are_usage_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--model", "transformer", "--d-model", "6", "--nhead", "4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "do not make a model" in err and "divisible by nhead" in err
    assert not (tmp_path / "runs").exists()


def test_an_existing_run_is_never_overwritten_without_force(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", *TINY, "--steps", "2", "--eval-every", "1", "--out", out]) == 0
    before = (tmp_path / "run" / "checkpoint.npz").read_bytes()
    capsys.readouterr()
    assert main(["train", *TINY, "--steps", "2", "--out", out]) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "--force" in err
    assert (tmp_path / "run" / "checkpoint.npz").read_bytes() == before
    assert main(["train", *TINY, "--steps", "2", "--eval-every", "1", "--out", out,
                 "--force"]) == 0


def test_resume_applies_what_it_can_and_refuses_what_it_cannot(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert main(["train", *TINY, "--steps", "2", "--eval-every", "1", "--out", out]) == 0
    assert main(["train", "--resume", out, "--emb-dim", "16"]) == 2
    assert "--emb-dim cannot change" in capsys.readouterr().err
    # the batches a run trains on are fixed by its checkpoint too
    assert main(["train", "--resume", out, "--length-groups", "4"]) == 2
    assert "--length-groups cannot change" in capsys.readouterr().err
    assert main(["train", "--resume", out, "--steps", "4", "--lr", "0.001"]) == 0
    resumed = Trainer.load(os.path.join(out, "checkpoint.npz"))
    assert resumed.step == 4 and resumed.config.lr == 0.001 and resumed.config.emb_dim == 8


def test_default_run_folders_are_unique_within_a_second(tmp_path, monkeypatch):
    from numpygam.__main__ import _new_run_folder
    monkeypatch.chdir(tmp_path)
    first = _new_run_folder()
    os.makedirs(first)
    assert _new_run_folder() != first


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_loss_that_is_itself_nan_or_inf_stops_the_step_before_the_update(bad):
    """The loss alone is bad (its gradient is finite): a threshold test such as
    `loss > 1e6` would let NaN through."""
    trainer = Trainer(tiny_config())
    before = {k: v.copy() for k, v in trainer.model.state_dict().items()}
    forward = trainer.criterion.forward
    trainer.criterion.forward = lambda *args: forward(*args) * bad
    with pytest.raises(NonFiniteError, match=f"the loss is {bad}"):
        trainer.train_step()
    assert trainer.step == 0
    for k, v in trainer.model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--steps", "2", "--eval-every", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    # lr 1e38 is finite (float32 stops at 3.4e38), so it is accepted; the next updates
    # blow the weights up
    with np.errstate(all="ignore"):  # the overflow is the point here
        assert main(["train", "--resume", str(out), "--steps", "6", "--warmup", "0",
                     "--lr", "1e38"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("stopped: step ") and err.count("\n") == 1
    assert "the loss is" in err or "weights are not finite" in err
    stopped_at = int(err.split()[2].rstrip(":"))
    kept = Trainer.load(out / "checkpoint.npz")  # still loads: the last one with finite weights
    assert 2 <= kept.step < stopped_at
    for path in out.glob("checkpoint*.npz"):
        assert all(np.isfinite(v).all() for k, v in load_checkpoint(str(path)).items()
                   if k.startswith("model."))


# -- translate --------------------------------------------------------------------------

@pytest.mark.parametrize("text, valid", [("2000-02-29", True), ("2001-02-29", False),
                                         ("2001-13-05", False), ("2001-02-30", False),
                                         ("1999-12-31", True), ("199-12-31", False),
                                         ("2001-2-3", False), ("", False),
                                         # ten characters that date.fromisoformat accepts
                                         # but that are not YYYY-MM-DD
                                         ("2001-W05-6", False), ("2001-034  ", False),
                                         ("2001-02-3 ", False), (" 2001-02-3", False),
                                         ("2001/02/03", False), ("2001-02-03\n", False),
                                         ("20010203  ", False), ("1900-01-01", True)])
def test_only_real_calendar_dates_count_as_answers(text, valid):
    assert is_calendar_date(text) is valid


def test_translate_marks_an_impossible_date_and_exits_1(tmp_path, capsys, monkeypatch):
    trainer = Trainer(TrainConfig(steps=1, batch_size=4, emb_dim=8, enc_hidden=8, dec_hidden=16,
                                  attn_dim=8, train_size=100, heldout_limit=10))
    path = str(trainer.save(tmp_path / "checkpoint.npz"))
    monkeypatch.setattr(Trainer, "translate", lambda self, text, beam: ("2001-02-30",
                                                                         np.ones((11, len(text)))))
    assert main(["translate", "february 30 2001", "--checkpoint", path]) == 1
    assert "not a real date" in capsys.readouterr().out


def test_translate_refuses_beam_0_names_a_missing_checkpoint_and_survives_an_unwritable_folder(
        tmp_path, capsys, monkeypatch):
    path = str(Trainer(tiny_config()).save(tmp_path / "checkpoint.npz"))
    assert main(["translate", "123", "--beam", "0", "--checkpoint", path]) == 2
    assert "--beam 0" in capsys.readouterr().err
    missing = str(tmp_path / "nope.npz")
    assert main(["translate", "123", "--checkpoint", missing]) == 2
    assert missing in capsys.readouterr().err

    def unwritable(*args):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr("numpygam.plots.attention_heatmap", unwritable)
    assert main(["translate", "123", "--checkpoint", path]) == 0
    assert "attention map was not written" in capsys.readouterr().err


def test_translate_skips_a_damaged_newest_run_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    good = tmp_path / "runs" / "a"
    good.mkdir(parents=True)
    Trainer(tiny_config()).save(good / "checkpoint.npz")
    time.sleep(0.05)
    bad = tmp_path / "runs" / "b"
    bad.mkdir()
    (bad / "checkpoint.npz").write_bytes(b"half a file")
    assert main(["translate", "123"]) == 0
    captured = capsys.readouterr()
    assert "skipped" in captured.err and str(os.path.join("runs", "b")) in captured.err


# -- the library never turns bad input into a plausible number --------------------------

def test_relu_keeps_nan_as_pytorch_does():
    x = np.array([np.nan, -1.0, 2.0, 0.0])
    y, cache = F.relu_forward(x)
    expected = torch.relu(torch.tensor(x, requires_grad=True))
    np.testing.assert_array_equal(y, expected.detach().numpy())  # NaN == NaN here
    assert np.isnan(y[0])


def test_load_state_dict_changes_nothing_when_any_key_is_bad():
    m = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    before = m.state_dict()
    bad = {k: np.zeros_like(v) for k, v in before.items()}
    bad["1.bias"] = np.array(["not a number"])
    with pytest.raises(ValueError, match="1.bias"):
        m.load_state_dict(bad)
    for key, value in m.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_infinite_and_overflowing_scores_give_the_exact_limit_without_warnings(dtype):
    big = np.finfo(dtype).max
    scores = np.array([[np.inf, 1, np.inf, 3],      # two +inf: half the weight each
                       [-np.inf, 0, 1, -np.inf],    # -inf: weight 0
                       [big, -big, 0, 1],           # differences beyond the range
                       [-np.inf] * 4], dtype)       # nothing finite: zeros, like a masked row
    mask = np.array([True, True, True, False])
    with np.errstate(all="raise"):
        a, cache = F.softmax_forward(scores, mask)
        da = F.softmax_backward(np.ones_like(a), cache)
    expected = np.array([[0.5, 0, 0.5, 0], [0, 1 / (1 + np.e), np.e / (1 + np.e), 0],
                         [1, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(a, expected, rtol=4 * np.finfo(dtype).eps, atol=0)
    assert a.dtype == dtype and np.isfinite(da).all()
    assert np.isnan(F.softmax_forward(np.array([[np.nan, 1.0]], dtype))[0]).all()  # as torch


@pytest.mark.parametrize("call, words", [
    (lambda: nn.MultiheadAttention(8, 0), ["num_heads", "integer >= 1", "0"]),
    (lambda: nn.Conv2d(4, 4, 3, groups=2.0), ["groups", "2.0"]),
    (lambda: nn.Conv2d(4, 4, 0), ["kernel_size", "0"]),
    (lambda: nn.Linear(3, 0), ["Linear", "out_features", "0"]),
    (lambda: nn.Embedding(10, 2.5), ["Embedding", "embedding_dim", "2.5"]),
    (lambda: nn.BatchNorm2d(0), ["BatchNorm2d", "num_features", "0"]),
    (lambda: nn.BatchNorm2d(4, momentum=2), ["momentum", "[0, 1]", "2"]),
    (lambda: nn.BatchNorm2d(4, eps=0), ["eps", "0"]),
    (lambda: nn.GRU(4, -1), ["GRU", "hidden_size", "-1"]),
    (lambda: nn.GRUCell(0, 4), ["GRUCell", "input_size", "0"]),
    (lambda: nn.MaxPool2d(0), ["MaxPool2d", "kernel_size", "0"]),
    (lambda: nn.AvgPool2d(2, stride=-1), ["AvgPool2d", "stride", "-1"]),
    (lambda: nn.Attention("general", query_dim=0), ["Attention", "query_dim", "0"]),
    (lambda: nn.Attention("additive", query_dim=4, attn_dim=True), ["attn_dim", "True"]),
    (lambda: nn.LocalAttention("p", D=0, query_dim=4), ["LocalAttention", "D", "0"]),
    (lambda: nn.AttentionalHidden(4, 0), ["AttentionalHidden", "hidden_dim", "0"]),
    (lambda: nn.GAM(8, rate=0), ["GAM", "rate", "0"]),
    (lambda: nn.SEBlock(8, reduction=0), ["SEBlock", "reduction", "0"]),
    (lambda: nn.Seq2Seq(10, 10, emb_dim=0), ["Seq2Seq", "emb_dim", "0"]),
    (lambda: nn.Seq2Seq(10, 10, teacher_forcing=1.5), ["teacher_forcing", "1.5"]),
    (lambda: nn.GAM(8)(np.zeros((0, 8, 5, 5), np.float32)), ["shape (0, 8, 5, 5)", "batch"]),
    (lambda: F.conv2d_forward(np.zeros((2, 0, 5, 5)), np.zeros((3, 0, 3, 3))), ["(2, 0, 5, 5)"]),
])
def test_bad_constructor_arguments_and_empty_inputs_are_named(call, words):
    with pytest.raises(ValueError) as info:
        call()
    for w in words:
        assert w in str(info.value), f"{w!r} not in {info.value}"


@pytest.mark.parametrize("score", ["dot", "general", "concat", "additive"])
def test_no_keys_gives_zero_context_and_zero_gradients_as_pytorch_does(score):
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(2, 3, 4)), np.zeros((2, 0, 4)), np.zeros((2, 0, 5))
    m = nn.Attention(score, query_dim=4, key_dim=4, attn_dim=3, dtype=np.float64, rng=rng)
    with np.errstate(all="raise"):
        c, a = m(q, k, v)
        dq, dk, dv = m.backward(rng.normal(size=c.shape), np.zeros(a.shape))
    assert a.shape == (2, 3, 0) and dk.shape == (2, 0, 4) and dv.shape == (2, 0, 5)
    np.testing.assert_array_equal(c, np.zeros((2, 3, 5)))
    np.testing.assert_array_equal(dq, np.zeros_like(q))


def test_multihead_attention_with_no_keys_matches_pytorch():
    torch_mha = torch.nn.MultiheadAttention(4, 2, batch_first=True, dtype=torch.float64)
    torch.nn.init.normal_(torch_mha.out_proj.bias)  # so that "the output is the bias" shows
    m = nn.MultiheadAttention(4, 2, dtype=np.float64)
    m.load_state_dict({k: v.detach().numpy() for k, v in torch_mha.state_dict().items()})
    q = np.random.default_rng(1).normal(size=(2, 3, 4))
    out, weights = m(q, np.zeros((2, 0, 4)), np.zeros((2, 0, 4)))
    expected, _ = torch_mha(torch.tensor(q), torch.zeros(2, 0, 4, dtype=torch.float64),
                            torch.zeros(2, 0, 4, dtype=torch.float64))
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=0, atol=1e-15)
    assert weights.shape == (2, 3, 0)


# -- the date task: the forms users type --------------------------------------------------

@pytest.mark.parametrize("n, text", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"),
                                     (12, "12th"), (13, "13th"), (21, "21st"), (22, "22nd"),
                                     (23, "23rd"), (30, "30th"), (31, "31st")])
def test_ordinals(n, text):
    assert dates.ordinal(n) == text


def test_every_form_is_drawn_reads_one_way_and_fits_the_vocabulary():
    triples = dates.labelled_pairs(20_000, seed=3)
    assert {form for *_, form in triples} == set(dates.FORMATS)
    years = [int(iso[:4]) for _, iso, _ in triples]
    assert min(years) < 1905 and max(years) > 2094  # four-digit years across 1900-2099
    vocab = date_task(10)[2]
    for text, iso, form in triples:
        vocab.encode(text)
        assert len(text) <= MAX_INPUT
        d = datetime.date.fromisoformat(iso)
        assert text == form.format(**dates.fields(d))
        if "{yy}" in form:  # a two-digit year must read back as the right century
            yy = int(dates.fields(d)["yy"])
            assert (1900 + yy if yy >= 50 else 2000 + yy) == d.year


def test_translate_reads_what_users_type_as_the_training_forms(tmp_path, monkeypatch, capsys):
    path = str(Trainer(TrainConfig(steps=1, batch_size=4, emb_dim=8, enc_hidden=8, dec_hidden=16,
                                   attn_dim=8, train_size=100, heldout_limit=10)).save(
        tmp_path / "checkpoint.npz"))
    seen = []
    monkeypatch.setattr(Trainer, "translate", lambda self, text, beam: (
        seen.append(text) or "1991-03-05", np.ones((11, len(text)))))
    assert main(["translate", "  Tuesday,  March 5th, 1991 ", "--checkpoint", path]) == 0
    assert seen == ["tuesday, march 5th, 1991"]


def test_training_reports_heldout_accuracy_for_every_input_form(tmp_path):
    lines = []
    config = TrainConfig(steps=1, batch_size=4, emb_dim=8, enc_hidden=8, dec_hidden=16,
                         attn_dim=8, train_size=100, heldout_limit=300)
    trainer, accuracy = train(config, str(tmp_path), out=lines.append)
    by_form = trainer.accuracy_by_form()
    assert sum(n for _, n in by_form.values()) == 300
    assert sum(right for right, _ in by_form.values()) == round(accuracy * 300)
    assert list(by_form) == [f for f in dates.FORMATS if f in by_form]
    start = lines.index("held-out exact match by input form:")
    assert len(lines[start + 1:start + 1 + len(by_form)]) == len(by_form)
    assert all(form in line for form, line in zip(by_form, lines[start + 1:]))


# -- the command line checks before it works (issue 21) --------------------------------

@pytest.mark.parametrize("out, words", [("/proc", ["--out /proc", "cannot write there"]),
                                        ("FILE", ["is a file; give a folder"])])
def test_an_unwritable_or_file_out_is_refused_before_any_step(out, words, tmp_path, capsys,
                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    if out == "FILE":
        (tmp_path / "FILE").write_text("mine")
    steps = []
    monkeypatch.setattr(Trainer, "train_step", lambda self: steps.append(1) or 0.0)
    assert main(["train", *TINY, "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and all(w in err for w in words), err
    assert steps == []
    if out == "FILE":
        assert (tmp_path / "FILE").read_text() == "mine"


@pytest.mark.parametrize("option, value", [("--dim-feedforward", "100000000"),
                                           ("--num-layers", "100000"), ("--d-model", "65536")])
def test_sizes_beyond_the_machines_memory_are_one_line(option, value, tmp_path, capsys,
                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--model", "transformer", option, value, "--nhead", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "GiB to train" in err and "available" in err
    assert not (tmp_path / "runs").exists()


def _saved(tmp_path, **arrays):
    """A real checkpoint with some of its arrays replaced."""
    path = tmp_path / "run" / "checkpoint.npz"
    path.parent.mkdir(exist_ok=True)
    trainer = Trainer(tiny_config())
    trainer.save(str(path))
    data = load_checkpoint(str(path))
    data.update(arrays)
    path.unlink()
    save_checkpoint(str(path), data)
    return path


def _config(**changes):
    import dataclasses
    import json
    return np.array(json.dumps({**dataclasses.asdict(tiny_config()), **changes}))


@pytest.mark.parametrize("arrays, words", [
    ({"step": np.array([1, 2])}, ["step", "integer >= 0"]),
    ({"step": np.array("ten")}, ["step", "integer >= 0"]),
    ({"step": np.array(np.nan)}, ["step", "integer >= 0"]),
    ({"step": np.array(-10)}, ["step", "integer >= 0"]),
    ({"config": np.array("[1, 2]")}, ["config is not a JSON object"]),
    ({"config": np.array("{not json")}, ["config is not a JSON object"]),
    ({"config": np.array(7)}, ["config is not text"]),
    ({"config": np.array(["{}"])}, ["config is not text"]),
    ({"config": _config(dim_feedforward=10**9, model="transformer")}, ["GiB to train"]),
    ({"config": _config(dtype="int8")}, ["--dtype 'int8'"]),
    ({"config": _config(dropout=1.0)}, ["--dropout 1.0"]),
    ({"config": _config(steps="many")}, ["steps is 'many', not a int"]),
    ({"config": _config(surprise=1)}, ["unknown option 'surprise'"]),
])
def test_every_field_of_a_checkpoint_is_checked_before_anything_is_built(arrays, words,
                                                                         tmp_path, capsys):
    path = _saved(tmp_path, **arrays)
    with pytest.raises(CheckpointError) as info:
        Trainer.load(str(path))
    for w in words:
        assert w in str(info.value), str(info.value)
    assert main(["translate", "3 may 1979", "--checkpoint", str(path)]) == 2
    assert main(["train", "--resume", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 2


def test_a_header_claiming_terabytes_is_refused_before_reading(tmp_path):
    import zipfile
    raw = npy_claiming(1000000000000)
    path = tmp_path / "checkpoint.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("step.npy", raw)
    with pytest.raises(CheckpointError, match="claims 8000000000000 bytes"):
        load_checkpoint(str(path))


@pytest.fixture(scope="module")
def date_checkpoint(tmp_path_factory):
    trainer = Trainer(TrainConfig(steps=1, batch_size=4, emb_dim=8, enc_hidden=8, dec_hidden=16,
                                  attn_dim=8, train_size=100, heldout_limit=10))
    folder = tmp_path_factory.mktemp("dates")
    trainer.save(str(folder / "checkpoint.npz"))
    return folder


@pytest.mark.parametrize("text, answer, status, words", [
    ("a" * 40, "1999-01-01", 1, ["no date in it"]),
    ("1 jan 2150", None, 2, ["1900-2099", "2150"]),
    ("1 jan 1850", None, 2, ["1850"]),
    ("1850-2150", None, 2, ["the year 1850 is outside"]),  # the first one named
    ("3 may 1979", "1331-03-12", 1, ["outside the task's years 1900-2099"]),
    ("3 may 1979", "1979-05-03", 0, []),
])
def test_translate_marks_answers_outside_the_task(text, answer, status, words, date_checkpoint,
                                                  capsys, monkeypatch):
    monkeypatch.setattr(Trainer, "translate", lambda self, t, beam: (answer, np.ones((11, len(t)))))
    # a run folder works for --checkpoint, as for --resume
    assert main(["translate", text, "--checkpoint", str(date_checkpoint)]) == status
    captured = capsys.readouterr()
    for w in words:
        assert w in captured.out + captured.err
    assert "Traceback" not in captured.err


def test_translate_into_a_closed_pipe_ends_quietly(date_checkpoint, tmp_path):
    command = (f"{sys.executable} -m numpygam translate '3 may 1979' --checkpoint "
               f"{date_checkpoint} | true")  # the reader is gone before anything is written
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True,
                          text=True, cwd=tmp_path, timeout=120)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    # the status is the answer's (1 for this weak checkpoint's wrong one), pipe or not
    alone = subprocess.run(["bash", "-c", command.replace("| true", "> /dev/null")],
                           capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == alone.returncode in (0, 1)


def test_resume_with_nothing_left_to_do_says_so(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--steps", "2", "--eval-every", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(out)]) == 2
    err = capsys.readouterr().err
    assert "done 2 of its 2 steps" in err and "nothing left to do" in err
    assert main(["train", "--resume", str(out), "--steps", "1"]) == 2


@pytest.mark.parametrize("changes", [
    {}, {"model": "transformer"},
    {"model": "transformer", "num_layers": 3, "d_model": 32, "dim_feedforward": 48, "nhead": 2},
    # odd sizes, so that no two terms of the count share a bit (a + b == a | b == a ^ b
    # when they do not, which hid an or-for-plus slip)
    {"model": "transformer", "num_layers": 1, "d_model": 15, "dim_feedforward": 27, "nhead": 3},
    {"emb_dim": 7, "enc_hidden": 9, "dec_hidden": 11, "attn_dim": 5, "attention": "luong",
     "score": "general", "window": "local-p"},
    {"emb_dim": 5, "enc_hidden": 3, "dec_hidden": 13, "attn_dim": 7, "score": "concat"},
    {"emb_dim": 16, "enc_hidden": 24, "dec_hidden": 40, "attn_dim": 12},
    {"attention": "luong", "score": "general", "window": "local-p"},
    {"score": "location"}, {"attention": "luong", "score": "concat", "attn_dim": 20},
    {"attention": "luong", "score": "dot"}, {"window": "local-m", "score": "scaled_dot"},
    {"attention": "luong", "window": "local-p", "score": "additive", "D": 2}])
def test_the_parameter_count_of_the_memory_estimate_is_the_models(changes):
    from numpygam.train import parameter_count
    config = TrainConfig(**{**changes, "train_size": 50})
    trainer = Trainer(config)
    real = sum(p.data.size for p in trainer.model.parameters())
    assert parameter_count(config, len(trainer.src_vocab), len(trainer.tgt_vocab)) == real


@pytest.mark.parametrize("model", ["rnn", "transformer"])
def test_a_training_step_allocates_less_than_the_estimate(model):
    import tracemalloc

    from numpygam.train import estimate_memory
    config = TrainConfig(model=model, train_size=200, batch_size=32)
    trainer = Trainer(config)
    trainer.train_step()  # Adam's moments exist from here on
    tracemalloc.start()
    trainer.train_step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    weights = 4 * sum(p.data.nbytes for p in trainer.model.parameters())
    estimate = estimate_memory(config)
    assert weights + peak <= estimate <= 10 * (weights + peak)


def test_the_refusal_states_the_memory_the_machine_has(monkeypatch, tmp_path, capsys):
    import numpygam.train as train_module
    monkeypatch.setattr(train_module, "available_memory", lambda: 8 * 2**30)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--model", "transformer", "--dim-feedforward", "10000000"]) == 2
    err = capsys.readouterr().err
    need = train_module.estimate_memory(TrainConfig(model="transformer",
                                                    dim_feedforward=10_000_000))
    assert "8.0 GiB available" in err and f"need about {need / 2**30:.1f} GiB" in err


def test_an_answer_longer_than_any_target_counts_as_wrong(monkeypatch):
    """Greedy decodes one token past the longest target, so an 11th character shows."""
    trainer = Trainer(TrainConfig(steps=1, batch_size=4, emb_dim=8, enc_hidden=8, dec_hidden=16,
                                  attn_dim=8, train_size=50, heldout_limit=3))
    target = trainer.heldout[0][1]
    ids = trainer.tgt_vocab.encode(target + "1")  # the right date and one character more

    def greedy(src, lengths, max_len):
        return np.array([(ids * 2)[:max_len]] * len(src)), np.zeros((len(src), max_len, 1))
    monkeypatch.setattr(trainer.model, "greedy", greedy)
    assert not trainer.exact_matches(trainer.heldout[:1])[0]


@pytest.mark.parametrize("task", ["copy", "reverse"])
def test_the_copy_task_copies_and_the_reverse_task_reverses(task):
    from numpygam.train import load_task
    pairs = load_task(tiny_config(task=task)).train
    assert all(target == (source[::-1] if task == "reverse" else source)
               for source, target in pairs)
    assert any(source != source[::-1] for source, _ in pairs)


@pytest.mark.parametrize("changes", [{}, {"model": "transformer", "num_layers": 3, "nhead": 2},
                                     {"enc_hidden": 24, "dec_hidden": 40, "attn_dim": 12,
                                      "dtype": "float32", "batch_size": 8}])
def test_the_memory_estimate_is_its_documented_sum(changes):
    """estimate_memory, worked by hand: 4 copies of every parameter (weights, gradients,
    Adam's two moments) plus one batch's cached activations at LONGEST = 40 positions,
    per position 2 L (20 d + 4 ff + 4 H T) for the Transformer (L layers of each stack),
    20 He + 30 Hd + 4 A T + 4 V for the RNN (V = 64 symbols); times the dtype's size."""
    from numpygam.train import LONGEST, estimate_memory, parameter_count
    c = TrainConfig(**changes)
    T, B, size = 40, c.batch_size, 4 if c.dtype == "float32" else 8
    assert LONGEST == T
    if c.model == "transformer":
        per_position = 2 * c.num_layers * (20 * c.d_model + 4 * c.dim_feedforward
                                           + 4 * c.nhead * T)
    else:
        per_position = 20 * c.enc_hidden + 30 * c.dec_hidden + 4 * c.attn_dim * T + 4 * 64
    assert estimate_memory(c) == (4 * parameter_count(c) + B * T * per_position) * size


def test_available_memory_falls_back_to_the_physical_memory(monkeypatch):
    """Where /proc/meminfo cannot be read, the physical memory: page size x pages."""
    import os

    import numpygam.train as train_module

    def unreadable(*args, **kwargs):
        raise OSError("no /proc here")
    monkeypatch.setattr(train_module, "open", unreadable, raising=False)
    assert train_module.available_memory() == (os.sysconf("SC_PAGE_SIZE")
                                               * os.sysconf("SC_PHYS_PAGES"))


def test_the_progress_bar_fills_in_proportion_to_the_steps():
    from numpygam.train import progress_line
    line = progress_line(250, 1000, 0.5, 0.9, 12.0)
    assert "[######..................]" in line and line.startswith("step   250/1000")
    assert "[" + "#" * 24 + "]" in progress_line(1000, 1000, 0.1, 1.0, 60.0)


def test_strings_of_one_length_are_a_valid_copy_task():
    """--min-len equal to --max-len is allowed (only a longest below the shortest is not)."""
    from numpygam.train import TrainConfig, check_config
    assert check_config(TrainConfig(task="copy", min_len=4, max_len=4)) is None
    assert "--max-len 3" in check_config(TrainConfig(task="copy", min_len=4, max_len=3))


@pytest.mark.parametrize("config", ["not json", "[1, 2]", None])
def test_a_checkpoint_whose_task_cannot_be_read_is_of_no_task(config, tmp_path):
    """latest_checkpoint(task=...) skips a checkpoint whose config is not JSON (ValueError),
    is JSON but no object (AttributeError) or is missing (CheckpointError): no task."""
    from numpygam.train import _task_of
    path = tmp_path / "checkpoint.npz"
    arrays = {"step": np.array(3)}
    if config is not None:
        arrays["config"] = np.array(config)
    np.savez(path, **arrays)
    assert _task_of(str(path)) is None
