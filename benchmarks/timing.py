"""Timing helper shared by the benchmarks: the median of repeated runs, after a warm-up."""
import statistics
import time


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
    return f"{name:<{width}} numpygam {ours * 1e3:8.2f} ms   torch {theirs * 1e3:8.2f} ms   ratio {ratio:5.2f}x"
