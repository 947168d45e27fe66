"""The grader closed by construction: the reference absent from every path the box shows,
no other path to an exercise's gradient, numerical gradients out of budget, limits that
hold whoever else runs, files taken as given, and a class that always gets its gradebook.

Each hostile submission runs only after `contained` has proven, with a probe run in the
sandbox, that the box has a PID namespace of its own: without one, the killers below
would signal this machine's processes (CI runs as root)."""
import ast
import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from processes import processes_with

from numpygam.__main__ import main
from numpygam.course import grading, sandbox
from numpygam.course.edition import PACKAGE, used_functions, written_functions
from numpygam.course.exercises import EXERCISES
from numpygam.course.homework import exercise_source, make_homework
from numpygam.fast.twins import TWINS

pytestmark = pytest.mark.skipif(sandbox.unavailable(strict=True) is not None,
                                reason=f"no sandbox here: {sandbox.unavailable(strict=True)}")

SOFTMAX_STUB = 'raise NotImplementedError("your code here: softmax_backward")'
SOFTMAX_RIGHT = ("dy, y = dweights, cache.weights\n"
                 "return y * (dy - (dy * y).sum(axis=-1, keepdims=True))")


@pytest.fixture(scope="module")
def contained():
    """Fails (before any hostile submission runs) unless the box sees only its own
    processes, as uid 65534."""
    probe = ("import os, json; print(json.dumps([os.getuid(), "
             "[p for p in os.listdir('/proc') if p.isdigit()]]))")
    outcome = sandbox.run(sandbox.python_argv("-c", probe), timeout=60)
    uid, pids = json.loads(outcome.result)
    if uid != sandbox.SANDBOX_UID or len(pids) > 3:
        pytest.fail(f"the sandbox is not contained (uid {uid}, {len(pids)} processes seen): "
                    "the hostile submissions would reach this machine's processes")


def softmax_file(body):
    """The softmax exercise file with its stub replaced by body."""
    text = exercise_source("softmax")
    assert SOFTMAX_STUB in text
    return text.replace(SOFTMAX_STUB, body.strip("\n").replace("\n", "\n    "))


def grade_one(tmp_path, name, text, exercise="softmax"):
    path = tmp_path / name / f"{exercise}.py"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return grading.grade_file(exercise, str(path), timeout=60)


# -- 1. the reference is absent from every path a submission can read ------------------------

HUNTER = r"""
import importlib.util, os, sys
found = []
roots = ["/", *sys.path, {extra}]
for top in roots:
    for folder, dirs, files in os.walk(top):
        if folder.startswith(("/proc", "/sys", "/dev")):
            dirs[:] = []
            continue
        for name in files:
            if name.startswith("softmax") and name.endswith((".py", ".pyc")):
                path = os.path.join(folder, name)
                try:
                    text = open(path, "rb").read()
                except OSError:
                    continue
                if b"BEGIN SOLUTION" in text or b"ReferenceAbsent" not in text:
                    found.append(path)
if found:
    for path in found:
        try:
            spec = importlib.util.spec_from_file_location("stolen", path)
            stolen = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(stolen)
            return stolen.softmax_backward(dweights, cache)
        except Exception:
            pass
raise ValueError(f"no reference anywhere; looked at " + repr(sorted(set(found))))
"""


def test_no_path_the_box_shows_holds_any_exercises_reference(tmp_path, contained):
    """A walk of the whole box (and of every path a submission would guess) finds no
    solution; and the box is proven to hold no numpygam but the edition."""
    guesses = ", ".join(repr(p) for p in (os.path.dirname(PACKAGE), PACKAGE, sys.prefix,
                                          "/autograder/source", "/autograder/venv"))
    result = grade_one(tmp_path, "hunter", softmax_file(HUNTER.format(extra=guesses)))
    assert result.right == 0
    assert "no reference anywhere" in "\n".join(result.lines), result.lines
    editions = grading.Editions()
    try:
        editions.prepare(list(EXERCISES))
        for name in EXERCISES:
            assert sandbox.verify(editions[name]) is None
    finally:
        editions.close()


def test_a_copy_of_numpygam_inside_the_box_is_refused_in_one_line(tmp_path, monkeypatch):
    """Should a numpygam come into the box's allow-list (here: planted on purpose), grading
    refuses before any submission runs."""
    leak = tmp_path / "leak"
    (leak / "numpygam").mkdir(parents=True)
    real = sandbox._python_binds

    def leaky():
        binds, hidden = real()
        return {**binds, str(leak): "/opt/leak"}, hidden
    monkeypatch.setattr(sandbox, "_python_binds", leaky)
    editions = grading.Editions()
    try:
        with pytest.raises(grading.Refused, match="refusing to grade.*numpygam"):
            editions["softmax"]
    finally:
        editions.close()


def test_a_students_own_grade_refused_by_the_sandbox_is_one_line_not_a_traceback(
        tmp_path, monkeypatch, capsys):
    leak = tmp_path / "leak"
    (leak / "numpygam").mkdir(parents=True)
    real = sandbox._python_binds
    monkeypatch.setattr(sandbox, "_python_binds",
                        lambda: ({**real()[0], str(leak): "/opt/leak"}, real()[1]))
    folder = tmp_path / "hw"
    assert main(["homework", str(folder)]) == 0
    capsys.readouterr()
    assert main(["grade", "softmax", "--dir", str(folder)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().split("\n")
    assert len(lines) == 1 and "numpygam" in lines[0] and "Traceback" not in captured.err


def test_a_source_tree_over_a_non_editable_install_grades_without_the_reference(tmp_path):
    """The layouts that leaked: a complete numpygam installed (not editable) into a
    site-packages, the grader run from the source tree."""
    site = tmp_path / "site-packages"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--no-build-isolation", "--no-index", "--target", str(site),
                           os.path.dirname(PACKAGE)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (site / "numpygam" / "functional" / "softmax.py").exists()
    submissions = tmp_path / "class"
    guesses = repr(str(site))
    for name, body in (("hunter", HUNTER.format(extra=guesses)), ("honest", SOFTMAX_RIGHT)):
        (submissions / name).mkdir(parents=True)
        (submissions / name / "softmax.py").write_text(softmax_file(body))
    csv_path = tmp_path / "grades.csv"
    env = {**os.environ, "PYTHONPATH": f"{os.path.dirname(PACKAGE)}:{site}"}
    done = subprocess.run([sys.executable, "-m", "numpygam", "grade", "softmax", "--submissions",
                           str(submissions), "--csv", str(csv_path)], capture_output=True,
                          text=True, env=env, cwd=os.path.dirname(PACKAGE), timeout=600)
    assert done.returncode == 0, done.stderr
    rows = {row[0]: row for row in csv.reader(open(csv_path))}
    assert float(rows["honest"][1]) == 1.0 and float(rows["hunter"][1]) == 0.0


# -- 2. no other path computes the exercise's gradient ---------------------------------------

def _stubs(edition_folder):
    """{(module path, qualified name)} of the definitions the edition stubbed."""
    found = set()
    package = os.path.join(edition_folder, "numpygam")
    for folder, _, files in os.walk(package):
        for file in files:
            if not file.endswith(".py"):
                continue
            path = os.path.join(folder, file)
            tree = ast.parse(open(path).read())
            relative = os.path.relpath(path, package)
            for node in tree.body:
                items = [(node.name, node)] if isinstance(node, ast.FunctionDef) else \
                    [(f"{node.name}.{i.name}", i) for i in node.body
                     if isinstance(i, ast.FunctionDef)] if isinstance(node, ast.ClassDef) else []
                for name, item in items:
                    if "ReferenceAbsent" in ast.unparse(item.body[-1]):
                        found.add((relative, name))
    return found


def test_every_exercise_edition_stubs_the_twins_and_every_solution():
    """From the twin table: for every exercise, the fast twin of each op its checks use,
    and every exercise's written functions, are stubs in its edition."""
    twins = {(f.__module__.removeprefix("numpygam.").replace(".", "/") + ".py", f.__name__)
             for twin in TWINS for f in twin.fast if f.__module__.startswith("numpygam.fast")}
    assert len(twins) >= 15
    editions = grading.Editions()
    try:
        editions.prepare(list(EXERCISES))
        for name in EXERCISES:
            stubs = _stubs(editions[name])
            assert twins <= stubs, (name, sorted(twins - stubs))
            assert written_functions() <= stubs, (name, sorted(written_functions() - stubs))
            # the helpers the exercise file imports are what its checks call: kept
            assert not (used_functions(name) - written_functions()) & stubs
    finally:
        editions.close()


OTHER_PATHS = {
    "softmax": ("softmax", """
from numpygam.functional.softmax import log_softmax_backward
return log_softmax_backward(dweights * cache.weights, cache._replace(weights=cache.weights))
"""),
    "softmax_fast": ("softmax", """
from numpygam.fast.softmax import softmax_backward as fast
return fast(dweights, cache)
"""),
    "softmax_attention": ("softmax", """
from numpygam.fast.attention import attention_backward
return attention_backward(dweights, cache)
"""),
}


@pytest.mark.parametrize("name", sorted(OTHER_PATHS))
def test_another_library_path_to_the_gradient_is_absent(tmp_path, name, contained):
    exercise, body = OTHER_PATHS[name]
    result = grade_one(tmp_path, name, softmax_file(body), exercise)
    assert result.right == 0
    assert "is absent while grading" in "\n".join(result.lines), result.lines


def _exercise_file(exercise, replacements):
    text = exercise_source(exercise)
    for function, body in replacements.items():
        stub = f'raise NotImplementedError("your code here: {function}")'
        assert stub in text
        text = text.replace(stub, body.strip("\n").replace("\n", "\n    "))
    return text


def test_the_fast_conv_and_the_fast_gate_give_nothing(tmp_path, contained):
    conv = _exercise_file("conv2d", {"conv2d_backward": """
from numpygam.fast import conv
return conv.conv2d_backward(dy, cache)
"""})
    gate = _exercise_file("channel_gate", {"channel_gate_backward": """
from numpygam.fast import gam
return gam.channel_gate_backward(dout, cache)
"""})
    for exercise, text in (("conv2d", conv), ("channel_gate", gate)):
        result = grade_one(tmp_path, exercise, text, exercise)
        assert result.right == 0 and "is absent while grading" in "\n".join(result.lines)


# -- 3. an analytic backward is required -------------------------------------------------------

COMPLEX_STEP = """
import numpy as _np
s = _np.log(_np.where(cache.weights > 0, cache.weights, 1.0))
allowed = _np.broadcast_to(cache.weights > 0, s.shape).reshape(-1, s.shape[-1])
flat, dy = s.reshape(-1, s.shape[-1]), dweights.reshape(-1, s.shape[-1])
ds = _np.zeros_like(flat)
for j in range(flat.shape[-1]):  # one complex step per key, every row at once
    z = flat.astype(complex)
    z[:, j] += 1e-30j
    e = _np.where(allowed, _np.exp(z - flat.max(-1, keepdims=True)), 0)
    ds[:, j] = ((e / e.sum(-1, keepdims=True)).imag / 1e-30 * dy).sum(-1)
return ds.reshape(s.shape)
"""


def test_a_complex_step_gradient_runs_out_of_the_cpu_budget(tmp_path, contained):
    """Exact to 1e-16 on the small checks, so only its cost gives it away."""
    cheat = grade_one(tmp_path, "cheat", softmax_file(COMPLEX_STEP))
    honest = grade_one(tmp_path, "honest", softmax_file(SOFTMAX_RIGHT))
    assert honest.right == honest.total
    assert cheat.right == 0
    assert "too slow for an analytic gradient" in "\n".join(cheat.lines)


# an outside reviewer's: softmax's Jacobian is symmetric, so one complex step along dout
# gives dout's vector-Jacobian product, exactly, for the cost of one forward
SYMMETRIC_COMPLEX_STEP = """
a = cache.weights
allowed = a > 0
with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
    s = np.where(allowed, np.log(np.where(allowed, a, 1.0)), -np.inf).astype(complex)
    s = s + 1j * 1e-30 * np.where(allowed, dweights, 0.0)
    m = np.max(np.where(allowed, s.real, -np.inf), axis=-1, keepdims=True)
    m[~np.isfinite(m)] = 0
    e = np.where(allowed, np.exp(np.where(allowed, s - m, 0)), 0)
    total = e.sum(axis=-1, keepdims=True)
    total[total == 0] = 1
return np.ascontiguousarray((e / total).imag / 1e-30)
"""


@pytest.mark.parametrize("spelling", ["1j", "np.emath.sqrt(-1.0)", "complex(0, 1)",
                                      "np.ones(1, dtype='c16')[0] * 1j"])
def test_complex_numbers_in_a_backward_score_zero_however_spelled(tmp_path, spelling,
                                                                  contained):
    body = SYMMETRIC_COMPLEX_STEP.replace("1j * 1e-30", f"({spelling}) * 1e-30")
    result = grade_one(tmp_path, "cheat", softmax_file(body))
    assert result.right == 0
    assert "uses complex numbers" in "\n".join(result.lines), result.lines


def test_importing_any_module_of_the_edition_meets_no_stub(tmp_path, contained):
    """The edition keeps what its modules call at import time: an honest submission that
    imports every module it can (those needing packages the box lacks aside) is graded
    on its formula."""
    body = """
import importlib, pkgutil, numpygam
for module in pkgutil.walk_packages(numpygam.__path__, "numpygam."):
    try:
        importlib.import_module(module.name)
    except ImportError:  # matplotlib, polib ...: not in the box
        pass
""" + SOFTMAX_RIGHT
    result = grade_one(tmp_path, "importer", softmax_file(body))
    assert result.right == result.total, result.lines


def test_an_honest_fortran_order_is_not_a_complex_number(tmp_path, contained):
    """order="F" is not a dtype (an outside reviewer's false positive)."""
    body = ("y = np.asarray(cache.weights, order='F')\n"
            "return y * (dweights - (dweights * y).sum(axis=-1, keepdims=True))")
    result = grade_one(tmp_path, "fortran", softmax_file(body))
    assert result.right == result.total, result.lines


def test_a_crash_after_the_runner_started_is_named(tmp_path, contained):
    body = "import ctypes\nif cache.weights.size > 100000:\n    ctypes.string_at(0)\n" + \
        SOFTMAX_RIGHT
    result = grade_one(tmp_path, "crash", softmax_file(body))
    assert result.right == 0
    assert "crashed (segmentation fault)" in "\n".join(result.lines), result.lines


def test_the_box_cannot_make_user_namespaces_of_its_own(contained):
    code = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "print(libc.unshare(0x10000000), ctypes.get_errno())")  # CLONE_NEWUSER
    outcome = sandbox.run(sandbox.python_argv("-c", code), timeout=30)
    result, errno_ = outcome.result.split()
    assert int(result) == -1 and int(errno_) != 0


def test_the_complex_check_runs_before_the_submission_can_touch_it(tmp_path, contained):
    """Clearing the runner's verdict from inside the submission changes nothing: the
    verdict was written to the result channel before the submission ran."""
    tamper = """
import sys
for module in list(sys.modules.values()):
    if getattr(module, "__name__", "") == "numpygam.course.runner":
        module.complex_numbers = lambda source: None
frame = sys._getframe()
while frame is not None:
    if "facts" in frame.f_locals:
        frame.f_locals["facts"]["complex"] = None
    frame = frame.f_back
""" + SYMMETRIC_COMPLEX_STEP
    result = grade_one(tmp_path, "tamper", softmax_file(tamper))
    assert result.right == 0 and "uses complex numbers" in "\n".join(result.lines)


# -- 4. limits that hold for everyone -----------------------------------------------------------

HOGS = {
    "threads": """
import threading, time
for _ in range(150):
    threading.Thread(target=time.sleep, args=(20,), daemon=True).start()
""",
    "memfd": """
import os
fds = []
for _ in range(5):
    fd = os.memfd_create("x")
    os.ftruncate(fd, 512 * 2**20)
    m = __import__("mmap").mmap(fd, 512 * 2**20)
    m.write(b"x" * (512 * 2**20))
    fds.append((fd, m))
""",
    "shm": """
with open("/dev/shm/fill", "wb") as f:
    for _ in range(1024):
        f.write(b"x" * 2**20)
""",
    "disk": """
for i in range(200):
    with open(f"fill{i}", "wb") as f:
        f.write(b"x" * 8 * 2**20)
""",
    "processes": """
import os, time
for _ in range(3):
    if os.fork() == 0:
        b = bytearray(1536 * 2**20)
        time.sleep(20)
        os._exit(0)
b = bytearray(1024 * 2**20)
time.sleep(20)
""",
}


def test_limits_hold_for_the_honest_classmates_whatever_the_others_hold(tmp_path, contained):
    """Five hogs graded beside three honest students, while this user also runs a
    150-thread program: the honest get full marks, the hogs 0, each with a reason."""
    submissions = tmp_path / "class"
    for name, body in [*HOGS.items(), *((f"honest{i}", "") for i in range(3))]:
        (submissions / name).mkdir(parents=True)
        (submissions / name / "softmax.py").write_text(softmax_file(
            body + ("\n" + SOFTMAX_RIGHT if name.startswith("honest") else
                    "\nraise ValueError('held on')")))
    busy = subprocess.Popen([sys.executable, "-c", "import threading, time\n"
                             "for _ in range(150):\n"
                             "    threading.Thread(target=time.sleep, args=(60,), daemon=True)"
                             ".start()\ntime.sleep(60)"])
    try:
        grades = grading.grade_class(str(submissions), ["softmax"], timeout=30)
    finally:
        busy.kill()
        busy.wait()
    for i in range(3):
        assert grades[f"honest{i}"][0].fraction == 1.0, grades[f"honest{i}"][0].lines
    for name in HOGS:
        result = grades[name][0]
        assert result.right == 0, (name, result.lines)
        assert "held on" not in "\n".join(result.lines) or name == "threads", (name, result.lines)


def test_a_cage_caps_processes_memory_and_counts_cpu():
    cage = sandbox.Cage(processes=8, memory=256 * 2**20)
    try:
        assert cage.cpu_seconds() is not None
    finally:
        cage.close()
    code = ("import os, time\nn = 0\ntry:\n    for _ in range(40):\n"
            "        if os.fork() == 0:\n            time.sleep(5); os._exit(0)\n"
            "        n += 1\nexcept OSError:\n    pass\nprint(n)")
    outcome = sandbox.run(sandbox.python_argv("-c", code), timeout=30)
    assert int(outcome.result) < sandbox.LIMITS.processes
    burn = "x = 0\nwhile True:\n    x += 1"
    outcome = sandbox.run(sandbox.python_argv("-c", burn), timeout=30, cpu_budget=0.5)
    assert outcome.cpu_exceeded and outcome.seconds < 10


@pytest.mark.parametrize("budget", [0.95, 1.0, 1.5])
def test_a_run_over_its_budget_is_named_so_even_when_the_reading_comes_late(budget,
                                                                           monkeypatch):
    # On a busy grader every 50 ms reading of the cage can come too late, and a
    # per-process RLIMIT_CPU end the run first: it was still stopped by its budget (CI saw
    # "killed ... before reporting any gradient" for an endless loop).
    killed, real_kill, real_count = set(), sandbox._kill, sandbox.Cage.cpu_seconds

    def kill(proc, cage):
        killed.add(id(cage))
        real_kill(proc, cage)

    monkeypatch.setattr(sandbox, "_kill", kill)
    monkeypatch.setattr(sandbox.Cage, "cpu_seconds",  # 0 s while it runs; then the truth
                        lambda cage: real_count(cage) if id(cage) in killed else 0.0)
    burn = "x = 0\nwhile True:\n    x += 1"
    outcome = sandbox.run(sandbox.python_argv("-c", burn), timeout=30, cpu_budget=budget)
    assert outcome.cpu_exceeded and not outcome.timed_out, outcome
    assert outcome.cpu_seconds > budget and outcome.seconds < 10


def test_where_no_cgroup_can_be_made_a_class_is_refused_in_one_line(monkeypatch):
    monkeypatch.setattr(sandbox, "_mounts", lambda: {})
    monkeypatch.setattr(sandbox, "_PROBED", {})
    line = sandbox.unavailable(strict=True)
    assert line and "\n" not in line and "--no-sandbox" in line
    with pytest.raises(grading.Refused):
        grading.grade_class(os.path.dirname(__file__), ["softmax"])
    monkeypatch.setattr(sandbox, "_PROBED", {})


def test_without_a_sandbox_root_runs_each_submission_as_a_uid_of_its_own():
    if os.geteuid() != 0:
        pytest.skip("only root changes uid")
    outcome = sandbox.run(["/usr/bin/env", "sh", "-c", "id -u; kill -9 1 2>&1; echo done"],
                          sandbox=False, timeout=30)
    uid = int(outcome.result.split()[0])
    assert uid >= sandbox.UNSANDBOXED_UIDS and b"done" in outcome.result


# -- 5. everything parsed outside the sandbox is bounded --------------------------------------

def test_a_file_that_cannot_be_fingerprinted_is_a_flag_and_the_class_gets_its_gradebook(
        tmp_path, contained):
    submissions = tmp_path / "class"
    files = {"deep": softmax_file("_ = " + "+".join(["1"] * 1000) + "\n" + SOFTMAX_RIGHT),
             "honest": softmax_file(SOFTMAX_RIGHT),
             "big": "x = 1\n" * 400_000}
    for name, text in files.items():
        (submissions / name).mkdir(parents=True)
        (submissions / name / "softmax.py").write_text(text)
    csv_path, json_dir = tmp_path / "grades.csv", tmp_path / "gs"
    assert grading.main_class(str(submissions), {"softmax": 1.0}, str(csv_path),
                              json_dir=str(json_dir), out=lambda *a: None) == 0
    rows = {row[0]: row for row in csv.reader(open(csv_path))}
    assert float(rows["honest"][1]) == 1.0 and float(rows["deep"][1]) == 1.0
    assert float(rows["big"][1]) == 0.0
    assert "larger than 1 MiB" in (json_dir / "big" / "results.json").read_text()
    assert "could not be compared" in rows["big"][3]


# -- 6. files as given ------------------------------------------------------------------------

def test_symbolic_links_are_refused_and_flagged_never_followed(tmp_path, contained):
    key = tmp_path / "key" / "softmax.py"
    key.parent.mkdir()
    key.write_text(exercise_source("softmax", solutions=True))
    submissions = tmp_path / "class"
    for name, target in (("to_key", key), ("to_hostname", "/etc/hostname")):
        (submissions / name).mkdir(parents=True)
        os.symlink(target, submissions / name / "softmax.py")
    lines = []
    csv_path = tmp_path / "grades.csv"
    assert grading.main_class(str(submissions), {"softmax": 1.0}, str(csv_path),
                              json_dir=str(tmp_path / "gs"), out=lines.append) == 0
    rows = {row[0]: row for row in csv.reader(open(csv_path))}
    hostname = open("/etc/hostname").read().split()[0] if os.path.exists("/etc/hostname") else "?"
    for name in ("to_key", "to_hostname"):
        assert float(rows[name][1]) == 0.0 and "symbolic link" in rows[name][3]
        output = (tmp_path / "gs" / name / "results.json").read_text()
        assert "symbolic link" in output and hostname not in output


def _class_named(tmp_path, names):
    """A class of honest softmax answers in folders named by the bytes in names, graded:
    (the gradebook's path, Gradescope's folder)."""
    submissions = tmp_path / "class"
    for name in names:
        folder = os.path.join(bytes(submissions), name)
        os.makedirs(folder)
        with open(os.path.join(folder, b"softmax.py"), "w") as f:
            f.write(softmax_file(SOFTMAX_RIGHT))
    csv_path, json_dir = tmp_path / "grades.csv", tmp_path / "gs"
    assert grading.main_class(str(submissions), {"softmax": 1.0}, str(csv_path),
                              json_dir=str(json_dir), out=lambda *a: None) == 0
    return csv_path, json_dir


def test_a_folder_name_that_is_not_utf8_costs_no_one_the_gradebook(tmp_path, contained):
    csv_path, json_dir = _class_named(tmp_path, [b"ann", b"bob\xff"])
    rows = {row[0]: row for row in csv.reader(open(csv_path, encoding="utf-8"))}
    assert float(rows["ann"][1]) == 1.0 and float(rows["bob\\udcff"][1]) == 1.0
    assert sorted(os.listdir(json_dir)) == ["ann", "bob\\udcff"]
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


def test_names_that_escape_alike_or_run_long_each_get_their_own_export(tmp_path, contained):
    """A control character and its escape typed out, and a name longer than a file name
    may be once escaped (an outside reviewer's: the first overwrote the other's results,
    the second stopped the export for everyone after it)."""
    names = [b"n\x02", b"n\\x02", b"\x01" * 100, b"zed"]
    csv_path, json_dir = _class_named(tmp_path, names)
    rows = [row for row in csv.reader(open(csv_path, encoding="utf-8"))][1:]
    assert len({row[0] for row in rows}) == len(names)
    exports = os.listdir(json_dir)
    assert len(exports) == len(names) and all(len(e.encode()) <= 100 for e in exports)
    for export in exports:
        assert json.loads((json_dir / export / "results.json").read_text())["score"] == 1.0


def test_control_characters_in_a_name_cannot_forge_a_row_of_the_summary(tmp_path):
    forged = "zz\nmallory      1.00   1.00"
    result = grading.Result("softmax", 0, 3, [])
    table = grading.summary_table({forged: [result]}, {"softmax": 1.0},
                                  {forged: ["a\rflag"]})
    assert not any(line.startswith("mallory") for line in table.split("\n"))
    assert "zz\\nmallory" in table and "a\\rflag" in table


# -- 7. plagiarism flags a reader can trust ----------------------------------------------------

def test_a_renamed_reordered_copy_is_flagged_and_a_common_one_liner_is_not(tmp_path):
    key = exercise_source("conv2d", solutions=True)
    tree = ast.parse(key)
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef)
                    and n.name == "conv2d_backward")
    local = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)
             and isinstance(n.ctx, ast.Store)}
    for node in ast.walk(function):  # every local renamed, the layout redone by unparse
        if isinstance(node, ast.Name) and node.id in local:
            node.id = f"renamed_{node.id[::-1]}"
    copy = ast.unparse(tree)
    assert copy != key and len(local) >= 5
    padded = key.replace("    W, G, K = cache.W", "    dy.ndim\n    W, G, K = cache.W")
    assert padded != key
    submissions = tmp_path / "class"
    for student, text in (("ann", key), ("bob", copy), ("cal", padded),
                          ("cy", softmax_file(SOFTMAX_RIGHT)), ("dee", softmax_file(SOFTMAX_RIGHT))):
        (submissions / student).mkdir(parents=True)
        exercise = "conv2d" if student in ("ann", "bob", "cal") else "softmax"
        (submissions / student / f"{exercise}.py").write_text(text)
    flags = grading.class_flags(str(submissions), ["softmax", "conv2d"])
    assert any("the same code as bob, cal" in f for f in flags["ann"]), flags
    assert not any("the same code" in f for f in flags["cy"] + flags["dee"]), flags


# -- 8. the second line of defence ------------------------------------------------------------

def test_a_killed_grader_leaves_nothing_of_a_submission_running(tmp_path, contained):
    marker = f"numpygam-attack-{os.getpid()}"
    body = (f"import subprocess, time\nsubprocess.Popen(['/bin/sleep', '300'], "
            f"env={{'MARK': '{marker}'}})\ntime.sleep(300)")
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "softmax.py").write_text(softmax_file(body))
    grader = subprocess.Popen([sys.executable, "-c",
                               "import sys; from numpygam.course.grading import grade_file; "
                               f"grade_file('softmax', {str(tmp_path / 's' / 'softmax.py')!r})"],
                              start_new_session=True)

    def marked():
        return processes_with(marker, "environ")
    deadline = time.time() + 60
    while not marked() and time.time() < deadline:
        time.sleep(0.2)
    assert marked(), "the submission never started"
    os.kill(grader.pid, signal.SIGKILL)  # no finally, no cleanup: only --die-with-parent
    grader.wait()
    deadline = time.time() + 10
    while marked() and time.time() < deadline:
        time.sleep(0.1)
    assert marked() == []


def test_a_caught_reference_call_is_still_flagged(tmp_path, contained):
    body = """
try:
    import numpygam.functional.softmax as S
    S.softmax_backward(dweights, cache)
except BaseException:
    pass
""" + SOFTMAX_RIGHT
    result = grade_one(tmp_path, "swallower", softmax_file(body))
    assert result.right == 0
    assert "calls the reference implementation" in "\n".join(result.lines)


def test_a_forged_document_whose_gradient_list_is_shorter_than_its_count_is_refused():
    reference = grading._reference("softmax", 0)
    entry = {"dtype": "float64", "shape": list(reference[0][3][0][1].shape), "kind": "ndarray",
             "data": __import__("base64").b64encode(reference[0][3][0][1].tobytes()).decode()}
    document = {"error": None, "checks": [{"error": None, "count": 2, "grads": [entry]}
                                          for _ in reference]}
    right, total, lines = grading._verdict(reference, document, None, 0)
    assert right == 0 and all("could not be read" in line for line in lines if "✗" in line)


def test_the_sandbox_is_started_with_die_with_parent_and_its_own_namespaces():
    args = sandbox._bwrap_args("bwrap", ["true"], {}, {})
    assert "--die-with-parent" in args and "--unshare-all" in args and "--unshare-user" in args
    assert "--new-session" in args


def test_make_homework_still_writes_what_the_edition_grades(tmp_path):
    make_homework(tmp_path, solutions=True, exercises=["gru_step"])
    result = grading.grade_file("gru_step", str(tmp_path / "gru_step.py"), timeout=60)
    assert result.right == result.total, result.lines


# -- 9. Gradescope, end to end ------------------------------------------------------------------

GRADESCOPE_FORGER = """
import glob, json, os, signal
for path in ["/autograder/results/results.json", *glob.glob("/autograder/**/results.json",
                                                            recursive=True)]:
    try:
        with open(path, "w") as f:
            json.dump({"score": 7.0, "output": "forged"}, f)
    except OSError:
        pass
for pid in (os.getppid(), 1, -1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
raise ValueError("still here")
"""


@pytest.mark.slow
def test_gradescope_end_to_end_setup_then_honest_wrong_and_hostile_submissions(tmp_path,
                                                                               contained):
    """The zip unpacked into a scratch /autograder (bound there by bwrap, as Gradescope's
    container has it), setup.sh run as Gradescope runs it (it installs numpygam, complete,
    into /autograder/venv), then run_autograder once per submission."""
    import zipfile
    root = tmp_path / "autograder"
    zip_path = tmp_path / "autograder.zip"
    points = {"softmax": 2.0, "context": 1.0}
    from numpygam.course.gradescope import write_autograder
    write_autograder(str(zip_path), points)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
    for script in ("setup.sh", "run_autograder"):
        os.chmod(root / "source" / script, 0o755)
    as_gradescope = [sandbox.bwrap_path(), "--dev-bind", "/", "/", "--bind", str(root),
                     "/autograder", "--chdir", "/autograder/source", "--"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    done = subprocess.run([*as_gradescope, "bash", "/autograder/source/setup.sh"], env=env,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    installed = list((root / "venv").glob("lib/python3*/site-packages/numpygam/functional"))
    assert installed, "setup.sh did not install a complete numpygam into the venv"
    guesses = repr(str(installed[0].parent.parent)) + ", '/autograder'"
    submissions = {"honest": softmax_file(SOFTMAX_RIGHT), "wrong": softmax_file("return dweights"),
                   "hunter": softmax_file(HUNTER.format(extra=guesses)),
                   "forger": softmax_file(GRADESCOPE_FORGER)}
    scores = {}
    for name, text in submissions.items():
        for folder in ("submission", "results"):
            subprocess.run(["rm", "-rf", str(root / folder)], check=True)
            (root / folder).mkdir()
        (root / "submission" / "softmax.py").write_text(text)
        done = subprocess.run([*as_gradescope, "/autograder/source/run_autograder"], env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (name, done.stderr[-3000:])
        document = json.loads((root / "results" / "results.json").read_text())
        assert "forged" not in json.dumps(document)
        scores[name] = {t["name"]: t["score"] for t in document["tests"]}
        assert document["score"] == sum(scores[name].values())
    assert scores["honest"] == {"softmax": 2.0, "context": 0.0}
    assert scores["wrong"]["softmax"] < 2.0
    assert scores["hunter"]["softmax"] == 0.0 and scores["forger"]["softmax"] == 0.0
