"""Homework: one focused exercise file per backward pass, the solutions removed.

The solutions are the library's own code, between "# BEGIN SOLUTION" and
"# END SOLUTION" in numpygam/functional; nothing is kept by hand.
`make_homework(folder)` writes, for each exercise of numpygam/course/exercises.py, a
file holding only what the student writes: the function(s) with their
docstrings (formula, shapes, the cache's fields) and a "your code here" stub,
the imports they need, a walkthrough of the derivation and a check cell.  The
file is a jupytext notebook (it opens as one in Jupyter) and a plain module
(the grader imports it).  Files already in the folder are never overwritten.

    python -m numpygam homework my_homework        # write the exercises
    python -m numpygam homework my_homework --lang zh   # their prose and comments in Chinese
    python -m numpygam grade softmax --dir my_homework

With --lang zh the walkthroughs come from exercises.po and the code's comments from
feedback.po (feedback.py); the code is the same.  The folder keeps the language in a file
of its own, feedback.MARKER (".numpygam-lang", holding "zh"), which `grade` reads to speak
it: a file beside the exercises, because a student edits the exercises (a notebook
editor rewrites the whole file) but has no reason to open it.  Only --lang zh writes it;
an English run leaves it as it is, and `grade --lang en` overrides it.
"""
import ast
import os
import re
from collections import defaultdict

import numpy as np

from ..examples import examples
from ..files import write_whole
from . import translation
from .exercises import EXERCISES
from .feedback import MARKER, say

SOURCE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "functional")

JUPYTEXT_HEADER = """# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---
"""


def replace_solutions(source, stub):
    """source with each solution block ("# BEGIN SOLUTION" ... "# END SOLUTION") replaced
    by the lines stub(indent, function) returns, function being the def it is in."""
    out, skipping, function = [], False, "?"
    for line in source.split("\n"):
        match = re.match(r"\s*def (\w+)\(", line)
        if match:
            function = match.group(1)
        if line.strip() == "# BEGIN SOLUTION":
            out += stub(line[:len(line) - len(line.lstrip())], function)
            skipping = True
        elif line.strip() == "# END SOLUTION":
            skipping = False
        elif not skipping:
            out.append(line)
    return "\n".join(out)


def _strip_solution(source, function, lang="en"):
    """The function's source with its solution block replaced by a stub that raises (its
    comment in lang; the code the same in every language)."""
    return replace_solutions(source, lambda indent, name: [
        *(f"{indent}# {line}" for line in say(
            "YOUR CODE HERE: write {name} from the formulas in its docstring,\n"
            "then run the check cell below.", lang, name=name).split("\n")),
        f'{indent}raise NotImplementedError("your code here: {name}")'])


def _keep_solution(source):
    """The function's source with the solution markers left out (the key)."""
    return "\n".join(line for line in source.split("\n")
                     if line.strip() not in ("# BEGIN SOLUTION", "# END SOLUTION"))


def _origins(tree, module):
    """{name bound at the library module's top level: the module to import it from}."""
    origin = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            source = node.module if node.level == 0 else \
                "numpygam.functional" + (f".{node.module}" if node.module else "")
            for alias in node.names:
                origin[alias.asname or alias.name] = source
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            origin[node.name] = f"numpygam.functional.{module}"
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    origin[target.id] = f"numpygam.functional.{module}"
    return origin


def _table(lang):
    return translation.table("exercises") if lang == "zh" else {}


def introduction(name, functions=1, lang="en"):
    """The exercise file's first markdown cell, as lines: the title, the walkthrough of the
    derivation, where the lesson is and how to check (lang="zh": from exercises.po)."""
    exercise = EXERCISES[name]
    english = "\n".join([
        f"# Homework: {', '.join(f'`{fn}`' for fn in exercise.write)}", "",
        exercise.walkthrough.strip(), "",
        f"The derivation in full: lesson {int(exercise.lesson[:2])} "
        f"(notebooks/{exercise.lesson}.py).",
        f"Write {'the functions' if functions > 1 else 'the function'} below "
        "(each docstring states the formula,",
        "the shapes and the cache's fields), then run the last cell, or from a terminal", "",
        f"    python -m numpygam grade {name} --dir <this folder>"])
    return translation.translate_markdown(english, _table(lang)).split("\n")


def walkthrough_paragraphs():
    """The English paragraphs of every exercise file's prose: exercises.po's msgids."""
    return [p for name, exercise in EXERCISES.items()
            for text in ("\n".join(introduction(name, len(exercise.write))), "## Check")
            for p in translation.paragraphs(text)]


def homework_command(folder, lang="en"):
    """The command that writes the exercises into folder, in lang (what the grader tells a
    student whose folder or file is missing)."""
    return f"python -m numpygam homework {folder}" + (f" --lang {lang}" if lang != "en" else "")


def exercise_source(name, solutions=False, lang="en"):
    """The text of the exercise file `name` (with the solutions kept, for the key;
    lang="zh": its prose in Chinese, its code the same)."""
    exercise = EXERCISES[name]
    with open(os.path.join(SOURCE, f"{exercise.module}.py")) as f:
        library = f.read()
    tree = ast.parse(library)
    defs = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    functions = [ast.get_source_segment(library, defs[fn]) for fn in exercise.write]
    # what the written functions use from the library, and the checks' forwards and caches
    used = {node.id for fn in exercise.write for node in ast.walk(defs[fn])
            if isinstance(node, ast.Name)}
    table = examples(np.random.default_rng(0))
    for check in exercise.checks:
        forward = table[check].forward
        used |= {forward.__name__, type(forward(**table[check].inputs,
                                                **table[check].options)[1]).__name__}
    origins = _origins(tree, exercise.module)
    imports = defaultdict(list)
    for used_name in sorted(used - set(exercise.write) - {"np"}):
        if used_name in origins:
            imports[origins[used_name]].append(used_name)
    import_lines = ["import numpy as np", ""] + [
        f"from {source} import {', '.join(names)}" for source, names in sorted(imports.items())
        if not source.startswith("numpygam")] + [
        f"from {source} import {', '.join(names)}" for source, names in sorted(imports.items())
        if source.startswith("numpygam")]
    cells = [JUPYTEXT_HEADER, "# %% [markdown]",
             *[f"# {line}".rstrip() for line in introduction(name, len(functions), lang)],
             "",
             "# %%", "# " + say("the forward pass, its cache and the helpers you may use are "
                               "given", lang),
             *import_lines, ""]
    for fn, source in zip(exercise.write, functions):
        cells += ["", "# %%", _keep_solution(source) if solutions else
                  _strip_solution(source, fn, lang), ""]
    check = translation.translate_markdown("## Check", _table(lang))
    cells += ["", "# %% [markdown]", f"# {check}", "", "# %%",
              "if __name__ == \"__main__\":  # " + say("run this cell, or `python <this file>`",
                                                      lang),
              "    import os", "", "    from numpygam.course.grading import grade", "",
              "    here = os.path.dirname(os.path.abspath(__file__)) if \"__file__\" in "
              "globals() else \".\"",
              f"    grade({name!r}, here)", ""]
    return "\n".join(cells)


def _left_by_us(path, text):
    """True when path holds the beginning of text and nothing else (an empty or cut-off
    file an older version's interrupted write left): ours to replace, never a student's
    (whose file differs from the handout somewhere)."""
    try:
        with open(path, "rb") as f:
            held = f.read(len(text.encode()) + 1)
    except OSError:
        return False
    return len(held) < len(text.encode()) and text.encode().startswith(held)


def make_homework(folder, solutions=False, exercises=None, lang="en"):
    """Write the exercise files that folder does not hold yet; solutions=True keeps
    the solutions (the instructor's key, graded the same way).

    Returns (paths written, paths left alone because they already existed): a
    student's work is never overwritten.  Each file is written whole or not at all
    (numpygam/files.py); an empty or cut-off file that is the start of the handout is
    replaced.  A full disk or a read-only folder raises OSError naming the file, after
    the files already written.  lang other than "en" is recorded in folder/MARKER, last
    (module docstring), for `grade` to speak it.
    """
    os.makedirs(folder, exist_ok=True)
    written, kept = [], []
    for name in exercises or EXERCISES:
        path = os.path.join(folder, f"{name}.py")
        text = exercise_source(name, solutions, lang)
        if _left_by_us(path, text):
            write_whole(path, text)
            written.append(path)
            continue
        if os.path.lexists(path):  # before writing anything: a full disk names the right file
            kept.append(path)
            continue
        try:
            write_whole(path, text, exclusive=True)  # fails if the file exists, even in a race
            written.append(path)
        except FileExistsError:
            kept.append(path)
    if lang != "en":
        write_whole(os.path.join(folder, MARKER), lang + "\n")
    return written, kept
