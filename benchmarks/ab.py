"""A/B: the benchmarks of another revision and of the working tree, run alternately.

    python benchmarks/ab.py REV [BENCH ...] [--rounds N]

    python benchmarks/ab.py HEAD~1                       # every benchmark, 3 rounds
    python benchmarks/ab.py fb56ec6 bench_attention bench_train --rounds 5

REV's tree is checked out into a temporary git worktree; each round runs each
benchmark once for REV and once for the working tree, each in a fresh Python process
(PYTHONPATH points it at its own tree), alternating which goes first, so that drift of
the machine (heat, other load) falls on both sides alike.  For every row a benchmark
prints ("NAME  numpygam X ms  torch Y ms  ratio Zx") it reports each side's median
numpygam time and the change, and the median ratio to PyTorch of each side.

Run it before landing a change to a hot path: a refactor that reads better must not
quietly cost 20%.  Rows whose change is within the rounds' own spread are noise.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ROW = re.compile(r"^(?P<name>.+?)\s+numpygam\s+(?P<ours>[\d.]+) ms\s+torch\s+(?P<theirs>[\d.]+) ms")
DEFAULT = ("bench_attention", "bench_train", "bench_transformer", "bench_gam")


def run_bench(tree, bench):
    """{row name: (numpygam ms, torch ms)} from one run of benchmarks/BENCH.py in tree."""
    env = dict(os.environ, PYTHONPATH=f"{tree}{os.pathsep}{tree / 'benchmarks'}",
               PYTHONDONTWRITEBYTECODE="1")
    script = tree / "benchmarks" / f"{bench}.py"
    if not script.exists():
        return {}
    done = subprocess.run([sys.executable, str(script)], cwd=tree / "benchmarks", env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{script} failed:\n{done.stderr[-2000:]}")
    rows = {}
    for line in done.stdout.splitlines():
        match = ROW.match(line.strip())
        if match:
            rows[match["name"].strip()] = (float(match["ours"]), float(match["theirs"]))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the revision to compare the working tree with")
    parser.add_argument("benches", nargs="*", default=DEFAULT,
                        help=f"benchmark names (default: {' '.join(DEFAULT)})")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    benches = [b[:-3] if b.endswith(".py") else b for b in args.benches]
    with tempfile.TemporaryDirectory(prefix="numpygam-ab-") as tmp:
        other = Path(tmp) / "rev"
        subprocess.run(["git", "worktree", "add", "--detach", str(other), args.rev], cwd=ROOT,
                       check=True, capture_output=True)
        try:
            sides = {"rev": other, "now": ROOT}
            times = {}  # (bench, row, side) -> [(ours, theirs)]
            for r in range(args.rounds):
                order = ["rev", "now"] if r % 2 == 0 else ["now", "rev"]
                for bench in benches:
                    for side in order:
                        for row, value in run_bench(sides[side], bench).items():
                            times.setdefault((bench, row, side), []).append(value)
                print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT,
                           capture_output=True)
    print(f"A/B: {args.rev} (rev) against the working tree (now), {args.rounds} rounds, "
          "median numpygam ms, and the median ratio to torch of each side")
    print(f"{'benchmark / row':<58} {'rev ms':>9} {'now ms':>9} {'change':>8} "
          f"{'rev x':>6} {'now x':>6}")
    for bench in benches:
        rows = sorted({row for (b, row, _) in times if b == bench},
                      key=lambda row: list(times).index((bench, row, "rev"))
                      if (bench, row, "rev") in times else 10**6)
        for row in rows:
            cells = []
            for side in ("rev", "now"):
                values = times.get((bench, row, side))
                cells.append((statistics.median(v[0] for v in values),
                              statistics.median(v[0] / v[1] for v in values)) if values else None)
            (rev, now) = cells
            change = (f"{100 * (now[0] / rev[0] - 1):+7.1f}%" if rev and now
                      else "new" if now else "gone")
            print(f"{(bench + ': ' + row)[:58]:<58} "
                  f"{rev[0] if rev else float('nan'):9.2f} {now[0] if now else float('nan'):9.2f} "
                  f"{change:>8} {rev[1] if rev else float('nan'):6.2f} "
                  f"{now[1] if now else float('nan'):6.2f}")


if __name__ == "__main__":
    main()
