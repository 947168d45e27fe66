"""The lessons as Jupyter notebooks (.ipynb), for plain Jupyter and Colab.

The lessons are written as jupytext "percent" files (notebooks/NN_*.py): a
cell starts at a line `# %%` (code) or `# %% [markdown]` (markdown, each line
behind a `# `), after an optional `# ---` ... `# ---` metadata header.  That
is a plain text format, so this converter needs nothing but the standard
library; the book executes exactly the notebooks it returns.

    python -m numpygam lessons my_lessons             # 01_why_attention.ipynb, ...
    python -m numpygam lessons my_lessons --lang zh   # the Chinese edition

The Chinese notebook is the English one with each markdown paragraph translated
(numpygam/locale/zh/<lesson>.po, see numpygam.course.translation) and one cell first
that draws the figures' texts, prints the tables' headers and gradcheck's reports in
Chinese;
every code cell is the same.

The lessons ship with the source checkout (notebooks/ beside numpygam/), the
layout `pip install -e .` uses.
"""
import glob
import json
import os

from ..files import write_whole
from . import translation

LESSONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "notebooks")
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def lesson_paths():
    """The lessons' .py files, in order."""
    return sorted(glob.glob(os.path.join(LESSONS, "[0-9][0-9]_*.py")))


def _cell(kind, lines, index):
    source = "\n".join(lines).strip("\n")
    cell = {"cell_type": kind, "id": f"cell-{index}", "metadata": {}, "source": source}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


CHINESE_SETUP = ("# 中文版：图中的文字、表格的表头和梯度检查的结论都用中文显示；其余代码与英文版完全相同。\n"
                 "from numpygam.course.translation import chinese_figures, chinese_verdicts\n\n"
                 "chinese_verdicts()\n"
                 "chinese_figures();")


def markdown_paragraphs(text):
    """The English paragraphs of a lesson's markdown cells: its catalogue's msgids."""
    return [p for cell in notebook(text)["cells"] if cell["cell_type"] == "markdown"
            for p in translation.paragraphs(cell["source"])]


def notebook(text, lang="en", name=None):
    """The nbformat 4 notebook (a dict) of a jupytext percent-format text; no outputs.
    lang="zh": the markdown translated from the catalogue of lesson `name`
    ("01_why_attention"), and the cell that draws the figures in Chinese first."""
    lines = text.split("\n")
    if lines and lines[0] == "# ---":  # the jupytext header: metadata, not a cell
        lines = lines[lines.index("# ---", 1) + 1:]
    cells, kind, body = [], "code", []
    for line in lines + ["# %%"]:
        if line.startswith("# %%"):
            if any(b.strip() for b in body):
                cells.append(_cell(kind, body, len(cells)))
            kind = "markdown" if "[markdown]" in line else "code"
            body = []
        elif kind == "markdown":
            body.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        else:
            body.append(line)
    if lang == "zh":
        table = translation.table(name)
        for cell in cells:
            if cell["cell_type"] == "markdown":
                cell["source"] = translation.translate_markdown(cell["source"], table)
        cells.insert(1 if cells and cells[0]["cell_type"] == "markdown" else 0,
                     _cell("code", CHINESE_SETUP.split("\n"), "zh"))
    return {"cells": cells, "metadata": {"kernelspec": KERNELSPEC,
                                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def write_lessons(folder, lang="en"):
    """Write every lesson as folder/NN_name.ipynb (lang: "en" or "zh") that folder does
    not hold yet; returns (paths written, paths left alone): a notebook a student worked
    in is never overwritten.  Each is written whole or not at all (numpygam/files.py): a
    full disk leaves the ones before it and raises OSError naming the one it could not
    write."""
    paths = lesson_paths()
    if not paths:
        raise FileNotFoundError(f"no lessons found in {LESSONS}: they ship with the source "
                                "checkout (git clone, then pip install -e .)")
    os.makedirs(folder, exist_ok=True)
    written, kept = [], []
    for path in paths:
        name = os.path.basename(path)[:-3]
        target = os.path.join(folder, name + ".ipynb")
        if os.path.lexists(target):
            kept.append(target)
            continue
        with open(path) as f:
            nb = notebook(f.read(), lang, name)
        try:  # exclusive: a notebook written meanwhile is not overwritten either
            write_whole(target, json.dumps(nb, indent=1, ensure_ascii=False) + "\n",
                        exclusive=True)
            written.append(target)
        except FileExistsError:
            kept.append(target)
    return written, kept
