"""The lessons as Jupyter notebooks (.ipynb), for plain Jupyter and Colab.

The lessons are written as jupytext "percent" files (notebooks/NN_*.py): a
cell starts at a line `# %%` (code) or `# %% [markdown]` (markdown, each line
behind a `# `), after an optional `# ---` ... `# ---` metadata header.  That
is a plain text format, so this converter needs nothing but the standard
library; the book executes exactly the notebooks it returns.

    python -m numpygam lessons my_lessons     # 01_why_attention.ipynb, ...

The lessons ship with the source checkout (notebooks/ beside numpygam/), the
layout `pip install -e .` uses.
"""
import glob
import json
import os

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


def notebook(text):
    """The nbformat 4 notebook (a dict) of a jupytext percent-format text; no outputs."""
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
    return {"cells": cells, "metadata": {"kernelspec": KERNELSPEC,
                                         "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def write_lessons(folder):
    """Write every lesson as folder/NN_name.ipynb; returns the paths."""
    paths = lesson_paths()
    if not paths:
        raise FileNotFoundError(f"no lessons found in {LESSONS}: they ship with the source "
                                "checkout (git clone, then pip install -e .)")
    os.makedirs(folder, exist_ok=True)
    written = []
    for path in paths:
        with open(path) as f:
            nb = notebook(f.read())
        target = os.path.join(folder, os.path.basename(path)[:-3] + ".ipynb")
        with open(target, "w") as f:
            json.dump(nb, f, indent=1, ensure_ascii=False)
            f.write("\n")
        written.append(target)
    return written
