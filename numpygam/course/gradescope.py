"""Gradescope's autograder for the homework: the zip an instructor uploads, and what it runs.

    python -m numpygam autograder autograder.zip [--points points.json] [--lang zh]

writes a zip in the layout Gradescope's autograder expects
(https://gradescope-autograders.readthedocs.io, "Specifications"):

    setup.sh          installs Python and numpygam (from the copy in this zip) into a venv
    run_autograder    grades /autograder/submission, writes /autograder/results/results.json
    points.json       the points of each exercise
    numpygam/, pyproject.toml, README.md   the library itself, so nothing is downloaded

On Gradescope each submission already runs in a container of its own, as root, with
the complete numpygam installed in /autograder/venv: the bubblewrap sandbox is what
keeps that copy (and the grader's results file) out of a submission's reach.  Where the
sandbox cannot start or cannot cap processes and memory there, no one is graded and
results.json says why, unless the zip was written with --no-sandbox: then each
submission runs as a plain subprocess as a uid of its own (it can neither write
results.json nor signal the grader), and every result says "WITHOUT a sandbox".

A zip written with --lang zh says everything a student reads in results.json in Chinese
(feedback.py): run_autograder passes the language on, and the zip carries the catalogues.
"""
import io
import json
import os
import stat
import sys
import time
import zipfile

from . import grading, sandbox
from .feedback import LANGS, check_lang, say

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built.
set -euo pipefail
if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
    apt-get update
    apt-get install -y python3 python3-venv python3-pip
fi
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install "/autograder/source[grading]"
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission; the student's files are in
# /autograder/submission, and the results go to /autograder/results/results.json.
cd /autograder/source
exec /autograder/venv/bin/python -m numpygam.course.gradescope \\
    /autograder/submission /autograder/results/results.json points.json {sandbox}{lang}
"""

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(PACKAGE)


def _add(archive, name, data, executable=False):
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = (0o755 if executable else 0o644) << 16 | stat.S_IFREG << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def write_autograder(path, points, use_sandbox=True, lang="en"):
    """The autograder zip at path for the exercises in points ({exercise: points});
    use_sandbox=False: graded without the sandbox (said in every result); lang ("en" or
    "zh"): the language of the results a student reads."""
    check_lang(lang)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _add(archive, "setup.sh", SETUP, executable=True)
        _add(archive, "run_autograder", RUN.format(
            sandbox="sandbox" if use_sandbox else "no-sandbox",
            lang="" if lang == "en" else f" {lang}"), executable=True)
        _add(archive, "points.json", json.dumps(points, indent=2))
        for name in ("pyproject.toml", "README.md"):
            with open(os.path.join(ROOT, name), "rb") as f:
                _add(archive, name, f.read())
        for folder, dirs, files in os.walk(PACKAGE):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for file in sorted(files):
                # the language's catalogues where results are said in it (pyproject.toml's
                # package data installs them); an English zip is the code alone
                catalogue = lang != "en" and file.endswith(".po") and \
                    os.path.relpath(folder, PACKAGE) == os.path.join("locale", lang)
                if file.endswith(".py") or catalogue:
                    full = os.path.join(folder, file)
                    with open(full, "rb") as f:
                        _add(archive, os.path.relpath(full, ROOT), f.read())
    with open(path, "wb") as f:
        f.write(buffer.getvalue())
    return path


def _find(submission, exercise):
    """The student's file for exercise: <exercise>.py anywhere in the submission (Gradescope
    keeps the folders of an upload; symbolic links to folders are not followed), or None.
    A symbolic link is returned as it is: grading refuses it."""
    for folder, dirs, files in os.walk(submission):
        dirs.sort()
        if f"{exercise}.py" in files:
            return os.path.join(folder, f"{exercise}.py")
    return None


def _write(results_path, document):
    os.makedirs(os.path.dirname(os.path.abspath(results_path)), exist_ok=True)
    grading._atomic_write(results_path, json.dumps(document, indent=2))


def run(submission, results_path, points_path, use_sandbox=True, lang="en"):
    """Grade the exercise files in submission; write Gradescope's results.json (what a
    student reads in it said in lang).  Where the sandbox cannot be what sandbox.py
    promises (and use_sandbox), no one is graded: the results say why, and the autograder
    exits 1."""
    return _graded(submission, results_path, points_path, use_sandbox, lang)[0]


def _graded(submission, results_path, points_path, use_sandbox=True, lang="en"):
    """(run()'s document, True when it graded no one)."""
    check_lang(lang)
    start = time.time()
    with open(points_path) as f:
        points = json.load(f)
    refusal = sandbox.unavailable(strict=True, lang=lang) if use_sandbox else \
        sandbox.unsandboxed_problem(lang)
    results = []
    if refusal is None:
        editions = grading.Editions(use_sandbox, strict=True, lang=lang)
        try:
            editions.prepare(list(points))
            for name in points:
                path = _find(submission, name) or os.path.join(submission, f"{name}.py")
                results.append(grading.grade_file(name, path, editions=editions,
                                                  use_sandbox=use_sandbox, lang=lang))
        except grading.Refused as err:
            refusal = str(err)
        finally:
            editions.close()
    if refusal is not None:
        document = {"score": 0, "visibility": "visible", "tests": [],
                    "output": say("not graded: {refusal}. The instructor can rebuild the "
                                  "autograder with `python -m numpygam autograder --no-sandbox`.",
                                  lang, refusal=refusal)}
        _write(results_path, document)
        return document, True
    document = grading.gradescope_document(results, points, time.time() - start, use_sandbox,
                                           lang)
    _write(results_path, document)
    return document, False


if __name__ == "__main__":  # run_autograder: submission, results.json, points.json, sandbox[, lang]
    _, refused = _graded(sys.argv[1], sys.argv[2], sys.argv[3],
                         use_sandbox=sys.argv[4:5] != ["no-sandbox"],
                         lang=sys.argv[5] if sys.argv[5:6] and sys.argv[5] in LANGS else "en")
    sys.exit(1 if refused else 0)
