"""Command line.

    python -m numpygam train [--steps N] [--attention luong] [--score general] ...
    python -m numpygam translate "tuesday, march 5, 1991" [--beam 5]
    python -m numpygam check [--only NAME] [--seed S]
    python -m numpygam homework my_homework;  python -m numpygam grade softmax --dir my_homework
"""
import argparse
import dataclasses
import os
import sys
import time

MAX_INPUT = 40  # longest input `translate` accepts (the longest training date is 29)


def _train_parser(sub):
    from .train import TrainConfig
    p = sub.add_parser("train", help="train the date translator (the main job)")
    for field in dataclasses.fields(TrainConfig):
        p.add_argument("--" + field.name.replace("_", "-"), type=type(field.default),
                       default=field.default)
    p.add_argument("--out", default=None, help="run folder (default runs/<time>)")
    p.add_argument("--resume", default=None, help="a checkpoint.npz to continue from")


def _translate(args):
    from .plots import attention_heatmap, attention_text
    from .train import Trainer, latest_checkpoint
    text = args.text.strip().lower()
    if not text:
        print("error: give a date to translate, e.g. python -m numpygam translate "
              "\"3 may 1979\"", file=sys.stderr)
        return 2
    if len(text) > MAX_INPUT:
        print(f"error: the input has {len(text)} characters; the translator reads at most "
              f"{MAX_INPUT}", file=sys.stderr)
        return 2
    path = args.checkpoint or latest_checkpoint()
    if path is None or not os.path.exists(path):
        print("error: no checkpoint found; run `python -m numpygam train` first (it writes "
              "runs/<time>/checkpoint.npz)", file=sys.stderr)
        return 2
    trainer = Trainer.load(path)
    try:
        out, weights = trainer.translate(text, args.beam)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(out)
    print(attention_text(weights, text, out))
    png = attention_heatmap(weights, text, out, os.path.join(os.path.dirname(path),
                                                             "translate.png"))
    print(f"attention map: {png}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m numpygam",
                                     description="numpygam: attention and GAM in NumPy")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="gradient-check every op and module; non-zero exit on failure")
    check.add_argument("--only", help="check only the ops whose name contains this text")
    check.add_argument("--seed", type=int, default=0)
    _train_parser(sub)
    tr = sub.add_parser("translate", help="translate a date with the last trained model")
    tr.add_argument("text")
    tr.add_argument("--beam", type=int, default=1, help="beam size (1 = greedy)")
    tr.add_argument("--checkpoint", default=None)
    hw = sub.add_parser("homework", help="write the backward-pass exercises into a folder")
    hw.add_argument("folder", nargs="?", default="homework")
    hw.add_argument("--solutions", action="store_true", help="keep the solutions (instructors)")
    gr = sub.add_parser("grade", help="check your backward passes: grade <exercise> or all")
    gr.add_argument("exercise")
    gr.add_argument("--dir", default="homework", help="the folder the exercises were written to")
    args = parser.parse_args(argv)

    if args.command == "homework":
        from .homework import EXERCISES, make_homework
        paths = make_homework(args.folder, solutions=args.solutions)
        print(f"wrote {len(paths)} exercises to {args.folder}/: {', '.join(sorted(EXERCISES))}")
        print(f"check one with: python -m numpygam grade softmax --dir {args.folder}")
        return 0
    if args.command == "grade":
        from .homework import EXERCISES, main_grade
        if args.exercise != "all" and args.exercise not in EXERCISES:
            print(f"error: unknown exercise {args.exercise!r}; choose one of "
                  f"{', '.join(sorted(EXERCISES))} or all", file=sys.stderr)
            return 2
        return main_grade(args.exercise, args.dir)

    if args.command == "check":
        from .checks import format_table, run_checks
        results = run_checks(seed=args.seed, only=args.only)
        print(format_table(results))
        failed = [name for name, report in results if not report.passed]
        print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
        return 1 if failed or not results else 0
    if args.command == "train":
        from .train import TrainConfig, train
        fields = {f.name for f in dataclasses.fields(TrainConfig)}
        config = TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})
        run_dir = args.out or os.path.join("runs", time.strftime("%Y%m%d-%H%M%S"))
        train(config, run_dir, resume=args.resume)
        return 0
    return _translate(args)


if __name__ == "__main__":
    sys.exit(main())
