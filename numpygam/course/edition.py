"""The students' edition of numpygam: the package with one exercise's reference bodies
absent, which is what a submission imports while it is graded.

    write_edition(folder, "softmax")   # folder/numpygam/..., softmax_backward a stub

Each solution block of the exercise's file (between "# BEGIN SOLUTION" and "# END
SOLUTION" in numpygam/functional/<module>.py) becomes a line that raises the runner's
ReferenceAbsent ("... is absent while grading"), recorded even when caught.  Absent,
not trapped: reading the source, walking frames, importing the file afresh,
`exercise_source(..., solutions=True)` and `F.SCORES` all find the stub; there is no
original to reach.
"""
import os
import shutil

from .exercises import EXERCISES
from .homework import replace_solutions

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def strip_solutions(source, module):
    """source with every solution block replaced by a stub that raises ReferenceAbsent."""
    return replace_solutions(source, lambda indent, function: [
        f'{indent}raise __import__("numpygam.course.runner", fromlist=["_"])'
        f'.ReferenceAbsent("numpygam.functional.{module}.{function}")'])


def write_edition(folder, exercise_name):
    """folder/numpygam: a copy of the package without exercise_name's reference bodies;
    returns folder (the entry for PYTHONPATH)."""
    exercise = EXERCISES[exercise_name]
    target = os.path.join(folder, "numpygam")
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    path = os.path.join(target, "functional", f"{exercise.module}.py")
    with open(path) as f:
        source = f.read()
    if "# BEGIN SOLUTION" not in source:
        raise RuntimeError(f"{path} has no solution block for the exercise {exercise_name}")
    with open(path, "w") as f:
        f.write(strip_solutions(source, exercise.module))
    return folder
