"""The grader: a student's backward passes against the library's, in a sandbox.

Each exercise of each student runs in its own subprocess (`python -m
numpygam.course.grading`), with a time limit, so that a hang, a crash or `sys.exit`
costs that exercise alone.  In the subprocess:

  1. the example inputs are drawn (numpygam/examples.py, a seed from the
     parent) and the library's forward builds the cache;
  2. the reference functions the exercise asks for are replaced, wherever the
     library binds them, by traps: a submission that calls one scores 0 with
     "calls the reference implementation";
  3. the student's file is imported and its backward runs on copies of the
     cache and of dout;
  4. the gradients it returned, and nothing else, are written to a file.

The parent computes the reference gradients itself, from the same seed, and
compares: so nothing the student's code changes in place, prints or writes
can change the verdict.  A gradient is right when

    max |yours - reference| <= TOLERANCE * max(1, max |reference|)

and an exercise's score is the fraction of its gradients that are right.

    python -m numpygam grade softmax --dir my_homework         # one student
    python -m numpygam grade all --submissions class/ --csv grades.csv [--points points.json]
                                 [--json-dir gradescope/] [--timeout 60]
"""
import copy
import csv
import importlib.util
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import types
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from ..examples import examples
from .exercises import EXERCISES

TOLERANCE = 1e-8      # float64 inputs of size ~1: a right formula differs by ~1e-15
DEFAULT_TIMEOUT = 60  # seconds per exercise; the reference needs well under one


class ReferenceCalled(BaseException):
    """Raised by the traps; a BaseException, so `except Exception` in a submission
    cannot swallow it (and the trap records the call anyway)."""


class Result(NamedTuple):
    """One exercise of one student."""
    exercise: str
    right: int    # gradients that match the reference
    total: int    # gradients graded
    lines: list   # the verdict, a line per function and per gradient

    @property
    def fraction(self):
        return self.right / self.total


def _example(check, seed):
    """The example `check` drawn from seed, and a dout for its output (float64)."""
    example = examples(np.random.default_rng(seed))[check]
    out, _ = example.forward(**example.inputs, **example.options)
    return example, np.random.default_rng([seed, 1]).standard_normal(out.shape)


# -- inside the subprocess -----------------------------------------------------------------

def _install_traps(exercise, called):
    """Replace the reference functions the student writes, wherever numpygam binds them."""
    module = importlib.import_module(f"numpygam.functional.{exercise.module}")
    originals = {id(getattr(module, name)): name for name in exercise.write}
    for mod in list(sys.modules.values()):
        if getattr(mod, "__name__", "").startswith("numpygam"):
            for attr, value in list(vars(mod).items()):
                if id(value) in originals:
                    setattr(mod, attr, _trap(originals[id(value)], called))


def _trap(name, called):
    def reference(*args, **kwargs):
        called.append(name)
        raise ReferenceCalled(f"calls the reference implementation "
                              f"numpygam.functional.{name}: write your own")
    return reference


def _student_backward(backward, student, exercise):
    """The check's backward with the student's functions in place of the library's."""
    mine = {name: getattr(student, name) for name in exercise.write if hasattr(student, name)}
    missing = [name for name in exercise.write if name not in mine]
    if missing:
        raise AttributeError(f"the file defines no function {', '.join(missing)}")
    if backward.__name__ in mine:
        return mine[backward.__name__]
    # a library backward that calls the student's function (gru_cell_backward -> _step_backward)
    return types.FunctionType(backward.__code__, {**backward.__globals__, **mine},
                              backward.__name__, backward.__defaults__)


def _reason(err, path):
    """One line for an exception raised by the student's code, with its line there."""
    if isinstance(err, ReferenceCalled):
        return str(err)
    if isinstance(err, NotImplementedError):
        return "not written yet: replace `raise NotImplementedError` with your code"
    if isinstance(err, SystemExit):
        return f"calls sys.exit({err.code!r}); a backward pass returns its gradients"
    if isinstance(err, SyntaxError):
        where = f" (line {err.lineno})" if err.lineno else ""
        return f"does not import: SyntaxError: {err.msg}{where}"
    line, tb = None, err.__traceback__
    while tb is not None:
        if os.path.abspath(tb.tb_frame.f_code.co_filename) == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f"raised {type(err).__name__}: {err}" + (f" (line {line} of your file)" if line else "")


def run_submission(exercise_name, path, seed, out):
    """The subprocess's work (see the module docstring); writes the gradients to out (.npz)."""
    sys.dont_write_bytecode = True  # no __pycache__ in the student's folder
    exercise, path = EXERCISES[exercise_name], os.path.abspath(path)
    prepared = []
    for check in exercise.checks:
        example, dout = _example(check, seed)
        _, cache = example.forward(**example.inputs, **example.options)
        prepared.append((example.backward, cache, dout))
    called, results = [], {}
    _install_traps(exercise, called)
    try:
        spec = importlib.util.spec_from_file_location(f"submission_{exercise_name}", path)
        student = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(student)
    except BaseException as err:  # a syntax error, sys.exit, an import error ...
        results["error"] = _reason(err, path)
        student = None
    for i, (backward, cache, dout) in enumerate(prepared):
        if student is None:
            break
        try:
            grads = _student_backward(backward, student, exercise)(copy.deepcopy(dout),
                                                                   copy.deepcopy(cache))
            grads = grads if isinstance(grads, tuple) else (grads,)
            results[f"{i}.count"] = len(grads)
            for j, g in enumerate(grads):
                if g is not None:
                    results[f"{i}.{j}"] = np.asarray(g, dtype=np.float64)
        except BaseException as err:
            results[f"{i}.error"] = _reason(err, path)
    if called:
        results["error"] = (f"calls the reference implementation numpygam.functional."
                            f"{called[0]}: write your own")
    np.savez(out, **{key: np.asarray(value) for key, value in results.items()})


# -- in the grader's own process ------------------------------------------------------------

def _run(exercise_name, path, seed, timeout):
    """(the subprocess's results as a dict, or None; a one-line reason when None)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.npz")
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                   MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg",
                   PYTHONPATH=os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")]))
        proc = subprocess.Popen([sys.executable, "-m", "numpygam.course.grading", exercise_name,
                                 os.path.abspath(path), str(seed), out], cwd=tmp, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stderr = None
        finally:  # the whole process group: whatever the submission started dies with it
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        if stderr is None:
            return None, f"did not finish within {timeout:g} s (an endless loop?)"
        try:
            with np.load(out, allow_pickle=False) as data:
                return {key: data[key] for key in data.files}, None
        except (OSError, ValueError):
            last = (stderr.decode(errors="replace").strip().split("\n") or [""])[-1]
            return None, (f"the process ended (exit status {proc.returncode}) before reporting "
                          f"any gradient" + (f": {last}" if last else "; does the file call "
                                             "os._exit?"))


def _reference(exercise, seed):
    """Per check: (label, the check's example, dout, [(gradient name, reference or None)])."""
    checks = []
    for check in exercise.checks:
        example, dout = _example(check, seed)
        _, cache = example.forward(**example.inputs, **example.options)
        grads = example.backward(dout, cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
        name = example.backward.__name__
        label = name if name in exercise.write else \
            f"{', '.join(exercise.write)} (through {name})"
        checks.append((label, example, dout, list(zip((f"d{n}" for n in example.inputs),
                                                      grads))))
    return checks


def _finite_difference(example, dout, name, index, h=1e-6):
    """d(sum(forward * dout)) / d input[index], by central differences."""
    def loss(shift):
        inputs = {k: (None if v is None else np.array(v, dtype=np.float64))
                  for k, v in example.inputs.items()}
        inputs[name][index] += shift
        return float(np.sum(example.forward(**inputs, **example.options)[0] * dout))
    return (loss(h) - loss(-h)) / (2 * h)


def _verdict(reference, data, reason):
    """(right, total, lines) for one exercise from the subprocess's results."""
    right = total = 0
    lines = []
    error = reason or (str(data["error"]) if "error" in data else None)
    for i, (label, example, dout, grads) in enumerate(reference):
        graded = [(j, n, g) for j, (n, g) in enumerate(grads) if g is not None]
        total += len(graded)
        problem = error or (str(data[f"{i}.error"]) if f"{i}.error" in data else None)
        if problem is None and int(data[f"{i}.count"]) != len(grads):
            problem = (f"returned {int(data[f'{i}.count'])} gradient(s); expected {len(grads)} "
                       f"({', '.join(n for n, _ in grads)})")
        if problem:
            lines.append(f"✗ {label}: {problem}")
            continue
        rows, oks = [], []
        for j, name, ref in graded:
            theirs = data.get(f"{i}.{j}")
            if theirs is None:
                oks.append(False)
                rows.append(f"    {name}: returned None; expected an array of shape {ref.shape}")
            elif theirs.shape != ref.shape:
                oks.append(False)
                rows.append(f"    {name}: shape {theirs.shape}; expected {ref.shape}")
            else:
                diff = np.abs(theirs - ref)
                diff[np.isnan(diff)] = np.inf
                worst = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.size else ()
                largest = float(diff.max(initial=0.0))
                oks.append(largest <= TOLERANCE * max(1.0, float(np.abs(ref).max(initial=0.0))))
                if oks[-1]:
                    rows.append(f"    {name}: correct (largest difference {largest:.1e})")
                    continue
                where = tuple(int(k) for k in worst)
                fd = _finite_difference(example, dout, name[1:], where)
                rows.append(f"    {name}: WRONG at index {where}: yours {theirs[where]:+.6f}, "
                            f"reference {ref[where]:+.6f}, finite differences {fd:+.6f}")
        right += sum(oks)
        lines += [f"{'✓' if all(oks) else '✗'} {label}"] + rows
    return right, total, lines


def grade_file(exercise_name, path, timeout=DEFAULT_TIMEOUT, seed=None, reference=None):
    """Grade one exercise file in a subprocess; returns a Result."""
    exercise = EXERCISES[exercise_name]
    seed = secrets.randbelow(2**31) if seed is None else seed
    reference = reference or _reference(exercise, seed)
    if not os.path.isfile(path):
        total = sum(g is not None for *_, grads in reference for _, g in grads)
        return Result(exercise_name, 0, total, [f"✗ {path} is missing"])
    data, reason = _run(exercise_name, path, seed, timeout)
    return Result(exercise_name, *_verdict(reference, data or {}, reason))


def grade(exercise, folder="homework", out=print, timeout=DEFAULT_TIMEOUT):
    """Grade one student's exercise (or "all") in folder; print the verdict; True if all right."""
    names = list(EXERCISES) if exercise == "all" else [exercise]
    if not all(name in EXERCISES for name in names):
        raise ValueError(f"unknown exercise {exercise!r}; choose one of {list(EXERCISES)} or all")
    passed = True
    for name in names:
        path = os.path.join(folder, f"{name}.py")
        if not os.path.exists(path):
            out(f"✗ {path} does not exist: run `python -m numpygam homework {folder}` first")
            passed = False
            continue
        result = grade_file(name, path, timeout)
        for line in result.lines:
            out(line)
        ok = result.right == result.total
        passed &= ok
        out(f"{name}: {'all gradients correct' if ok else 'not yet'} "
            f"({result.right}/{result.total} gradients right)")
    return passed


# -- a whole class -----------------------------------------------------------------------

def students(submissions):
    """The student folders under submissions, by name (hidden folders skipped)."""
    return sorted(d for d in os.listdir(submissions)
                  if not d.startswith(".") and os.path.isdir(os.path.join(submissions, d)))


def grade_class(submissions, exercises=None, timeout=DEFAULT_TIMEOUT, workers=None, seed=None):
    """{student: [Result per exercise]} for every student folder under submissions.

    Exercises run in parallel (workers: the CPU count), each in its own subprocess.
    """
    exercises = list(exercises or EXERCISES)
    seed = secrets.randbelow(2**31) if seed is None else seed
    reference = {name: _reference(EXERCISES[name], seed) for name in exercises}
    jobs = [(s, name) for s in students(submissions) for name in exercises]
    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        results = list(pool.map(lambda job: grade_file(
            job[1], os.path.join(submissions, job[0], f"{job[1]}.py"), timeout, seed,
            reference[job[1]]), jobs))
    grades = {}
    for (student, _), result in zip(jobs, results):
        grades.setdefault(student, []).append(result)
    return grades


def read_points(path, exercises):
    """{exercise: points} from a JSON file such as {"softmax": 2, "conv2d": 3}; others 1."""
    with open(path) as f:
        try:
            given = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"not JSON ({err}); write e.g. {{\"softmax\": 2}}") from None
    if not isinstance(given, dict):
        raise ValueError(f"{path}: expected a JSON object such as {{\"softmax\": 2}}")
    unknown = sorted(set(given) - set(exercises))
    if unknown:
        raise ValueError(f"{path}: unknown exercise(s) {unknown}; choose among {exercises}")
    for name, value in given.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"{path}: the points of {name!r} must be a number >= 0, got {value!r}")
    return {name: float(given.get(name, 1)) for name in exercises}


def _atomic_write(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".tmp",
                                     newline="") as f:
        f.write(text)
    os.replace(f.name, path)


def write_gradebook(path, grades, points):
    """CSV: student, one column per exercise (points x fraction right), total."""
    rows = [["student", *points, "total"]]
    for student, results in grades.items():
        scores = [round(points[r.exercise] * r.fraction, 4) for r in results]
        rows.append([student, *scores, round(sum(scores), 4)])
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    _atomic_write(path, buffer.getvalue())


def write_gradescope(folder, grades, points):
    """folder/<student>/results.json in the shape Gradescope's autograder reads."""
    for student, results in grades.items():
        tests = [{"name": r.exercise, "score": round(points[r.exercise] * r.fraction, 4),
                  "max_score": points[r.exercise], "output": "\n".join(r.lines)}
                 for r in results]
        os.makedirs(os.path.join(folder, student), exist_ok=True)
        _atomic_write(os.path.join(folder, student, "results.json"), json.dumps(
            {"score": round(sum(t["score"] for t in tests), 4),
             "output": f"graded by numpygam: each gradient against the reference, "
                       f"max |yours - reference| <= {TOLERANCE:g} max(1, max |reference|)",
             "tests": tests}, indent=2))


def summary_table(grades, points):
    """The gradebook as a text table."""
    names = list(points)
    width = max([7] + [len(s) for s in grades])
    head = f"{'student':<{width}} " + " ".join(f"{n[:12]:>12}" for n in names) + f" {'total':>7}"
    lines = [head, "-" * len(head)]
    for student, results in grades.items():
        scores = [points[r.exercise] * r.fraction for r in results]
        lines.append(f"{student:<{width}} " + " ".join(f"{s:>12.2f}" for s in scores) +
                     f" {sum(scores):>7.2f}")
    lines.append(f"{'max':<{width}} " + " ".join(f"{points[n]:>12.2f}" for n in names) +
                 f" {sum(points.values()):>7.2f}")
    return "\n".join(lines)


def main_class(submissions, points, csv_path=None, json_dir=None, timeout=DEFAULT_TIMEOUT,
               out=print):
    """`grade ... --submissions DIR`: grade the exercises in points ({exercise: points}),
    print the table, write the gradebook and Gradescope files; returns the exit status."""
    start = time.time()
    grades = grade_class(submissions, list(points), timeout)
    out(summary_table(grades, points))
    out(f"graded {len(grades)} students x {len(points)} exercises in "
        f"{time.time() - start:.0f} s")
    if csv_path:
        write_gradebook(csv_path, grades, points)
        out(f"gradebook: {csv_path}")
    if json_dir:
        write_gradescope(json_dir, grades, points)
        out(f"Gradescope results: {json_dir}/<student>/results.json")
    return 0


if __name__ == "__main__":  # the subprocess: exercise, file, seed, output path
    run_submission(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
