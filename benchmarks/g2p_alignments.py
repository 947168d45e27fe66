"""What lesson 11 reads: trained global and local-p models' alignments and errors, small.

    python benchmarks/g2p_alignments.py [--preset quick|full]

Loads the two Luong models (general score, global and local-p windows) that
benchmarks/g2p_table.py trained (RESULTS/<model>/run/checkpoint.npz), decodes every test
word of the split greedily, and writes benchmarks/g2p_alignments_<preset>.json, a few
kilobytes the lesson loads so that it can read trained alignments in CI without training
for minutes:

  * "words": test words where the two models disagree (one right, the other wrong), a
    seeded draw of SHOWN, each with both outputs, their attention weights (rounded to 3 decimals) and the
    word's pronunciations;
  * "diagonal": for each model, the mean distance (in letters) between the letter with
    the most weight and the letter a straight diagonal would give, over the test words;
  * "errors": for each model, the WER over all test words and over test words with a
    silent-letter spelling (SILENT), and the share of wrong words whose every edit from
    the closest pronunciation is one vowel put for another (VOWELS);
  * "disagreements": how many test words exactly one model gets right, and the share
    of them where the two outputs differ only by vowels put for vowels;
  * where it came from: the checkpoints' steps and the command.

Every figure is computed here from the checkpoints; nothing is typed.
"""
import argparse
import json
import os
import re
import time
from pathlib import Path

import numpy as np

from numpygam.checkpoint import CheckpointError
from numpygam.tasks import make_batch
from numpygam.tasks.g2p import edit_distance
from numpygam.train import Trainer

HERE = Path(__file__).resolve().parent
MODELS = {"global": "gru-luong-global-general", "local-p": "gru-luong-local-p-general"}
VOWELS = set("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())
# spellings with a letter English does not pronounce: kn-ight, ps-alm, wr-ite, cli-mb,
# thou-gh, lis-ten, i-sland
SILENT = re.compile(r"^(kn|ps|wr|gn)|mb$|gh|stl|sten$|isl")
SHOWN = 8  # disagreeing words kept, half where each model is the right one


def edits(out, ref):
    """The edit operations of one cheapest alignment of out to ref: a list of
    ("sub", a, b), ("ins", a) (a phone of out not in ref) and ("del", b).  Of tied
    alignments, the walk back from the end takes a substitution (or match) first, so when
    putting phone for phone is as cheap as anything, that is the alignment returned."""
    n, m = len(out), len(ref)
    cost = np.zeros((n + 1, m + 1), dtype=int)
    cost[:, 0], cost[0, :] = range(n + 1), range(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(cost[i - 1, j] + 1, cost[i, j - 1] + 1,
                             cost[i - 1, j - 1] + (out[i - 1] != ref[j - 1]))
    ops, i, j = [], n, m
    while i or j:
        if i and j and cost[i, j] == cost[i - 1, j - 1] + (out[i - 1] != ref[j - 1]):
            if out[i - 1] != ref[j - 1]:
                ops.append(("sub", out[i - 1], ref[j - 1]))
            i, j = i - 1, j - 1
        elif i and cost[i, j] == cost[i - 1, j] + 1:
            ops.append(("ins", out[i - 1]))
            i -= 1
        else:
            ops.append(("del", ref[j - 1]))
            j -= 1
    return ops[::-1]


def vowel_only(out, refs):
    """Whether out differs from its closest reference only by vowels put for vowels."""
    best = min(refs, key=lambda r: edit_distance(out, r))
    ops = edits(out, best)
    return bool(ops) and all(op[0] == "sub" and op[1] in VOWELS and op[2] in VOWELS
                             for op in ops)


def off_diagonal(word, weights, n_phones):
    """The mean distance, in letters, between the letter with the most weight in each of
    the first n_phones rows of weights (len(out) + 1, len(word)) and the letter a straight
    diagonal from the first letter to the last gives; None for an empty output."""
    rows = weights[:n_phones]
    if len(rows) == 0:
        return None
    diagonal = np.linspace(0, len(word) - 1, len(rows))
    return float(np.mean(np.abs(rows.argmax(axis=1) - diagonal)))


def decode(trainer, words, batch_size=250):
    """[(output phones (tuple), weights (len(out) + 1, len(word)))] by greedy decoding."""
    trainer.model.eval()
    results = []
    for start in range(0, len(words), batch_size):
        chunk = words[start:start + batch_size]
        batch = make_batch([(w, "") for w in chunk], trainer.src_vocab, trainer.tgt_vocab)
        tokens, weights = trainer.model.greedy(batch.src, batch.src_lengths,
                                               trainer.max_out + 1)
        for row, w, word in zip(tokens, weights, chunk):
            text = trainer.tgt_vocab.decode(row)
            phones = tuple(text.split()) if text else ()
            results.append((phones, w[:len(phones) + 1, :len(word)]))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=("quick", "full"), default="quick")
    parser.add_argument("--results", default=None, help="default benchmarks/g2p_results/PRESET")
    args = parser.parse_args(argv)
    results = Path(args.results or HERE / "g2p_results" / args.preset)
    trainers, decoded = {}, {}
    for name, folder in MODELS.items():
        path = results / folder / "run" / "checkpoint.npz"
        if not path.exists():
            raise SystemExit(f"{path}: not found; train it first: python benchmarks/"
                             f"g2p_table.py --preset {args.preset}")
        try:
            trainers[name] = Trainer.load(str(path))
        except CheckpointError as err:
            raise SystemExit(f"{err}; retrain it: python benchmarks/g2p_table.py --preset "
                             f"{args.preset}") from None
        print(f"{name}: {path}, step {trainers[name].step}", flush=True)
    test = trainers["global"].split[2]
    if trainers["local-p"].split[2] != test:
        raise SystemExit("the two runs were trained on different splits")
    references = {w: [tuple(r.split()) for r in trainers["global"].references[w]] for w in test}
    for name, trainer in trainers.items():
        decoded[name] = decode(trainer, test)
    right = {name: [out in references[w] for w, (out, _) in zip(test, decoded[name])]
             for name in MODELS}
    silent = [i for i, w in enumerate(test) if SILENT.search(w)]
    summary = {"diagonal": {}, "errors": {}}
    for name in MODELS:
        distances = [off_diagonal(w, weights, len(out))
                     for w, (out, weights) in zip(test, decoded[name])]
        wrong = [i for i, r in enumerate(right[name]) if not r]
        summary["diagonal"][name] = round(float(np.mean([d for d in distances
                                                         if d is not None])), 3)
        summary["errors"][name] = {
            "wer": round(len(wrong) / len(test), 4),
            "silent_words": len(silent),
            "wer_silent": round(sum(not right[name][i] for i in silent) / len(silent), 4),
            "vowel_only_share": round(sum(vowel_only(decoded[name][i][0], references[test[i]])
                                          for i in wrong) / len(wrong), 4)}
    # where exactly one is right: do the two outputs differ only in vowels?
    disagree = [i for i in range(len(test)) if right["global"][i] != right["local-p"][i]]
    summary["disagreements"] = {
        "words": len(disagree),
        "vowel_only_share": round(sum(vowel_only(decoded["global"][i][0],
                                                 [decoded["local-p"][i][0]])
                                      for i in disagree) / len(disagree), 4)}
    words = []
    for winner, loser in (("global", "local-p"), ("local-p", "global")):
        candidates = [i for i, w in enumerate(test) if 6 <= len(w) <= 10
                      and right[winner][i] and not right[loser][i]]
        # a seeded draw, not the first ones: the test words are sorted, all "a..." first
        picked = np.random.default_rng(0).permutation(candidates)[:SHOWN // 2]
        for i in sorted(picked):
            words.append({"word": test[i], "right": winner,
                          "references": [" ".join(r) for r in references[test[i]]],
                          **{name: {"output": " ".join(decoded[name][i][0]),
                                    "weights": np.round(decoded[name][i][1], 3).tolist()}
                             for name in MODELS}})
    out = HERE / f"g2p_alignments_{args.preset}.json"
    tmp = out.with_suffix(".tmp")  # then os.replace: a kill leaves the old file or the new
    tmp.write_text(json.dumps({
        "made_by": f"python benchmarks/g2p_alignments.py --preset {args.preset}",
        "date": time.strftime("%Y-%m-%d"), "test_words": len(test),
        "steps": {name: t.step for name, t in trainers.items()},
        "commands": {name: json.loads((results / folder / "result.json").read_text())["command"]
                     for name, folder in MODELS.items()},
        **summary, "words": words}, indent=1) + "\n")
    os.replace(tmp, out)
    print(json.dumps(summary, indent=1))
    print(f"wrote {out} ({out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
