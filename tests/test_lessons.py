"""Every lesson runs top to bottom in a Jupyter kernel and teaches what it should."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "book"))
import build  # noqa: E402  (book/build.py)

from numpygam.course.lessons import notebook  # noqa: E402

pytestmark = pytest.mark.slow  # builds the book / executes every lesson (minutes)

LESSONS = build.lesson_paths()


def test_there_are_ten_lessons():
    assert [os.path.basename(p)[:2] for p in LESSONS] == [f"{i:02d}" for i in range(1, 12)]


@pytest.mark.parametrize("path", LESSONS, ids=[os.path.basename(p)[:-3] for p in LESSONS])
def test_lesson_executes_and_has_formula_example_check_and_figure(path):
    nb = build.execute_lesson(path)  # raises CellExecutionError if any cell fails
    # what ran is the notebook `python -m numpygam lessons` writes, cell for cell
    assert [c.source for c in nb.cells] == [c["source"] for c in notebook(open(path).read())["cells"]]
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "$" in markdown, "the lesson states its formulas in LaTeX"
    assert "gradcheck" in code, "the lesson checks a gradient"
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    if not path.endswith("04_backprop_through_attention.py"):  # a derivation, no picture
        assert figures, "the lesson draws at least one figure"
