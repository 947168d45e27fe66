"""The batch split across the cores: data parallelism inside one call of a module.

The rows of a batch are independent (row b's output depends on row b's input and
the shared parameters only), so a module may run its forward on the batch in shares
s, one per core, and its backward the same way, summing the parameter gradients:

    y[s] = f(x[s]),    dx[s] = the backward of share s,    dW = sum over s of dW_s

the same numbers as one call on the whole batch (dW up to the order of the sum).
PyTorch's CPU kernels keep every core busy this way.  NumPy runs one thread, and its
BLAS splits each matrix product over the cores by itself: fine for one large product,
poor for multi-head attention's B*H small ones, and a softmax between products runs on
one core.  Here each share runs on a thread of its own with BLAS held to one thread,
so every step, a product or a softmax, runs on all cores at once.
nn.MultiheadAttention splits its batches, and so do GAM's channel gate (fast/gam.py: each
pixel alone) and its spatial gate where the channels are few (fast/conv.py's
dft_shares: each image alone, but for batch norm's statistics, which are put together
from the shares': fast/gam.py).
Measured on 2 cores, forward + backward (python benchmarks/bench_idioms.py): multi-head
attention at B=32, T=128, E=256, H=8 58.4 ms in two shares against 88.3 ms whole; a
Transformer training step at that size (d_model 256, 2+2 layers) 959 ms against 1181 ms.

One thing had to be dealt with for that: after each product OpenBLAS keeps its worker
threads spinning, busy, for about 0.1 s (its THREAD_TIMEOUT, 2^28 clock cycles) before
they sleep, so a share started meanwhile gets half a core: right after a product the
same attention took 116.9 ms in shares against 92.8 ms whole.  map_shares therefore
stops OpenBLAS's workers first (blas_thread_shutdown_, the call OpenBLAS makes itself
before a fork; its next product starts them again, some 50 us), and right after a
product it takes 57.9 ms against 96.2 ms whole.  So do not run numpygam's modules while
another thread of yours is inside a BLAS call; set_num_threads(1) if you must.

    from numpygam.fast import parallel
    parallel.set_num_threads(1)   # one share: every call whole (e.g. to step through it)

Tried and not kept (benchmarks/README.md): nn.Linear in shares (OpenBLAS splits one
large product as well); conv2d's DFT path in shares at every size (GAM at (8, 256, 14,
14) slower and its peak memory 1.18x PyTorch's: hence dft_shares's channel rule).

The default is BLAS's own thread count (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS or the
cores), read by threadpoolctl when first needed.  A share has at least MIN_SHARE_WORK
multiply-adds: below that, handing it to a thread costs more than it saves.
"""
import contextvars
import os
import threading

import numpy as np

# multiply-adds a share must have to be worth its thread: multi-head attention forward +
# backward of 48M took 2.74 ms in two shares and 2.47 ms whole, of 70M 3.58 against 3.73
MIN_SHARE_WORK = 30_000_000

_lock = threading.Lock()     # guards _state
_running = threading.Lock()  # held while shares run: they never nest
_state = {"threads": None, "pool": None, "pool_size": 0, "blas": None, "fork_hook": False}


def _forget_threads_after_fork():
    """A forked child has none of the pool's threads (and a lock another thread held
    stays held in it): it starts with locks and a pool of its own."""
    global _lock, _running
    _lock, _running = threading.Lock(), threading.Lock()
    _state.update(pool=None, pool_size=0)


def _blas():
    """threadpoolctl's view of the BLAS libraries loaded (made once: it scans them).
    Imported here, at the first call, not as numpygam is imported: importing numpygam
    leaves the process as it was (no thread-pool library loaded, no fork hook)."""
    from threadpoolctl import ThreadpoolController
    with _lock:
        if _state["blas"] is None:
            _state["blas"] = ThreadpoolController().select(user_api="blas")
        return _state["blas"]


def get_num_threads():
    """How many shares a large batch is split into: set_num_threads's, or BLAS's own count."""
    if _state["threads"] is None:
        counts = [lib["num_threads"] for lib in _blas().info()]
        with _lock:
            _state["threads"] = max(1, min(counts)) if counts else 1
    return _state["threads"]


def set_num_threads(n):
    """Split large batches into n shares, each on its own thread (1: never split)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be an integer >= 1, got {n!r}")
    with _lock:
        _state["threads"] = n


def batch_shares(batch, work, min_work=None):
    """The slices of a batch of `batch` rows that each get a thread, of near-equal size:
    as many as get_num_threads(), but no more than the rows, nor than shares of
    min_work each in `work` (default: MIN_SHARE_WORK multiply-adds; a caller whose
    work is element-wise counts values instead, with a min_work of its own);
    [slice(None)] (the whole batch) for one."""
    min_work = MIN_SHARE_WORK if min_work is None else min_work
    n = min(get_num_threads(), batch)
    if min_work > 0:
        n = min(n, work // min_work)
    if n <= 1:
        return [slice(None)]
    bounds = [batch * i // n for i in range(n + 1)]
    return [slice(lo, hi) for lo, hi in zip(bounds, bounds[1:])]


def _stop_spinning_blas_workers(blas):
    """Put OpenBLAS's worker threads down now instead of after their busy wait."""
    for lib in blas.lib_controllers:
        if lib.internal_api == "openblas":
            stop = getattr(lib.dynlib, "blas_thread_shutdown_", None)  # absent: nothing to do
            if stop is not None:
                stop()


def map_shares(fn, items):
    """[fn(item) for item in items], each on its own thread (the first on the caller's),
    with BLAS held to one thread meanwhile, in a copy of the caller's context (so that
    np.errstate holds in every thread).  One item, or a call made while another is
    running (from inside a share, or from a second thread of the user's), runs the items
    one after another on the caller's thread: shares never nest and never deadlock."""
    items = list(items)
    if len(items) == 1 or not _running.acquire(blocking=False):
        return [fn(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor, wait  # with the first pool, not on import
    try:
        if not _state["fork_hook"]:  # the first pool: a forked child must not inherit it
            os.register_at_fork(after_in_child=_forget_threads_after_fork)
            _state["fork_hook"] = True
        if _state["pool_size"] < len(items) - 1:
            if _state["pool"] is not None:
                _state["pool"].shutdown(wait=False)
            _state["pool"] = ThreadPoolExecutor(len(items) - 1, "numpygam-share")
            _state["pool_size"] = len(items) - 1
        blas = _blas()
        with blas.limit(limits=1):
            _stop_spinning_blas_workers(blas)
            futures = [_state["pool"].submit(contextvars.copy_context().run, fn, item)
                       for item in items[1:]]
            try:
                first = fn(items[0])
            finally:
                wait(futures)  # every share ends before BLAS gets its threads back
        return [first, *(f.result() for f in futures)]  # raises a share's error, if any
    finally:
        _running.release()


def joined(parts):
    """The shares' arrays as one along the batch axis (one share: its array as it is;
    None, a part that is not there, stays None)."""
    return parts[0] if len(parts) == 1 or parts[0] is None else np.concatenate(parts)


def summed(parts):
    """The shares' parameter gradients added up (None: a parameter left out)."""
    return None if parts[0] is None else sum(parts[1:], parts[0])


def combined(results, batched):
    """Each share's tuple of results made one tuple: the first `batched` items joined
    along the batch axis (the outputs, or the inputs' gradients), the rest summed (the
    parameter gradients)."""
    columns = list(zip(*results))
    return (*(joined(c) for c in columns[:batched]), *(summed(c) for c in columns[batched:]))
