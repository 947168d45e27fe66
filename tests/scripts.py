"""The repository's scripts (benchmarks/*.py, book/build.py), imported as modules by tests."""
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_script(*parts):
    """The script at ROOT/parts..., e.g. load_script("benchmarks", "gam_ablation.py"),
    executed as a fresh module (its main() is not run: the scripts guard it), with its
    folder first on sys.path as when Python runs it (so it imports its neighbours)."""
    path = os.path.join(ROOT, *parts)
    spec = importlib.util.spec_from_file_location(os.path.splitext(parts[-1])[0], path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(path))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(os.path.dirname(path))
    return module
