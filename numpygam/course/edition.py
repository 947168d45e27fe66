"""The students' edition of numpygam: what a submission imports while it is graded.

    write_edition(folder, "softmax")   # folder/numpygam/..., see below

It holds only what grading the exercise needs.  Every function and method of the
package (numpygam.course, the grader's own machinery, aside) that the exercise's checks
do not call is a stub, and so is every function any exercise asks a student to write,
whichever exercise is graded.  What the checks call is found by running them, traced
(`used_functions`), so the list is not kept by hand: the fast twins (numpygam.fast),
the modules' backward methods, other ops that compute the same gradient
(log_softmax_backward for softmax's, the GEMM convolution for conv2d's) and the other
exercises' solutions are all absent, because the checks never call them.

A stub keeps the function's signature and docstring and raises the runner's
ReferenceAbsent ("... is absent while grading"), recorded even when caught.  Absent,
not trapped: reading the source, walking frames and importing the file afresh all find
the stub; there is no original to reach.
"""
import ast
import json
import os
import shutil
import subprocess
import sys

from .exercises import EXERCISES

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEPT = ("course",)  # the grader's machinery: the runner, the exercises' table

# run in a fresh interpreter: every call into the package while its modules are imported
# and the checks of one exercise are drawn, run forward and run backward by the reference
TRACE = r"""
import json, sys
called = set()
def profile(frame, event, arg):
    if event == "call":
        code = frame.f_code
        called.add((code.co_filename, code.co_firstlineno))
sys.setprofile(profile)
import importlib, pkgutil, numpygam
# every module imported once: what one calls at import time (a table built from a
# function) is kept, so that a submission importing it meets no stub there
for module in pkgutil.walk_packages(numpygam.__path__, "numpygam."):
    if not module.name.startswith(("numpygam.course", "numpygam.__main__")):
        try:
            importlib.import_module(module.name)
        except Exception:
            pass
from numpygam.course import runner
for seed in (0, 1, 2):
    for check in runner.checks_of(sys.argv[1]):
        example, dout = runner.example_and_dout(sys.argv[1], check, seed)
        out, cache = example.forward(**example.inputs, **example.options)
        example.backward(dout, cache)
sys.setprofile(None)
print(json.dumps(sorted(called)))
"""


def _definitions(tree):
    """The module's functions and its classes' methods: [(qualified name, node)]."""
    found = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append((node.name, node))
        elif isinstance(node, ast.ClassDef):
            found += [(f"{node.name}.{item.name}", item) for item in node.body
                      if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))]
    return found


def _first_line(node):
    return min([node.lineno] + [d.lineno for d in node.decorator_list])


def _sources():
    """{path relative to the package: source} of every module the edition may stub."""
    found = {}
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and
                         os.path.relpath(os.path.join(folder, d), PACKAGE) not in KEPT)
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path) as f:
                    found[os.path.relpath(path, PACKAGE)] = f.read()
    return found


_TRACED = {}  # {(exercise, the package's files and their times): traced_calls' answer}


def _stamp():
    return tuple(sorted((folder, name, os.stat(os.path.join(folder, name)).st_mtime_ns)
                        for folder, _, files in os.walk(PACKAGE) for name in files
                        if name.endswith(".py")))


def traced_calls(exercise_name):
    """{real path of a file: lines where a called function's code starts}, from running the
    exercise's checks traced in a fresh interpreter (safe to call from several threads;
    remembered while the package's files are unchanged)."""
    key = (exercise_name, _stamp())
    if key not in _TRACED:
        _TRACED[key] = _trace(exercise_name)
    return _TRACED[key]


def _trace(exercise_name):
    env = {**os.environ, "PYTHONPATH": os.path.dirname(PACKAGE), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", TRACE, exercise_name], capture_output=True,
                          text=True, env=env, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tracing the checks of {exercise_name} failed: "
                           f"{done.stderr.strip().splitlines()[-1:]}")
    calls = {}
    for filename, line in json.loads(done.stdout):
        calls.setdefault(os.path.realpath(filename), set()).add(line)
    return calls


def used_functions(exercise_name, calls=None):
    """{(module path relative to the package, qualified name)} of the functions and
    methods the exercise's checks call (calls: traced_calls(exercise_name), when known).
    Parses in this thread: CPython 3.11's ast.parse is not safe in several at once."""
    calls = traced_calls(exercise_name) if calls is None else calls
    used = set()
    for relative, source in _sources().items():
        lines = calls.get(os.path.realpath(os.path.join(PACKAGE, relative)), set())
        for name, node in _definitions(ast.parse(source)):
            if any(_first_line(node) <= line <= node.end_lineno for line in lines):
                used.add((relative, name))
    return used


def written_functions():
    """{(module path, name)} of every function some exercise asks a student to write."""
    return {(f"functional/{e.module}.py", name) for e in EXERCISES.values() for name in e.write}


def stubbed(source, relative, names):
    """source with the bodies of the definitions in names replaced by a stub that raises
    ReferenceAbsent (their signatures and docstrings kept)."""
    module = "numpygam." + relative[:-3].replace(os.sep, ".").removesuffix(".__init__")
    lines = source.split("\n")
    for name, node in sorted(_definitions(ast.parse(source)), key=lambda d: -d[1].lineno):
        if name not in names:
            continue
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]  # the docstring stays
        if not body:
            continue
        start = min(_first_line(s) if hasattr(s, "decorator_list") else s.lineno for s in body)
        if start == node.lineno:
            raise ValueError(f"{relative}: {name} is written on one line; the edition "
                             "cannot stub it (give it a body of its own)")
        indent = " " * body[0].col_offset
        lines[start - 1:node.end_lineno] = [
            f'{indent}raise __import__("numpygam.course.runner", fromlist=["_"])'
            f'.ReferenceAbsent("{module}.{name}")']
    return "\n".join(lines)


def write_edition(folder, exercise_name, used=None):
    """folder/numpygam: the package with everything exercise_name's checks do not call
    stubbed, and every exercise's written functions; returns folder (the entry for
    PYTHONPATH).  used: used_functions(exercise_name), when already known."""
    used = used_functions(exercise_name) if used is None else used
    absent = written_functions()
    target = os.path.join(folder, "numpygam")
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for relative, source in _sources().items():
        names = {name for name, _ in _definitions(ast.parse(source))
                 if (relative, name) in absent or (relative, name) not in used}
        if names:
            with open(os.path.join(target, relative), "w") as f:
                f.write(stubbed(source, relative, names))
    return folder
