"""What runs inside the sandbox: one exercise of one submission.

    python -m numpygam.course.runner < request     (request: one JSON line)

The request, on stdin (never on argv, where /proc would show it), is
{"exercise": name, "seed": int, "file": path, "lang": "en" or "zh", "messages": {English
template: translation}} (lang and messages optional: the reasons below are said in lang,
from the messages the grader read from its catalogue, see feedback.py).  The runner

  1. draws the exercise's example inputs from the seed (numpygam/examples.py: the
     exercise's checks, then LARGE, one large input on which a numerical gradient would
     run out of the CPU budget the grader gives the run) and builds each check's cache
     with the library's forward;
  2. imports the student's file and runs its backward on copies of the cache and of
     dout;
  3. writes two JSON lines to the result channel (the stdout it was given; the
     submission's own prints go to stderr): first, before the submission runs, what its
     source says about itself, {"complex": null or "line N: ..."} (complex numbers in a
     backward of real inputs: complex-step differentiation); then the document
         {"error": str or null,
          "checks": [{"error": str or null, "count": int,
                      "grads": [null or {"dtype", "shape", "kind", "data" (base64)}]}]}

The package it imports is the students' edition (numpygam/course/edition.py): the
exercise's reference bodies are absent, so there is nothing to call, read or copy.
The parent (grading.py) checks everything in the document before it believes it.
"""
import ast
import base64
import copy
import importlib.util
import json
import os
import re
import sys
import types

import numpy as np

from .feedback import aside, say, use_table

ABSENT = "is absent while grading"  # the students' edition's stubs say this
CALLED = []  # the absent references a submission called, even if it caught the exception


class ReferenceAbsent(BaseException):
    """What the students' edition's stubs raise: a BaseException, so that `except
    Exception` in a submission does not swallow it (and the call is recorded anyway)."""

    def __init__(self, name):
        CALLED.append(name)
        self.name = name
        super().__init__(f"{name} {ABSENT}: write your own")


LARGE = "a large input"  # the last check of every exercise


def checks_of(exercise_name):
    """The checks the runner runs for an exercise: its small examples, then LARGE."""
    from .exercises import EXERCISES
    return (*EXERCISES[exercise_name].checks, LARGE)


def example_and_dout(exercise_name, check, seed):
    """The example `check` of the exercise drawn from seed, and a dout for its output
    (float64): the one draw that the runner (inside the sandbox) and the grader (outside
    it, for the reference gradients) both make."""
    from ..examples import examples, large_examples
    rng = np.random.default_rng(seed)
    example = large_examples(rng)[exercise_name] if check == LARGE else examples(rng)[check]
    out, _ = example.forward(**example.inputs, **example.options)
    return example, np.random.default_rng([seed, 1]).standard_normal(out.shape)


class MissingFunction(AttributeError):
    """The submission defines no function of this name (names: those missing)."""

    def __init__(self, names):
        self.names = ", ".join(names)
        super().__init__(f"the file defines no function {self.names}")


def _student_backward(backward, student, write):
    """The check's backward with the student's functions in place of the library's."""
    mine = {name: getattr(student, name) for name in write if hasattr(student, name)}
    missing = [name for name in write if name not in mine]
    if missing:
        raise MissingFunction(missing)
    if backward.__name__ in mine:
        return mine[backward.__name__]
    # a library backward that calls the student's function (gru_cell_backward -> _step_backward)
    return types.FunctionType(backward.__code__, {**backward.__globals__, **mine},
                              backward.__name__, backward.__defaults__)


_COMPLEX_NAMES = re.compile(r"complex|^imag$|^emath$|^scimath$|^c(single|double|longdouble)$",
                            re.IGNORECASE)
_COMPLEX_DTYPES = re.compile(r"^[<>=|]?(c\d+|complex\d*|[FDG])$")


def complex_numbers(source, lang="en"):
    """Where the source uses complex numbers ("line N: ...", in lang), or None.  A
    backward pass of real inputs needs none: the one use there is complex-step
    differentiation, which gives a numerical gradient exact to rounding, and, along dout
    through an op whose Jacobian is symmetric (softmax, batch norm), in one forward."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # it will not import either, and says so
    dtypes = set()  # the strings that name a dtype: dtype=..., .astype(...), np.dtype(...)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in ("astype", "dtype", "view") and node.args:
                dtypes.add(id(node.args[0]))
            dtypes.update(id(k.value) for k in node.keywords if k.arg == "dtype")
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, complex):
            found = repr(node.value)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                id(node) in dtypes and _COMPLEX_DTYPES.match(node.value):
            found = repr(node.value)
        elif isinstance(node, ast.Name) and _COMPLEX_NAMES.search(node.id):
            found = node.id
        elif isinstance(node, ast.Attribute) and _COMPLEX_NAMES.search(node.attr):
            found = "." + node.attr
        else:
            continue
        return say("line {line}: {found}", lang, line=node.lineno, found=found)
    return None


def _reason(err, path, lang="en"):
    """One line (in lang) for an exception raised by the student's code, with its line there."""
    if isinstance(err, ReferenceAbsent):
        return say("calls the reference implementation: {name} is absent while grading: write "
                   "your own", lang, name=err.name)
    if isinstance(err, NotImplementedError):
        return say("not written yet: replace `raise NotImplementedError` with your code", lang)
    if isinstance(err, SystemExit):
        return say("calls sys.exit({code}); a backward pass returns its gradients", lang,
                   code=repr(err.code))
    if isinstance(err, MemoryError):
        return say("ran out of memory (the limit is 2 GiB): is an array far larger than it "
                   "should be?", lang)
    if isinstance(err, SyntaxError):
        said = say("does not import: SyntaxError: {message} (line {line})", lang,
                   message=err.msg, line=err.lineno) if err.lineno else \
            say("does not import: SyntaxError: {message}", lang, message=err.msg)
        if re.search(r"U\+(FF0C|FF08|FF09|FF1A|FF1B|3002|201C|201D|2018|2019|FF3B|FF3D)",
                     err.msg or ""):  # what a Chinese keyboard types
            said += say("; full-width punctuation in the code: use , ( ) : ; . \" ' [ ]", lang)
        return said
    if isinstance(err, MissingFunction):
        return say("the file defines no function {names}: keep the function's name and "
                   "signature as the exercise wrote them", lang, names=err.names)
    line, tb = None, err.__traceback__
    while tb is not None:
        if os.path.abspath(tb.tb_frame.f_code.co_filename) == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    said = say("raised {kind}: {message}", lang, kind=type(err).__name__, message=err)[:300]
    return aside(said, say("line {line} of your file", lang, line=line), lang) if line else said


class NotAnArray(Exception):
    """A returned gradient that is no array of numbers (a dict, a string, a generator):
    the submission's answer, said as such, not an error the submission raised."""


def _encode(g, lang="en"):
    """A returned gradient as the result document holds it; kind says what it was (in
    lang).  A list or a number is converted, an array of another dtype too (float16 and
    float32 are kept, so that the grader can say what they cost); NotAnArray otherwise."""
    if g is None:
        return None
    kind = type(g).__name__
    try:
        if not isinstance(g, np.ndarray):
            g = np.asarray(g, dtype=np.float64)
        if g.dtype not in (np.float16, np.float32, np.float64):  # ints, bools, float128
            kind = say("an array of dtype {dtype}", lang, dtype=g.dtype)
            g = g.astype(np.float64)
    except (TypeError, ValueError):
        raise NotAnArray(say("returned {kind}: return a NumPy array of float64 (a tuple of "
                             "them where there are several gradients)", lang,
                             kind=kind)) from None
    return {"dtype": str(g.dtype), "shape": list(g.shape), "kind": kind,
            "data": base64.b64encode(np.ascontiguousarray(g).tobytes()).decode()}


def run(request, channel):
    """Grade the request's exercise on the file it names; write the result document (module
    docstring) to the file descriptor channel."""
    from .exercises import EXERCISES
    exercise = EXERCISES[request["exercise"]]
    path = os.path.abspath(request["file"])
    lang = request.get("lang", "en")
    use_table(lang, request.get("messages", {}))
    prepared = []
    for check in checks_of(request["exercise"]):
        example, dout = example_and_dout(request["exercise"], check, request["seed"])
        _, cache = example.forward(**example.inputs, **example.options)
        prepared.append((example.backward, cache, dout))
    del request  # the seed is not the submission's business
    try:
        with open(path, "rb") as f:
            facts = {"complex": complex_numbers(f.read(), lang)}
    except OSError:
        facts = {"complex": None}
    _write(channel, json.dumps(facts).encode() + b"\n")  # written before any of its code runs
    document = {"error": None, "checks": []}
    try:
        spec = importlib.util.spec_from_file_location("submission", path)
        student = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(student)
    except BaseException as err:  # a syntax error, sys.exit, an import error ...
        document["error"] = _reason(err, path, lang)
        student = None
    for backward, cache, dout in prepared:
        if student is None:
            break
        entry = {"error": None, "count": 0, "grads": []}
        try:
            grads = _student_backward(backward, student, exercise.write)(copy.deepcopy(dout),
                                                                         copy.deepcopy(cache))
            grads = grads if isinstance(grads, tuple) else (grads,)
            entry["count"] = len(grads)
            entry["grads"] = [_encode(g, lang) for g in grads]
        except NotAnArray as err:
            entry["error"] = str(err)
        except BaseException as err:
            entry["error"] = _misfit(err, backward, path, exercise.write, lang) or \
                _reason(err, path, lang)
        if CALLED:
            entry["error"] = say("calls the reference implementation: {name} is absent while "
                                 "grading", lang, name=CALLED[0])
        document["checks"].append(entry)
    _write(channel, json.dumps(document).encode())


def _misfit(err, backward, path, write, lang):
    """Where a library backward that calls the student's function (gru_cell_backward ->
    _step_backward) failed on what that function returned, after it returned: one line
    that says so (in lang), else None (the error is the submission's own)."""
    if backward.__name__ in write or isinstance(err, (KeyboardInterrupt, SystemExit,
                                                      ReferenceAbsent)):
        return None
    frames, tb = [], err.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code)
        tb = tb.tb_next
    theirs = [i for i, code in enumerate(frames) if os.path.abspath(code.co_filename) == path]
    ours = [i for i, code in enumerate(frames) if code.co_name == backward.__name__]
    if not ours or (theirs and theirs[-1] > ours[-1]):
        return None
    return say("{through} could not use what {functions} returned ({kind}: {message}): "
               "return what its docstring lists, in that order, of those shapes", lang,
               through=backward.__name__, functions=", ".join(write),
               kind=type(err).__name__, message=str(err)[:200])


def _write(channel, data):
    while data:
        data = data[os.write(channel, data):]


def main():
    sys.dont_write_bytecode = True
    channel = os.dup(1)
    os.dup2(2, 1)  # the submission's prints go to stderr, not into the result
    run(json.loads(sys.stdin.readline()), channel)  # no frame above keeps the request


if __name__ == "__main__":  # run the module under its own name, which the stubs import
    from numpygam.course import runner
    runner.main()
