"""A full disk, a read-only folder and Ctrl-C: one line each, the right exit status, and no
empty or half-written file left where a rerun would trust it.

The full disk is real where this process may mount a small tmpfs (root, as CI runs), and
simulated (os.write raising ENOSPC part way) elsewhere."""
import errno
import os
import signal
import subprocess
import sys
import time

import pytest
from processes import processes_with

from numpygam.__main__ import main
from numpygam.course.homework import exercise_source
from numpygam.files import write_whole


@pytest.fixture
def tiny_disk(tmp_path):
    """A folder on a 16 KiB tmpfs (a disk that fills at once), or skip where none mounts."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(folder)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root)")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_whole_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "gradebook.csv"
    path.write_text("old, whole\n")
    real = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError) as caught:
        write_whole(str(path), "new" * 1000)
    monkeypatch.setattr(os, "fsync", real)
    assert caught.value.filename == str(path) and caught.value.errno == errno.ENOSPC
    assert path.read_text() == "old, whole\n"
    assert os.listdir(tmp_path) == ["gradebook.csv"]


def test_a_whole_write_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_whole(str(tmp_path / "a.txt"), "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644


def test_homework_on_a_full_disk_is_one_line_and_leaves_no_empty_file(tiny_disk, capsys):
    assert main(["homework", str(tiny_disk)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not write" in err and "No space left" in err
    for name in os.listdir(tiny_disk):  # what is there is whole: a handout file, complete
        text = (tiny_disk / name).read_text()
        assert text == exercise_source(name[:-3]), name
    assert not [n for n in os.listdir(tiny_disk) if n.endswith(".tmp")]


def test_lessons_on_a_full_disk_is_one_line_and_leaves_no_empty_notebook(tiny_disk, capsys):
    assert main(["lessons", str(tiny_disk)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "could not write" in err
    for name in os.listdir(tiny_disk):
        assert name.endswith(".ipynb") and (tiny_disk / name).stat().st_size > 100, name


def test_a_rerun_of_homework_replaces_a_cut_off_handout_never_a_students_file(tmp_path, capsys):
    folder = tmp_path / "hw"
    folder.mkdir()
    handout = exercise_source("softmax")
    (folder / "softmax.py").write_text("")                       # an empty file
    (folder / "context.py").write_text(exercise_source("context")[:500])  # cut off
    student = exercise_source("scores").replace("raise NotImplementedError", "return 0  #", 1)
    (folder / "scores.py").write_text(student[:400] + "# my notes\n")  # a student's, short
    assert main(["homework", str(folder)]) == 0
    assert (folder / "softmax.py").read_text() == handout
    assert (folder / "context.py").read_text() == exercise_source("context")
    assert (folder / "scores.py").read_text() == student[:400] + "# my notes\n"
    assert "left 1 existing file(s) alone" in capsys.readouterr().out


def test_homework_into_a_folder_it_cannot_write_is_one_line(tmp_path, capsys, monkeypatch):
    import numpygam.files as files

    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "hw"))
    monkeypatch.setattr(files.tempfile, "mkstemp", refused)
    assert main(["homework", str(tmp_path / "hw")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Permission denied" in err


def test_ctrl_c_in_grade_all_is_one_line_and_leaves_no_run_behind(tmp_path):
    from numpygam.course import sandbox
    if sandbox.unavailable(strict=True):
        pytest.skip(sandbox.unavailable(strict=True))
    body = "import time\n    time.sleep(120)"
    text = exercise_source("softmax").replace(
        'raise NotImplementedError("your code here: softmax_backward")', body)
    for student in ("ann", "bob", "cy"):
        (tmp_path / "class" / student).mkdir(parents=True)
        (tmp_path / "class" / student / "softmax.py").write_text(text)
    proc = subprocess.Popen([sys.executable, "-m", "numpygam", "grade", "softmax",
                             "--submissions", str(tmp_path / "class"), "--csv",
                             str(tmp_path / "grades.csv"), "--timeout", "120"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def runners():
        return processes_with("numpygam.course.runner")
    deadline = time.time() + 120
    while not runners() and time.time() < deadline:
        time.sleep(0.2)
    assert runners(), "no submission started"
    start = time.time()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert err.count("\n") == 1 and "interrupted" in err, err
    assert time.time() - start < 30
    time.sleep(0.5)
    assert runners() == []
    assert not (tmp_path / "grades.csv").exists()


def test_a_rerun_of_homework_on_a_full_disk_names_the_file_it_could_not_write(tiny_disk,
                                                                              capsys):
    """The first missing file, not the first file (which exists and is left alone): an
    outside reviewer's."""
    assert main(["homework", str(tiny_disk)]) == 1
    first = capsys.readouterr().err
    assert main(["homework", str(tiny_disk)]) == 1
    again = capsys.readouterr().err
    assert again.split("could not write ")[1].split(":")[0] == \
        first.split("could not write ")[1].split(":")[0]


def test_lessons_never_overwrite_a_notebook_a_student_edited(tmp_path, capsys):
    assert main(["lessons", str(tmp_path / "ls")]) == 0
    capsys.readouterr()
    edited = sorted((tmp_path / "ls").iterdir())[0]
    edited.write_text(edited.read_text() + "my edits\n")
    (tmp_path / "ls" / sorted(os.listdir(tmp_path / "ls"))[-1]).unlink()
    assert main(["lessons", str(tmp_path / "ls")]) == 0
    printed = capsys.readouterr().out
    assert edited.read_text().endswith("my edits\n")
    assert "wrote 1 notebooks" in printed and "left 10 existing notebook(s) alone" in printed


def test_ctrl_c_while_the_command_line_is_read_is_one_line(monkeypatch, capsys):
    import numpygam.__main__ as cli

    def interrupted(sub):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "_train_parser", interrupted)
    assert cli.main(["check"]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted" in err


def test_a_closed_pipe_keeps_the_status_of_a_guess(monkeypatch, capsys):
    """`translate ... | head -1` on a guess: the pipe closes, the status stays 1."""
    import numpygam.__main__ as cli

    def guess_then_pipe_closes(args):
        cli.PENDING_STATUS[0] = 1
        raise BrokenPipeError
    import sys
    monkeypatch.setattr(cli, "PENDING_STATUS", [0])
    monkeypatch.setattr(cli, "_translate", guess_then_pipe_closes)
    with open(os.devnull, "w") as devnull:  # a stdout with a file descriptor to replace
        monkeypatch.setattr(sys, "stdout", devnull)
        assert cli.main(["translate", "3 march"]) == 1
