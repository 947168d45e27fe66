"""A training step on an idle machine and on a busy one, with one and with N BLAS threads.

    python benchmarks/bench_busy.py [--steps 20] [--task dates|g2p|both]

A laptop with a browser, a shared server or a Colab runtime is never idle.  Each row
is one setting, measured in a fresh process (BLAS reads its thread count once, at
import): the median milliseconds of a training step of `python -m numpygam train`'s
model, first with nothing else running, then beside one busy process per core (a
Python loop that never sleeps), and the ratio busy / idle.

    blas N,  shares N   BLAS's default threads (one per core), the batch in N shares
    blas 1,  shares 1   one thread for everything
    blas 1,  shares N   BLAS held to one thread, the batch in N shares on N threads

The command line's default is chosen from these figures (benchmarks/README.md): a
busy machine should cost about its fair share, a step beside one busy process per
core within 2.5x of idle.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CHILD = r"""
import json, sys, time
from numpygam.fast import parallel
from numpygam.train import G2P_PRESETS, TrainConfig, Trainer
task, shares, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
config = TrainConfig(task=task, **(G2P_PRESETS["quick"] if task == "g2p" else {}))
trainer = Trainer(config)
parallel.set_num_threads(shares)
for _ in range(3):
    trainer.train_step()
times = []
for _ in range(steps):
    start = time.perf_counter()
    trainer.train_step()
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""

SETTINGS = [("blas N, shares N", None, "N"), ("blas 1, shares 1", "1", "1"),
            ("blas 1, shares N", "1", "N")]


def step_ms(task, blas, shares, steps):
    """Median ms of a training step in a fresh process with that setting."""
    cores = os.cpu_count() or 1
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    if blas is not None:
        env.update(OPENBLAS_NUM_THREADS=blas, OMP_NUM_THREADS=blas, MKL_NUM_THREADS=blas)
    done = subprocess.run([sys.executable, "-c", CHILD, task,
                           str(cores if shares == "N" else shares), str(steps)],
                          capture_output=True, text=True, env=env, check=True)
    return 1000 * statistics.median(json.loads(done.stdout))


def busy(n):
    """n processes that keep a core each busy (a loop that never sleeps)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--task", choices=("dates", "g2p", "both"), default="both")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    tasks = ["dates", "g2p"] if args.task == "both" else [args.task]
    print(f"{cores} cores; median ms of a training step over {args.steps} steps; busy = "
          f"beside {cores} processes that never sleep")
    print(f"{'task':<6} {'setting':<18} {'idle':>9} {'busy':>9} {'busy/idle':>10}")
    for task in tasks:
        for name, blas, shares in SETTINGS:
            idle = step_ms(task, blas, shares, args.steps)
            hogs = busy(cores)
            time.sleep(0.5)
            try:
                loaded = step_ms(task, blas, shares, args.steps)
            finally:
                for hog in hogs:
                    hog.kill()
                    hog.wait()
            print(f"{task:<6} {name:<18} {idle:>9.1f} {loaded:>9.1f} {loaded / idle:>9.2f}x",
                  flush=True)


if __name__ == "__main__":
    main()
