"""What a student reads, in Chinese: the grader's lines (and results.json), gradcheck's
reports and the exercise files' comments, each English template translated in
numpygam/locale/zh/feedback.po, English wherever a translation is missing."""
import ast
import io
import json
import os
import re
import tokenize
import zipfile

import numpy as np
import polib
import pytest

import numpygam.functional as F
from numpygam.__main__ import main
from numpygam.course import feedback, gradescope, lessons, sandbox, translation
from numpygam.course.exercises import EXERCISES
from numpygam.course.homework import exercise_source, make_homework
from numpygam.gradcheck import gradcheck, set_report_language

PACKAGE = feedback.PACKAGE
CJK = re.compile(r"[\u4e00-\u9fff]")
# an English sentence: three lowercase words or more in a row, a space between each (code,
# paths and formulas taken out first; a shape's letters, "(B, Tq, Tk)", are no sentence)
ENGLISH = re.compile(r"\b[a-z]{2,}(?: [a-z]+){2,}\b")
CODE = re.compile(r"`[^`]*`|\$\$.+?\$\$|\$.+?\$", re.S)
PATH_OR_OPTION = re.compile(r"[\w.<>~-]*/[\w./<>~-]*|--\w[\w-]*")


def english_left(text):
    """The English sentences of text, outside its code, formulas, paths and options."""
    return ENGLISH.findall(PATH_OR_OPTION.sub(" ", CODE.sub(" ", text)))


@pytest.fixture
def chinese_reports():
    previous = set_report_language("zh")
    yield
    set_report_language(previous)


# -- the catalogue -------------------------------------------------------------------------------

def test_every_template_in_the_code_has_a_current_translation_with_the_same_fields():
    """A new English message without its Chinese fails here (and in `book/build.py --lang zh
    --check`), naming it."""
    templates = feedback.templates()
    assert "{name}: not yet ({right}/{total} gradients right)" in templates
    assert "WRONG: the backward pass disagrees with finite differences" in templates
    assert "run this cell, or `python <this file>`" in templates
    assert "a fully masked row" in templates  # a check's variant, from the exercises' table
    entries = {e.msgid: e for e in polib.pofile(translation.catalogue_path("feedback"))
               if not e.obsolete}
    for template in templates:
        entry = entries.get(template)
        assert entry is not None and entry.msgstr, f"no Chinese for {template!r}"
        assert not entry.fuzzy, f"stale Chinese for {template!r}"
        assert feedback.fields(entry.msgstr) == feedback.fields(template), template
        assert CJK.search(entry.msgstr), template
    assert feedback.table("zh").keys() >= set(templates)


def _package_files():
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def test_every_say_call_is_in_a_listed_file_and_says_a_literal_template():
    """templates() reads the templates from the source: a say() elsewhere, or of a
    template computed at run time, would escape the catalogue."""
    listed = {os.path.join(PACKAGE, relative) for relative in feedback.SOURCES}
    for path in _package_files():
        with open(path, encoding="utf-8") as f:
            calls = feedback.say_calls(f.read())
        if path.endswith(os.path.join("course", "feedback.py")):
            continue  # say itself
        if calls:
            assert path in listed, f"{path} calls say(); add it to feedback.SOURCES"
        for line, node in calls:
            assert isinstance(node, ast.Constant) and isinstance(node.value, str), \
                f"{path}:{line}: say() needs a literal template"


def test_a_missing_stale_or_misfielded_translation_is_said_in_english(tmp_path, monkeypatch):
    monkeypatch.setattr(translation, "LOCALE", str(tmp_path))
    po = translation.update("feedback", ["{name}: correct", "{name}: stale", "{n} wrong",
                                         "broken {n}"])
    for entry, zh in zip(po, ["{name}：正确", "{name}：旧的", "{m} 个不对", "坏 {n"]):
        entry.msgstr = zh
    po[1].flags.append("fuzzy")
    po.save(translation.catalogue_path("feedback"))
    assert feedback.say("{name}: correct", "zh", name="dx") == "dx：正确"
    assert feedback.say("{name}: stale", "zh", name="dx") == "dx: stale"
    assert feedback.say("{n} wrong", "zh", n=3) == "3 wrong"
    assert feedback.say("broken {n}", "zh", n=3) == "broken 3"
    assert feedback.say("never translated {n}", "zh", n=3) == "never translated 3"
    assert feedback.say("{name}: correct", "en", name="dx") == "dx: correct"
    with pytest.raises(ValueError, match="lang='fr': expected one of en, zh"):
        feedback.say("{name}: correct", "fr", name="dx")


# -- the grader -------------------------------------------------------------------------------

def _solved(text, function, body):
    stub = f'raise NotImplementedError("your code here: {function}")'
    assert stub in text
    return text.replace(stub, body.strip("\n").replace("\n", "\n    "))


@pytest.fixture
def chinese_folder(tmp_path):
    folder = tmp_path / "hw_zh"  # no Chinese in the paths the lines may name
    assert main(["homework", str(folder), "--lang", "zh"]) == 0
    assert feedback.folder_language(str(folder)) == "zh"
    return folder


def _printed(capsys, argv):
    capsys.readouterr()
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out.strip().split("\n"), captured.err


def test_grading_a_chinese_folder_speaks_chinese_wrong_hanging_and_correct(chinese_folder,
                                                                          capsys):
    """Without --lang: the folder homework --lang zh wrote says its language."""
    context = chinese_folder / "context.py"
    context.write_text(_solved(context.read_text(), "context_backward",
                               "return dc @ cache.values.transpose(0, 2, 1), "
                               "2 * cache.weights.transpose(0, 2, 1) @ dc"))
    softmax = chinese_folder / "softmax.py"
    softmax.write_text(_solved(softmax.read_text(), "softmax_backward", "while True:\n    pass"))
    (chinese_folder / "gru_step.py").write_text(exercise_source("gru_step", solutions=True))
    runs = {}
    for exercise in ("context", "softmax", "gru_step", "scores"):
        runs[exercise] = _printed(capsys, ["grade", exercise, "--dir", str(chinese_folder)])
    for exercise, (status, lines, err) in runs.items():
        assert status == (0 if exercise == "gru_step" else 1), (exercise, lines, err)
        for line in lines:
            assert CJK.search(line) or re.fullmatch(r"[✓✗] [\w, ]+", line), line
            assert english_left(line) == [], line
    context_text = "\n".join(runs["context"][1])
    assert re.search(r"    dvalues：错误：40 个元素中有 40 个不对；差得最多的在下标 \(\d+, \d+, \d+\)："
                     r"你的 [-+][\d.]+，参考答案 [-+][\d.]+，有限差分 [-+][\d.]+"
                     r"（用同样的输入重跑：--seed \d+）", context_text), context_text
    assert "    dweights：正确（最大差值" in context_text
    assert context_text.endswith("context：还没全对（2/4 个梯度正确）")
    softmax_text = "\n".join(runs["softmax"][1])
    assert "用完了 CPU 时间预算" in softmax_text and "死循环" in softmax_text
    assert "softmax_backward（整行都被掩蔽）" in softmax_text
    assert "（大输入，须在 CPU 时间预算内算完）" in softmax_text
    assert runs["gru_step"][1][-1] == "gru_step：梯度全部正确（12/12 个梯度正确）"
    assert "_step_backward（经由 gru_cell_backward）" in runs["gru_step"][1][0]
    assert "还没写：把 `raise NotImplementedError` 换成你的代码" in "\n".join(runs["scores"][1])
    # --lang en speaks English to the same folder, as before
    status, lines, _ = _printed(capsys, ["grade", "gru_step", "--dir", str(chinese_folder),
                                         "--lang", "en"])
    assert status == 0 and lines[-1] == "gru_step: all gradients correct (12/12 gradients right)"


def test_the_time_limit_and_the_runners_reasons_are_said_in_chinese(tmp_path, capsys):
    folder = tmp_path / "hw"
    make_homework(str(folder), exercises=["context", "softmax", "batch_norm"])  # in English
    context = folder / "context.py"
    context.write_text(_solved(context.read_text(), "context_backward",
                               "import time\ntime.sleep(60)"))
    softmax = folder / "softmax.py"
    softmax.write_text(_solved(softmax.read_text(), "softmax_backward",
                               "import sys\nsys.exit(3)"))
    norm = folder / "batch_norm.py"
    norm.write_text(norm.read_text().replace("def batch_norm_dx(", "def batch_norm_dx_("))
    texts = {}
    for exercise, extra in (("context", ["--timeout", "3"]), ("softmax", []),
                            ("batch_norm", [])):
        status, lines, _ = _printed(capsys, ["grade", exercise, "--dir", str(folder), "--lang",
                                             "zh", *extra])
        assert status == 1
        for line in lines:
            assert CJK.search(line) and english_left(line) == [], line
        texts[exercise] = "\n".join(lines)
    assert "到了时间限制（墙钟时间 3 秒），被停止：可能是死循环" in texts["context"]
    assert "调用了 sys.exit(3)；反向计算应当返回梯度" in texts["softmax"]
    assert "文件里没有定义函数 batch_norm_dx：请保留练习给出的函数名和参数" in texts["batch_norm"]


def test_an_english_folder_is_graded_in_english_and_holds_no_marker(tmp_path, capsys):
    make_homework(str(tmp_path), exercises=["softmax"])
    assert sorted(os.listdir(tmp_path)) == ["softmax.py"]
    status, lines, _ = _printed(capsys, ["grade", "softmax", "--dir", str(tmp_path)])
    assert status == 1 and lines[-1] == "softmax: not yet (0/3 gradients right)"
    assert "not written yet: replace `raise NotImplementedError` with your code" in lines[0]


def test_the_marker_survives_the_students_edits_and_rewrites_of_the_exercises(chinese_folder):
    for path in chinese_folder.glob("*.py"):
        path.write_text("# my own file now\n")
    assert feedback.folder_language(str(chinese_folder)) == "zh"
    make_homework(str(chinese_folder))  # an English run leaves the folder's language
    assert feedback.folder_language(str(chinese_folder)) == "zh"
    (chinese_folder / feedback.MARKER).write_text("klingon\n")
    assert feedback.folder_language(str(chinese_folder)) == "en"


def test_a_usage_error_for_a_chinese_student_is_chinese(tmp_path, capsys):
    status, _, err = _printed(capsys, ["grade", "softmax", "--dir", str(tmp_path / "none"),
                                       "--lang", "zh"])
    assert status == 2 and err.startswith("错误：--dir ") and "python -m numpygam homework" in err
    assert english_left(err) == []


@pytest.mark.skipif(sandbox.unavailable(strict=True) is not None,
                    reason=f"no sandbox here: {sandbox.unavailable(strict=True)}")
def test_gradescope_results_in_chinese_and_the_zip_that_says_so(tmp_path, capsys):
    zip_path = tmp_path / "autograder.zip"
    assert main(["autograder", str(zip_path), "--lang", "zh"]) == 0
    with zipfile.ZipFile(zip_path) as archive:
        names = set(archive.namelist())
        run = archive.read("run_autograder").decode()
    assert "numpygam/locale/zh/feedback.po" in names and "numpygam/locale/zh/exercises.po" in names
    assert run.rstrip().endswith("points.json sandbox zh")
    english = tmp_path / "english.zip"
    assert main(["autograder", str(english)]) == 0
    with zipfile.ZipFile(english) as archive:
        assert not any(n.endswith(".po") for n in archive.namelist())
        assert archive.read("run_autograder").decode().rstrip().endswith("points.json sandbox")
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "softmax.py").write_text(exercise_source("softmax", solutions=True))
    (tmp_path / "points.json").write_text(json.dumps({"softmax": 2, "context": 1}))
    document = gradescope.run(str(submission), str(tmp_path / "results.json"),
                              str(tmp_path / "points.json"), lang="zh")
    assert document == json.loads((tmp_path / "results.json").read_text())
    assert document["score"] == 2.0
    assert document["output"].startswith("由 numpygam 评分：每个梯度都与参考答案比较")
    tests = {t["name"]: t for t in document["tests"]}
    assert "找不到" in tests["context"]["output"]
    for test in tests.values():
        for line in test["output"].split("\n"):
            assert CJK.search(line) or re.fullmatch(r"[✓✗] [\w, ]+", line), line
            assert english_left(line) == [], line


# -- gradcheck ---------------------------------------------------------------------------------

def test_gradcheck_reports_in_chinese_after_chinese_verdicts(rng):
    x = rng.standard_normal((2, 3))
    wrong = gradcheck(F.softmax_forward, lambda da, c: c.weights * da, {"scores": x})
    right = gradcheck(F.softmax_forward, F.softmax_backward, {"scores": x})
    missing = gradcheck(F.softmax_forward, lambda da, c: None, {"scores": x})
    english = [str(wrong), str(right), str(missing)]
    translation.chinese_verdicts()
    try:
        chinese = [str(wrong), str(right), str(missing)]
        assert wrong.failures()[0].verdict() == "错误：反向计算与有限差分的结果不一致"
    finally:
        translation.english_verdicts()
    assert [str(wrong), str(right), str(missing)] == english  # back, as before
    assert chinese[0].startswith("gradcheck softmax：未通过\n  scores ")
    assert "失败  位置 (" in chinese[0] and "：解析 " in chinese[0] and "，数值 " in chinese[0]
    assert chinese[1].startswith("gradcheck softmax：通过\n") and "（正确：误差只是 float64 的舍入误差）" in \
        chinese[1]
    assert "错误：backward 返回了 None，应返回形状为 (2, 3) 的数组" in chinese[2]
    for text in chinese:
        assert english_left(text) == [], text
    assert english[0].startswith("gradcheck softmax: FAILED") and "WRONG: the backward pass" in \
        english[0]
    assert "WRONG: backward returned None, expected shape (2, 3)" in english[2]


def test_a_nan_gradient_is_named_in_chinese(rng, chinese_reports):
    def nan_backward(dy, cache):
        dx = F.tanh_backward(dy, cache)
        dx[0, 1] = np.nan
        return dx

    row = gradcheck(F.tanh_forward, nan_backward, {"x": rng.standard_normal((2, 3))}).inputs[0]
    assert row.verdict() == "错误：backward 在 (0, 1) 处返回了 nan"
    assert row.problem == "backward returned nan at (0, 1)"  # the field stays English
    assert row.verdict("en") == "WRONG: backward returned nan at (0, 1)"


def test_the_chinese_lessons_first_cell_sets_the_reports_language():
    assert "chinese_verdicts()" in lessons.CHINESE_SETUP
    english = lessons.notebook("# %%\nx = 1\n")["cells"]
    assert all("chinese" not in c["source"] for c in english)


# -- the exercise files --------------------------------------------------------------------------

def _comments(source):
    """The comments a student reads in an exercise file: each code cell's comments, each
    markdown cell whole; the jupytext header and the cell markers left out."""
    header_end = source.index("# ---", 1) + len("# ---")
    found, markdown = [], None
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT or token.start[0] <= source[:header_end].count("\n") + 1:
            continue
        if token.string.startswith("# %%"):
            if markdown:
                found.append("\n".join(markdown))
            markdown = [] if "[markdown]" in token.string else None
        elif markdown is not None:
            if not token.string.startswith("#     "):  # an indented code block: code
                markdown.append(token.string[1:])
        else:
            found.append(token.string[1:])
    if markdown:
        found.append("\n".join(markdown))
    return found


@pytest.mark.parametrize("exercise", list(EXERCISES))
def test_a_chinese_exercise_file_has_no_english_comment_and_the_same_code(exercise):
    zh, en = exercise_source(exercise, lang="zh"), exercise_source(exercise)
    assert ast.dump(ast.parse(zh)) == ast.dump(ast.parse(en))
    english = [c for c in _comments(en) if english_left(c)]
    assert len(english) >= 3  # what the check below would find, were the file English
    for comment in _comments(zh):
        assert english_left(comment) == [], comment
        assert CJK.search(comment) or not comment.strip("# "), comment
    assert f"# {feedback.say('run this cell, or `python <this file>`', 'zh')}" in zh


# -- what an outside Chinese student ran into -----------------------------------------------------

def test_grade_run_inside_the_chinese_folder_grades_it_in_chinese(chinese_folder, capsys,
                                                                  monkeypatch):
    monkeypatch.chdir(chinese_folder)
    status, out, err = _printed(capsys, ["grade", "softmax"])  # no --dir: this folder
    assert status == 1 and err == "" and out[-1].startswith("softmax：")
    assert english_left("\n".join(out)) == []


def test_a_missing_folders_advice_keeps_the_language(tmp_path, capsys):
    status, _, err = _printed(capsys, ["grade", "softmax", "--dir", str(tmp_path / "none"),
                                       "--lang", "zh"])
    assert status == 2 and f"homework {tmp_path / 'none'} --lang zh" in err


def test_a_negative_seed_is_one_line(chinese_folder, capsys):
    status, _, err = _printed(capsys, ["grade", "softmax", "--dir", str(chinese_folder),
                                       "--seed", "-5"])
    assert status == 2 and "--seed -5" in err and "Traceback" not in err
    assert len(err.strip().split("\n")) == 1


@pytest.mark.parametrize("body, said", [
    ("return {'d': dweights}", "返回的是 dict：请返回 dtype 为 float64 的 NumPy 数组"),
    ("return 'hello'", "返回的是 str：请返回 dtype 为 float64 的 NumPy 数组"),
    ("return np.zeros(dweights.shape, dtype=int)", "返回的是 dtype 为 int64 的数组"),
])
def test_an_answer_that_is_no_float_array_is_said_as_such_not_as_an_error_it_raised(
        chinese_folder, capsys, body, said):
    path = chinese_folder / "softmax.py"
    path.write_text(_solved(path.read_text(), "softmax_backward", body), encoding="utf-8")
    _, out, _ = _printed(capsys, ["grade", "softmax", "--dir", str(chinese_folder)])
    text = "\n".join(out)
    assert said in text and "抛出 TypeError" not in text and "ndarray of" not in text, text
    assert english_left(text) == []


def test_a_float128_answer_is_graded_with_a_note_not_refused(chinese_folder, capsys):
    path = chinese_folder / "softmax.py"
    body = ("a = cache.weights if hasattr(cache, 'weights') else cache[0]\n"
            "return (a * (dweights - (dweights * a).sum(-1, keepdims=True))).astype(np.longdouble)")
    text = _solved(path.read_text(), "softmax_backward", body)
    path.write_text(text, encoding="utf-8")
    _, out, _ = _printed(capsys, ["grade", "softmax", "--dir", str(chinese_folder)])
    joined = "\n".join(out)
    assert "无法读取" not in joined and "dtype 为 float128 的数组" in joined, joined


def test_full_width_punctuation_gets_a_chinese_hint(chinese_folder, capsys):
    path = chinese_folder / "softmax.py"
    path.write_text(_solved(path.read_text(), "softmax_backward", "return np.sum(dweights，0)"),
                    encoding="utf-8")
    _, out, _ = _printed(capsys, ["grade", "softmax", "--dir", str(chinese_folder)])
    assert "代码里混入了全角标点" in "\n".join(out)


def test_the_blogs_channel_gate_is_graded_too(chinese_folder, capsys):
    """An answer that always takes the sigmoid's derivative is right for the paper's gate
    and wrong for the blog's (no sigmoid): it must not score full marks."""
    path = chinese_folder / "channel_gate.py"
    body = """g = cache.gate
datt = np.ascontiguousarray((dout * cache.x).transpose(0, 2, 3, 1))
datt = datt * (g * (1 - g)).transpose(0, 2, 3, 1)  # as if there were always a sigmoid
dhidden, dW2, db2 = linear_backward(datt, cache.linear2)
dhidden = relu_backward(dhidden, cache.relu)
dpixels, dW1, db1 = linear_backward(dhidden, cache.linear1)
return dout * g + dpixels.transpose(0, 3, 1, 2), dW1, db1, dW2, db2"""
    path.write_text(_solved(path.read_text(), "channel_gate_backward", body), encoding="utf-8")
    _, out, _ = _printed(capsys, ["grade", "channel_gate", "--dir", str(chinese_folder)])
    blog = [line for line in out if "博客的变体" in line]
    paper = [line for line in out if line.startswith("✓")]
    assert blog and all(line.startswith("✗") for line in blog), out
    assert paper and out[-1].startswith("channel_gate：还没全对"), out


def test_homework_in_chinese_says_what_it_wrote_in_chinese(tmp_path, capsys):
    status, out, _ = _printed(capsys, ["homework", str(tmp_path / "hw"), "--lang", "zh"])
    assert status == 0 and out[0].startswith("已把 7 个练习文件写入")
    assert out[-1] == f"检查一个练习：python -m numpygam grade softmax --dir {tmp_path / 'hw'}"
    assert english_left("\n".join(out[:-1])) == []


def test_a_gru_step_answer_the_given_code_cannot_use_is_said_as_such(chinese_folder, capsys):
    path = chinese_folder / "gru_step.py"
    text = path.read_text(encoding="utf-8")
    name = "_step_backward"
    start = text.index(f'raise NotImplementedError("your code here: {name}")')
    text = text[:start] + "return np.zeros(3), np.zeros(3)" + \
        text[start + len(f'raise NotImplementedError("your code here: {name}")'):]
    path.write_text(text, encoding="utf-8")
    _, out, _ = _printed(capsys, ["grade", "gru_step", "--dir", str(chinese_folder)])
    joined = "\n".join(out)
    assert "gru_cell_backward 无法使用 _step_backward 的返回值" in joined, joined
    assert "抛出 ValueError" not in joined
