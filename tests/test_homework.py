"""Homework and grading: focused exercises, a grader that cannot be fooled or hang,
a whole class graded into a gradebook, and nothing a student wrote overwritten."""
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from numpygam.__main__ import main
from numpygam.course.exercises import EXERCISES
from numpygam.course.grading import grade, grade_file
from numpygam.course.homework import exercise_source, make_homework

STUB = 'raise NotImplementedError("your code here: {}")'


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    student = tmp_path_factory.mktemp("student")
    key = tmp_path_factory.mktemp("key")
    make_homework(str(student))
    make_homework(str(key), solutions=True)
    return student, key


def solved(text, function, body):
    """The exercise text with the stub of function replaced by body (indented lines)."""
    stub = STUB.format(function)
    assert stub in text
    return text.replace(stub, body.strip("\n").replace("\n", "\n    "))


# -- the exercise files ----------------------------------------------------------------

@pytest.mark.parametrize("exercise", list(EXERCISES))
def test_an_exercise_file_holds_only_what_the_student_writes(exercise, folders):
    student, key = folders
    text = (student / f"{exercise}.py").read_text()
    written = EXERCISES[exercise].write
    # every top-level def is one the student writes, each a stub with its docstring
    assert re.findall(r"^def (\w+)\(", text, re.M) == list(written)
    assert text.count("raise NotImplementedError") == len(written)
    assert "BEGIN SOLUTION" not in text and "from ." not in text
    assert f"python -m numpygam grade {exercise}" in text
    assert text.startswith("# ---\n# jupyter:") and "# %% [markdown]" in text
    assert "$" in text  # the walkthrough's formulas
    for function in written:
        docstring = re.search(rf'def {function}\(.*?"""(.*?)"""', text, re.S).group(1)
        assert "(B" in docstring or "cache" in docstring  # shapes and the cache's fields
    assert len(text.split("\n")) < 130  # focused: not a whole library file
    key_text = (key / f"{exercise}.py").read_text()
    assert "NotImplementedError" not in key_text
    assert re.findall(r"^def (\w+)\(", key_text, re.M) == list(written)


@pytest.mark.parametrize("exercise", list(EXERCISES))
def test_untouched_exercise_scores_0_and_the_key_scores_full_marks(exercise, folders):
    student, key = folders
    untouched = grade_file(exercise, str(student / f"{exercise}.py"))
    assert untouched.right == 0 and untouched.total > 0
    assert any("not written yet" in line for line in untouched.lines)
    result = grade_file(exercise, str(key / f"{exercise}.py"))
    assert result.right == result.total, "\n".join(result.lines)


def test_the_exercise_runs_as_a_script_and_grades_itself(folders, tmp_path):
    _, key = folders
    shutil.copy(key / "context.py", tmp_path / "context.py")
    done = subprocess.run([sys.executable, str(tmp_path / "context.py")], capture_output=True,
                          text=True, cwd="/", timeout=120)
    assert "context: all gradients correct" in done.stdout, done.stdout + done.stderr


def test_homework_never_overwrites_a_students_file(tmp_path, capsys):
    assert main(["homework", str(tmp_path)]) == 0
    mine = tmp_path / "softmax.py"
    mine.write_text("# my work, half done\n")
    (tmp_path / "conv2d.py").unlink()
    assert main(["homework", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert mine.read_text() == "# my work, half done\n"
    assert "wrote 1 exercise file(s)" in printed and "conv2d" in printed
    assert "left 6 existing file(s) alone" in printed and str(mine) in printed
    assert (tmp_path / "conv2d.py").read_text() == exercise_source("conv2d")


def test_a_wrong_gradient_is_named_with_its_index_and_the_finite_difference(tmp_path):
    make_homework(str(tmp_path), exercises=["context"])
    path = tmp_path / "context.py"
    path.write_text(solved(path.read_text(), "context_backward",
                           "return dc @ cache.values.transpose(0, 2, 1), "
                           "2 * cache.weights.transpose(0, 2, 1) @ dc"))
    messages = []
    assert grade("context", str(tmp_path), out=messages.append) is False
    text = "\n".join(messages)
    assert "dweights: correct" in text and "(2/4 gradients right)" in text  # and the large
    match = re.search(r"dvalues: WRONG in 40 of 40 entries; the worst at index "
                      r"\(\d+, \d+, \d+\): yours ([-+][\d.]+), "
                      r"reference ([-+][\d.]+), finite differences ([-+][\d.]+) "
                      r"\(rerun these inputs: --seed \d+\)", text)
    assert match, text
    yours, reference, fd = map(float, match.groups())
    assert yours == pytest.approx(2 * reference, abs=2e-6) and fd == pytest.approx(reference,
                                                                                   abs=1e-5)


def test_grading_an_unknown_exercise_lists_the_real_ones(capsys):
    assert main(["grade", "attention_is_all", "--dir", "x"]) == 2
    assert "softmax" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["grade", "all", "--csv", "g.csv"], ["--csv goes with --submissions"]),
    (["grade", "all", "--submissions", "/nonexistent"], ["--submissions /nonexistent"]),
    (["grade", "all", "--dir", ".", "--timeout", "0"], ["--timeout 0"]),
])
def test_grade_usage_errors_are_one_line(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and all(w in err for w in words)


# -- a simulated class ------------------------------------------------------------------

CONTEXT_RIGHT = ("a, values = cache.weights, cache.values\n"  # the reference's code, AST for AST
                 "dweights = dc @ values.transpose(0, 2, 1)\n"
                 "dvalues = a.transpose(0, 2, 1) @ dc\n"
                 "return dweights, dvalues")
SOFTMAX_RIGHT = ("a = cache.weights\n"   # right, and written otherwise than the key
                 "return a * dweights - a * (a * dweights).sum(axis=-1, keepdims=True)")


def _class_of_eight(root):
    """Eight students, each a folder of the exercises `homework` writes, with their code."""
    def student(name, **files):
        folder = root / name
        make_homework(str(folder))
        for exercise, transform in files.items():
            path = folder / f"{exercise}.py"
            path.write_text(transform(path.read_text()))

    def write(function, body):
        return lambda text: solved(text, function, body)

    student("correct", **{e: (lambda e: lambda text: exercise_source(e, solutions=True))(e)
                          for e in EXERCISES})
    student("untouched")
    student("partly_wrong",  # context right, softmax sign flipped, scores: dot only
            context=write("context_backward", CONTEXT_RIGHT),
            softmax=write("softmax_backward", "a = cache.weights\n"
                                              "return -a * (dweights - np.sum(a * dweights, "
                                              "axis=-1, keepdims=True))"),
            scores=lambda text: exercise_source("scores", solutions=True).replace(
                "dW = (cache.q.transpose", "dW = 2 * (cache.q.transpose"))
    student("hangs", context=write("context_backward", "while True:\n    pass"),
            softmax=write("softmax_backward", SOFTMAX_RIGHT))
    student("exits", context=lambda text: "import sys\nsys.exit(0)\n" + text,
            softmax=write("softmax_backward", "import sys\nsys.exit(0)"))
    student("calls_reference",
            context=write("context_backward",
                          "import numpygam.functional as F\nreturn F.context_backward(dc, cache)"),
            softmax=write("softmax_backward", "from numpygam.functional.softmax import "
                                              "softmax_backward as ref\n"
                                              "try:\n    return ref(dweights, cache)\n"
                                              "except Exception:\n    return dweights"))
    student("in_place_tricks",  # zero dout in place and return zeros; scribble on the cache
            softmax=write("softmax_backward", "dweights[...] = 0\n"
                                              "return np.zeros_like(dweights)"),
            context=write("context_backward", "g = (dc @ cache.values.transpose(0, 2, 1), "
                                              "cache.weights.transpose(0, 2, 1) @ dc)\n"
                                              "cache.values[...] = 0\ncache.weights[...] = 0\n"
                                              "dc[...] = 0\nreturn g"))
    student("syntax_error", context=lambda text: text.replace("def context_backward(dc, cache):",
                                                              "def context_backward(dc, cache)"),
            softmax=write("softmax_backward", SOFTMAX_RIGHT))


def test_a_simulated_class_is_graded_cell_by_cell(tmp_path, capsys):
    submissions = tmp_path / "submissions"
    _class_of_eight(submissions)
    (tmp_path / "points.json").write_text(json.dumps({"conv2d": 3, "scores": 2}))
    start = time.time()
    assert main(["grade", "all", "--submissions", str(submissions), "--csv",
                 str(tmp_path / "grades.csv"), "--points", str(tmp_path / "points.json"),
                 # a wall-clock limit well above the CPU budget: on a busy machine the
                 # endless loop must still meet its budget first, as it does on an idle one
                 "--json-dir", str(tmp_path / "gradescope"), "--timeout", "60"]) == 0
    seconds = time.time() - start
    printed = capsys.readouterr().out
    with open(tmp_path / "grades.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["student", *EXERCISES, "total", "flags"]
    # hangs and syntax_error wrote the same softmax, correct and partly_wrong the same
    # context: two-line answers, too short to call copies (test_grader_attacks.py flags a
    # long one)
    flags = {row[0]: row[-1] for row in rows[1:]}
    assert flags.pop("syntax_error").startswith("context: could not be compared with the "
                                                "others (syntax error")
    assert set(flags.values()) == {""}
    book = {row[0]: dict(zip(rows[0][1:-1], map(float, row[1:-1]))) for row in rows[1:]}
    full = {e: (3.0 if e == "conv2d" else 2.0 if e == "scores" else 1.0) for e in EXERCISES}
    assert book["correct"] == {**full, "total": 10.0}
    assert book["untouched"] == {**{e: 0.0 for e in EXERCISES}, "total": 0.0}
    # scores: 16 gradients (4 checks) and 6 on the large input (additive), dW of general
    # wrong -> 21/22 of 2 points
    assert book["partly_wrong"]["context"] == 1.0 and book["partly_wrong"]["softmax"] == 0.0
    assert book["partly_wrong"]["scores"] == round(2 * 21 / 22, 4)
    assert book["hangs"]["context"] == 0.0 and book["hangs"]["softmax"] == 1.0
    assert book["exits"]["context"] == 0.0 and book["exits"]["softmax"] == 0.0
    assert book["calls_reference"]["context"] == 0.0 and book["calls_reference"]["softmax"] == 0.0
    assert book["in_place_tricks"]["softmax"] == 0.0 and book["in_place_tricks"]["context"] == 1.0
    assert book["syntax_error"]["context"] == 0.0 and book["syntax_error"]["softmax"] == 1.0
    for student, cells in book.items():
        assert cells["total"] == pytest.approx(sum(v for k, v in cells.items() if k != "total"))
    # the reasons, one line each, in the Gradescope results
    reasons = {s: {t["name"]: t for t in json.loads((tmp_path / "gradescope" / s /
                                                     "results.json").read_text())["tests"]}
               for s in book}
    assert "stopped at its CPU budget" in reasons["hangs"]["context"]["output"]
    assert "an endless loop" in reasons["hangs"]["context"]["output"]
    assert "sys.exit(0)" in reasons["exits"]["softmax"]["output"]
    assert "sys.exit(0)" in reasons["exits"]["context"]["output"]
    assert "calls the reference implementation" in reasons["calls_reference"]["context"]["output"]
    assert "calls the reference implementation" in reasons["calls_reference"]["softmax"]["output"]
    assert "SyntaxError" in reasons["syntax_error"]["context"]["output"]
    assert reasons["correct"]["conv2d"]["max_score"] == 3.0
    assert reasons["correct"]["conv2d"]["score"] == 3.0
    result = json.loads((tmp_path / "gradescope" / "correct" / "results.json").read_text())
    assert result["score"] == 10.0
    assert "graded 8 students x 7 exercises" in printed and "correct" in printed
    print(f"8 students x 7 exercises graded in {seconds:.0f} s")


def test_grading_writes_nothing_into_the_students_folders(tmp_path):
    make_homework(str(tmp_path / "a"), solutions=True, exercises=["softmax"])
    before = sorted(os.listdir(tmp_path / "a"))
    result = grade_file("softmax", str(tmp_path / "a" / "softmax.py"))
    assert result.right == result.total == 3  # a fully masked row's check, and a large input
    assert sorted(os.listdir(tmp_path / "a")) == before  # no __pycache__, no temporaries


def test_a_bad_points_file_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "class" / "ann").mkdir(parents=True)
    (tmp_path / "points.json").write_text('{"softmaxx": 2}')
    assert main(["grade", "all", "--submissions", str(tmp_path / "class"), "--points",
                 str(tmp_path / "points.json")]) == 2
    assert "softmaxx" in capsys.readouterr().err


def test_returning_none_or_a_wrong_shape_is_named(tmp_path):
    make_homework(str(tmp_path), exercises=["context"])
    path = tmp_path / "context.py"
    text = path.read_text()
    path.write_text(solved(text, "context_backward", "return None, np.zeros((1, 2))"))
    lines = "\n".join(grade_file("context", str(path)).lines)
    assert "dweights: returned None; expected an array of shape (2, 3, 5)" in lines
    assert "dvalues: shape (1, 2); expected (2, 5, 4)" in lines
    path.write_text(solved(text, "context_backward", "return np.zeros(3)"))
    assert "returned 1 gradient(s); expected 2 (dweights, dvalues)" in \
        "\n".join(grade_file("context", str(path)).lines)


def test_reference_gradients_do_not_depend_on_the_seed_being_known(tmp_path):
    """Inputs are drawn afresh each run (from the seed); a right answer passes on any draw."""
    make_homework(str(tmp_path), solutions=True, exercises=["softmax"])
    a = grade_file("softmax", str(tmp_path / "softmax.py"), seed=1)
    b = grade_file("softmax", str(tmp_path / "softmax.py"), seed=2)
    assert a.right == b.right == a.total == 3
    assert np.isfinite(a.fraction)
