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

Every line for a student is said in the student's language (feedback.py: lang "en" or
"zh"): `--lang` where given, else the language `homework` wrote the student's folder in
(feedback.folder_language).  The instructor's table, gradebook and flags stay English.
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
from .feedback import (
    aside,
    check_lang,
    check_variant,
    colon,
    folder_language,
    parenthesized,
    say,
    say_text,
    templates,
)
from .feedback import table as feedback_table
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

    def __init__(self, use_sandbox=True, strict=False, lang="en"):
        self.use_sandbox, self.strict, self.lang = use_sandbox, strict, lang
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
            refusal = sandbox.verify(folder, self.lang)
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


def _signalled(sig, code, lang):
    """How a run ended that a signal (or its exit status) stopped, in words."""
    if sig == signal.SIGXFSZ:
        return say("stopped at the file-size limit ({mib} MiB for any one file)", lang,
                   mib=sandbox.LIMITS.file_size >> 20)
    if sig == signal.SIGKILL:
        return say("killed (by itself, or at a limit)", lang)
    if sig == signal.SIGSEGV:
        return say("crashed (segmentation fault)", lang)
    return say("ended with exit status {code}", lang, code=code)


def _too_slow(budget, lang="en"):
    return say("stopped at its CPU budget ({budget:.1f} s: {factor:g} times the reference's "
               "whole run, and {slack:g} s more): an endless loop, or too slow for an analytic "
               "gradient: does it differentiate numerically? A backward pass costs about one "
               "forward; finite differences or complex steps cost one forward per input element "
               "(and so does a Python loop over every element)", lang,
               budget=budget, factor=BUDGET_FACTOR, slack=BUDGET_SLACK)


def _ended(outcome, sig, code, lang="en"):
    """Why a run that reported no gradient ended, in one line."""
    why = _signalled(sig, code, lang)
    last = outcome.stderr.decode(errors="replace").strip().split("\n")[-1][:200]
    if "MemoryError" in last:
        why = say("ran out of memory (the limit is {gib} GiB)", lang,
                  gib=sandbox.LIMITS.memory >> 30)
    if last:
        return say("{why} before reporting any gradient: {last}", lang, why=why, last=_shown(last))
    return say("{why} before reporting any gradient", lang, why=why)


def read_submission(path, lang="en"):
    """The file's bytes, or (None, reason): a symbolic link is refused, never followed
    (it could name the instructor's key or any file of the grader's), and so is anything
    but a regular file or a file over MAX_SUBMISSION bytes.  The reason is in lang."""
    name = os.path.basename(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        if os.path.islink(path):
            return None, say("{name} is a symbolic link: not graded (hand in the file itself)",
                             lang, name=name)
        return None, say("{name} could not be read ({why})", lang, name=name, why=err.strerror)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None, say("{name} is not a regular file: not graded", lang, name=name)
        source = f.read(MAX_SUBMISSION + 1)
    if len(source) > MAX_SUBMISSION:
        return None, say("the file is larger than {mib} MiB: not graded", lang,
                         mib=MAX_SUBMISSION >> 20)
    return source, None


_RUNNER_SAYS = []  # the templates runner.py says, read once


def _runner_messages(lang):
    """{template: translation} of what the runner says: sent in its request, as the box
    holds no catalogue (feedback.py)."""
    if not _RUNNER_SAYS:
        _RUNNER_SAYS[:] = templates(["course/runner.py"], data=False)
    found = feedback_table(lang)
    return {t: found[t] for t in _RUNNER_SAYS if t in found}


def _run(exercise_name, source, seed, timeout, edition, budget, use_sandbox=True,
         strict=False, lang="en"):
    """(the result document, or None; a one-line reason in lang when None)."""
    # the runner says its reasons in lang from the table it is sent: the box has no catalogue
    request = json.dumps({"exercise": exercise_name, "seed": seed, "file": "submission.py",
                          "lang": lang, "messages": _runner_messages(lang)}) + "\n"
    argv = sandbox.python_argv("-m", "numpygam.course.runner") if use_sandbox else \
        [sys.executable, "-s", "-B", "-m", "numpygam.course.runner"]
    outcome = sandbox.run(argv, files={"submission.py": source},
                          readonly={edition: sandbox.EDITION}, stdin=request.encode(),
                          timeout=timeout, sandbox=use_sandbox, cpu_budget=budget,
                          strict=strict)
    code = outcome.returncode
    sig = None if code is None else -code if code < 0 else code - 128 if code > 128 else None
    if outcome.cpu_exceeded or sig == signal.SIGXCPU:
        return None, _too_slow(budget, lang)
    if outcome.timed_out:
        return None, say("stopped at the time limit ({timeout:g} s of wall-clock time): an "
                         "endless loop, or far too slow", lang, timeout=timeout)
    if outcome.result_cut:
        return None, say("wrote more than {mib} MiB of results: not graded", lang,
                         mib=sandbox.LIMITS.result >> 20)
    if not outcome.result:
        return None, _ended(outcome, sig, code, lang)
    first, _, rest = outcome.result.partition(b"\n")
    if not rest.strip():  # it died after the runner's first line: say how it ended
        return None, _ended(outcome, sig, code, lang)
    try:
        facts, document = json.loads(first), json.loads(rest)
        complex_use = facts.get("complex") if isinstance(facts, dict) else None
    except (ValueError, RecursionError, AttributeError):
        return None, say("its results could not be read (not the runner's document): not "
                         "graded", lang)
    if complex_use:
        return None, say("uses complex numbers ({where}): a backward pass of real inputs needs "
                         "none; complex-step differentiation is a numerical gradient, not the "
                         "formula", lang, where=_shown(str(complex_use))[:80])
    return document, None


# -- the reference and the verdict -----------------------------------------------------------

def _reference(exercise_name, seed, lang="en"):
    """Per check: (label, the check's example, dout, [(gradient name, reference or None)]);
    the labels in lang."""
    exercise, checks = EXERCISES[exercise_name], []
    written = ("、" if lang == "zh" else ", ").join(exercise.write)
    for check in checks_of(exercise_name):
        example, dout = example_and_dout(exercise_name, check, seed)  # the runner's draw
        _, cache = example.forward(**example.inputs, **example.options)
        grads = example.backward(dout, cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
        name = example.backward.__name__
        label, notes = (name, []) if name in exercise.write else \
            (written, [say("through {name}", lang, name=name)])
        if "training" in example.options:
            notes.append(say("training mode", lang) if example.options["training"]
                         else say("eval mode", lang))
        elif check_variant(check):  # a second check of the same function says which
            notes.append(say_text(check_variant(check), lang))
        if lang == "zh" and notes:  # one pair of brackets: （经由 …，训练模式）
            label = aside(label, "，".join(notes), lang)
        for note in notes if lang != "zh" else []:
            label = aside(label, note, lang)
        if check == LARGE:
            label = say("{functions} on a large input, within the CPU budget", lang,
                        functions=written)
        checks.append((label, example, dout, list(zip((f"d{n}" for n in example.inputs),
                                                      grads))))
    return checks


def _text(value, lang="en"):
    """A submission's own text (an error message), a string of bounded length, or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(say("an error that is not text", lang))
    return value[:MAX_MESSAGE]


def _array(entry, expected, lang="en"):
    """A returned gradient from the result document: (array or None, note or None);
    ValueError for anything the runner would not have written (notes and errors in lang)."""
    if entry is None:
        return None, None
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "kind", "data"}:
        raise ValueError(say("a gradient entry of the wrong form", lang))
    dtype, shape, kind = entry["dtype"], entry["shape"], _text(entry["kind"], lang)
    if dtype not in ("float64", "float32", "float16") or not isinstance(entry["data"], str):
        raise ValueError(say("a gradient of dtype {dtype}", lang, dtype=repr(str(dtype)[:20])))
    if (not isinstance(shape, list) or len(shape) > 8 or
            not all(isinstance(n, int) and 0 <= n <= 10**6 for n in shape)):
        raise ValueError(say("a gradient with an impossible shape", lang))
    size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if size > 16 * expected.nbytes + 1024 or len(entry["data"]) > 4 * size // 3 + 8:
        raise ValueError(say("a gradient far larger than expected", lang))
    try:
        raw = base64.b64decode(entry["data"], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(say("a gradient whose data is not base64", lang)) from None
    if len(raw) != size:
        raise ValueError(say("a gradient whose data does not fill its shape", lang))
    array = np.frombuffer(raw, dtype=dtype).reshape(shape)
    note = None
    if kind != "ndarray":
        note = say("returned {kind}: return a NumPy array of float64", lang, kind=kind)
    if dtype != "float64":
        eps = np.finfo(dtype).eps if np.dtype(dtype).kind == "f" else 1  # integers: at 1
        note = say("returned {dtype}; the inputs are float64: compute in float64 ({dtype} "
                   "rounds at ~{eps}, far above the tolerance)", lang, dtype=dtype,
                   eps=f"{eps:.0e}")
    return array, note


def _compare(name, theirs, ref, note, example, dout, seed, lang="en"):
    """(right?, lines) for one gradient, in lang."""
    head = f"    {name}"
    if theirs is None:
        return False, [colon(head, say("returned None; expected an array of shape {shape}",
                                       lang, shape=ref.shape), lang)]
    if theirs.shape != ref.shape:
        return False, [colon(head, say("shape {shape}; expected {expected}", lang,
                                       shape=theirs.shape, expected=ref.shape), lang)]
    if theirs.dtype != np.float64:
        return False, [colon(head, note, lang)]
    diff = np.abs(theirs.astype(np.float64) - ref)
    diff[np.isnan(diff)] = np.inf
    scale = max(1.0, float(np.abs(ref).max(initial=0.0)))
    largest = float(diff.max(initial=0.0))
    extra = ["      " + parenthesized(note, lang)] if note else []
    if largest <= TOLERANCE * scale:
        return True, [colon(head, say("correct (largest difference {largest:.1e})", lang,
                                      largest=largest), lang)] + extra
    wrong = int(np.sum(diff > TOLERANCE * scale))
    if largest <= NUMERICAL_BAND * scale:
        return False, [colon(head, say(
            "looks numerical, or not computed in float64: off by up to {error:.1e} "
            "(relative), the size of finite differences' errors or of float32 arithmetic, "
            "not of a float64 formula's (~1e-15); write the analytic gradient in float64, "
            "with no added constant",
            lang, error=largest / scale), lang)] + extra
    where = tuple(int(k) for k in np.unravel_index(int(np.argmax(diff)), diff.shape))
    fd = _finite_difference(example, dout, name[1:], where)
    return False, [colon(head, say(
        "WRONG in {wrong} of {size} entries; the worst at index {index}: yours {yours:+.6f}, "
        "reference {reference:+.6f}, finite differences {fd:+.6f} (rerun these inputs: "
        "--seed {seed})", lang, wrong=wrong, size=diff.size, index=where,
        yours=float(theirs[where]), reference=ref[where], fd=fd, seed=seed), lang)] + extra


def _finite_difference(example, dout, name, index, h=1e-6):
    """d(sum(forward * dout)) / d input[index], by central differences."""
    def loss(shift):
        inputs = {k: (None if v is None else np.array(v, dtype=np.float64))
                  for k, v in example.inputs.items()}
        inputs[name][index] += shift
        return float(np.sum(example.forward(**inputs, **example.options)[0] * dout))
    return (loss(h) - loss(-h)) / (2 * h)


def _unreadable(err, lang):
    """The line for a result document that is not what the runner writes."""
    return say("its results could not be read ({why}): not graded", lang, why=err)


def _verdict(reference, document, reason, seed, lang="en"):
    """(right, total, lines) for one exercise from the runner's result document (checked
    here: anything malformed is the whole exercise's 0 with one line); lines in lang."""
    total = sum(g is not None for *_, grads in reference for _, g in grads)
    try:
        error = reason or _text(document.get("error") if isinstance(document, dict) else "?",
                                lang)
        checks = document.get("checks") if isinstance(document, dict) else None
        if not error and (not isinstance(checks, list) or len(checks) != len(reference)):
            raise ValueError(say("not one entry per check", lang))
    except ValueError as err:
        error = _unreadable(err, lang)
    if error:
        return 0, total, [colon(f"✗ {label}", error, lang) for label, *_ in reference]
    right, lines = 0, []
    for entry, (label, example, dout, grads) in zip(checks, reference):
        try:
            if not isinstance(entry, dict):
                raise ValueError(say("a check entry of the wrong form", lang))
            problem = _text(entry.get("error"), lang)
            count, returned = entry.get("count"), entry.get("grads")
            if not problem and (not isinstance(count, int) or not isinstance(returned, list)
                                or len(returned) != count):
                raise ValueError(say("a check entry of the wrong form", lang))
            if not problem and count != len(grads):
                problem = say("returned {count} gradient(s); expected {expected} ({names})", lang,
                              count=count, expected=len(grads),
                              names=", ".join(n for n, _ in grads))
            arrays = [] if problem else [_array(e, g if g is not None else np.zeros(1), lang)
                                         for e, (_, g) in zip(returned, grads)]
        except ValueError as err:
            problem = _unreadable(err, lang)
        if problem:
            lines.append(colon(f"✗ {label}", problem, lang))
            continue
        oks, rows = [], []
        for (name, ref), (theirs, note) in zip(grads, arrays):
            if ref is None:
                continue
            ok, text = _compare(name, theirs, ref, note, example, dout, seed, lang)
            oks.append(ok)
            rows += text
        right += sum(oks)
        lines += [f"{'✓' if all(oks) else '✗'} {label}"] + rows
    return right, total, lines


def _all_wrong(exercise_name, reference, line):
    total = sum(g is not None for *_, grads in reference for _, g in grads)
    return Result(exercise_name, 0, total, [f"✗ {line}"])


def grade_file(exercise_name, path, timeout=DEFAULT_TIMEOUT, seed=None, reference=None,
               editions=None, use_sandbox=True, lang="en"):
    """Grade one exercise file in a sandbox (use_sandbox=False: a plain subprocess);
    returns a Result, its lines in lang.  editions: the grading run's Editions (made here
    when None).  reference: _reference(exercise_name, seed, lang), when already made."""
    seed = secrets.randbelow(2**31) if seed is None else seed
    reference = reference or _reference(exercise_name, seed, lang)
    if not os.path.lexists(path):
        return _all_wrong(exercise_name, reference, say("{path} is missing", lang,
                                                         path=_shown(path)))
    source, reason = read_submission(path, lang)
    if source is None:
        return _all_wrong(exercise_name, reference, reason)
    mine = editions is None
    editions = Editions(use_sandbox, lang=lang) if mine else editions
    try:
        document, reason = _run(exercise_name, source, seed, timeout, editions[exercise_name],
                                editions.budget(exercise_name), use_sandbox, editions.strict,
                                lang)
    finally:
        if mine:
            editions.close()
    return Result(exercise_name, *_verdict(reference, document, reason, seed, lang))


def grade(exercise, folder="homework", out=print, timeout=DEFAULT_TIMEOUT, seed=None,
          lang=None):
    """Grade one student's exercise (or "all") in folder; print the verdict; True if all right.

    A student's own check: in the sandbox where one starts (its processes and memory capped
    where a cgroup can be made), else as a plain subprocess.  lang ("en" or "zh"): the
    verdict's language; None: the language `homework` wrote folder in
    (feedback.folder_language)."""
    names = list(EXERCISES) if exercise == "all" else [exercise]
    if not all(name in EXERCISES for name in names):
        raise ValueError(f"unknown exercise {exercise!r}; choose one of {list(EXERCISES)} or all")
    lang = folder_language(folder) if lang is None else check_lang(lang)
    passed = True
    editions = Editions(sandbox.unavailable() is None, lang=lang)
    try:
        editions.prepare([n for n in names if os.path.lexists(os.path.join(folder, f"{n}.py"))])
        for name in names:
            path = os.path.join(folder, f"{name}.py")
            if not os.path.lexists(path):
                from .homework import homework_command
                out("✗ " + say("{path} does not exist: run `{command}` first", lang, path=path,
                               command=homework_command(folder, lang)))
                passed = False
                continue
            result = grade_file(name, path, timeout, seed=seed, editions=editions,
                                use_sandbox=editions.use_sandbox, lang=lang)
            for line in result.lines:
                out(line)
            ok = result.right == result.total
            passed &= ok
            if ok:
                out(say("{name}: all gradients correct ({right}/{total} gradients right)", lang,
                        name=name, right=result.right, total=result.total))
            else:
                out(say("{name}: not yet ({right}/{total} gradients right)", lang,
                        name=name, right=result.right, total=result.total))
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


def student_languages(submissions, lang=None):
    """{student: the language to grade them in}: lang for all where given, else the one
    `homework` wrote each student's folder in (English for a folder that is a link)."""
    if lang is not None:
        return {s: check_lang(lang) for s in students(submissions)}
    return {s: "en" if os.path.islink(os.path.join(submissions, s)) else
            folder_language(os.path.join(submissions, s)) for s in students(submissions)}


def grade_class(submissions, exercises=None, timeout=DEFAULT_TIMEOUT, workers=None, seed=None,
                use_sandbox=True, lang=None):
    """{student: [Result per exercise]} for every student folder under submissions.

    Exercises run in parallel (workers: the CPU count), each in its own sandbox; this
    returns after every sandbox is gone.  One student's failure of any kind is that
    exercise's 0 with a line; a student's folder that is a symbolic link is not graded.
    Raises Refused (before any submission runs) where the sandbox cannot be what
    sandbox.py promises; use_sandbox=False grades without one.  lang ("en" or "zh"): the
    results' language; None: each student's folder's (feedback.folder_language)."""
    exercises = list(exercises or EXERCISES)
    refusal = sandbox.unavailable(strict=True) if use_sandbox else sandbox.unsandboxed_problem()
    if refusal:
        raise Refused(refusal)
    seed = secrets.randbelow(2**31) if seed is None else seed
    jobs = [(s, name) for s in students(submissions) for name in exercises]
    langs = student_languages(submissions, lang)
    reference = {(name, language): _reference(name, seed, language) for name in exercises
                 for language in set(langs.values()) | {"en"}}
    editions = Editions(use_sandbox, strict=True)

    def one(job):
        student, name = job
        folder, language = os.path.join(submissions, student), langs[student]
        ours = reference[name, language]
        try:
            if os.path.islink(folder):
                return _all_wrong(name, ours, say("the folder is a symbolic link: not graded",
                                                  language))
            return grade_file(name, os.path.join(folder, f"{name}.py"), timeout, seed,
                              ours, editions, use_sandbox, language)
        except Exception as err:  # the grader's own fault: say so, grade the others
            return _all_wrong(name, ours, say("not graded: {kind}: {error}", language,
                                              kind=type(err).__name__, error=err)[:300])
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


def gradescope_document(results, points, seconds=None, sandboxed=True, lang="en"):
    """Gradescope's results.json for one student: score, execution_time, output,
    visibility, and one test per exercise (its output said in lang, as the results' lines)."""
    tests = [{"name": r.exercise, "score": round(points[r.exercise] * r.fraction, 4),
              "max_score": points[r.exercise], "output": "\n".join(r.lines),
              "visibility": "visible"} for r in results]
    if sandboxed:
        output = say("graded by numpygam: each gradient against the reference, max |yours - "
                     "reference| <= {tolerance:g} max(1, max |reference|)", lang,
                     tolerance=TOLERANCE)
    else:
        output = say("graded by numpygam WITHOUT a sandbox: each gradient against the reference, "
                     "max |yours - reference| <= {tolerance:g} max(1, max |reference|)", lang,
                     tolerance=TOLERANCE)
    document = {"score": round(sum(t["score"] for t in tests), 4), "output": output,
                "visibility": "visible", "tests": tests}
    if seconds is not None:
        document["execution_time"] = round(seconds, 1)
    return document


def write_gradescope(folder, grades, points, sandboxed=True, langs=None):
    """folder/<student>/results.json in the shape Gradescope's autograder reads; langs:
    {student: the language their results were graded in} (English where not given)."""
    for student, results in grades.items():
        name = export_name(student)
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        _atomic_write(os.path.join(folder, name, "results.json"), json.dumps(
            gradescope_document(results, points, sandboxed=sandboxed,
                                lang=(langs or {}).get(student, "en")),
            indent=2))


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
               out=print, use_sandbox=True, seed=None, lang=None):
    """`grade ... --submissions DIR`: grade the exercises in points ({exercise: points}),
    print the table, write the gradebook and Gradescope files; returns the exit status.
    lang: the students' results' language (grade_class); the table stays English."""
    from .homework import exercise_source
    start = time.time()
    try:
        grades = grade_class(submissions, list(points), timeout, use_sandbox=use_sandbox,
                             seed=seed, lang=lang)
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
            write_gradescope(json_dir, grades, points, sandboxed=use_sandbox,
                             langs=student_languages(submissions, lang))
            out(f"Gradescope results: {json_dir}/<student>/results.json")
    except OSError as err:  # a full disk, a read-only folder: the table above is the record
        print(f"error: could not write {err.filename or csv_path or json_dir}: "
              f"{err.strerror or err}; the summary above holds every grade", file=sys.stderr)
        return 1
    return 0
