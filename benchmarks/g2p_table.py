"""The spelling-to-sound table: numpygam's models and Phonetisaurus on one split of CMUdict.

    python benchmarks/g2p_table.py [--preset quick|full] [--models NAME ...] [--no-peer]

Trains each model with `python -m numpygam train --task g2p` (a subprocess each, its
output kept in RESULTS/<model>/train.log), scores Phonetisaurus (benchmarks/g2p_peer.py)
on exactly the words of the same split (read from the first run's split/ folder), and
writes the Markdown table to benchmarks/g2p_table_<preset>.md: WER and PER on the test
words (greedy, and beam 5 on the first 500), parameters, training time, peak memory, the
machine and the command.  Every figure in the table is parsed from what the runs
printed: generated, never typed.  A finished model's results (RESULTS/<model>/result.json)
are reused when the script runs again, so an interrupted table resumes, and every model
with a result there has its row, named by --models or not.  Where
benchmarks/g2p_ensemble.py has written RESULTS/ensemble-*/result.json (trained models decoded
together), a row is added for each.

Published CMUdict results are listed below the table (PUBLISHED) only where they were
checked against the paper's own text, and flagged: other splits, other dictionary versions,
so they sit beside the table, never in it.
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = {
    "GRU + Bahdanau (additive)": [],
    "GRU + Luong global (general)": ["--attention", "luong", "--score", "general"],
    "GRU + Luong local-p (general)": ["--attention", "luong", "--score", "general",
                                      "--window", "local-p"],
    "Transformer": ["--model", "transformer"],
    # the first model with dropout (nn.Seq2Seq's, 0.25): tried against the overfitting the
    # full preset shows (training loss 0.04, held-out 70.8%); measured, it did not pay
    "GRU + Bahdanau (additive), dropout 0.25": ["--rnn-dropout", "0.25"],
    # the first model with batches of like lengths (--length-groups): the same steps in
    # less time, and (a check that grouping costs no accuracy) about the same WER
    "GRU + Bahdanau (additive), in length groups": ["--length-groups", "16"],
    # batches of like lengths (--length-groups) halve a step: the time bought went to
    # more steps, and more steps to dropout; measured, it did not pay either (29.47%)
    "GRU + Bahdanau (additive), dropout 0.2, 50000 steps in length groups":
        ["--rnn-dropout", "0.2", "--steps", "50000", "--eval-every", "10000",
         "--length-groups", "16"],
    # a second run in length groups, another seed (weights and batches; the split is fixed):
    # with the first, two models whose training adds up to under 90 minutes, for an ensemble
    "GRU + Bahdanau (additive), in length groups, seed 1":
        ["--length-groups", "16", "--seed", "1"],
    # Luong's local-p attention with the full preset, in length groups (half the time of
    # random batches, and the same WER, for Bahdanau's above): local attention's home
    "GRU + Luong local-p (general), in length groups":
        ["--attention", "luong", "--score", "general", "--window", "local-p",
         "--length-groups", "16"],
}
FIGURES = {
    "greedy": re.compile(r"test split, greedy: WER ([\d.]+)%  PER ([\d.]+)%"),
    "beam": re.compile(r"test split, beam 5: WER ([\d.]+)%  PER ([\d.]+)%"),
    "greedy_beam_words": re.compile(r"greedy on the same words: WER ([\d.]+)%  PER ([\d.]+)%"),
    "parameters": re.compile(r"; (\d+) parameters"),
}


def read_json(path):
    """A result file this script wrote; a garbled one is one line saying what to do."""
    try:
        return json.loads(path.read_text())
    except ValueError as err:
        raise SystemExit(f"{path}: not a result file ({err}); delete it and run again to "
                         "redo that row") from None


def write_json(path, result):
    """Through a temporary file and os.replace: a kill leaves the old file or the new."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, path)


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def train(name, args, preset, results):
    folder = results / slug(name)
    done = folder / "result.json"
    if done.exists():
        print(f"{name}: reusing {done}", flush=True)
        return parse(read_json(done), folder / "train.log")
    command = [sys.executable, "-m", "numpygam", "train", "--task", "g2p", "--preset", preset,
               *args, "--out", str(folder / "run"), "--force"]
    print(f"{name}: {' '.join(command[1:])}", flush=True)
    start = time.time()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "train.log", "w") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True)
        for line in process.stdout:  # progress, as it comes
            log.write(line)
            if line.startswith(("step", "  held-out", "test split")):
                print(f"  {line.rstrip()}", flush=True)
        # wait4, not wait: this child's own peak memory (RUSAGE_CHILDREN is the largest of
        # every child so far)
        _, status, usage = os.wait4(process.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{name}: training failed (exit {code}); see {folder / 'train.log'}")
    result = {"model": name, "seconds": time.time() - start,
              "peak_mib": usage.ru_maxrss / 1024, "peak_of_this_run": True,
              "command": "python -m numpygam " + " ".join(command[3:-3]),
              "split": str(folder / "run" / "split")}
    result = parse(result, folder / "train.log")
    write_json(done, result)
    return result


def parse(result, log):
    """result with each of FIGURES it lacks read from the run's log (a figure a later
    version prints is read from an older log too, where it is there)."""
    text = log.read_text() if log.exists() else ""
    for key, pattern in FIGURES.items():
        if result.get(key) is None:
            match = pattern.search(text)
            result[key] = [float(g) for g in match.groups()] if match else None
    return result


def peer(split, results):
    done = results / "phonetisaurus" / "result.json"
    if done.exists():
        return read_json(done)
    done.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    subprocess.run([sys.executable, str(HERE / "g2p_peer.py"), "--split", split, "--out",
                    str(done)], check=True)
    result = read_json(done)
    result["seconds"] = time.time() - start
    write_json(done, result)
    return result


# (paper, system, WER %, PER % or None, where the figure is stated): only figures read in
# the paper's own text.  The other starting points (Bisani & Ney 2008, Yao & Zweig
# 2015, Toshniwal & Livescu 2016, Yolchuyeva et al. 2019) are left out until their tables
# are read: the abstracts give no figures.
PUBLISHED = [
    ("Rao et al. 2015, ICASSP (doi:10.1109/ICASSP.2015.7178767)", "DBLSTM-CTC", 25.8, None,
     "abstract"),
    ("Rao et al. 2015", "DBLSTM-CTC combined with a joint n-gram model", 21.3, None, "abstract"),
    ("Rao et al. 2015", "the previous best they cite, a hybrid system", 23.4, None, "abstract"),
]


def table(rows, preset):
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [f"# Spelling to sound on CMUdict: the {preset} preset", "",
             f"Generated by `python benchmarks/g2p_table.py --preset {preset}` on {machine}, "
             f"{time.strftime('%Y-%m-%d')}. One split by word (numpygam.tasks.g2p, seed "
             "2016: 90% train, 5% valid, 5% test); every model and Phonetisaurus are scored "
             "on the same test words. WER: words whose output is none of their "
             "pronunciations; PER: phone edit distance to the closest pronunciation over its "
             "length. Beam 5 is scored on the first 500 test words (in brackets: greedy on "
             "those same words, where the run printed it).", "",
             "| model | WER greedy | PER greedy | WER beam 5 | PER beam 5 | parameters | "
             "training time | peak memory | command |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def pct(key, i):
            return f"{r[key][i]:.2f}%" if r.get(key) else "-"
        params = f"{int(r['parameters'][0]):,}" if r.get("parameters") else "-"
        # results written before wait4 hold the largest peak of every child so far: a bound
        bound = "" if r.get("peak_of_this_run") or "Phonetisaurus" in r["model"] else "≤ "
        def beam(i):  # and greedy on the same 500 words, where the run printed it
            same = r.get("greedy_beam_words")
            return pct("beam", i) + (f" ({same[i]:.2f}%)" if same and r.get("beam") else "")
        lines.append(f"| {r['model']} | {pct('greedy', 0)} | {pct('greedy', 1)} | "
                     f"{beam(0)} | {beam(1)} | {params} | "
                     f"{r['seconds'] / 60:.1f} min | {bound}{r.get('peak_mib', 0):.0f} MiB | "
                     f"`{r['command']}` |")
    if any(r.get("singles") for r in rows):
        lines += ["", "An ensemble (benchmarks/g2p_ensemble.py) decodes with its models together; "
                  "its training time is its models' runs added up, and its decoding."]
    missing = [name for name in MODELS if name not in {r["model"] for r in rows}]
    if missing:
        lines += ["", f"Not trained with the {preset} preset in this table: "
                  f"{', '.join(missing)} (no run of theirs in the results folder)."]
    lines += ["", "Published CMUdict results, **not comparable row by row**: other splits "
              "(the papers' own test sets), other dictionary versions and, for some, stress "
              "kept. Listed only where the figure was read in the paper's own text.", "",
              "| paper | system | WER | PER | stated in |", "|---|---|---|---|---|"]
    lines += [f"| {paper} | {system} | {wer:.1f}% | {'-' if per is None else f'{per:.2f}%'} | "
              f"{where} |" for paper, system, wer, per, where in PUBLISHED]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=("quick", "full"), default="quick")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--results", default=None, help="default benchmarks/g2p_results/PRESET")
    args = parser.parse_args(argv)
    results = Path(args.results or HERE / "g2p_results" / args.preset)
    # the models --models names are trained (or their results reused); a model trained
    # before keeps its row when --models leaves it out: adding one row drops none
    rows = [train(name, MODELS[name], args.preset, results) for name in MODELS
            if name in args.models or (results / slug(name) / "result.json").exists()]
    if not rows:
        raise SystemExit("no model trained yet: name one with --models (Phonetisaurus is "
                         "scored on the words of a model's split)")
    # benchmarks/g2p_ensemble.py's, where it has been run: a folder for each ensemble
    rows += [read_json(path) for path in sorted(results.glob("ensemble-*/result.json"))]
    if not args.no_peer:
        rows.append(peer(rows[0]["split"], results))
    out = HERE / f"g2p_table_{args.preset}.md"
    out.write_text(table(rows, args.preset))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
