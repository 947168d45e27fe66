"""Mutation testing by a tool, not by the tests' author: a random sample of the mutants
that cosmic-ray generates for the files a change touches, each run against the tests of
that file.

    .venv/bin/pip install -e ".[mutation]"
    .venv/bin/python tests/mutation_sample.py                    # files changed since HEAD~1
    .venv/bin/python tests/mutation_sample.py --base fb56ec6     # ... since a revision
    .venv/bin/python tests/mutation_sample.py --files numpygam/nn/decoding.py --sample 20
    .venv/bin/python tests/mutation_sample.py --rev fb56ec6 ...  # the tree of a revision

Why a tool: tests/mutants.py holds bugs chosen by the people who wrote the tests, and
it is killed 100%; mutants drawn by a program from every operator, comparison,
constant and keyword of the code find the slips nobody thought to plant.

How: cosmic-ray (`cosmic-ray init`) lists every mutation of each file (an operator
swapped, a comparison flipped, a number changed, a `break` turned into `continue`,
...); `--sample` of them (default 40) are drawn with `--seed` (printed, so a run can be
repeated); each is applied (`cosmic-ray apply`) to a fresh copy of the tree and the
test files for its source file (TESTS below) run with `-x`.  Killed: pytest fails or
runs past `--timeout`.  At the end the sampled score is printed beside the curated
list's (tests/mutants.py) for the same files, and every survivor with its line, so
that each is either killed by a new test or explained as equivalent.

About 40 mutants in 10-15 minutes on 2 cores (`--jobs 2`).  Not part of CI.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICK = ("-m", "not slow")

# source file (relative to numpygam/, a prefix) -> the test files that should notice a
# slip in it; the most specific prefix wins
TESTS = {
    "functional/softmax.py": ("tests/functional/test_softmax.py", "tests/functional/test_loss.py",
                              "tests/functional/test_attention.py", "tests/test_dtypes.py"),
    "functional/activations.py": ("tests/functional/test_activations.py",
                                  "tests/functional/test_softmax.py", "tests/test_dtypes.py",
                                  "tests/nn/test_transformer.py"),
    "functional/linear.py": ("tests/functional/test_linear.py", "tests/test_dtypes.py"),
    "functional/loss.py": ("tests/functional/test_loss.py", "tests/test_dtypes.py"),
    "functional/embedding.py": ("tests/functional/test_embedding.py", "tests/test_dtypes.py"),
    "functional/_checks.py": ("tests/test_errors.py", "tests/test_safety.py"),
    "functional/attention.py": ("tests/functional/test_attention.py",),
    "functional/scores.py": ("tests/functional/test_scores.py", "tests/functional/test_attention.py"),
    "functional/luong.py": ("tests/functional/test_luong.py", "tests/nn/test_attention.py"),
    "functional/multihead.py": ("tests/functional/test_multihead.py", "tests/nn/test_multihead.py",
                                "tests/nn/test_transformer.py"),
    "functional/conv.py": ("tests/functional/test_conv.py", "tests/fast/test_conv.py"),
    "functional/padding.py": ("tests/fast/test_conv.py",),
    "functional/pool.py": ("tests/functional/test_pool.py",),
    "functional/shuffle.py": ("tests/functional/test_shuffle.py", "tests/nn/test_gam.py"),
    "functional/gam.py": ("tests/fast/test_twins.py", "tests/fast/test_gam.py",
                          "tests/nn/test_gam.py"),
    "functional/norm.py": ("tests/functional/test_norm.py", "tests/nn/test_conv.py",
                           "tests/nn/test_gam.py"),
    "functional/gru.py": ("tests/functional/test_gru.py", "tests/nn/test_recurrent.py"),
    "functional/layer_norm.py": ("tests/functional/test_layer_norm.py",
                                 "tests/nn/test_transformer.py"),
    "functional/dropout.py": ("tests/functional/test_dropout.py", "tests/nn/test_transformer.py"),
    "functional/positional.py": ("tests/functional/test_positional.py",
                                 "tests/nn/test_transformer.py"),
    "fast/": ("tests/fast/",),
    "fast/conv": ("tests/fast/test_conv.py", "tests/fast/test_twins.py",
                  "tests/fast/test_parallel.py"),
    "fast/gam.py": ("tests/fast/test_gam.py", "tests/fast/test_twins.py",
                    "tests/fast/test_parallel.py", "tests/nn/test_gam.py"),
    "nn/transformer.py": ("tests/nn/test_transformer.py", "tests/nn/test_decoding.py"),
    "nn/transformer_translator.py": ("tests/nn/test_transformer_translator.py",
                                     "tests/nn/test_decoding.py"),
    "nn/multihead.py": ("tests/nn/test_multihead.py", "tests/nn/test_transformer.py"),
    "nn/decoding.py": ("tests/nn/test_decoding.py", "tests/nn/test_seq2seq.py"),
    "nn/seq2seq.py": ("tests/nn/test_seq2seq.py", "tests/nn/test_decoding.py"),
    "nn/recurrent.py": ("tests/nn/test_recurrent.py", "tests/nn/test_seq2seq.py"),
    "nn/attention.py": ("tests/nn/test_attention.py",),
    "nn/gam.py": ("tests/nn/test_gam.py",),
    "nn/gam_ports.py": ("tests/nn/test_gam_ports.py",),
    "nn/baselines.py": ("tests/nn/test_baselines.py", "tests/nn/test_gam.py"),
    "nn/resnet.py": ("tests/nn/test_resnet.py",),
    "nn/conv.py": ("tests/nn/test_conv.py",),
    "nn/embedding.py": ("tests/nn/test_embedding.py", "tests/nn/test_module.py"),
    "nn/layer_norm.py": ("tests/nn/test_layer_norm.py", "tests/nn/test_transformer.py"),
    "nn/dropout.py": ("tests/nn/test_dropout.py", "tests/nn/test_transformer.py"),
    "nn/init.py": ("tests/nn/test_init.py", "tests/nn/test_transformer.py"),
    "nn/": ("tests/nn/test_module.py", "tests/test_errors.py"),
    "optim/": ("tests/test_optim.py", "tests/test_safety.py"),
    "gradcheck.py": ("tests/test_gradcheck.py",),
    "checkpoint.py": ("tests/test_safety.py",),
    "train.py": ("tests/test_safety.py", "tests/test_train.py", "tests/test_g2p.py",
                 "tests/test_translation.py"),
    "__main__.py": ("tests/test_safety.py", "tests/test_cli.py", "tests/test_train.py",
                    "tests/test_homework.py", "tests/test_sandbox.py", "tests/test_g2p.py",
                    "tests/test_translation.py"),
    "tasks/": ("tests/test_safety.py", "tests/test_tasks.py", "tests/test_train.py",
               "tests/nn/test_seq2seq.py"),
    "tasks/dates.py": ("tests/test_safety.py", "tests/test_tasks.py", "tests/test_translation.py"),
    "tasks/g2p.py": ("tests/test_g2p.py",),
    "course/": ("tests/test_homework.py",),
    "course/translation.py": ("tests/test_translation.py",),
    "course/lessons.py": ("tests/test_translation.py", "tests/test_homework.py"),
}


def tests_for(path):
    """The test files for numpygam/<path>: the longest matching prefix of TESTS, else the
    whole quick suite."""
    prefixes = [p for p in TESTS if path.startswith(p)]
    return TESTS[max(prefixes, key=len)] if prefixes else ("tests/",)


def changed_files(base):
    out = subprocess.run(["git", "diff", "--name-only", base, "--", "numpygam"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    files = [f for f in out.split() if f.endswith(".py") and (ROOT / f).exists()]
    return [f for f in files if not f.endswith("__init__.py")]


FOLDERS = ("numpygam", "tests", "notebooks", "book", "benchmarks")


def snapshot(into, rev=None):
    """numpygam/, tests/, what tests read beside them (the lessons, the book's build script
    and chapters, the benchmarks), pyproject.toml and README.md (the autograder zip packs
    them) as they are now, or at git revision rev."""
    if rev is None:
        for folder in FOLDERS:
            shutil.copytree(ROOT / folder, into / folder, ignore=shutil.ignore_patterns(
                "__pycache__", ".hypothesis", "_build", "g2p_results"))
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, into)
        return
    archive = subprocess.run(["git", "archive", rev, *FOLDERS, "pyproject.toml", "README.md"],
                             cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


def cosmic_ray(*args, cwd):
    exe = Path(sys.executable).with_name("cosmic-ray")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, check=True)


def generate(base, path):
    """Every mutation cosmic-ray makes of numpygam file `path`: dicts with module_path,
    operator_name, occurrence, start_pos, definition_name."""
    with tempfile.TemporaryDirectory(prefix="numpygam-cr-") as tmp:
        config = Path(tmp) / "cr.toml"
        config.write_text(f'[cosmic-ray]\nmodule-path = "{path}"\ntimeout = 60.0\n'
                          'excluded-modules = []\ntest-command = "true"\n'
                          '[cosmic-ray.distributor]\nname = "local"\n')
        session = Path(tmp) / "session.sqlite"
        cosmic_ray("init", str(config), str(session), cwd=base)
        dump = cosmic_ray("dump", str(session), cwd=base).stdout
    return [json.loads(line)[0]["mutations"][0] for line in dump.splitlines() if line.strip()]


def run_tests(tmp, tests, timeout):
    """pytest -x on the quick tests of the copy at tmp: (return code or None on timeout,
    seconds)."""
    tests = [t for t in tests if (Path(tmp) / t).exists()] or ["tests/"]
    env = dict(os.environ, PYTHONPATH=str(tmp), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", MPLBACKEND="Agg")
    env.pop("HYPOTHESIS_PROFILE", None)
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
           "--hypothesis-seed=0", *QUICK, *tests]
    start = time.perf_counter()
    try:
        done = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - start
    return done.returncode, time.perf_counter() - start


def run_mutant(base, mutation, timeout):
    """(verdict, seconds) for one mutation applied to a fresh copy of base."""
    with tempfile.TemporaryDirectory(prefix="numpygam-sample-") as tmp:
        shutil.copytree(base, tmp, dirs_exist_ok=True)
        try:
            cosmic_ray("apply", mutation["module_path"], mutation["operator_name"],
                       str(mutation["occurrence"]), cwd=tmp)
        except subprocess.CalledProcessError as err:
            return f"not applied ({err.stderr.strip().splitlines()[-1:]})", 0.0
        code, seconds = run_tests(tmp, tests_for(mutation["module_path"][len("numpygam/"):]),
                                  timeout)
        if code is None:
            return "killed (timeout)", seconds
        if code == 0:
            return "SURVIVED", seconds
        return "killed" if code == 1 else f"killed (pytest exit {code})", seconds


def describe(m, base):
    line, col = m["start_pos"]
    text = (Path(base) / m["module_path"]).read_text().splitlines()[line - 1].strip()
    return (f"{m['module_path'][len('numpygam/'):]}:{line} {m['operator_name'][5:]} "
            f"#{m['occurrence']} in {m['definition_name']}: {text[:70]}")


def curated_score(files, jobs):
    """Run tests/mutants.py's mutants of the same files; (killed, counted) or None."""
    sys.path.insert(0, str(ROOT / "tests"))
    import mutants
    chosen = [m for m in mutants.MUTANTS if "numpygam/" + m.path in files]
    if not chosen:
        return None
    with tempfile.TemporaryDirectory(prefix="numpygam-snapshot-") as base, \
            ThreadPoolExecutor(jobs) as pool:
        mutants.snapshot(Path(base))
        results = list(pool.map(lambda m: mutants.run_tests(base, m, 600)[0], chosen))
    killed = sum(v.startswith("killed") for v in results)
    return killed, len(chosen)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", nargs="*", help="numpygam files (default: changed since --base)")
    parser.add_argument("--base", default="HEAD~1", help="revision the change starts from")
    parser.add_argument("--rev", default=None, help="test this revision's tree, not the working one")
    parser.add_argument("--sample", type=int, default=40, help="mutants drawn (default 40)")
    parser.add_argument("--seed", type=int, default=None, help="draw seed (default: random)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per mutant")
    parser.add_argument("--curated", action="store_true",
                        help="also run tests/mutants.py's mutants of the same files")
    args = parser.parse_args(argv)
    files = args.files if args.files else changed_files(args.base)
    if not files:
        print("no numpygam files changed: nothing to mutate (give --files or --base)")
        return 0
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="numpygam-snapshot-") as base:
        snapshot(Path(base), args.rev)
        files = [f for f in files if (Path(base) / f).exists()]
        everything = [m for f in files for m in generate(base, f)]
        sample = random.Random(seed).sample(everything, min(args.sample, len(everything)))
        print(f"{len(everything)} mutants of {len(files)} files; {len(sample)} drawn with "
              f"--seed {seed}", flush=True)
        with ThreadPoolExecutor(max(1, args.jobs)) as pool:
            groups = sorted({tests_for(m["module_path"][len("numpygam/"):]) for m in sample})
            for tests, (code, seconds) in zip(groups, pool.map(
                    lambda t: run_tests(base, t, args.timeout), groups)):
                if code != 0:  # every mutant would look killed
                    raise SystemExit(f"the unmutated tests fail (pytest exit {code}): "
                                     f"{' '.join(tests)}")
            print(f"the unmutated tests pass ({len(groups)} groups)", flush=True)
            results = list(pool.map(lambda m: (m, run_mutant(base, m, args.timeout)), sample))
        survivors = []
        for m, (verdict, seconds) in results:
            print(f"{verdict:<18} {seconds:6.1f}s  {describe(m, base)}", flush=True)
            if verdict == "SURVIVED":
                survivors.append(m)
        counted = [r for r in results if not r[1][0].startswith("not applied")]
        killed = sum(v.startswith("killed") for _, (v, _) in counted)
        print(f"\nsampled: {killed} of {len(counted)} killed "
              f"({100 * killed / max(1, len(counted)):.1f}%), --seed {seed}, "
              f"{time.perf_counter() - start:.0f} s")
        for m in survivors:
            print(f"  SURVIVED: {describe(m, base)}")
    if args.curated:
        curated = curated_score(files, args.jobs)
        print("curated (tests/mutants.py, the same files): " +
              ("none of its mutants are in these files" if curated is None else
               f"{curated[0]} of {curated[1]} killed ({100 * curated[0] / curated[1]:.1f}%)"))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
