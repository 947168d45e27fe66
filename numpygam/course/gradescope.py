"""Gradescope's autograder for the homework: the zip an instructor uploads, and what it runs.

    python -m numpygam autograder autograder.zip [--points points.json]

writes a zip in the layout Gradescope's autograder expects
(https://gradescope-autograders.readthedocs.io, "Specifications"):

    setup.sh          installs Python and numpygam (from the copy in this zip) into a venv
    run_autograder    grades /autograder/submission, writes /autograder/results/results.json
    points.json       the points of each exercise
    numpygam/, pyproject.toml, README.md   the library itself, so nothing is downloaded

On Gradescope each submission already runs in a container of its own; the bubblewrap
sandbox is used there too where it can start, and the results say which.
"""
import io
import json
import os
import stat
import sys
import time
import zipfile

from . import grading, sandbox

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built.
set -euo pipefail
apt-get update
apt-get install -y python3 python3-venv python3-pip
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install "/autograder/source[grading]"
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission; the student's files are in
# /autograder/submission, and the results go to /autograder/results/results.json.
cd /autograder/source
exec /autograder/venv/bin/python -m numpygam.course.gradescope \\
    /autograder/submission /autograder/results/results.json points.json
"""

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(PACKAGE)


def _add(archive, name, data, executable=False):
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.external_attr = (0o755 if executable else 0o644) << 16 | stat.S_IFREG << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def write_autograder(path, points):
    """The autograder zip at path for the exercises in points ({exercise: points})."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        _add(archive, "setup.sh", SETUP, executable=True)
        _add(archive, "run_autograder", RUN, executable=True)
        _add(archive, "points.json", json.dumps(points, indent=2))
        for name in ("pyproject.toml", "README.md"):
            with open(os.path.join(ROOT, name), "rb") as f:
                _add(archive, name, f.read())
        for folder, dirs, files in os.walk(PACKAGE):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for file in sorted(files):
                if file.endswith(".py"):
                    full = os.path.join(folder, file)
                    with open(full, "rb") as f:
                        _add(archive, os.path.relpath(full, ROOT), f.read())
    with open(path, "wb") as f:
        f.write(buffer.getvalue())
    return path


def _find(submission, exercise):
    """The student's file for exercise: <exercise>.py anywhere in the submission (Gradescope
    keeps the folders of an upload), or None."""
    for folder, dirs, files in os.walk(submission):
        dirs.sort()
        if f"{exercise}.py" in files:
            return os.path.join(folder, f"{exercise}.py")
    return None


def run(submission, results_path, points_path):
    """Grade the exercise files in submission; write Gradescope's results.json."""
    start = time.time()
    with open(points_path) as f:
        points = json.load(f)
    use_sandbox = sandbox.unavailable() is None
    editions = grading.Editions()
    results = []
    try:
        for name in points:
            path = _find(submission, name) or os.path.join(submission, f"{name}.py")
            results.append(grading.grade_file(name, path, edition=editions[name],
                                              use_sandbox=use_sandbox))
    finally:
        editions.close()
    document = grading.gradescope_document(results, points, time.time() - start, use_sandbox)
    os.makedirs(os.path.dirname(os.path.abspath(results_path)), exist_ok=True)
    with open(results_path, "w") as f:
        json.dump(document, f, indent=2)
    return document


if __name__ == "__main__":  # run_autograder: submission folder, results.json, points.json
    run(sys.argv[1], sys.argv[2], sys.argv[3])
    sys.exit(0)
