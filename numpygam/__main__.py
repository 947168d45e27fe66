"""Command line: python -m numpygam check [--only NAME] [--seed S]."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m numpygam",
                                     description="numpygam: attention and GAM in NumPy")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="gradient-check every op and module; non-zero exit on failure")
    check.add_argument("--only", help="check only the ops whose name contains this text")
    check.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.command == "check":
        from .checks import format_table, run_checks
        results = run_checks(seed=args.seed, only=args.only)
        print(format_table(results))
        failed = [name for name, report in results if not report.passed]
        print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
        return 1 if failed or not results else 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
