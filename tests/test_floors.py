"""The two floors: the textbook (numpygam.functional) imports nothing of the fast floor
(numpygam.fast), and what a student reads (its op bodies, the homework's answer keys)
is the formula: no threads, batch shares, DFTs, allocator settings or timing comments."""
import ast
import inspect
import re
from pathlib import Path

import pytest

import numpygam
import numpygam.functional as F
from numpygam.course.exercises import EXERCISES
from numpygam.course.homework import exercise_source

FUNCTIONAL = Path(numpygam.__file__).parent / "functional"
TEXTBOOK_FILES = sorted(FUNCTIONAL.glob("*.py"))
# what belongs to the fast floor, by name: its package, its helpers, its machinery
FAST_WORDS = re.compile(r"\b(fast|parallel|shares|map_shares|batch_shares|threadpoolctl|"
                        r"threading|ThreadPool|concurrent|mallopt|ctypes|keep_freed_memory|"
                        r"matmul_last|dft|DFT|vecdot)\b")
# a timing comment: "115 us against 472 us", "(benchmarks/bench_idioms.py)", "1.9x faster"
TIMING = re.compile(r"\b\d+(\.\d+)?\s*(us|ms)\b|bench_\w+\.py|\d+(\.\d+)?x faster")


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield "." * node.level + (node.module or "")


@pytest.mark.parametrize("path", TEXTBOOK_FILES, ids=lambda p: p.name)
def test_the_textbook_floor_imports_nothing_of_the_fast_floor(path):
    for name in _imports(path):
        assert not re.match(r"^(\.\.|numpygam\.(fast|memory|parallel))", name), \
            f"{path.name} imports {name}: the textbook floor reads on its own"
        assert name.split(".")[0] not in ("threadpoolctl", "threading", "concurrent", "ctypes",
                                          "os"), f"{path.name} imports {name}"


def test_no_textbook_function_is_a_fast_floor_object():
    for name in dir(F):
        obj = getattr(F, name)
        module = getattr(obj, "__module__", "") or ""
        assert not module.startswith("numpygam.fast"), f"F.{name} comes from {module}"


def _code_without_docstrings(source):
    """The source's code and comments, its docstrings (which may name the fast twin) out."""
    tree = ast.parse(source)
    lines = source.split("\n")
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                for i in range(first.lineno - 1, first.end_lineno):
                    lines[i] = ""
    return "\n".join(lines)


@pytest.mark.parametrize("path", TEXTBOOK_FILES, ids=lambda p: p.name)
def test_textbook_bodies_hold_no_speed_machinery_or_timing_comment(path):
    code = _code_without_docstrings(path.read_text())
    for number, line in enumerate(code.split("\n"), 1):
        assert not FAST_WORDS.search(line), f"{path.name}:{number}: {line.strip()}"
        assert not TIMING.search(line), f"{path.name}:{number}: {line.strip()}"


@pytest.mark.parametrize("name", EXERCISES)
def test_the_answer_keys_show_only_formulas(name):
    """homework --solutions hands these out as model answers."""
    key = exercise_source(name, solutions=True)
    for number, line in enumerate(key.split("\n"), 1):
        assert not TIMING.search(line), f"{name} key, line {number}: {line.strip()}"
        assert not re.search(r"np\.ones\(.*\) @|out=|vecdot|matmul_last|\*=|-=|\+=", line), \
            f"{name} key, line {number}: {line.strip()}"


def test_the_fast_floor_names_each_ops_textbook_twin_and_its_measured_gain():
    from numpygam.fast import TWINS
    for twin in TWINS:
        # the pair's own function: its forward, or its backward where the forward is F's
        fn = twin.fast[0] if twin.fast[0] is not twin.textbook[0] else twin.fast[1]
        module = inspect.getmodule(fn)
        text = (inspect.getdoc(fn) or "") + (inspect.getdoc(module) or "")
        assert "twin" in text, twin.name
        assert TIMING.search(text) or "measured" in text.lower(), twin.name
