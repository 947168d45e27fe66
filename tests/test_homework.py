"""Homework round trip: generate, fail with a helpful message, solve, pass."""
import re
import shutil

import pytest

from numpygam.__main__ import main
from numpygam.homework import EXERCISES, grade, make_homework


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    student = tmp_path_factory.mktemp("student")
    key = tmp_path_factory.mktemp("key")
    make_homework(str(student))
    make_homework(str(key), solutions=True)
    return student, key


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_student_version_has_no_solution_and_says_where_to_write(exercise, folders):
    student, key = folders
    text = (student / f"{exercise}.py").read_text()
    assert "your code here" in text and "BEGIN SOLUTION" not in text
    assert text.count("raise NotImplementedError") == len(EXERCISES[exercise][1])
    assert "from ." not in text  # imports made absolute: the file runs outside the package
    solutions = re.findall(r"# BEGIN SOLUTION\n(.*?)# END SOLUTION",
                           (key / f"{exercise}.py").read_text(), re.S)
    assert len(solutions) == len(EXERCISES[exercise][1])
    for block in solutions:
        assert block not in text


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_untouched_exercise_fails_helpfully_and_the_solution_passes(exercise, folders):
    student, key = folders
    messages = []
    assert grade(exercise, str(student), out=messages.append) is False
    assert any("not written yet" in m and "NotImplementedError" in m for m in messages)
    messages = []
    assert grade(exercise, str(key), out=messages.append) is True, "\n".join(messages)
    assert messages[-1] == f"{exercise}: all gradients correct"


def test_round_trip_solving_an_exercise_makes_it_pass(tmp_path, capsys):
    assert main(["homework", str(tmp_path)]) == 0
    assert main(["grade", "softmax", "--dir", str(tmp_path)]) == 1
    key = tmp_path / "key"
    make_homework(str(key), solutions=True, exercises=["softmax"])
    shutil.copy(key / "softmax.py", tmp_path / "softmax.py")  # the student solves it
    assert main(["grade", "softmax", "--dir", str(tmp_path)]) == 0
    assert "softmax: all gradients correct" in capsys.readouterr().out


def test_a_wrong_gradient_is_named_with_its_index(tmp_path):
    make_homework(str(tmp_path), exercises=["context"])
    path = tmp_path / "context.py"
    path.write_text(path.read_text().replace(
        'raise NotImplementedError("your code here: context_backward")',
        "return dc @ cache.values.transpose(0, 2, 1), 2 * cache.weights.transpose(0, 2, 1) @ dc"))
    messages = []
    assert grade("context", str(tmp_path), out=messages.append) is False
    text = "\n".join(messages)
    assert "dweights: correct" in text
    assert re.search(r"dvalues: WRONG at index \(\d+, \d+, \d+\): yours [-+]\d", text), text


def test_grading_an_unknown_exercise_lists_the_real_ones(capsys):
    assert main(["grade", "attention_is_all", "--dir", "x"]) == 2
    assert "softmax" in capsys.readouterr().err
