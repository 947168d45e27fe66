"""The grader: a student's backward passes against the library's, each run in a sandbox.

Each exercise of each student runs in its own sandbox (sandbox.py: bubblewrap, no
network, nothing of the class visible but a copy of that one file, limits on memory,
CPU time, files, processes and output, nothing it starts outliving it), where
runner.py imports the students' edition of numpygam (edition.py: the exercise's
reference bodies absent), draws the example inputs from a seed it reads on stdin,
runs the student's backward and writes the gradients to its result channel.

The parent computes the reference gradients itself, from the same seed, checks the
result document (expected names, a float dtype, expected shapes, a size cap: anything
else is that exercise's 0 with a one-line reason) and compares.  A gradient is right
when

    max |yours - reference| <= TOLERANCE * max(1, max |reference|),   TOLERANCE = 1e-11

which a right analytic formula meets by four orders of magnitude in float64 (its
errors are ~1e-15), and finite differences miss (their errors are 1e-10 .. 1e-5: such
an answer is flagged "looks numerical").  An exercise's score is the fraction of its
gradients that are right.

    python -m numpygam grade softmax --dir my_homework         # one student
    python -m numpygam grade all --submissions class/ --csv grades.csv [--points points.json]
                                 [--json-dir gradescope/] [--timeout 60] [--no-sandbox]
"""
import base64
import binascii
import csv
import io
import json
import os
import secrets
import signal
import stat
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from ..files import write_whole
from . import sandbox, similarity
from .edition import PACKAGE, traced_calls, used_functions, write_edition
from .exercises import EXERCISES
from .runner import LARGE, checks_of, example_and_dout

TOLERANCE = 1e-11      # relative; a right formula in float64 is off by ~1e-15
NUMERICAL_BAND = 1e-4  # relative errors in (TOLERANCE, NUMERICAL_BAND]: finite differences'
DEFAULT_TIMEOUT = 60   # seconds per exercise; the reference needs well under one
MAX_MESSAGE = 300      # characters of a submission's own text (an error) that are kept
MAX_SUBMISSION = 1024**2  # bytes of an exercise file; a solution is a few kilobytes
BUDGET_FACTOR = 3      # a run's CPU budget: this many times the reference's whole run ...
BUDGET_SLACK = 1.0     # ... and this many seconds more (start-up on a busy machine)


class Result(NamedTuple):
    """One exercise of one student."""
    exercise: str
    right: int    # gradients that match the reference
    total: int    # gradients graded
    lines: list   # the verdict, a line per function and per gradient

    @property
    def fraction(self):
        return self.right / self.total


# -- running one submission ------------------------------------------------------------------

class Refused(Exception):
    """Grading cannot start as promised (the sandbox would show the reference, or cannot be
    limited): one line saying why and what to do."""


class Editions:
    """The students' editions of the package, one per exercise (edition.py), written once
    per grading run into a temporary folder, each proven in the sandbox to be the only
    numpygam there (sandbox.verify); and each exercise's CPU budget.  close() removes them."""

    def __init__(self, use_sandbox=True, strict=False):
        self.use_sandbox, self.strict = use_sandbox, strict
        self._tmp = tempfile.TemporaryDirectory(prefix="numpygam-editions-")
        os.chmod(self._tmp.name, 0o755)  # the sandbox's user reads them
        self._made = {}

    def prepare(self, names):
        """Write the editions of names, tracing their checks in parallel processes."""
        todo = [n for n in names if n not in self._made]
        with ThreadPoolExecutor(max(1, min(len(todo), os.cpu_count() or 1))) as pool:
            traced = list(pool.map(traced_calls, todo))
        for name, calls in zip(todo, traced):
            self._write(name, used_functions(name, calls))

    def _write(self, name, used=None):
        folder = os.path.join(self._tmp.name, name)
        os.mkdir(folder)
        write_edition(folder, name, used)
        if self.use_sandbox:
            refusal = sandbox.verify(folder)
            if refusal:
                raise Refused(refusal)
        self._made[name] = folder

    def __getitem__(self, exercise_name):
        if exercise_name not in self._made:
            self._write(exercise_name)
        return self._made[exercise_name]

    def budget(self, exercise_name):
        """Seconds of CPU time a submission's run may use: BUDGET_FACTOR times the
        reference's whole run (start-up, imports, every check) plus BUDGET_SLACK."""
        if exercise_name not in _REFERENCE_CPU:  # measured once a process
            _REFERENCE_CPU[exercise_name] = _reference_cpu(exercise_name)
        return BUDGET_FACTOR * _REFERENCE_CPU[exercise_name] + BUDGET_SLACK

    def close(self):
        self._tmp.cleanup()


_REFERENCE_CPU = {}  # {exercise: CPU seconds of the reference's whole run}


def _reference_cpu(exercise_name):
    """CPU seconds of the runner's whole run on the exercise's key (the library's own
    solution), outside any sandbox: the yardstick of the budget."""
    from .homework import exercise_source
    with tempfile.TemporaryDirectory(prefix="numpygam-key-") as tmp:
        key = os.path.join(tmp, "key.py")
        with open(key, "w") as f:
            f.write(exercise_source(exercise_name, solutions=True))
        env = {"PYTHONPATH": os.path.dirname(PACKAGE), "OPENBLAS_NUM_THREADS": "1",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
               "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg"}
        request = json.dumps({"exercise": exercise_name, "seed": 0, "file": key}) + "\n"
        proc = subprocess.Popen([sys.executable, "-s", "-m", "numpygam.course.runner"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env, cwd=tmp)
        proc.stdin.write(request.encode())
        proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own CPU time, not the pool's
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"the reference run of {exercise_name} failed (exit {proc.returncode})")
    return usage.ru_utime + usage.ru_stime


_SIGNALS = {signal.SIGXFSZ: f"stopped at the file-size limit ({sandbox.LIMITS.file_size >> 20} "
                            "MiB for any one file)",
            signal.SIGKILL: "killed (by itself, or at a limit)",
            signal.SIGSEGV: "crashed (segmentation fault)"}


def _too_slow(budget):
    return (f"stopped at its CPU budget ({budget:.1f} s: {BUDGET_FACTOR:g} times the "
            f"reference's whole run, and {BUDGET_SLACK:g} s more): an endless loop, or too "
            "slow for an analytic gradient: does it differentiate numerically? A backward "
            "pass costs about one forward; finite differences or complex steps cost one "
            "forward per input element (and so does a Python loop over every element)")


def _ended(outcome, sig, code):
    """Why a run that reported no gradient ended, in one line."""
    why = _SIGNALS.get(sig, f"ended with exit status {code}")
    last = outcome.stderr.decode(errors="replace").strip().split("\n")[-1][:200]
    if "MemoryError" in last:
        why = f"ran out of memory (the limit is {sandbox.LIMITS.memory >> 30} GiB)"
    return f"{why} before reporting any gradient" + (f": {_shown(last)}" if last else "")


def read_submission(path):
    """The file's bytes, or (None, reason): a symbolic link is refused, never followed
    (it could name the instructor's key or any file of the grader's), and so is anything
    but a regular file or a file over MAX_SUBMISSION bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        if os.path.islink(path):
            return None, f"{os.path.basename(path)} is a symbolic link: not graded (hand in the file itself)"
        return None, f"{os.path.basename(path)} could not be read ({err.strerror})"
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None, f"{os.path.basename(path)} is not a regular file: not graded"
        source = f.read(MAX_SUBMISSION + 1)
    if len(source) > MAX_SUBMISSION:
        return None, f"the file is larger than {MAX_SUBMISSION >> 20} MiB: not graded"
    return source, None


def _run(exercise_name, source, seed, timeout, edition, budget, use_sandbox=True,
         strict=False):
    """(the result document, or None; a one-line reason when None)."""
    request = json.dumps({"exercise": exercise_name, "seed": seed,
                          "file": "submission.py"}) + "\n"
    argv = sandbox.python_argv("-m", "numpygam.course.runner") if use_sandbox else \
        [sys.executable, "-s", "-B", "-m", "numpygam.course.runner"]
    outcome = sandbox.run(argv, files={"submission.py": source},
                          readonly={edition: sandbox.EDITION}, stdin=request.encode(),
                          timeout=timeout, sandbox=use_sandbox, cpu_budget=budget,
                          strict=strict)
    code = outcome.returncode
    sig = None if code is None else -code if code < 0 else code - 128 if code > 128 else None
    if outcome.cpu_exceeded or sig == signal.SIGXCPU:
        return None, _too_slow(budget)
    if outcome.timed_out:
        return None, (f"stopped at the time limit ({timeout:g} s of wall-clock time): an "
                      "endless loop, or far too slow")
    if outcome.result_cut:
        return None, f"wrote more than {sandbox.LIMITS.result >> 20} MiB of results: not graded"
    if not outcome.result:
        return None, _ended(outcome, sig, code)
    first, _, rest = outcome.result.partition(b"\n")
    if not rest.strip():  # it died after the runner's first line: say how it ended
        return None, _ended(outcome, sig, code)
    try:
        facts, document = json.loads(first), json.loads(rest)
        complex_use = facts.get("complex") if isinstance(facts, dict) else None
    except (ValueError, RecursionError, AttributeError):
        return None, "its results could not be read (not the runner's document): not graded"
    if complex_use:
        return None, (f"uses complex numbers ({_shown(str(complex_use))[:80]}): a backward pass "
                      "of real inputs needs none; complex-step differentiation is a numerical "
                      "gradient, not the formula")
    return document, None


# -- the reference and the verdict -----------------------------------------------------------

def _reference(exercise_name, seed):
    """Per check: (label, the check's example, dout, [(gradient name, reference or None)])."""
    exercise, checks = EXERCISES[exercise_name], []
    for check in checks_of(exercise_name):
        example, dout = example_and_dout(exercise_name, check, seed)  # the runner's draw
        _, cache = example.forward(**example.inputs, **example.options)
        grads = example.backward(dout, cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
        name = example.backward.__name__
        label = name if name in exercise.write else \
            f"{', '.join(exercise.write)} (through {name})"
        if check == LARGE:
            label = f"{', '.join(exercise.write)} on {LARGE}, within the CPU budget"
        elif "training" in example.options:
            label += " (training mode)" if example.options["training"] else " (eval mode)"
        elif check.endswith(")"):  # a second check of the same function says which
            label += " (" + check.split("(", 1)[1]
        checks.append((label, example, dout, list(zip((f"d{n}" for n in example.inputs),
                                                      grads))))
    return checks


def _text(value):
    """A submission's own text (an error message), a string of bounded length, or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("an error that is not text")
    return value[:MAX_MESSAGE]


def _array(entry, expected):
    """A returned gradient from the result document: (array or None, note or None);
    ValueError for anything the runner would not have written."""
    if entry is None:
        return None, None
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "kind", "data"}:
        raise ValueError("a gradient entry of the wrong form")
    dtype, shape, kind = entry["dtype"], entry["shape"], _text(entry["kind"])
    if dtype not in ("float64", "float32", "float16") or not isinstance(entry["data"], str):
        raise ValueError(f"a gradient of dtype {str(dtype)[:20]!r}")
    if (not isinstance(shape, list) or len(shape) > 8 or
            not all(isinstance(n, int) and 0 <= n <= 10**6 for n in shape)):
        raise ValueError("a gradient with an impossible shape")
    size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if size > 16 * expected.nbytes + 1024 or len(entry["data"]) > 4 * size // 3 + 8:
        raise ValueError("a gradient far larger than expected")
    try:
        raw = base64.b64decode(entry["data"], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a gradient whose data is not base64") from None
    if len(raw) != size:
        raise ValueError("a gradient whose data does not fill its shape")
    array = np.frombuffer(raw, dtype=dtype).reshape(shape)
    note = None
    if kind != "ndarray":
        note = f"returned {kind}: return a NumPy array of float64"
    if dtype != "float64":
        note = (f"returned {dtype}; the inputs are float64: compute in float64 ({dtype} rounds "
                "at ~1e-7, far above the tolerance)")
    return array, note


def _compare(name, theirs, ref, note, example, dout, seed):
    """(right?, lines) for one gradient."""
    if theirs is None:
        return False, [f"    {name}: returned None; expected an array of shape {ref.shape}"]
    if theirs.shape != ref.shape:
        return False, [f"    {name}: shape {theirs.shape}; expected {ref.shape}"]
    if theirs.dtype != np.float64:
        return False, [f"    {name}: {note}"]
    diff = np.abs(theirs.astype(np.float64) - ref)
    diff[np.isnan(diff)] = np.inf
    scale = max(1.0, float(np.abs(ref).max(initial=0.0)))
    largest = float(diff.max(initial=0.0))
    extra = [f"      ({note})"] if note else []
    if largest <= TOLERANCE * scale:
        return True, [f"    {name}: correct (largest difference {largest:.1e})"] + extra
    wrong = int(np.sum(diff > TOLERANCE * scale))
    if largest <= NUMERICAL_BAND * scale:
        return False, [f"    {name}: looks numerical: off by up to {largest / scale:.1e} "
                       f"(relative), the size of finite differences' errors, not of a formula's "
                       f"(~1e-15); write the analytic gradient"] + extra
    where = tuple(int(k) for k in np.unravel_index(int(np.argmax(diff)), diff.shape))
    fd = _finite_difference(example, dout, name[1:], where)
    return False, [f"    {name}: WRONG in {wrong} of {diff.size} entries; the worst at index "
                   f"{where}: yours {float(theirs[where]):+.6f}, reference {ref[where]:+.6f}, "
                   f"finite differences {fd:+.6f} (rerun these inputs: --seed {seed})"] + extra


def _finite_difference(example, dout, name, index, h=1e-6):
    """d(sum(forward * dout)) / d input[index], by central differences."""
    def loss(shift):
        inputs = {k: (None if v is None else np.array(v, dtype=np.float64))
                  for k, v in example.inputs.items()}
        inputs[name][index] += shift
        return float(np.sum(example.forward(**inputs, **example.options)[0] * dout))
    return (loss(h) - loss(-h)) / (2 * h)


def _verdict(reference, document, reason, seed):
    """(right, total, lines) for one exercise from the runner's result document (checked
    here: anything malformed is the whole exercise's 0 with one line)."""
    total = sum(g is not None for *_, grads in reference for _, g in grads)
    try:
        error = reason or _text(document.get("error") if isinstance(document, dict) else "?")
        checks = document.get("checks") if isinstance(document, dict) else None
        if not error and (not isinstance(checks, list) or len(checks) != len(reference)):
            raise ValueError("not one entry per check")
    except ValueError as err:
        error = f"its results could not be read ({err}): not graded"
    if error:
        return 0, total, [f"✗ {label}: {error}" for label, *_ in reference]
    right, lines = 0, []
    for entry, (label, example, dout, grads) in zip(checks, reference):
        try:
            if not isinstance(entry, dict):
                raise ValueError("a check entry of the wrong form")
            problem = _text(entry.get("error"))
            count, returned = entry.get("count"), entry.get("grads")
            if not problem and (not isinstance(count, int) or not isinstance(returned, list)
                                or len(returned) != count):
                raise ValueError("a check entry of the wrong form")
            if not problem and count != len(grads):
                problem = (f"returned {count} gradient(s); expected {len(grads)} "
                           f"({', '.join(n for n, _ in grads)})")
            arrays = [] if problem else [_array(e, g if g is not None else np.zeros(1))
                                         for e, (_, g) in zip(returned, grads)]
        except ValueError as err:
            problem = f"its results could not be read ({err}): not graded"
        if problem:
            lines.append(f"✗ {label}: {problem}")
            continue
        oks, rows = [], []
        for (name, ref), (theirs, note) in zip(grads, arrays):
            if ref is None:
                continue
            ok, text = _compare(name, theirs, ref, note, example, dout, seed)
            oks.append(ok)
            rows += text
        right += sum(oks)
        lines += [f"{'✓' if all(oks) else '✗'} {label}"] + rows
    return right, total, lines


def _all_wrong(exercise_name, reference, line):
    total = sum(g is not None for *_, grads in reference for _, g in grads)
    return Result(exercise_name, 0, total, [f"✗ {line}"])


def grade_file(exercise_name, path, timeout=DEFAULT_TIMEOUT, seed=None, reference=None,
               editions=None, use_sandbox=True):
    """Grade one exercise file in a sandbox (use_sandbox=False: a plain subprocess);
    returns a Result.  editions: the grading run's Editions (made here when None)."""
    seed = secrets.randbelow(2**31) if seed is None else seed
    reference = reference or _reference(exercise_name, seed)
    if not os.path.lexists(path):
        return _all_wrong(exercise_name, reference, f"{_shown(path)} is missing")
    source, reason = read_submission(path)
    if source is None:
        return _all_wrong(exercise_name, reference, reason)
    mine = editions is None
    editions = Editions(use_sandbox) if mine else editions
    try:
        document, reason = _run(exercise_name, source, seed, timeout, editions[exercise_name],
                                editions.budget(exercise_name), use_sandbox, editions.strict)
    finally:
        if mine:
            editions.close()
    return Result(exercise_name, *_verdict(reference, document, reason, seed))


def grade(exercise, folder="homework", out=print, timeout=DEFAULT_TIMEOUT, seed=None):
    """Grade one student's exercise (or "all") in folder; print the verdict; True if all right.

    A student's own check: in the sandbox where one starts (its processes and memory capped
    where a cgroup can be made), else as a plain subprocess."""
    names = list(EXERCISES) if exercise == "all" else [exercise]
    if not all(name in EXERCISES for name in names):
        raise ValueError(f"unknown exercise {exercise!r}; choose one of {list(EXERCISES)} or all")
    passed = True
    editions = Editions(sandbox.unavailable() is None)
    try:
        editions.prepare([n for n in names if os.path.lexists(os.path.join(folder, f"{n}.py"))])
        for name in names:
            path = os.path.join(folder, f"{name}.py")
            if not os.path.lexists(path):
                out(f"✗ {path} does not exist: run `python -m numpygam homework {folder}` first")
                passed = False
                continue
            result = grade_file(name, path, timeout, seed=seed, editions=editions,
                                use_sandbox=editions.use_sandbox)
            for line in result.lines:
                out(line)
            ok = result.right == result.total
            passed &= ok
            out(f"{name}: {'all gradients correct' if ok else 'not yet'} "
                f"({result.right}/{result.total} gradients right)")
    finally:
        editions.close()
    return passed


# -- a whole class -----------------------------------------------------------------------

def students(submissions):
    """The student folders under submissions, by name (hidden folders skipped; a symbolic
    link to a folder is listed, and flagged by class_flags)."""
    return sorted(d for d in os.listdir(submissions)
                  if not d.startswith(".") and os.path.isdir(os.path.join(submissions, d)))


HANDOUT = "\0handout"  # the untouched exercise file's key: no folder's name has a NUL


def class_flags(submissions, exercises, handout=None):
    """{student: [flag, ...]} for a person to look at: a folder or an exercise file that is
    a symbolic link (not graded), a file that could not be compared, and files that are
    the same code as a classmate's once names and the order of independent statements are
    set aside (similarity.py), where the solution is long enough (similarity.MIN_SIZE
    syntax nodes) that independent students would not write it alike.  handout: {exercise:
    path of the untouched exercise file}, which is no one's copy.  Every file is parsed in
    a child process under limits: a hostile file is a flag, never the class's failure."""
    flags = {s: [] for s in students(submissions)}
    for s in flags:
        if os.path.islink(os.path.join(submissions, s)):
            flags[s].append("the folder is a symbolic link: not graded")
    for name in exercises:
        paths = {s: os.path.join(submissions, s, f"{name}.py") for s in flags
                 if not os.path.islink(os.path.join(submissions, s))}
        for s, path in list(paths.items()):
            if os.path.islink(path):
                flags[s].append(f"{name}: {name}.py is a symbolic link: not graded")
                del paths[s]
            elif not os.path.lexists(path):
                del paths[s]
        if handout and name in handout:
            paths[HANDOUT] = handout[name]
        found = similarity.fingerprint_files(list(paths.values()), EXERCISES[name].write)
        prints = {}
        for s, path in paths.items():
            value = found.get(path, "not compared")
            if isinstance(value, str):
                if s != HANDOUT:
                    flags[s].append(f"{name}: could not be compared with the others ({value})")
            else:
                prints[s] = value
        for members, size in similarity.similar(prints):
            if HANDOUT in members:
                continue
            for s in members:
                others = ", ".join(o for o in members if o != s)
                flags[s].append(f"{name}: the same code as {others} once names and statement "
                                f"order are set aside ({size} syntax nodes)")
    return flags


def grade_class(submissions, exercises=None, timeout=DEFAULT_TIMEOUT, workers=None, seed=None,
                use_sandbox=True):
    """{student: [Result per exercise]} for every student folder under submissions.

    Exercises run in parallel (workers: the CPU count), each in its own sandbox; this
    returns after every sandbox is gone.  One student's failure of any kind is that
    exercise's 0 with a line; a student's folder that is a symbolic link is not graded.
    Raises Refused (before any submission runs) where the sandbox cannot be what
    sandbox.py promises; use_sandbox=False grades without one."""
    exercises = list(exercises or EXERCISES)
    refusal = sandbox.unavailable(strict=True) if use_sandbox else sandbox.unsandboxed_problem()
    if refusal:
        raise Refused(refusal)
    seed = secrets.randbelow(2**31) if seed is None else seed
    reference = {name: _reference(name, seed) for name in exercises}
    jobs = [(s, name) for s in students(submissions) for name in exercises]
    editions = Editions(use_sandbox, strict=True)

    def one(job):
        student, name = job
        folder = os.path.join(submissions, student)
        try:
            if os.path.islink(folder):
                return _all_wrong(name, reference[name], "the folder is a symbolic link: not "
                                  "graded")
            return grade_file(name, os.path.join(folder, f"{name}.py"), timeout, seed,
                              reference[name], editions, use_sandbox)
        except Exception as err:  # the grader's own fault: say so, grade the others
            return _all_wrong(name, reference[name],
                              f"not graded: {type(err).__name__}: {err}"[:300])
    try:
        editions.prepare(exercises)  # written, proven and timed before the threads start
        for name in exercises:
            editions.budget(name)
        pool = ThreadPoolExecutor(workers or _workers())
        try:
            results = list(pool.map(one, jobs))
        except KeyboardInterrupt:  # Ctrl-C: no new run starts, the running ones are killed
            pool.shutdown(wait=False, cancel_futures=True)
            sandbox.stop_all()
            raise
        pool.shutdown()
    finally:
        editions.close()
    grades = {}
    for (student, _), result in zip(jobs, results):
        grades.setdefault(student, []).append(result)
    return grades


def _workers():
    """Runs at once: one per CPU, and no more than the memory available holds at each
    run's limit (LIMITS.memory), so that a class of hogs cannot exhaust the machine."""
    try:
        with open("/proc/meminfo") as f:
            available = next(int(line.split()[1]) * 1024 for line in f
                             if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError):
        return os.cpu_count() or 1
    return max(1, min(os.cpu_count() or 1, available // sandbox.LIMITS.memory))


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
    """path written whole or not at all (numpygam/files.py)."""
    write_whole(path, text)


def spreadsheet_cell(value):
    """A CSV cell a spreadsheet shows as text: a string beginning with =, +, -, @, a tab
    or a carriage return gets a leading ' (OWASP's rule against CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_gradebook(path, grades, points, flags=None, sandboxed=True):
    """CSV: student, one column per exercise (points x fraction right), total, flags."""
    rows = [["student", *points, "total", "flags"]]
    for student, results in grades.items():
        scores = [round(points[r.exercise] * r.fraction, 4) for r in results]
        notes = list((flags or {}).get(student, []))
        if not sandboxed:
            notes.append("graded without a sandbox")
        rows.append([spreadsheet_cell(_shown(student)), *scores, round(sum(scores), 4),
                     spreadsheet_cell(_shown("; ".join(notes)))])
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    _atomic_write(path, buffer.getvalue())


def gradescope_document(results, points, seconds=None, sandboxed=True):
    """Gradescope's results.json for one student: score, execution_time, output,
    visibility, and one test per exercise."""
    tests = [{"name": r.exercise, "score": round(points[r.exercise] * r.fraction, 4),
              "max_score": points[r.exercise], "output": "\n".join(r.lines),
              "visibility": "visible"} for r in results]
    document = {"score": round(sum(t["score"] for t in tests), 4),
                "output": f"graded by numpygam{'' if sandboxed else ' WITHOUT a sandbox'}: "
                          f"each gradient against the reference, max |yours - reference| <= "
                          f"{TOLERANCE:g} max(1, max |reference|)",
                "visibility": "visible", "tests": tests}
    if seconds is not None:
        document["execution_time"] = round(seconds, 1)
    return document


def write_gradescope(folder, grades, points, sandboxed=True):
    """folder/<student>/results.json in the shape Gradescope's autograder reads."""
    for student, results in grades.items():
        name = export_name(student)
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        _atomic_write(os.path.join(folder, name, "results.json"), json.dumps(
            gradescope_document(results, points, sandboxed=sandboxed), indent=2))


def _shown(text):
    """text as a terminal may print it: control characters (a newline in a folder's name
    could forge a row) and the backslash written as escapes, so that two names never
    look alike (a name with a control character, and one with its escape typed out)."""
    return "".join(c if c.isprintable() and c != "\\" else
                   "\\\\" if c == "\\" else ascii(c)[1:-1] for c in str(text))


def export_name(student):
    """The folder name of a student's Gradescope results: shown escaped, cut to 100
    characters with a digest of the whole name where longer (a file name has at most
    255 bytes), so that every student's name gives a folder of its own."""
    import hashlib
    name = _shown(student).replace("/", "_")
    if len(name.encode()) > 100 or name in (".", ".."):
        digest = hashlib.sha256(os.fsencode(student)).hexdigest()[:12]
        name = name.encode()[:80].decode(errors="ignore") + "-" + digest
    return name


def summary_table(grades, points, flags=None):
    """The gradebook as a text table, then the flags (names shown escaped)."""
    names = list(points)
    width = max([7] + [len(_shown(s)) for s in grades])
    head = f"{'student':<{width}} " + " ".join(f"{n[:12]:>12}" for n in names) + f" {'total':>7}"
    lines = [head, "-" * len(head)]
    for student, results in grades.items():
        scores = [points[r.exercise] * r.fraction for r in results]
        lines.append(f"{_shown(student):<{width}} " + " ".join(f"{s:>12.2f}" for s in scores) +
                     f" {sum(scores):>7.2f}")
    lines.append(f"{'max':<{width}} " + " ".join(f"{points[n]:>12.2f}" for n in names) +
                 f" {sum(points.values()):>7.2f}")
    flagged = [(s, f) for s, fs in (flags or {}).items() for f in fs]
    if flagged:
        lines.append("flags (for a person to look at):")
        lines += [f"  {_shown(s)}: {_shown(f)}" for s, f in flagged]
    return "\n".join(lines)


def main_class(submissions, points, csv_path=None, json_dir=None, timeout=DEFAULT_TIMEOUT,
               out=print, use_sandbox=True, seed=None):
    """`grade ... --submissions DIR`: grade the exercises in points ({exercise: points}),
    print the table, write the gradebook and Gradescope files; returns the exit status."""
    from .homework import exercise_source
    start = time.time()
    try:
        grades = grade_class(submissions, list(points), timeout, use_sandbox=use_sandbox,
                             seed=seed)
    except Refused as err:  # before any submission ran: one line, on stderr
        print(f"error: {err}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:  # the untouched handout is no one's copy
        handout = {}
        for name in points:
            handout[name] = os.path.join(tmp, f"{name}.py")
            with open(handout[name], "w") as f:
                f.write(exercise_source(name))
        try:
            flags = class_flags(submissions, list(points), handout)
        except Exception as err:  # the grader's own fault: the gradebook comes first
            flags = {s: [f"not compared with the others: {type(err).__name__}: {err}"[:300]]
                     for s in grades}
    out(summary_table(grades, points, flags))
    out(f"graded {len(grades)} students x {len(points)} exercises in "
        f"{time.time() - start:.0f} s" + ("" if use_sandbox else
                                          ", WITHOUT a sandbox (--no-sandbox)"))
    try:
        if csv_path:
            write_gradebook(csv_path, grades, points, flags, sandboxed=use_sandbox)
            out(f"gradebook: {csv_path}")
        if json_dir:
            write_gradescope(json_dir, grades, points, sandboxed=use_sandbox)
            out(f"Gradescope results: {json_dir}/<student>/results.json")
    except OSError as err:  # a full disk, a read-only folder: the table above is the record
        print(f"error: could not write {err.filename or csv_path or json_dir}: "
              f"{err.strerror or err}; the summary above holds every grade", file=sys.stderr)
        return 1
    return 0
