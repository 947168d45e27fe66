"""The lessons open as notebooks: jupytext metadata in each .py, clean .ipynb files from
`python -m numpygam lessons`, and a students' edition of the book without the solutions."""
import os
import re
import sys

import jupytext
import nbformat
import pytest

from numpygam.__main__ import main
from numpygam.course.exercises import EXERCISES
from numpygam.course.lessons import lesson_paths

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "book"))
import build  # noqa: E402  (book/build.py)


@pytest.mark.parametrize("path", lesson_paths(), ids=os.path.basename)
def test_each_lesson_carries_jupytext_notebook_metadata(path):
    text = open(path).read()
    header = re.match(r"# ---\n(.*?)# ---\n", text, re.S)
    assert header and "format_name: percent" in header.group(1) and "kernelspec" in header.group(1)
    assert jupytext.reads(text, fmt="py:percent").metadata["kernelspec"]["name"] == "python3"


def test_the_lessons_command_writes_valid_clean_notebooks_with_the_lessons_cells(tmp_path, capsys):
    assert main(["lessons", str(tmp_path)]) == 0
    assert "wrote 11 notebooks" in capsys.readouterr().out
    written = sorted(tmp_path.glob("*.ipynb"))
    assert [p.stem for p in written] == [os.path.basename(p)[:-3] for p in lesson_paths()]
    for ipynb, source in zip(written, lesson_paths()):
        nb = nbformat.read(ipynb, as_version=4)
        nbformat.validate(nb)  # nbformat 4, every required field
        assert nb.nbformat == 4 and nb.metadata.kernelspec.name == "python3"
        assert all(not c.get("outputs") and c.get("execution_count") is None
                   for c in nb.cells if c.cell_type == "code")
        # the same cells jupytext itself reads from the lesson (an independent parser)
        reference = jupytext.reads(open(source).read(), fmt="py:percent")
        assert [(c.cell_type, c.source.strip()) for c in nb.cells] == \
            [(c.cell_type, c.source.strip()) for c in reference.cells]


def test_the_students_edition_leaves_out_every_homework_solution():
    teacher, student = build.api_page(), build.api_page(student=True)
    assert "Students' edition" in student and "Students' edition" not in teacher
    for exercise in EXERCISES.values():
        for name in exercise.write:
            if f'id="{name}"' not in teacher:
                continue  # a helper the API page does not list (gru's _step_backward)
            pattern = rf'id="{name}".*?<pre class="code highlight"><code>(.*?)</code>'
            code = re.sub(r"<[^>]+>", "", re.search(pattern, student, re.S).group(1))
            full = re.sub(r"<[^>]+>", "", re.search(pattern, teacher, re.S).group(1))
            assert "left out of the students" in code and "return" not in code
            assert "return" in full


# -- issue 15: the papers' exact statements --------------------------------------------

CHAPTERS = os.path.join(os.path.dirname(__file__), "..", "book", "chapters")


def test_every_formula_in_the_formulas_chapter_cites_its_paper_and_equation():
    rows = [line for line in open(os.path.join(CHAPTERS, "02_formulas.md"))
            if line.startswith("| $")]
    assert len(rows) >= 20
    for row in rows:
        source = [cell.strip() for cell in row.strip().strip("|").split(" | ")][2]
        assert re.search(r"(Bahdanau|Luong|Vaswani|GAM|Cho|Ioffe|Zhang|PyTorch)", source), row
        assert re.search(r"\b(eqs?\.|sec\.|app\.|alg\.|fig\.|documentation)", source), row


def test_the_notation_page_names_each_papers_symbol():
    text = open(os.path.join(CHAPTERS, "01_notation.md")).read()
    for name in ("Bahdanau", "Luong", "Vaswani", r"\alpha_{ij}", r"a_t(s)", r"\bar{h}_s",
                 r"s_{i-1}", r"\sigma = D/2", r"\mathrm{sigmoid}", r"\mathrm{var}_B"):
        assert name in text, name


def test_sigma_never_stands_for_the_sigmoid_in_the_lessons_chapters_or_exercises():
    """sigma is Luong's Gaussian width; the logistic function is written sigmoid."""
    paths = lesson_paths() + [os.path.join(CHAPTERS, n) for n in os.listdir(CHAPTERS)] + \
        [os.path.join(os.path.dirname(__file__), "..", "numpygam", "course", "exercises.py")]
    for path in paths:
        text = open(path).read()
        assert not re.search(r"\\sigma\s*(\(|\\big|\\Big)", text), path
        assert r"\sigma^2 + \epsilon" not in text and r"\sigma_B" not in text, path


def test_sigma_never_stands_for_the_sigmoid_in_the_docstrings():
    """The API page shows every docstring of numpygam.functional and numpygam.nn: there
    too the logistic is sigmoid(x), never sigma(x) or a Greek sigma applied to something."""
    import inspect

    import numpygam.functional as F
    from numpygam import nn
    checked = 0
    for package in (F, nn):
        for name, obj in vars(package).items():
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            docs = [inspect.getdoc(obj) or "", inspect.getdoc(inspect.getmodule(obj)) or ""]
            if inspect.isclass(obj):
                docs += [inspect.getdoc(m) or "" for m in vars(obj).values() if callable(m)]
            for doc in docs:
                checked += 1
                assert not re.search(r"(\bsigma|σ)\s*\((?!\.)", doc), (name, doc)
    assert checked > 100
