"""numpygam.memory.keep_freed_memory: glibc keeps freed memory, so a step's arrays
are not faulted in afresh; a clear error for a bad size; nothing on another libc."""
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
import resource, sys
import numpy as np
from numpygam.memory import keep_freed_memory
if sys.argv[1] == "kept":
    assert keep_freed_memory()
def step():
    arrays = [np.ones(2 << 20, np.float32) for _ in range(4)]
    del arrays
step(); step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 5)
"""


def faults_per_step(mode):
    done = subprocess.run([sys.executable, "-c", STEPS, mode], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return float(done.stdout)


@pytest.mark.skipif(not ON_GLIBC, reason="keep_freed_memory acts on glibc's malloc only")
def test_kept_memory_is_reused_instead_of_faulted_in_again():
    plain, kept = faults_per_step("plain"), faults_per_step("kept")
    # 32 MiB is 8192 pages of 4 KiB; by default glibc trims the heap's top each step
    # and about a quarter is faulted in again (2028 pages here), kept none is (0)
    assert plain > 1000, f"the plain process faulted only {plain} pages a step"
    assert kept < 100, f"{kept} page faults a step with freed memory kept (plain: {plain})"


@pytest.mark.parametrize("mib", [-1, 1.5, "256", True, None])
def test_a_bad_size_is_named(mib):
    with pytest.raises(ValueError, match=r"keep_freed_memory: mib must be a whole number "
                                         r"of MiB, 0 or more, got " + repr(mib).replace(".", r"\.")):
        memory.keep_freed_memory(mib)


def test_another_c_library_is_left_alone(monkeypatch):
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    assert memory.keep_freed_memory() is False


def test_the_train_command_keeps_freed_memory_before_it_trains(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(memory, "keep_freed_memory", lambda: calls.append("keep"))
    monkeypatch.setattr(numpygam.train, "train", lambda *args, **kw: calls.append("train"))
    assert main(["train", "--steps", "1", "--out", str(tmp_path / "run")]) == 0
    assert calls == ["keep", "train"]
