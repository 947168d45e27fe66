"""`train` when the world interferes: Ctrl-C and SIGTERM, a full disk, two runs on one folder,
saves at the same time, the umask, a checkpoint without the optimiser, the newest run."""
import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest
from forged import npy_claiming

import numpygam.train as train_module
from numpygam.__main__ import main
from numpygam.checkpoint import CheckpointError, load_checkpoint, previous_path, save_checkpoint
from numpygam.train import TrainConfig, Trainer, latest_checkpoint

TINY = ["--task", "reverse", "--batch-size", "8", "--emb-dim", "8", "--enc-hidden", "8",
        "--dec-hidden", "16", "--attn-dim", "8", "--train-size", "200", "--heldout-limit", "10"]
# the date task, as small as it goes: some 40 steps a second, the first progress line at 50
DATES = ["--task", "dates", "--batch-size", "8", "--emb-dim", "8", "--enc-hidden", "8",
         "--dec-hidden", "16", "--attn-dim", "8", "--train-size", "200", "--heldout-limit", "20"]


def tiny_config(**changes):
    return TrainConfig(**{**dict(task="reverse", steps=20, batch_size=8, emb_dim=8, enc_hidden=8,
                                 dec_hidden=16, attn_dim=8, train_size=200, heldout_limit=10),
                          **changes})


def one_line(text):
    """The text is exactly one line, and no traceback."""
    assert "Traceback" not in text, text
    assert text.count("\n") == 1 and text.endswith("\n"), repr(text)
    return text.strip()


def temporaries(folder):
    return [n for n in os.listdir(folder) if n.startswith(".checkpoint-") or n.endswith(".tmp")]


class Escaped(Exception):
    """A signal that reached the test's own handlers: train did not handle it."""


def run_main(argv):
    """main(argv), where a signal train lets through fails the test instead of ending pytest
    (a KeyboardInterrupt) or the process (SIGTERM's default action)."""
    def escaped(signum, frame):
        raise Escaped(signal.Signals(signum).name)
    before = {s: signal.signal(s, escaped) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        status = main(argv)
        assert signal.getsignal(signal.SIGINT) is escaped, "train left its handler installed"
        assert signal.getsignal(signal.SIGTERM) is escaped, "train left its handler installed"
        return status
    except (Escaped, KeyboardInterrupt) as err:
        pytest.fail(f"{type(err).__name__} {err}: train did not handle the signal")
    finally:
        for s, h in before.items():
            signal.signal(s, h)


# -- 1. Ctrl-C and SIGTERM -------------------------------------------------------------------

@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_train_saves_says_how_to_resume_and_exits_128_plus_it(signum, status,
                                                                              tmp_path, capsys):
    out = str(tmp_path / "run")
    proc = subprocess.Popen([sys.executable, "-m", "numpygam", "train", *DATES, "--steps",
                             "100000", "--eval-every", "100000", "--out", out],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        printed = []
        deadline = time.time() + 120
        while time.time() < deadline:  # the first progress line: the loop has begun
            line = proc.stdout.readline()
            assert line, f"train ended early: {proc.wait()} {proc.stderr.read()}"
            printed.append(line)
            if line.startswith("step "):
                break
        else:
            pytest.fail(f"no progress line in 120 s: {printed}")
        # meanwhile the folder is locked: a second run on it is refused, naming the holder
        assert main(["train", *DATES, "--steps", "10", "--out", out]) == 2
        err = one_line(capsys.readouterr().err)
        assert err.startswith("error: --out") and f"pid {proc.pid}" in err and "in use" in err
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == status, stderr
    message = one_line(stderr)
    step = Trainer.load(os.path.join(out, "checkpoint.npz")).step  # it loads
    assert step >= 50
    assert message == (f"stopped ({signal.Signals(signum).name}) at step {step} of 100000: "
                       f"checkpoint saved to {out}/checkpoint.npz; resume with: "
                       f"python -m numpygam train --resume {out}")
    assert temporaries(out) == []
    # --resume continues from there, the folder's lock freed with the process
    assert main(["train", "--resume", out, "--steps", str(step + 2)]) == 0
    assert Trainer.load(os.path.join(out, "checkpoint.npz")).step == step + 2


def test_more_signals_while_saving_change_nothing(tmp_path, capsys, monkeypatch):
    """A second (and third) Ctrl-C that lands inside a save: the save finishes, whole."""
    real = train_module.save_checkpoint
    calls = []

    def save_under_fire(path, arrays):
        calls.append(int(arrays["step"]))
        os.kill(os.getpid(), signal.SIGINT)   # Ctrl-C as the save starts ...
        os.kill(os.getpid(), signal.SIGTERM)  # ... SIGTERM too ...
        done = real(path, arrays)
        os.kill(os.getpid(), signal.SIGINT)   # ... and again as it ends
        return done
    monkeypatch.setattr(train_module, "save_checkpoint", save_under_fire)
    out = tmp_path / "run"
    status = run_main(["train", *TINY, "--steps", "6", "--eval-every", "2", "--out", str(out)])
    assert status == 130  # the first signal names the status
    message = one_line(capsys.readouterr().err)
    assert message.startswith("stopped (SIGINT) at step 2 of 6: checkpoint saved to")
    assert calls == [2] and load_checkpoint(str(out / "checkpoint.npz"))["step"] == 2
    assert temporaries(out) == []


def test_a_signal_in_the_final_evaluation_stops_at_once(tmp_path, capsys, monkeypatch):
    """Once the last checkpoint is written there is nothing to save: stop, say where it is."""
    def interrupted(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)
        pytest.fail("the signal did not stop the final evaluation")
    monkeypatch.setattr(train_module, "attention_heatmap", interrupted)
    out = tmp_path / "run"
    assert run_main(["train", *TINY, "--steps", "3", "--eval-every", "100",
                     "--out", str(out)]) == 130
    message = one_line(capsys.readouterr().err)
    assert message == (f"stopped (SIGINT) after the last step (3 of 3), in the final evaluation: "
                       f"the trained checkpoint is saved to {out}/checkpoint.npz")
    assert Trainer.load(out / "checkpoint.npz").step == 3


def test_ctrl_c_before_training_starts_is_one_line(tmp_path, capsys, monkeypatch):
    def interrupted(config):
        raise KeyboardInterrupt
    monkeypatch.setattr(train_module, "check_config", interrupted)
    assert run_main(["train", *TINY, "--out", str(tmp_path / "run")]) == 130
    assert "nothing was saved" in one_line(capsys.readouterr().err)


# -- 2. a checkpoint within the first minute --------------------------------------------------

def test_train_saves_every_checkpoint_seconds_between_evaluations(tmp_path, monkeypatch, capsys):
    assert train_module.CHECKPOINT_SECONDS <= 60
    saved = []
    real = Trainer.save
    monkeypatch.setattr(Trainer, "save", lambda self, path: (saved.append(self.step),
                                                             real(self, path))[1])
    assert main(["train", *TINY, "--steps", "4", "--eval-every", "100",
                 "--out", str(tmp_path / "a")]) == 0
    assert saved == [4]  # steps are fast: the end comes before a minute
    saved.clear()
    monkeypatch.setattr(train_module, "CHECKPOINT_SECONDS", 0)  # every step is a minute late
    assert main(["train", *TINY, "--steps", "4", "--eval-every", "100",
                 "--out", str(tmp_path / "b")]) == 0
    assert saved == [1, 2, 3, 4]


# -- 3. a full disk ---------------------------------------------------------------------------

def _failing_savez(code, fail_from):
    """np.savez that writes some bytes and then fails with code, from its fail_from-th call."""
    real, calls = np.savez, []

    def savez(file, **arrays):
        calls.append(1)
        if len(calls) >= fail_from:
            file.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(code, os.strerror(code))
        return real(file, **arrays)
    return savez


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES])
def test_a_save_that_fails_is_one_line_keeping_the_previous_checkpoint(code, tmp_path, capsys,
                                                                      monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(np, "savez", _failing_savez(code, fail_from=2))
    assert main(["train", *TINY, "--steps", "6", "--eval-every", "2", "--out", str(out)]) == 1
    message = one_line(capsys.readouterr().err)
    assert message == (f"stopped at step 4 of 6: could not write the checkpoint "
                       f"{out}/checkpoint.npz ({os.strerror(code)}); the checkpoint of step 2 is "
                       f"kept in {out}/checkpoint.npz; free some space (or fix the folder) and "
                       f"resume with: python -m numpygam train --resume {out}")
    assert sorted(os.listdir(out)) == [".lock", "checkpoint.npz"]  # no temporary
    assert Trainer.load(out / "checkpoint.npz").step == 2


def test_a_first_save_that_fails_says_nothing_is_kept(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(np, "savez", _failing_savez(errno.ENOSPC, fail_from=1))
    assert main(["train", *TINY, "--steps", "6", "--eval-every", "2", "--out", str(out)]) == 1
    message = one_line(capsys.readouterr().err)
    assert message.endswith("(No space left on device); no checkpoint of this run is kept")
    assert sorted(os.listdir(out)) == [".lock"]


def test_a_failed_save_leaves_the_file_as_it_was_and_no_temporary(tmp_path, monkeypatch):
    path = str(tmp_path / "checkpoint.npz")
    save_checkpoint(path, {"step": np.array(1), "config": np.array("{}")})
    save_checkpoint(path, {"step": np.array(2), "config": np.array("{}")})

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as info:
        save_checkpoint(path, {"step": np.array(3), "config": np.array("{}")})
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert int(load_checkpoint(path)["step"]) == 2
    assert int(load_checkpoint(previous_path(path))["step"]) == 1
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "checkpoint.prev.npz"]


def test_a_really_full_disk_is_one_line(tmp_path, capsys):
    """The same on a real file system: a tmpfs with room for one checkpoint, not two (a
    save writes the new one beside the old); root only, where mount is allowed."""
    sample = tmp_path / "sample.npz"
    Trainer(tiny_config()).save(sample)
    size = sample.stat().st_size
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size * 3 // 2 + 4096}", "tmpfs", str(disk)],
            capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (root and mount needed)")
    try:
        out = disk / "run"
        assert main(["train", *TINY, "--steps", "4", "--eval-every", "2",
                     "--out", str(out)]) == 1
        message = one_line(capsys.readouterr().err)
        assert "(No space left on device); the checkpoint of step 2 is kept" in message
        assert sorted(os.listdir(out)) == [".lock", "checkpoint.npz"]
        assert Trainer.load(out / "checkpoint.npz").step == 2
    finally:
        subprocess.run(["umount", str(disk)], check=True)


# -- 4. one run per folder; saves that never share a temporary ---------------------------------

def test_a_locked_run_folder_is_refused_in_one_line_naming_its_holder(tmp_path, capsys):
    from numpygam.train import lock_run_folder
    out = tmp_path / "run"
    assert main(["train", *TINY, "--steps", "2", "--eval-every", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    before = (out / "checkpoint.npz").read_bytes()
    with lock_run_folder(str(out)):
        for argv in (["--resume", str(out), "--steps", "4"],
                     [*TINY, "--steps", "2", "--out", str(out), "--force"],
                     [*TINY, "--steps", "2", "--out", str(out)]):
            assert main(["train", *argv]) == 2
            err = one_line(capsys.readouterr().err)
            assert f"is in use by another train run (pid {os.getpid()})" in err, err
    assert (out / "checkpoint.npz").read_bytes() == before
    # released: the next run on it is accepted
    assert main(["train", "--resume", str(out), "--steps", "3"]) == 0


HOLDER = """
import sys, time
from numpygam.train import lock_run_folder
with lock_run_folder(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(600)
"""


def test_the_lock_is_freed_when_its_holder_is_killed(tmp_path):
    from numpygam.train import RunFolderInUse, lock_run_folder
    folder = str(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, folder], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline() == "locked\n"
        with pytest.raises(RunFolderInUse) as info:
            with lock_run_folder(folder):
                pass
        assert info.value.pid == proc.pid
    finally:
        proc.kill()  # SIGKILL: no clean-up code runs
        proc.wait()
    with lock_run_folder(folder):
        assert open(os.path.join(folder, ".lock")).read() == f"{os.getpid()}\n"


def test_saves_to_one_path_at_the_same_time_never_collide(tmp_path, monkeypatch):
    """Two threads save 100 times each to one path.  The link and rename calls are slowed
    (a slow file system: NFS, a busy disk) so that the saves overlap inside them: with a
    temporary name shared between saves, 15% to 70% of these saves failed
    (FileExistsError, FileNotFoundError)."""
    real_link, real_replace = os.link, os.replace

    def slow_link(source, target):
        time.sleep(0.0005)
        real_link(source, target)
        time.sleep(0.0005)

    def slow_replace(source, target):
        time.sleep(0.0005)
        real_replace(source, target)
    monkeypatch.setattr(os, "link", slow_link)
    monkeypatch.setattr(os, "replace", slow_replace)
    path = str(tmp_path / "checkpoint.npz")
    errors = []

    def saver(who):
        for i in range(100):
            try:
                save_checkpoint(path, {"step": np.array(i), "who": np.array(who),
                                       "config": np.array("{}")})
            except Exception as err:  # every failure is the finding
                errors.append(f"{who} save {i}: {type(err).__name__}: {err}")
    threads = [threading.Thread(target=saver, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [], f"{len(errors)} of 200 saves failed: {errors[:3]}"
    assert int(load_checkpoint(path)["step"]) == 99
    load_checkpoint(previous_path(path))
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "checkpoint.prev.npz"]


def test_a_run_removes_the_temporaries_that_killed_saves_left(tmp_path):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--steps", "2", "--eval-every", "1", "--out", str(out)]) == 0
    for name in (".checkpoint-0123abcd.npz", ".checkpoint-4567ef.prev.tmp",
                 "checkpoint.prev.npz.tmp"):  # the last: the link name of earlier versions
        (out / name).write_bytes(b"cut short")
    assert main(["train", "--resume", str(out), "--steps", "3"]) == 0
    assert temporaries(out) == []


# -- 5. the umask ------------------------------------------------------------------------------

@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_checkpoints_get_the_users_umask(umask, mode, tmp_path):
    path = str(tmp_path / "checkpoint.npz")
    old = os.umask(umask)
    try:
        trainer = Trainer(tiny_config())
        trainer.save(path)
        trainer.save(path)
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == mode
    assert os.stat(previous_path(path)).st_mode & 0o777 == mode


# -- 6. a checkpoint without the optimiser's state ------------------------------------------

def test_a_checkpoint_without_the_optimiser_translates_and_resume_says_what_it_needs(tmp_path,
                                                                                    capsys):
    trainer = Trainer(tiny_config())
    for _ in range(2):
        trainer.train_step()
    path = str(tmp_path / "run" / "checkpoint.npz")
    os.makedirs(os.path.dirname(path))
    trainer.save(path)
    data = {k: v for k, v in load_checkpoint(path).items() if not k.startswith("adam.")}
    os.unlink(path)
    save_checkpoint(path, data)
    loaded = Trainer.load(path)  # what translate uses
    assert loaded.step == 2 and not loaded.has_optimizer_state
    for key, value in trainer.model.state_dict().items():
        np.testing.assert_array_equal(loaded.model.state_dict()[key], value)
    assert main(["translate", "123", "--checkpoint", path]) == 0
    capsys.readouterr()
    with pytest.raises(CheckpointError, match="not the optimiser's state"):
        Trainer.load(path, need_optimizer=True)
    assert main(["train", "--resume", path, "--steps", "4"]) == 2
    err = one_line(capsys.readouterr().err)
    assert "holds the model but not the optimiser's state" in err and "--resume needs" in err
    assert "KeyError" not in err and load_checkpoint(path)["step"] == 2


# -- 7. the newest run --------------------------------------------------------------------------

def test_the_newest_run_is_the_one_whose_checkpoint_was_written_last(tmp_path, monkeypatch,
                                                                     capsys):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    paths = {}
    for age, name in ((100, "old"), (10, "new")):
        (runs / name).mkdir(parents=True)
        paths[name] = str(runs / name / "checkpoint.npz")
        Trainer(tiny_config()).save(paths[name])
        then = time.time() - age
        os.utime(paths[name], (then, then))
        os.utime(runs / name, (then, then))
    (runs / "empty").mkdir()  # the newest folder, with no checkpoint: not a run
    assert latest_checkpoint("runs") == os.path.join("runs", "new", "checkpoint.npz")
    # translate --checkpoint OLD writes translate.png into OLD (its folder is now the newest)
    assert main(["translate", "123", "--checkpoint", paths["old"]]) == 0
    assert (runs / "old" / "translate.png").exists()
    (runs / "old" / "notes.txt").write_text("a file written later")
    assert os.path.getmtime(runs / "old") > os.path.getmtime(runs / "new")
    assert latest_checkpoint("runs") == os.path.join("runs", "new", "checkpoint.npz")
    # and a new save makes a run the newest
    Trainer(tiny_config()).save(paths["old"])
    assert latest_checkpoint("runs") == os.path.join("runs", "old", "checkpoint.npz")


# -- 8. the size guard reads headers before it reads (or reserves) anything ---------------------

def test_a_member_claiming_more_than_its_file_holds_is_refused_without_allocating(tmp_path):
    """A header claiming 1.5 GiB (below the global cap MAX_ARRAY_BYTES) in a file of a few
    hundred bytes: refused by the header check, which compares the claim with the member's
    size. A guard loosened to the global cap lets np.load reserve the 1.5 GiB first."""
    import tracemalloc

    from numpygam.checkpoint import MAX_ARRAY_BYTES
    count = 3 * 2**30 // 2 // 8  # float64s: 1.5 GiB
    assert count * 8 < MAX_ARRAY_BYTES
    raw = npy_claiming(count)
    path = tmp_path / "checkpoint.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model.weight.npy", raw)
        archive.writestr("step.npy", raw)
    assert path.stat().st_size < 2000
    tracemalloc.start()  # numpy reports its array buffers to tracemalloc too
    try:
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(str(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, (f"{peak / 2**20:.0f} MiB allocated to refuse a "
                               f"{path.stat().st_size}-byte file")
    assert f"claims {count * 8} bytes of data in " in str(info.value)


def test_train_holds_blas_to_one_thread_with_the_batch_in_shares_unless_asked():
    """The command line's default on a busy machine (benchmarks/bench_busy.py): BLAS at one
    thread, the batch split across the cores; a BLAS variable the user set is obeyed."""
    import subprocess
    import sys
    code = ("import os, json\nfrom numpygam.__main__ import _one_blas_thread_unless_asked\n"
            "_one_blas_thread_unless_asked()\n"
            "from threadpoolctl import threadpool_info\nfrom numpygam.fast import parallel\n"
            "print(json.dumps([[i['num_threads'] for i in threadpool_info() "
            "if i['user_api'] == 'blas'], parallel.get_num_threads(), os.cpu_count()]))")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS",
                                                            "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    blas, shares, cores = json.loads(subprocess.run([sys.executable, "-c", code], env=env,
                                                    capture_output=True, text=True,
                                                    check=True).stdout)
    assert blas and set(blas) == {1} and shares == cores
    env["OPENBLAS_NUM_THREADS"] = "2"
    blas, shares, cores = json.loads(subprocess.run([sys.executable, "-c", code], env=env,
                                                    capture_output=True, text=True,
                                                    check=True).stdout)
    assert set(blas) == {2}
