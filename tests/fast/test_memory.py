"""numpygam.fast.memory: glibc keeps freed memory when a program opts in (the train
command does); importing numpygam leaves malloc, BLAS threads and fork hooks as they
were; a clear error for a bad size, a warning for a bad variable; nothing on another libc."""
import os
import subprocess
import sys

import pytest

import numpygam.fast.memory as memory
import numpygam.train
from numpygam.__main__ import main

ON_GLIBC = memory._glibc() is not None

# Four 8 MiB arrays alive at once, then freed: 32 MiB at the top of the heap, more
# than the 16 MiB glibc's trim threshold grows to after the first 8 MiB block is freed.
# IMPORTS is what the process does first; it prints the page faults of one step.
STEPS = """
import resource
import numpy as np
{imports}
def step():
    arrays = [np.ones(2 << 20, np.float32) for _ in range(4)]
    del arrays
step(); step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def faults_after(imports, value=None):
    """(page faults a step, stderr) of a fresh process that runs `imports` first, with
    NUMPYGAM_KEEP_FREED_MEMORY=value (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != memory.ENVIRONMENT_VARIABLE}
    if value is not None:
        env[memory.ENVIRONMENT_VARIABLE] = value
    done = subprocess.run([sys.executable, "-c", STEPS.format(imports=imports)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return float(done.stdout.split()[-1]), done.stderr


# numpygam imported, and a module run on the fast floor (its batch split in shares)
WITH_NUMPYGAM = """
import numpygam
from numpygam import nn
from numpygam.fast import parallel
parallel.set_num_threads(2)
m = nn.MultiheadAttention(64, 4)
x = np.ones((8, 64, 64), np.float32)
m(x, x, x); m.backward(np.ones_like(x))
"""


def _median_faults(imports, runs=3):
    """The median over `runs` fresh processes: one process's count can be off by a
    burst of faults the machine's other work caused (seen once under load)."""
    return sorted(faults_after(imports)[0] for _ in range(runs))[runs // 2]


@pytest.mark.skipif(not ON_GLIBC, reason="keep_freed_memory acts on glibc's malloc only")
def test_importing_numpygam_leaves_malloc_as_it_was():
    plain = _median_faults("")
    imported = _median_faults(WITH_NUMPYGAM)
    kept = _median_faults("from numpygam.fast.memory import keep_freed_memory\n"
                          "keep_freed_memory()")
    # 32 MiB is 8192 pages of 4 KiB; by default glibc trims the heap's top each step
    # and about a quarter is faulted in again (2028 pages here); kept, none is: so the
    # process that imported numpygam (and ran a module in shares) counts as the plain
    # one does, and far from the one that keeps freed memory
    assert plain > 1000, f"a plain process faulted only {plain} pages a step"
    assert abs(imported - plain) <= 0.05 * plain, (imported, plain)
    assert kept < 100, f"{kept} page faults a step with freed memory kept (plain: {plain})"


def test_importing_numpygam_loads_no_thread_pool_and_registers_no_fork_hook():
    done = subprocess.run([sys.executable, "-c", (
        "import sys, numpygam\n"
        "from numpygam.fast import parallel\n"
        "print('threadpoolctl' in sys.modules, parallel._state['fork_hook'],"
        " parallel._state['pool'] is None)")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "True"]


@pytest.mark.skipif(not ON_GLIBC, reason="keep_freed_memory acts on glibc's malloc only")
def test_a_bad_variable_is_named_in_a_warning_and_the_default_holds():
    faults, stderr = faults_after("from numpygam.fast.memory import "
                                  "keep_freed_memory_unless_opted_out as keep\nkeep()", "yes")
    assert faults < 100
    assert ("UserWarning: NUMPYGAM_KEEP_FREED_MEMORY='yes': expected 0 (leave malloc as it "
            "is) or 1 (keep freed memory, the default); keeping freed memory") in stderr


@pytest.mark.parametrize("value, called", [(None, True), ("", True), ("1", True), (" 0 ", False),
                                           ("0", False)])
def test_the_variable_decides_whether_it_is_called(monkeypatch, value, called):
    calls = []
    monkeypatch.setattr(memory, "keep_freed_memory", lambda: calls.append("keep") or True)
    environ = {} if value is None else {memory.ENVIRONMENT_VARIABLE: value}
    assert memory.keep_freed_memory_unless_opted_out(environ) is called
    assert calls == (["keep"] if called else [])


@pytest.mark.parametrize("mib", [-1, 1.5, "256", True, None])
def test_a_bad_size_is_named(mib):
    with pytest.raises(ValueError, match=r"keep_freed_memory: mib must be a whole number "
                                         r"of MiB, 0 or more, got " + repr(mib).replace(".", r"\.")):
        memory.keep_freed_memory(mib)


def test_another_c_library_is_left_alone(monkeypatch):
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    assert memory.keep_freed_memory() is False


@pytest.mark.parametrize("value, kept", [(None, True), ("0", False)])
def test_the_train_command_opts_in_unless_told_not_to(monkeypatch, tmp_path, value, kept):
    calls = []
    monkeypatch.setattr(memory, "keep_freed_memory", lambda: calls.append("keep") or True)
    monkeypatch.setattr(numpygam.train, "train", lambda *args, **kw: calls.append("train"))
    if value is None:
        monkeypatch.delenv(memory.ENVIRONMENT_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(memory.ENVIRONMENT_VARIABLE, value)
    assert main(["train", "--steps", "1", "--out", str(tmp_path / "run")]) == 0
    assert calls == (["keep", "train"] if kept else ["train"])


class FakeLibc:
    """Records mallopt's calls instead of changing the process's malloc."""

    def __init__(self):
        self.calls = []

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return 1


@pytest.mark.parametrize("mib", [0, 256, 2047])
def test_the_trim_threshold_passed_is_the_size_asked_for_and_fits_a_c_int(monkeypatch, mib):
    libc = FakeLibc()
    monkeypatch.setattr(memory, "_glibc", lambda: libc)
    assert memory.keep_freed_memory(mib) is True
    assert libc.calls == [(memory.M_MMAP_THRESHOLD, memory.MMAP_THRESHOLD),
                          (memory.M_TRIM_THRESHOLD, mib * 2**20)]
    assert mib * 2**20 <= 2**31 - 1


@pytest.mark.parametrize("mib", [2048, 4096, 10**6])
def test_a_size_a_c_int_cannot_hold_is_refused_not_wrapped(monkeypatch, mib):
    """2048 MiB is 2**31 bytes, one more than a C int holds: ctypes would pass -2**31,
    and 4096 MiB as 0, "trim everything"; nothing reaches mallopt."""
    libc = FakeLibc()
    monkeypatch.setattr(memory, "_glibc", lambda: libc)
    with pytest.raises(ValueError, match=rf"keep_freed_memory: mib must be at most 2047, "
                                         rf"got {mib}: glibc's mallopt takes the threshold "
                                         rf"in bytes as a C int"):
        memory.keep_freed_memory(mib)
    assert libc.calls == []


def test_a_bad_variable_never_fails_a_process_that_makes_warnings_errors():
    """PYTHONWARNINGS=error turns the warning into an exception: it must not end the
    import or the opt-in call; the bad value is reported on stderr, as one line."""
    env = {**os.environ, "PYTHONWARNINGS": "error", memory.ENVIRONMENT_VARIABLE: "banana"}
    done = subprocess.run([sys.executable, "-c", (
        "import numpygam\n"
        "from numpygam.fast.memory import keep_freed_memory_unless_opted_out\n"
        "keep_freed_memory_unless_opted_out()")], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "UserWarning: NUMPYGAM_KEEP_FREED_MEMORY='banana': expected 0 (leave malloc as it "
        "is) or 1 (keep freed memory, the default); keeping freed memory"]
