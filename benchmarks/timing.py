"""Helpers shared by the benchmarks: the median of repeated runs, and the tests' torch models.

Run a benchmark as `python benchmarks/bench_NAME.py`: Python puts benchmarks/ on
the path, so `import timing` works, and numpygam is the installed package.

Importing this module is where a benchmark opts in to keeping freed memory
(numpygam.fast.memory; importing numpygam leaves malloc alone), as the train command
does: NUMPYGAM_KEEP_FREED_MEMORY=0 opts out, and FREED_MEMORY_KEPT says which happened.
"""
import importlib.util
import statistics
import time
from pathlib import Path

from numpygam.fast.memory import keep_freed_memory_unless_opted_out

FREED_MEMORY_KEPT = keep_freed_memory_unless_opted_out()

TESTS = Path(__file__).resolve().parent.parent / "tests"


def from_tests(name):
    """Import tests/NAME.py (the PyTorch reference models) by its path."""
    spec = importlib.util.spec_from_file_location(name, TESTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def median_seconds(fn, repeats=15, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def report_row(name, ours, theirs, width=34):
    ratio = ours / theirs
    return (f"{name:<{width}} numpygam {ours * 1e3:8.2f} ms   torch {theirs * 1e3:8.2f} ms   "
            f"ratio {ratio:5.2f}x")
