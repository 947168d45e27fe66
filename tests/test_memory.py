"""numpygam.memory: glibc keeps freed memory, so a step's arrays are not faulted in
afresh; numpygam does it on import unless NUMPYGAM_KEEP_FREED_MEMORY=0; a clear error
for a bad size, a warning for a bad variable; nothing on another libc."""
import os
import subprocess
import sys

import pytest

import numpygam.memory as memory
import numpygam.train
from numpygam.__main__ import main

ON_GLIBC = memory._glibc() is not None

# Four 8 MiB arrays alive at once, then freed: 32 MiB at the top of the heap, more
# than the 16 MiB glibc's trim threshold grows to after the first 8 MiB block is freed.
STEPS = """
import resource
import numpy as np
import numpygam
print(numpygam.FREED_MEMORY_KEPT)
def step():
    arrays = [np.ones(2 << 20, np.float32) for _ in range(4)]
    del arrays
step(); step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def imported_with(value):
    """(FREED_MEMORY_KEPT, page faults a step, stderr) of a process that imports numpygam
    with NUMPYGAM_KEEP_FREED_MEMORY=value (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != memory.ENVIRONMENT_VARIABLE}
    if value is not None:
        env[memory.ENVIRONMENT_VARIABLE] = value
    done = subprocess.run([sys.executable, "-c", STEPS], capture_output=True, text=True,
                          env=env)
    assert done.returncode == 0, done.stderr
    kept, faults = done.stdout.split()
    return kept == "True", float(faults), done.stderr


@pytest.mark.skipif(not ON_GLIBC, reason="keep_freed_memory acts on glibc's malloc only")
def test_importing_numpygam_keeps_freed_memory_unless_opted_out():
    kept, faults, _ = imported_with(None)
    opted_in, faults_in, _ = imported_with("1")
    opted_out, plain, _ = imported_with("0")
    assert (kept, opted_in, opted_out) == (True, True, False)
    # 32 MiB is 8192 pages of 4 KiB; by default glibc trims the heap's top each step
    # and about a quarter is faulted in again (2028 pages here), kept none is (0)
    assert plain > 1000, f"the opted-out process faulted only {plain} pages a step"
    assert faults < 100, f"{faults} page faults a step with freed memory kept (plain: {plain})"
    assert faults_in < 100, f"{faults_in} page faults a step with =1 (plain: {plain})"


@pytest.mark.skipif(not ON_GLIBC, reason="keep_freed_memory acts on glibc's malloc only")
def test_a_bad_variable_is_named_in_a_warning_and_the_default_holds():
    kept, faults, stderr = imported_with("yes")
    assert kept and faults < 100
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


def test_the_train_command_leaves_malloc_to_the_import(monkeypatch, tmp_path):
    """NUMPYGAM_KEEP_FREED_MEMORY=0 holds for the command too: it does not call it again."""
    calls = []
    monkeypatch.setattr(memory, "keep_freed_memory", lambda: calls.append("keep"))
    monkeypatch.setattr(numpygam.train, "train", lambda *args, **kw: calls.append("train"))
    assert main(["train", "--steps", "1", "--out", str(tmp_path / "run")]) == 0
    assert calls == ["train"]
