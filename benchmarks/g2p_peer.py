"""Phonetisaurus, a real G2P tool (joint-sequence n-gram WFSTs), on numpygam's split.

    pip install phonetisaurus==0.3.0   # ships its binaries (OpenFst, MITLM) for x86-64 Linux
    python benchmarks/g2p_peer.py --split runs/<run>/split [--out result.json]

Trains Phonetisaurus (its defaults: EM alignment, an 8-gram joint model) on every
pronunciation of the words in split/train.txt, predicts the words of split/test.txt
(1-best), and scores them with numpygam's own WER and PER (numpygam/tasks/g2p.py), so
that the comparison is on exactly the same words and the same metrics.
"""
import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from numpygam.tasks import g2p


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", required=True, help="a run's split/ folder")
    parser.add_argument("--out", default=None, help="write the result as JSON here")
    args = parser.parse_args(argv)
    try:
        import phonetisaurus
    except ImportError:
        raise SystemExit("pip install phonetisaurus==0.3.0 (it ships its binaries)") from None
    split = Path(args.split)
    train_words = (split / "train.txt").read_text().split()
    test_words = (split / "test.txt").read_text().split()
    dictionary = g2p.load_cmudict()
    lexicon = {w: [list(p) for p in dictionary[w]] for w in train_words}
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "model.fst"
        phonetisaurus.train(lexicon, model)
        trained = time.time() - start
        predicted = dict(phonetisaurus.predict(test_words, model))
    outputs = [predicted.get(w, []) for w in test_words]
    wer, per = g2p.error_rates(outputs, [dictionary[w] for w in test_words])
    result = {"model": "Phonetisaurus 0.3.0 (8-gram joint model)", "greedy": [100 * wer, 100 * per],
              "beam": None, "parameters": None, "train_seconds": trained,
              "seconds": time.time() - start,
              "peak_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
              "command": f"python benchmarks/g2p_peer.py --split {args.split}",
              "test_words": len(test_words)}
    print(f"Phonetisaurus on {len(test_words)} test words: WER {100 * wer:.2f}%  "
          f"PER {100 * per:.2f}%  (trained in {trained:.0f} s)")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
