"""Trained spelling-to-sound models as one: their log-probabilities averaged at each step.

    python benchmarks/g2p_ensemble.py [--preset full] [--models FOLDER FOLDER ...]

Loads the checkpoints benchmarks/g2p_table.py trained (RESULTS/<folder>/run/checkpoint.npz,
by default the full preset's GRU + Bahdanau models with and without dropout), and decodes
every test word of their split greedily with all of them at once: at step t each model
reads the same previous phone y_{t-1} and gives log p_m(y_t | y_<t, word); the ensemble
picks

    y_t = argmax_y  (1/M) sum_m log p_m(y | y_<t, word)

(the models' geometric mean, renormalised or not, has the same argmax), the way ensembles
of attention models are decoded in the G2P papers (Toshniwal & Livescu 2016's best row is
one).  It prints each model's own greedy WER and PER on the same words (they must equal
the table's rows: a check that the checkpoints are the ones the table scored) and the
ensemble's, and writes RESULTS/ensemble-<its models' folders, joined by -and->/result.json,
which g2p_table.py adds to its table (a row for each ensemble).
Its training time is the sum of its models' runs: an ensemble costs all of them.
"""
import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
from g2p_table import read_json

from numpygam.checkpoint import CheckpointError
from numpygam.nn.decoding import greedy_search
from numpygam.tasks import make_batch
from numpygam.tasks.g2p import error_rates
from numpygam.train import Trainer

HERE = Path(__file__).resolve().parent
DEFAULT = ("gru-bahdanau-additive", "gru-bahdanau-additive-dropout-0-25")


def load(results, folder, preset):
    path = results / folder / "run" / "checkpoint.npz"
    if not path.exists():
        raise SystemExit(f"{path}: not found; train it first: python benchmarks/g2p_table.py "
                         f"--preset {preset}")
    try:
        return Trainer.load(str(path))
    except CheckpointError as err:
        raise SystemExit(f"{err}; retrain it with benchmarks/g2p_table.py") from None


def read_result(results, folder):
    """g2p_table.py's result file of a trained model: its name, parameters and time."""
    path = results / folder / "result.json"
    if not path.exists():
        raise SystemExit(f"{path}: not found; g2p_table.py writes it when the model's run "
                         "ends (run it again to finish that row)")
    row = read_json(path)
    if not isinstance(row, dict) or not {"model", "parameters", "seconds"} <= set(row):
        raise SystemExit(f"{path}: not a result file of g2p_table.py; delete it and run "
                         "g2p_table.py again to redo that row")
    return row


def ensemble_greedy(trainers, words, batch_size=250):
    """Greedy decoding of words by the models together -> the output text of each word."""
    first = trainers[0]
    outputs = []
    for start in range(0, len(words), batch_size):
        chunk = words[start:start + batch_size]
        batch = make_batch([(w, "") for w in chunk], first.src_vocab, first.tgt_vocab)
        steps, states = [], []
        for trainer in trainers:  # in eval mode (main): no caches kept, no dropout
            memory, state, _ = trainer.model.encode(batch.src, batch.src_lengths)
            steps.append(trainer.model._step_function(memory))
            states.append(state)

        def step(y, states, t):
            outs = [f(y, s, t) for f, s in zip(steps, states)]
            logp = np.mean([logp for logp, _, _ in outs], axis=0)
            return logp, [s for _, s, _ in outs], outs[0][2]

        tokens, _ = greedy_search(step, states, len(chunk), first.max_out + 1)
        outputs += [first.tgt_vocab.decode(row) for row in tokens]
    return outputs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=("quick", "full"), default="full")
    parser.add_argument("--models", nargs="+", default=list(DEFAULT),
                        help="folders under RESULTS (at least two)")
    parser.add_argument("--results", default=None, help="default benchmarks/g2p_results/PRESET")
    args = parser.parse_args(argv)
    if len(args.models) < 2:
        raise SystemExit("--models: name at least two trained models' folders")
    results = Path(args.results or HERE / "g2p_results" / args.preset)
    start = time.time()
    rows = [read_result(results, folder) for folder in args.models]  # before minutes of work
    trainers = [load(results, folder, args.preset) for folder in args.models]
    for trainer in trainers:
        trainer.model.eval()
    first = trainers[0]
    for folder, trainer in zip(args.models[1:], trainers[1:]):
        if trainer.split != first.split or trainer.tgt_vocab.itos != first.tgt_vocab.itos \
                or trainer.src_vocab.itos != first.src_vocab.itos:
            raise SystemExit(f"{folder}: another split or vocabulary than {args.models[0]}; "
                             "an ensemble needs the same words and symbols")
    test = first.split[2]
    references = [[tuple(r.split()) for r in first.references[w]] for w in test]
    singles = []
    for folder, trainer in zip(args.models, trainers):
        wer, per = trainer.error_rates(test)
        singles.append((folder, wer, per))
        print(f"{folder}: greedy WER {wer:.2%}  PER {per:.2%}  ({len(test)} words)", flush=True)
    wer, per = error_rates([tuple(o.split()) for o in ensemble_greedy(trainers, test)],
                           references)
    print(f"ensemble of {len(trainers)}: greedy WER {wer:.2%}  PER {per:.2%}  "
          f"({len(test)} words)")
    result = {
        "model": "Ensemble of " + "; ".join(r["model"] for r in rows[:-1]) + " and "
                 + rows[-1]["model"] + " (log-probabilities averaged, greedy)",
        "greedy": [round(100 * wer, 2), round(100 * per, 2)],
        "parameters": [sum(r["parameters"][0] for r in rows)],
        # an ensemble costs the training of all its models, and this decoding
        "seconds": sum(r["seconds"] for r in rows) + time.time() - start,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_of_this_run": True,
        "command": "python benchmarks/g2p_ensemble.py --preset " + args.preset + " --models "
                   + " ".join(args.models),
        "singles": [[folder, round(100 * w, 2), round(100 * p, 2)] for folder, w, p in singles],
    }
    # one folder per ensemble, named by its models: the table has a row for each
    out = results / ("ensemble-" + "-and-".join(args.models)) / "result.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
