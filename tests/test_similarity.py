"""numpygam.course.similarity: copies found through renaming and reordering, obvious
one-liners not flagged, and hostile files answered with a reason, never a crash."""
import ast
import json
import os
import sys
import textwrap
import time

import pytest

from numpygam.course import similarity
from numpygam.course.exercises import EXERCISES
from numpygam.course.homework import exercise_source
from numpygam.course.similarity import MAX_BYTES, MIN_SIZE, fingerprint_files, normalised, similar

GRU = exercise_source("gru_step", solutions=True)
GRU_FUNCTION = GRU[GRU.index("def _step_backward"):GRU.index("# %% [markdown]\n# ## Check")]

# the reference _step_backward as a copier would disguise it: other names (parameters
# too), another docstring, the independent lines in another order, comments
GRU_COPY = '''def _step_backward(grad, prev, reset, update, cand, hidden_n):
    """My GRU step."""
    d_update = grad * (prev - cand)          # update gate first
    d_cand = grad * (1 - update)
    pre_z = d_update * update * (1 - update)
    pre_n = d_cand * (1 - cand * cand)
    pre_r = pre_n * hidden_n * reset * (1 - reset)
    out_h = np.concatenate([pre_r, pre_z, pre_n * reset], axis=1)
    out_i = np.concatenate([pre_r, pre_z, pre_n], axis=1)
    return out_i, out_h, grad * update


'''


def gru_with(function):
    return GRU.replace(GRU_FUNCTION, function)


def test_a_renamed_reordered_copy_is_the_same_solution():
    copy = gru_with(GRU_COPY)
    assert copy != GRU and "dh_new" not in copy.split("# %% [markdown]\n# ## Check")[0]
    write = EXERCISES["gru_step"].write
    assert normalised(copy, write) == normalised(GRU, write)


CONV = exercise_source("conv2d", solutions=True)
CONV_BODY = CONV[CONV.index("    W, G, K = cache.W"):CONV.index("    return pad2d_backward(")]

# conv2d's reference lines disguised: the unpacking split into lines, names changed,
# independent lines swapped, in the loop too (the two appends)
CONV_COPY = """\
    K = cache.W.shape[2]
    weights = cache.W
    groups = cache.groups
    B, C, Hp, Wp = cache.xp_shape
    per_group = weights.shape[0] // groups
    flat = dy.transpose(1, 0, 2, 3).reshape(weights.shape[0], -1)
    dxp, dW = [], []
    for i in range(groups):
        w_i = weights[i * per_group:(i + 1) * per_group].reshape(per_group, -1)
        d_i = flat[i * per_group:(i + 1) * per_group]
        dxp.append(col2im(w_i.T @ d_i, (B, C // groups, Hp, Wp), K, cache.stride))
        dW.append((d_i @ cache.cols[i].T).reshape(per_group, C // groups, K, K))
    db = dy.sum(axis=(0, 2, 3)) if cache.has_bias else None
"""


def test_independent_statements_count_in_any_order():
    write = EXERCISES["conv2d"].write
    copy = CONV.replace(CONV_BODY, CONV_COPY)
    assert copy != CONV and normalised(copy, write) != normalised(CONV.replace(
        CONV_BODY, CONV_COPY.replace("dxp.append", "dW.append", 1)), write)
    assert normalised(copy, write)[0] == normalised(CONV, write)[0]
    # the same at the top of a body: calls for their effect, swapped
    lines = ["cache.log.append(1)", "print(de)", "return de * 2"]
    first, second = (softmax("\n".join(order) + "\n", "de, cache")
                     for order in (lines, [lines[1], lines[0], lines[2]]))
    assert normalised(first, ["softmax_backward"]) == normalised(second, ["softmax_backward"])
    # a call that changes nothing is dead code: print or repr, it is not compared
    assert normalised(first, ["softmax_backward"])[0] == normalised(
        first.replace("print", "repr"), ["softmax_backward"])[0]
    # ... while a call whose change is returned counts
    kept = softmax("out = []\nout.append(de)\nreturn out\n", "de, cache")
    assert normalised(kept, ["softmax_backward"])[0] != normalised(
        kept.replace("append", "extend"), ["softmax_backward"])[0]


@pytest.mark.parametrize("old, new", [
    ("grad * (prev - cand)", "grad * (cand - prev)"),         # another formula (a sign)
    ("grad * (1 - update)", "grad * (2 - update)"),           # a constant
    ("pre_n * reset], axis=1)", "pre_n * reset], axis=0)"),   # a keyword's value
    ("np.concatenate([pre_r, pre_z, pre_n],", "np.stack([pre_r, pre_z, pre_n],"),  # a call
    ("return out_i, out_h,", "return out_h, out_i,"),          # which value goes where
    ("pre_r = pre_n * hidden_n", "pre_r = pre_z * hidden_n"),  # the data flow
])
def test_a_different_solution_is_not_the_same(old, new):
    assert old in GRU_COPY
    write = EXERCISES["gru_step"].write
    assert normalised(gru_with(GRU_COPY.replace(old, new)), write)[0] != normalised(GRU, write)[0]


SOFTMAX_HEADER = "import numpy as np\n\n\n"


def softmax(body, parameters="dweights, cache"):
    return SOFTMAX_HEADER + f"def softmax_backward({parameters}):\n" + textwrap.indent(
        textwrap.dedent(body), "    ")


def test_names_docstrings_and_temporaries_do_not_count_attributes_and_order_do():
    reference = softmax("""\
        a = cache.weights
        return a * (dweights - np.sum(a * dweights, axis=-1, keepdims=True))
        """)
    same = [
        softmax('''\
            """Softmax's backward."""
            probs = c0.weights  # renamed, the parameters too
            return probs * (g - np.sum(probs * g, axis=-1, keepdims=True))
            ''', "g, c0"),
        softmax("""\
            return cache.weights * (dweights - np.sum(cache.weights * dweights, axis=-1,
                                                      keepdims=True))
            """),  # the temporary written in place
        softmax("""\
            a = cache.weights
            b = dweights
            s = np.sum(a * b, axis=-1, keepdims=True)
            return a * (b - s)
            """),
        softmax("""\
            a = cache.weights
            d = dweights
            d -= np.sum(a * dweights, axis=-1, keepdims=True)
            return a * d
            """),  # x -= v is x = x - v
    ]
    # names, a docstring and a comment: neither the key nor the size changes
    assert normalised(same[0], ["softmax_backward"]) == normalised(reference, ["softmax_backward"])
    for source in same:
        assert normalised(source, ["softmax_backward"])[0] == normalised(
            reference, ["softmax_backward"])[0], source
    different = [
        reference.replace("np.sum", "np.mean"),            # a library function
        reference.replace("cache.weights", "cache.probs"),  # an attribute
        softmax("""\
            a = cache.weights
            a = np.exp(a)
            a = a * 2
            return a * dweights
            """),
        softmax("""\
            a = cache.weights
            a = a * 2
            a = np.exp(a)
            return a * dweights
            """),  # dependent lines: their order counts
    ]
    keys = {normalised(s, ["softmax_backward"])[0] for s in different + [reference]}
    assert len(keys) == len(different) + 1


def test_only_the_written_functions_count():
    with_extra = softmax("return cache.weights\n") + "\n\ndef helper(x):\n    return x + 1\n"
    assert normalised(with_extra, ["softmax_backward"]) == normalised(
        softmax("return cache.weights\n"), ["softmax_backward"])
    with pytest.raises(ValueError, match="^defines no function dx$"):
        normalised(with_extra, ["softmax_backward", "dx"])


def test_two_students_writing_the_obvious_softmax_line_are_not_flagged():
    alice = softmax("return cache.weights * (dweights - (cache.weights * dweights)"
                    ".sum(axis=-1, keepdims=True))\n")
    bob = softmax("return c.weights * (d - (c.weights * d).sum(axis=-1, keepdims=True))\n",
                  "d, c")
    (key_a, size_a), (key_b, size_b) = (normalised(s, ["softmax_backward"]) for s in (alice, bob))
    assert key_a == key_b and size_a == size_b < MIN_SIZE
    prints = {"alice": (key_a, size_a), "bob": (key_b, size_b)}
    assert similar(prints) == []
    assert similar(prints, min_size=size_a) == [(["alice", "bob"], size_a)]


def test_similar_groups_equal_keys_and_says_how_much_matched():
    prints = {"carol": ("k1", 90), "alice": ("k1", 60), "bob": ("k1", 75), "dave": ("k2", 80),
              "eve": "syntax error: line 3: invalid syntax", "fay": ("k3", 10),
              "gus": ("k3", 10), "hal": ("k2", 40)}
    # hal's key is dave's but only 40 nodes matched: under the threshold of 50
    assert similar(prints, min_size=50) == [(["alice", "bob", "carol"], 60)]
    assert similar(prints, min_size=10) == [(["alice", "bob", "carol"], 60), (["dave", "hal"], 40),
                                            (["fay", "gus"], 10)]


def test_min_size_flags_only_the_solutions_that_can_be_written_many_ways():
    """softmax and context are two lines; channel_gate, gru_step and batch_norm are the
    walkthrough's formulas transcribed (honest students write them alike); conv2d and
    the scores are long enough to be written many ways."""
    sizes = {name: normalised(exercise_source(name, solutions=True), exercise.write)[1]
             for name, exercise in EXERCISES.items()}
    print(sizes)
    long = {"conv2d", "scores"}
    assert all(sizes[name] >= MIN_SIZE for name in long), sizes
    assert all(size < MIN_SIZE for name, size in sizes.items() if name not in long), sizes


@pytest.mark.parametrize("padding", ["dy.ndim", "len(dy)", "assert True", "pass",
                                     "if False:\n        x = 1", "del W"])
def test_dead_code_does_not_hide_a_copy(padding):
    """A copy padded with lines that change nothing is the same solution (an outside
    reviewer evaded the first version with each of these)."""
    write = EXERCISES["conv2d"].write
    if padding == "del W":
        padded = CONV.replace("    return pad2d_backward(", "    del W\n    return pad2d_backward(")
    else:
        padded = CONV.replace("    W, G, K = cache.W", f"    {padding}\n    W, G, K = cache.W")
    assert padded != CONV
    assert normalised(padded, write)[0] == normalised(CONV, write)[0]


def test_an_operator_spelled_as_numpys_function_is_the_same():
    write = EXERCISES["conv2d"].write
    assert "(dy_g @ cache.cols[g].T)" in CONV
    spelled = CONV.replace("(dy_g @ cache.cols[g].T)", "np.matmul(dy_g, cache.cols[g].transpose())")
    assert normalised(spelled, write)[0] == normalised(CONV, write)[0]


def test_the_reference_solutions_each_fingerprint(tmp_path):
    for name, exercise in EXERCISES.items():
        path = tmp_path / f"{name}.py"
        path.write_text(exercise_source(name, solutions=True))
        got = fingerprint_files([str(path)], exercise.write)
        assert got == {str(path): normalised(path.read_text(), exercise.write)}, got


GOOD = softmax("a = cache.weights\nreturn a * (dweights - np.sum(a * dweights, axis=-1, "
               "keepdims=True))\n")
SUM_1000 = "_ = " + "+".join(["1"] * 1000) + "\n"


def test_hostile_files_get_reasons_and_the_files_after_them_are_fingerprinted(tmp_path):
    good_key = normalised(GOOD, ["softmax_backward"])
    (tmp_path / "target.py").write_text(GOOD)
    os.symlink(tmp_path / "target.py", tmp_path / "link.py")
    os.mkfifo(tmp_path / "fifo.py")
    (tmp_path / "folder.py").mkdir()
    bad = {  # file: its content (None: made above), and a word of the reason
        "sum_in_function.py": (softmax("return " + "+".join(["1"] * 1000) + "\n"),
                               "nested too deeply"),
        "unary_101.py": (softmax("return " + "-" * 101 + "dweights\n"), "nested too deeply"),
        "calls.py": ("x = f" + "()" * 200_000 + "\n" + GOOD, "RecursionError"),
        "unary.py": ("x = " + "-" * 1_000_000 + "1\n" + GOOD, "MemoryError"),
        "brackets.py": ("x = " + "[" * 300 + "]" * 300 + "\n" + GOOD, "syntax error"),
        "large.py": (GOOD + "#" * MAX_BYTES + "\n", "too large"),
        "syntax.py": (GOOD + "def broken(:\n", "syntax error: line"),
        "no_function.py": ("import numpy as np\n", "defines no function softmax_backward"),
        "link.py": (None, "a symbolic link: not read"),
        "fifo.py": (None, "not a regular file"),
        "folder.py": (None, "not a regular file"),
        "missing.py": (None, "could not be opened"),
    }
    paths = []
    for i, (name, (text, _)) in enumerate(bad.items()):
        if text is not None:
            (tmp_path / name).write_text(text)
        (tmp_path / f"good{i}.py").write_text(GOOD)
        paths += [str(tmp_path / name), str(tmp_path / f"good{i}.py")]
    # the 1000-term sum that killed the old grader, outside the function: no harm
    (tmp_path / "sum_outside.py").write_text(SUM_1000 + GOOD)
    paths.append(str(tmp_path / "sum_outside.py"))
    with pytest.raises(RecursionError):  # what the old comparison did with it
        ast.dump(ast.parse(SUM_1000))

    got = fingerprint_files(paths, ["softmax_backward"])
    assert set(got) == set(paths)
    for i, (name, (_, word)) in enumerate(bad.items()):
        reason = got[str(tmp_path / name)]
        assert isinstance(reason, str) and word in reason and "\n" not in reason, (name, reason)
        assert got[str(tmp_path / f"good{i}.py")] == good_key, name
    assert got[str(tmp_path / "sum_outside.py")] == good_key


def test_a_file_past_the_memory_limit_gets_a_reason(tmp_path):
    # 1 MB of names parses to ~500,000 nodes: ~700 MiB, past the child's limit
    huge = softmax("return [" + ",".join(["a"] * 499_000) + "]\n")
    assert len(huge) < MAX_BYTES
    (tmp_path / "huge.py").write_text(huge)
    (tmp_path / "good.py").write_text(GOOD)
    got = fingerprint_files([tmp_path / "huge.py", tmp_path / "good.py"], ["softmax_backward"])
    assert "MemoryError" in got[tmp_path / "huge.py"]
    assert got[tmp_path / "good.py"] == normalised(GOOD, ["softmax_backward"])


def test_the_grader_process_never_parses_a_file(tmp_path, monkeypatch):
    expected = normalised(GOOD, ["softmax_backward"])

    def parse(*args, **kwargs):
        raise AssertionError("parsed in the grader's process")
    monkeypatch.setattr(ast, "parse", parse)
    (tmp_path / "good.py").write_text(GOOD)
    got = fingerprint_files([str(tmp_path / "good.py")], ["softmax_backward"])
    assert got == {str(tmp_path / "good.py"): expected}


# a child that misbehaves on request: the parent's side of a crash, a hang, the limits
FAKE_CHILD = """
import json, os, resource, signal, sys, time
request = json.load(sys.stdin)
print(json.dumps({"ready": True}), flush=True)
for i, path in enumerate(request["paths"]):
    name = os.path.basename(path)
    if name.startswith("segv"):
        os.kill(os.getpid(), signal.SIGSEGV)
    if name.startswith("hang"):
        time.sleep(60)
    if name.startswith("limits"):
        limits = {which: resource.getrlimit(getattr(resource, which))
                  for which in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_CORE")}
        print(json.dumps({"i": i, "reason": json.dumps(limits)}), flush=True)
        continue
    print(json.dumps({"i": i, "key": name, "size": 1}), flush=True)
"""


@pytest.fixture
def fake_child(tmp_path, monkeypatch):
    script = tmp_path / "child.py"
    script.write_text(FAKE_CHILD)
    monkeypatch.setattr(similarity, "_child_command", lambda: [sys.executable, str(script)])


def test_a_crash_or_a_hang_costs_only_that_file(fake_child):
    paths = ["a.py", "segv.py", "b.py", "hang.py", "c.py", "segv2.py"]
    start = time.monotonic()
    got = fingerprint_files(paths, ["f"], timeout=1)
    assert time.monotonic() - start < 20  # the hanging child was killed, not waited for
    assert got["a.py"] == ("a.py", 1) and got["b.py"] == ("b.py", 1)
    assert got["c.py"] == ("c.py", 1)
    assert "SIGSEGV" in got["segv.py"] and "SIGSEGV" in got["segv2.py"]
    assert got["hang.py"] == "timed out after 1 s"


def test_the_child_runs_under_the_limits(fake_child):
    reason = fingerprint_files(["limits.py"], ["f"], timeout=2, memory=300 << 20)["limits.py"]
    limits = json.loads(reason)
    assert limits["RLIMIT_AS"] == [300 << 20] * 2
    assert limits["RLIMIT_FSIZE"] == [0, 0] and limits["RLIMIT_CORE"] == [0, 0]
    assert 0 < limits["RLIMIT_CPU"][0] < limits["RLIMIT_CPU"][1] <= 10


@pytest.mark.parametrize("code", ["import sys; sys.exit(3)", "print('garbage', flush=True)",
                                  "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
def test_a_child_that_never_starts_gives_every_file_a_reason(monkeypatch, code):
    monkeypatch.setattr(similarity, "_child_command", lambda: [sys.executable, "-c", code])
    got = fingerprint_files(["a.py", "b.py", "c.py"], ["f"], timeout=5)
    assert set(got) == {"a.py", "b.py", "c.py"}
    assert all(isinstance(r, str) and r.startswith("not fingerprinted") for r in got.values()), got
