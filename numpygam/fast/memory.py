"""Keep freed memory in the process for the next step, instead of handing it back
to the kernel (Linux with glibc): an opt-in for a process that trains.

Why it matters.  A forward+backward of nn.GAM makes tens of MiB of short-lived
arrays (the DFT convolution's spectra above all: peak memory 51 MiB at
(8, 64, 32, 32)), and frees them at the end of the step.  glibc's malloc hands the
top of its heap back to the kernel once more than its trim threshold lies free
there; the threshold starts at 128 KiB and only grows (to at most 64 MiB) when a
block larger than any before is freed, so how often it trims depends on the
process's history, not on numpygam's code.  Each byte handed back has to be
faulted in again, a zeroed 4 KiB page at a time, by the next step.  Measured on
this project's 2-core machine, nn.GAM forward+backward (float32), the medians of
three runs each of benchmarks/bench_gam.py (`python benchmarks/ab.py 4f92263
bench_gam`, benchmarks/README.md, issue 22), numpygam / PyTorch in the same process:

    (B, C, H, W)        malloc left as it is       freed memory kept (the default)
    (8, 64, 32, 32)     46.3 ms (1.44x PyTorch)    37.4 ms (1.17x PyTorch)
    (8, 256, 14, 14)    83.1 ms (1.27x)            68.8 ms (1.03x)

and, counted in one run, 3671 and 3753 page faults a step against 2 and 107 (PyTorch's
GAM, malloc left as it is: 1319 and 0).  The price: the process keeps up to `mib`
MiB that it freed (resident, reused by the next arrays) instead of returning it.

Importing numpygam does not call it: malloc's settings are the whole process's (a
Jupyter kernel, PyTorch and a grader share them), for the process's life, with no
undo, so a library must not change them behind its user's back.  The programs that
train call it where they start: `python -m numpygam train` (numpygam/train.py) and the
benchmarks, through keep_freed_memory_unless_opted_out(), which the environment
variable NUMPYGAM_KEEP_FREED_MEMORY=0 turns off.  In your own training loop:

    from numpygam.fast.memory import keep_freed_memory
    keep_freed_memory()          # once, before the first step
"""
import ctypes
import os
import platform
import sys
import warnings

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3   # glibc's <malloc.h>
MMAP_THRESHOLD = 32 << 20   # blocks above it are still mapped afresh (glibc's own cap, 64-bit)
ENVIRONMENT_VARIABLE = "NUMPYGAM_KEEP_FREED_MEMORY"
C_INT_MAX = 2**31 - 1   # mallopt(int param, int value)
MAX_MIB = C_INT_MAX >> 20   # 2047: the most MiB whose bytes fit a C int


def _glibc():
    """The process's own C library (ctypes), if it is glibc; None on any other."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(None)  # the symbols already loaded: the malloc this process uses


def keep_freed_memory(mib=256):
    """Let glibc keep up to `mib` MiB of freed memory for reuse; True if it took effect.

    Sets malloc's M_TRIM_THRESHOLD to `mib` MiB (free memory at the top of the heap
    is handed back only beyond it) and M_MMAP_THRESHOLD to 32 MiB (smaller blocks
    come from the heap, so they are reused; glibc's default is 128 KiB, rising as
    the process frees larger blocks).  This fixes both for the rest of the process:
    glibc stops adjusting them by itself.  Returns False, and changes nothing, on a
    C library other than glibc (macOS, Windows, musl).
    mib: a whole number of MiB, 0 to MAX_MIB (2047): mallopt takes the threshold in
    bytes as a C int, whose largest value, 2**31 - 1, is just under 2048 MiB.  A larger
    mib is refused (ValueError), not cut down: ctypes would wrap 2048 MiB (2**31 bytes)
    to a negative int and 4096 MiB to 0, which means "trim everything", the opposite of
    what was asked, and clamping it would keep less than asked without a word.
    """
    if isinstance(mib, bool) or not isinstance(mib, int) or mib < 0:
        raise ValueError(f"keep_freed_memory: mib must be a whole number of MiB, 0 or "
                         f"more, got {mib!r}")
    if mib > MAX_MIB:
        raise ValueError(f"keep_freed_memory: mib must be at most {MAX_MIB}, got {mib!r}: "
                         f"glibc's mallopt takes the threshold in bytes as a C int, and "
                         f"{mib} MiB = {mib << 20} bytes is more than 2**31 - 1")
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and libc.mallopt(M_TRIM_THRESHOLD, mib << 20))   # <= C_INT_MAX: MAX_MIB


def keep_freed_memory_unless_opted_out(environ=os.environ):
    """What the train command and the benchmarks do as they start: keep_freed_memory(),
    unless NUMPYGAM_KEEP_FREED_MEMORY=0.

    Returns True if freed memory is now kept.  The variable's values: "1" (or unset,
    or empty) keeps freed memory, "0" leaves malloc as it is.  Any other value is
    named in a warning and the default holds: a run should not fail over a typo, not
    even where warnings are made errors (python -W error, PYTHONWARNINGS=error): then
    the warning is written to stderr as one line instead of being raised.
    """
    value = environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if value == "0":
        return False
    if value not in ("", "1"):
        message = (f"{ENVIRONMENT_VARIABLE}={value!r}: expected 0 (leave malloc as it is) "
                   f"or 1 (keep freed memory, the default); keeping freed memory")
        try:
            warnings.warn(message, UserWarning, stacklevel=2)
        except UserWarning:   # a filter turned it into an error: report it, carry on
            print(f"UserWarning: {message}", file=sys.stderr)
    return keep_freed_memory()
