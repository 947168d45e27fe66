"""`translate` knows its limits: an input in none of the date task's forms is answered as a
guess (marked, one line why, exit 1); `--file` names each bad line and goes on; the
attention heatmap draws Chinese with a CJK font and keeps its title inside the figure.

The strings here are no one's training data: inputs out of every form, dates drawn from a
seed no run trains on, and a one-step checkpoint (its answers are replaced where a test
needs a known one)."""
import io
import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from numpygam import plots
from numpygam.__main__ import main
from numpygam.tasks import dates
from numpygam.tasks.dates import read_date
from numpygam.train import TrainConfig, Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """The tests' smallest date checkpoint (one step): its answers are noise."""
    trainer = Trainer(TrainConfig(steps=1, batch_size=4, emb_dim=8, enc_hidden=8, dec_hidden=16,
                                  attn_dim=8, train_size=100, heldout_limit=10))
    return str(trainer.save(tmp_path_factory.mktemp("dates") / "checkpoint.npz"))


def answers(monkeypatch, table):
    """Make the model answer table[text] (or the right date, read from its form)."""
    def translate(self, text, beam=1):
        out = table.get(text) or read_date(text)[0] or "2001-01-01"
        if isinstance(out, BaseException):
            raise out
        return out, np.full((11, len(text)), 1 / len(text))
    monkeypatch.setattr(Trainer, "translate", translate)


# -- the recogniser ------------------------------------------------------------------------

def test_every_form_is_read_as_the_date_it_was_written_from():
    """Dates drawn from a seed no run trains on (the training seeds are small, the held-out
    set's is 10 000), in every one of the 35 forms."""
    triples = dates.labelled_pairs(4000, seed=987_654)
    assert {form for _, _, form in triples} == set(dates.FORMATS)
    for text, iso, form in triples:
        assert read_date(text) == (iso, None), (text, form)


@pytest.mark.parametrize("text, words", [
    ("2001 年 3 月 3 日", ["no spaces around 年, 月 and 日", "2001年3月3日"]),
    ("2001年三月三日", ["in digits", "not in chinese numerals"]),
    ("二〇〇一年3月3日", ["not in chinese numerals"]),
    ("3月3日", ["no year"]),
    ("3 march", ["no year", "3 may 1979"]),
    ("march 3", ["no year"]),
    ("3/5", ["no year"]),
    ("3 march 79", ["two-digit year", "3 may 79, 5/3/79", "four digits"]),
    ("february 30 2001", ["not a real date", "no day 30"]),
    ("13/5/1979", ["not a real date", "no month 13"]),
    ("tuesday, march 5, 1992", ["weekday is wrong", "thursday, not tuesday"]),
    ("1992年3月5日星期二", ["weekday is wrong", "星期四, not 星期二"]),
    ("3th may 1979", ["3rd may 1979"]),
    ("3 may 1879", ["the year 1879 is outside", "1900-2099"]),
    ("1979-5-3", ["none", "35 forms"]),
    ("3 mai 1979", ["35 forms"]),
    ("the day after tomorrow", ["no date in it"]),
])
def test_an_input_in_no_form_is_not_read_and_the_reason_is_one_line(text, words):
    iso, why = read_date(text)
    assert iso is None and "\n" not in why
    for w in words:
        if w != "none":
            assert w in why.lower(), (w, why)


@pytest.mark.parametrize("text, iso", [("03 may 1979", "1979-05-03"), ("3 may 79", "1979-05-03"),
                                       ("1979年5月3日 星期四", "1979-05-03"),
                                       ("1979年5月3号", "1979-05-03"), ("5/3/49", "2049-05-03"),
                                       ("thu may 3 1979", "1979-05-03")])
def test_what_the_forms_allow_is_read(text, iso):
    assert read_date(text) == (iso, None)


# -- translate TEXT --------------------------------------------------------------------------

@pytest.mark.parametrize("text, answer, words", [  # what users met, with exit status 0
    ("2001 年 3 月 3 日", "2001-08-03", ["no spaces around"]),
    ("2001年三月三日", "2001-02-03", ["chinese numerals"]),
    ("3 March", "2033-03-03", ["no year"]),
])
def test_an_input_in_no_form_is_answered_as_a_guess_and_exits_1(text, answer, words, checkpoint,
                                                                 monkeypatch, capsys):
    answers(monkeypatch, {text.lower(): answer})
    assert main(["translate", text, "--checkpoint", checkpoint]) == 1
    captured = capsys.readouterr()
    first = captured.out.splitlines()[0]
    assert first.startswith(f"{answer}   <- a guess: ")
    for w in words:
        assert w in first.lower()
    assert "Traceback" not in captured.err


def test_a_wrong_answer_to_an_input_in_a_form_exits_1_and_a_right_one_0(checkpoint, monkeypatch,
                                                                       capsys):
    answers(monkeypatch, {"1979年5月3日": "1979-05-04"})
    assert main(["translate", "1979年5月3日", "--checkpoint", checkpoint]) == 1
    assert "wrong: the input is 1979-05-03" in capsys.readouterr().out
    assert main(["translate", "1979年5月3日 星期四", "--checkpoint", checkpoint]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "1979-05-03"


def test_the_real_model_on_an_input_in_no_form_says_guess_without_a_traceback(checkpoint):
    done = subprocess.run([sys.executable, "-m", "numpygam", "translate", "2001 年 3 月 3 日",
                           "--checkpoint", checkpoint], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "<- a guess: the chinese forms have no spaces" in done.stdout.lower()
    assert "Traceback" not in done.stderr and "Glyph" not in done.stderr


# -- translate --file ------------------------------------------------------------------------

def test_a_file_names_each_bad_line_by_number_and_translates_the_rest(checkpoint, tmp_path,
                                                                     monkeypatch, capsys):
    answers(monkeypatch, {"3 march": "2033-03-03"})
    path = tmp_path / "dates.txt"
    path.write_bytes("\ufeff3 May 1979\n\n1 jan 1879\n3 march\n5/3/79 ★\n".encode()
                     + b"caf\xe9 1999\n" + "1979年5月3日\r\n".encode())
    assert main(["translate", "--file", str(path), "--checkpoint", checkpoint]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "3 may 1979\t1979-05-03",  # the BOM is not part of the first line
        "3 march\t2033-03-03\t<- a guess: no year: every form the translator reads has one "
        "(3 may 1979, 5/3/79, 1979-05-03, 1979年5月3日)",
        "1979年5月3日\t1979-05-03"]
    errors = captured.err.splitlines()
    assert [e.split(":")[0] for e in errors] == [f"line {n} of {path}" for n in (3, 4, 5, 6)]
    assert "the year 1879 is outside" in errors[0] and "a guess: no year" in errors[1]
    assert "'★' is not in the translator's alphabet" in errors[2]
    assert "not UTF-8" in errors[3] and "Traceback" not in captured.err
    path.write_text("3 may 1979\n1979年5月3日\n", encoding="utf-8-sig")
    assert main(["translate", "--file", str(path), "--checkpoint", checkpoint]) == 0
    assert capsys.readouterr().err == ""


def test_dash_reads_standard_input_with_a_bom(checkpoint, monkeypatch, capsys):
    answers(monkeypatch, {})
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(
        "\ufeff1979年5月3日\nMay 3rd, 1979\n".encode())))
    assert main(["translate", "--file", "-", "--checkpoint", checkpoint]) == 0
    assert capsys.readouterr().out.splitlines() == ["1979年5月3日\t1979-05-03",
                                                    "may 3rd, 1979\t1979-05-03"]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert main(["translate", "--file", "-", "--checkpoint", checkpoint]) == 2
    assert "no input in it" in capsys.readouterr().err


def test_ctrl_c_during_a_file_is_one_line_saying_how_far_it_got_and_exit_130(
        checkpoint, tmp_path, monkeypatch, capsys):
    answers(monkeypatch, {"1 may 1979": KeyboardInterrupt()})
    path = tmp_path / "dates.txt"
    path.write_text("3 may 1979\n2 may 1979\n1 may 1979\n30 april 1979\n")
    assert main(["translate", "--file", str(path), "--checkpoint", checkpoint]) == 130
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    assert captured.err == f"stopped (Ctrl-C): 2 of the 4 lines of {path} done\n"


def test_a_real_sigint_while_reading_standard_input_is_one_line_and_exit_130(checkpoint):
    """SIGINT itself, sent while `--file -` waits for the rest of its input."""
    process = subprocess.Popen([sys.executable, "-m", "numpygam", "translate", "--file", "-",
                                "--checkpoint", checkpoint], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    try:
        process.stdin.write(b"3 may 1979\n")
        process.stdin.flush()
        wchan = f"/proc/{process.pid}/wchan"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until it is blocked reading the pipe
            try:
                with open(wchan) as f:
                    if "pipe" in f.read():
                        break
            except OSError:
                pytest.skip("no /proc/PID/wchan here to see the process wait")
            time.sleep(0.05)
        else:
            pytest.skip("the process never waited on the pipe in 60 s")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert err.decode() == "stopped (Ctrl-C): nothing translated\n" and out == b""


# -- the heatmap ---------------------------------------------------------------------------

def test_a_chinese_heatmap_uses_a_cjk_font_and_misses_no_glyph(tmp_path):
    if plots.cjk_font() is None:
        pytest.skip("no CJK font installed (fonts-wqy-microhei, fonts-noto-cjk)")
    text = "1979年5月3日星期四"
    weights = np.random.default_rng(0).random((11, len(text)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph 24180 missing from font(s) DejaVu Sans" fails
        plots.attention_heatmap(weights, text, "1979-05-03", str(tmp_path / "a.png"))
        plots.head_heatmaps(np.stack([weights, weights]), text, "1979-05-03",
                            str(tmp_path / "heads.png"))
    assert os.path.getsize(tmp_path / "a.png") > 0


def test_without_a_cjk_font_the_heatmap_falls_back_silently(tmp_path, monkeypatch, capsys):
    from matplotlib import font_manager
    monkeypatch.setattr(font_manager.fontManager, "ttflist",
                        [f for f in font_manager.fontManager.ttflist
                         if not plots.CJK_NAME.search(f.name)])
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    assert plots.cjk_font.__wrapped__() is None
    monkeypatch.setattr(plots, "cjk_font", lambda: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.attention_heatmap(np.eye(11, 10), "3 may 1979", "1979-05-03",
                                str(tmp_path / "a.png"))
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("src, out, title", [
    ("1979年5月3日", "1979-05-03", None), ("5/3/79", "1979-05-03", None),
    ("1979年5月3日星期四", "1979-05-03", None), ("x" * 40, "2001-09-23", None),
    ("3 may", "", None), ("5/3/79", "1979-05-03", "a title given by the caller " * 6),
])
def test_the_heatmaps_title_lies_inside_the_figure(src, out, title):
    weights = np.random.default_rng(1).random((len(out) + 1, len(src)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a machine without a CJK font: boxes, still inside
        fig = plots.attention_figure(weights, src, out, title)
        box, edge = fig.axes[0].title.get_window_extent(fig.canvas.get_renderer()), fig.bbox
    assert fig.axes[0].get_title()
    assert edge.x0 <= box.x0 and box.x1 <= edge.x1 and edge.y0 <= box.y0 and box.y1 <= edge.y1
