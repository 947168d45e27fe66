"""Keep freed memory in the process for the next step, instead of handing it back
to the kernel (Linux with glibc; an opt-in, like parallel.set_num_threads).

Why it matters.  A forward+backward of nn.GAM makes tens of MiB of short-lived
arrays (the DFT convolution's spectra above all: peak memory 51 MiB at
(8, 64, 32, 32)), and frees them at the end of the step.  glibc's malloc hands the
top of its heap back to the kernel once more than its trim threshold lies free
there; the threshold starts at 128 KiB and only grows (to at most 64 MiB) when a
block larger than any before is freed, so how often it trims depends on the
process's history, not on numpygam's code.  Each byte handed back has to be
faulted in again, a zeroed 4 KiB page at a time, by the next step.  Measured on
this project's 2-core machine, nn.GAM forward+backward (float32), the medians of
four runs of benchmarks/bench_gam.py each (benchmarks/README.md, issue 22):

    (B, C, H, W)        as the process starts      with freed memory kept
    (8, 64, 32, 32)     49.3 ms (1.39x PyTorch)    36.2 ms (1.22x PyTorch)
    (8, 256, 14, 14)    69.4 ms (1.06x)            66.3 ms (0.98x)

and, counted in one process, 3358 to 4059 page faults a step against 0 to 46 (PyTorch's
GAM, in the same processes: 0 to 1114).  The price: the process keeps up to `mib`
MiB that it freed (resident, reused by the next arrays) instead of returning it.
numpygam never calls this by itself on import: the process is the user's.  The
`python -m numpygam train` command, whose process it is, does.
"""
import ctypes
import platform

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3   # glibc's <malloc.h>
MMAP_THRESHOLD = 32 << 20   # blocks above it are still mapped afresh (glibc's own cap, 64-bit)


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
    mib: a whole number of MiB, 0 or more.
    """
    if isinstance(mib, bool) or not isinstance(mib, int) or mib < 0:
        raise ValueError(f"keep_freed_memory: mib must be a whole number of MiB, 0 or "
                         f"more, got {mib!r}")
    libc = _glibc()
    if libc is None:
        return False
    trim = min(mib << 20, 2**31 - 1)  # mallopt takes a C int
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and libc.mallopt(M_TRIM_THRESHOLD, trim))
