"""The Chinese edition: catalogues keyed by the English paragraph, the check that keeps
them in step, the Chinese lessons, homework and figures, and Chinese dates."""
import ast
import json
import os
import re
import subprocess
import sys

import numpy as np
import polib
import pytest
from scripts import load_script

from numpygam.__main__ import main
from numpygam.course import homework, lessons, translation
from numpygam.course.exercises import EXERCISES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def locale(tmp_path, monkeypatch):
    """An empty catalogue folder in place of numpygam/locale."""
    monkeypatch.setattr(translation, "LOCALE", str(tmp_path))
    return tmp_path


# -- paragraphs ---------------------------------------------------------------------------

def test_blocks_keep_a_fenced_code_block_whole_and_only_prose_is_translatable():
    text = ("# Title\n\nSome *prose* with $e_{ij}$.\n\n```python\nx = 1\n\ny = 2\n```\n\n"
            "$$c_i = \\sum_j a_{ij} h_j$$\n\n    python -m numpygam grade softmax\n\n`F.x`")
    blocks = translation.blocks(text)
    assert blocks == ["# Title", "Some *prose* with $e_{ij}$.", "```python\nx = 1\n\ny = 2\n```",
                      "$$c_i = \\sum_j a_{ij} h_j$$", "    python -m numpygam grade softmax",
                      "`F.x`"]
    assert translation.paragraphs(text) == ["# Title", "Some *prose* with $e_{ij}$."]
    # untranslated paragraphs stay; the code and the formula pass through unchanged
    table = {"# Title": "# 标题", "Some *prose* with $e_{ij}$.": "含有 $e_{ij}$ 的*正文*。"}
    assert translation.translate_markdown(text, table) == "\n\n".join(
        ["# 标题", "含有 $e_{ij}$ 的*正文*。"] + blocks[2:])


# -- the catalogues and the check -------------------------------------------------------

def test_an_english_change_makes_its_translation_stale_and_a_new_paragraph_missing(locale):
    english = ["The context vector is a weighted average.", "Attention weights sum to 1."]
    po = translation.update("page", english)
    assert [e.msgid for e in po] == english and translation.problems("page", english) == [
        ("page", "missing", english[0]), ("page", "missing", english[1])]
    for entry, zh in zip(po, ["上下文向量是加权平均。", "注意力权重之和为 1。"]):
        entry.msgstr = zh
    po.save(translation.catalogue_path("page"))
    assert translation.problems("page", english) == []
    # the English changes: one paragraph edited, one removed, one added
    edited = ["The context vector is a weighted average of the values.",
              "Scores come from a score function."]
    po = translation.update("page", edited)
    first = po.find(edited[0])
    assert first.fuzzy and first.msgstr == "上下文向量是加权平均。"  # kept, to be reviewed
    assert first.previous_msgid == english[0]                    # what changed, for msgmerge
    assert [e.msgid for e in po.obsolete_entries()] == [english[1]]  # kept out of the way
    assert translation.problems("page", edited) == [("page", "stale", edited[0]),
                                                    ("page", "missing", edited[1])]
    # the file is a gettext catalogue any tool reads
    text = open(translation.catalogue_path("page"), encoding="utf-8").read()
    assert "#, fuzzy" in text and "#| msgid" in text and "#~ msgid" in text
    assert polib.pofile(translation.catalogue_path("page")).percent_translated() == 0


def test_a_paragraph_whose_english_comes_back_gets_its_translation_back(locale):
    english = ["The context vector is a weighted average."]
    po = translation.update("page", english)
    po[0].msgstr = "上下文向量是加权平均。"
    po.save(translation.catalogue_path("page"))
    assert translation.update("page", [])[0].obsolete  # the paragraph left the page
    po = translation.update("page", english)             # and came back
    assert [(e.msgid, e.msgstr, e.obsolete, e.fuzzy) for e in po] == [
        (english[0], "上下文向量是加权平均。", False, False)]


def test_a_kill_while_saving_leaves_the_catalogue_whole(locale, monkeypatch):
    english = ["The context vector is a weighted average."]
    po = translation.update("page", english)
    po[0].msgstr = "上下文向量是加权平均。"
    po.save(translation.catalogue_path("page"))
    before = open(translation.catalogue_path("page"), encoding="utf-8").read()

    def killed(self, fpath=None, **kwargs):
        with open(fpath, "w") as f:
            f.write('msgid "half a fi')
        raise KeyboardInterrupt
    monkeypatch.setattr(polib.POFile, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        translation.update("page", english + ["Attention weights sum to 1."])
    assert open(translation.catalogue_path("page"), encoding="utf-8").read() == before


def test_a_broken_catalogue_is_one_line_naming_the_file_and_line(locale, tmp_path, capsys):
    os.makedirs(os.path.join(translation.LOCALE, "zh"))
    with open(translation.catalogue_path("exercises"), "w", encoding="utf-8") as f:
        f.write('msgid "a"\nmsgstr "b\n garbage\n')
    assert main(["homework", str(tmp_path / "hw"), "--lang", "zh"]) == 2
    err = capsys.readouterr().err
    assert "exercises.po (line 3)" in err and "git checkout" in err and err.count("\n") == 1
    assert os.listdir(tmp_path / "hw") == []  # no half-written exercise left behind
    with open(translation.catalogue_path("01_why_attention"), "w", encoding="utf-8") as f:
        f.write('msgid "a"\nmsgstr "b\n garbage\n')
    assert main(["lessons", str(tmp_path / "ls"), "--lang", "zh"]) == 2
    assert "01_why_attention.po (line 3)" in capsys.readouterr().err


def test_the_check_names_a_glossary_term_translated_another_way(locale):
    english = ["Global attention looks at every key; so does the context vector."]
    po = translation.update("page", english)
    po[0].msgstr = "总体注意力看每个键；上下文向量也是。"  # not the glossary's 全局注意力
    po.save(translation.catalogue_path("page"))
    assert translation.problems("page", english) == [
        ("page", "term: global attention -> 全局注意力", english[0])]
    po[0].msgstr = "全局注意力看每个键；上下文向量也是。"
    po.save(translation.catalogue_path("page"))
    assert translation.problems("page", english) == []


def test_every_english_paragraph_has_a_current_translation():
    """What CI's `python book/build.py --lang zh --check` checks: an English change that
    lands without its translation fails here, naming the paragraph."""
    build = load_script("book", "build.py")
    sources = build.catalogue_sources()
    assert set(sources) >= {"00_index", "01_notation", "01_why_attention", "11_spelling_to_sound",
                            "exercises", "figures"}
    found = [p for name, msgids in sources.items() for p in translation.problems(name, msgids)]
    assert found == [], found[:5]


def test_the_check_names_the_paragraph_and_the_command_says_what_it_needs(tmp_path,
                                                                          monkeypatch, capsys):
    build = load_script("book", "build.py")
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    (chapters / "00_index.md").write_text("# numpygam: attention and GAM, from scratch in NumPy"
                                          "\n\nA paragraph no one has translated yet.\n")
    monkeypatch.setattr(build, "chapter_paths", lambda: [str(chapters / "00_index.md")])
    assert build.check() == 1  # the script exits with 1 then
    out = capsys.readouterr().out
    assert "numpygam/locale/zh/00_index.po: missing: A paragraph no one has translated yet." in out
    script = os.path.join(ROOT, "book", "build.py")
    wrong = subprocess.run([sys.executable, script, "--check"], capture_output=True, text=True)
    assert wrong.returncode == 2 and "add --lang zh" in wrong.stderr
    done = subprocess.run([sys.executable, script, "--lang", "zh", "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0 and "0 to do" in done.stdout


def test_every_translation_keeps_its_formulas_and_code_and_is_chinese():
    """Formulas and names agree with the English: every $...$ and `...` of a paragraph
    is in its translation, unchanged; and the translation is Chinese."""
    build = load_script("book", "build.py")
    for name, msgids in build.catalogue_sources().items():
        table = translation.table(name)
        for msgid in msgids:
            zh = table[msgid]
            spans = set(translation.INLINE.findall(msgid))
            assert spans <= set(translation.INLINE.findall(zh)), (name, msgid[:60])
            # a heading that is a name ("## Softmax", "## Local-p") stays as it is
            named = zh == msgid and len(msgid) < 20 or name == "figures" and "{}" in zh
            assert CJK.search(zh) or named, (name, msgid[:60])


# -- lessons, homework, figures ------------------------------------------------------------

def sources(cells, kind):
    return [c["source"] for c in cells if c["cell_type"] == kind]


def test_the_chinese_lessons_run_the_english_code_cells(tmp_path):
    assert main(["lessons", str(tmp_path / "zh"), "--lang", "zh"]) == 0
    assert main(["lessons", str(tmp_path / "en")]) == 0
    names = sorted(os.listdir(tmp_path / "en"))
    assert names == sorted(os.listdir(tmp_path / "zh")) and len(names) == len(
        lessons.lesson_paths())
    for name in names:
        en = json.load(open(tmp_path / "en" / name, encoding="utf-8"))["cells"]
        zh = json.load(open(tmp_path / "zh" / name, encoding="utf-8"))["cells"]
        assert sources(zh, "code") == [lessons.CHINESE_SETUP] + sources(en, "code")  # one more
        md_en, md_zh = sources(en, "markdown"), sources(zh, "markdown")
        assert len(md_en) == len(md_zh) and all(CJK.search(m) for m in md_zh)
        assert CJK.search(md_zh[0].split("\n")[0])  # the title too


def test_the_chinese_homework_has_the_same_code_and_grades_the_same(tmp_path, capsys):
    assert main(["homework", str(tmp_path), "--lang", "zh", "--solutions"]) == 0
    for name in EXERCISES:
        zh = (tmp_path / f"{name}.py").read_text(encoding="utf-8")
        en = homework.exercise_source(name, solutions=True)
        assert CJK.search(zh) and ast.dump(ast.parse(zh)) == ast.dump(ast.parse(en))
    assert "# # 作业：`softmax_backward`" in (tmp_path / "softmax.py").read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["grade", "softmax", "--dir", str(tmp_path)]) == 0


def test_figure_texts_are_found_as_templates():
    source = ('ax.set_title(f"head {h + 1}")\nax.set_xlabel("key position")\n'
              'ax.plot(x, y, label="attention (Bahdanau)")\nax.set_ylabel("$a_{ij}$")\n'
              'fig.suptitle(f"{text!r} -> {out!r}")\nplt.title(name)\n')
    assert translation.figure_texts(source) == ["head {}", "key position",
                                                "attention (Bahdanau)"]


def test_chinese_figures_draw_the_translated_labels(locale):
    import matplotlib
    import matplotlib.pyplot as plt
    import matplotlib.text
    po = translation.update("figures", ["head {}", "example {}: {} real keys", "key position"])
    for entry, zh in zip(po, ["第 {} 个头", "样本 {}：{} 个真实的键", "键的位置"]):
        entry.msgstr = zh
    po.save(translation.catalogue_path("figures"))
    original, family = matplotlib.text.Text.set_text, matplotlib.rcParams["font.family"]
    try:
        fonts = translation.chinese_figures()
        fig, ax = plt.subplots()
        ax.set_title("head 3")
        ax.set_xlabel("key position")
        ax.set_ylabel("example 2: 7 real keys")
        fig.suptitle("head 3 of 4")  # not a template's whole text: left alone
        if fonts:
            assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == (
                "第 3 个头", "键的位置", "样本 2：7 个真实的键")
            assert fig._suptitle.get_text() == "head 3 of 4"
        else:  # no CJK font: the labels stay English rather than draw as boxes
            assert ax.get_title() == "head 3"
        plt.close(fig)
    finally:
        matplotlib.text.Text.set_text = original
        matplotlib.rcParams["font.family"] = family


# -- Chinese dates ---------------------------------------------------------------------------

def test_the_date_task_writes_chinese_dates_with_the_right_weekday():
    import datetime

    from numpygam.tasks import dates
    d = datetime.date(1998, 5, 9)  # a Saturday
    written = {f.format(**dates.fields(d)) for f in dates.FORMATS if "年" in f}
    assert written == {"1998年5月9日", "1998年05月09日", "1998年5月9号", "1998年5月9日星期六",
                       "1998年5月9日 星期六", "1998年5月9日, 周六"}
    assert dates.fields(datetime.date(2001, 3, 4))["zhweekday"] == "星期日"
    # every character they use is in the vocabulary, and the old ids keep their meaning
    from numpygam.tasks import Vocab
    old, new = Vocab(dates.CHARS_BEFORE_CHINESE), Vocab(dates.CHARS)
    assert new.itos[:len(old.itos)] == old.itos and set("".join(written)) <= set(new.itos)


def test_a_checkpoint_from_before_chinese_dates_is_refused_with_what_to_do(tmp_path, capsys):
    from numpygam.tasks import Vocab, dates
    from numpygam.train import TrainConfig, Trainer
    trainer = Trainer(TrainConfig(steps=1))
    path = trainer.save(str(tmp_path / "checkpoint.npz"))
    with np.load(path) as f:
        arrays = dict(f)
    old_rows = len(Vocab(dates.CHARS_BEFORE_CHINESE).itos)  # the embedding as it was
    arrays["model.encoder.embedding.weight"] = arrays["model.encoder.embedding.weight"][:old_rows]
    np.savez(path, **arrays)
    assert main(["translate", "2001年3月3日", "--checkpoint", path]) == 2
    err = capsys.readouterr().err
    assert "trained before the date task read Chinese dates" in err and "retrain" in err
    assert "Traceback" not in err and len(err.strip().split("\n")) == 1


def test_gettexts_own_tool_accepts_every_catalogue():
    """msgfmt --check (GNU gettext, where installed): every catalogue compiles, its header
    complete, no format or syntax error."""
    import glob
    import shutil
    if not shutil.which("msgfmt"):
        pytest.skip("GNU gettext's msgfmt is not installed (apt-get install gettext)")
    for path in sorted(glob.glob(os.path.join(translation.LOCALE, "zh", "*.po"))):
        done = subprocess.run(["msgfmt", "--check", "-o", os.devnull, path],
                              capture_output=True, text=True)
        assert done.returncode == 0 and not done.stderr, (path, done.stderr)


# -- figure texts held in variables, and printed tables ---------------------------------------

def test_drawn_texts_follow_a_label_back_to_the_literals_it_is_bound_from():
    source = (
        'label = "attention (Bahdanau)" if c == "attention" else "fixed-length vector"\n'
        'ax.plot(x, y, label=label)\n'
        'params = {"dot": {"W": 1}, "scaled dot": {}}\n'
        'for ax, (name, p) in zip(axes, params.items()):\n'
        '    ax.set_title(f"{name}: softmax(e)")\n'
        'trainers = {}\n'
        'for key, kwargs in (("Luong, general, local-p", 1),):\n'
        '    trainers[key] = kwargs\n'
        'for ax, (key, t) in zip(axes, trainers.items()):\n'
        '    ax.set_title(f"{key}\\n-> {t.out}")\n'
        'rows = []\n'
        'for n in {"GAM channel only": 1}:\n'
        '    rows.append((n, 0.9))\n'
        'ax.bar([r[0] for r in rows], [r[1] for r in rows])\n'
        'print(printed("params", ">8"))\n'
        'for h, ax in enumerate(axes):\n'
        '    ax.set_title(f"head {h}: {word!r}")\n'
        'ax.set_yticks(range(3), list(out) + ["<eos>"])\n')
    drawn = [(template, fields) for _, template, fields in translation.drawn_texts(source)]
    assert drawn == [
        ("attention (Bahdanau)", ()), ("fixed-length vector", ()),
        ("{}: softmax(e)", (("dot", "scaled dot"),)),  # the keys, not the nested "W"
        ("{}\n-> {}", (("Luong, general, local-p",), ())),  # t.out: data
        ("GAM channel only", ()), ("params", ()),
        ("head {}: {}", ((), ())),  # an index and a repr: data
        ("<eos>", ())]
    assert translation.figure_texts(source) == [
        "attention (Bahdanau)", "fixed-length vector", "{}: softmax(e)", "dot", "scaled dot",
        "{}\n-> {}", "Luong, general, local-p", "GAM channel only", "params", "head {}: {}"]


def test_a_template_translates_its_fields_that_are_entries_too():
    table = {"{}: softmax(e)": "{}：softmax(e)", "dot": "点积", "scaled dot": "缩放点积",
             "{}\n-> {}": "{}\n-> {}", "Luong, general, local-p": "Luong，一般，local-p",
             "head {}": "第 {} 个头", "{}: {} ({})": "{}：{}（{}）", "right": "答对"}
    translate = translation.figure_translator(table)
    assert translate("scaled dot") == "缩放点积"
    assert translate("dot: softmax(e)") == "点积：softmax(e)"
    assert translate("scaled dot: softmax(e)") == "缩放点积：softmax(e)"  # a field with a space
    assert translate("Luong, general, local-p\n-> 1987-03-07") == "Luong，一般，local-p\n-> 1987-03-07"
    assert translate("global: knight (right)") == "global：knight（答对）"  # data stays
    assert translate("head 3") == "第 3 个头" and translate("head 3 of 4") is None


def test_printed_is_the_english_format_unchanged_and_chinese_after_chinese_figures(locale):
    import matplotlib
    import matplotlib.text
    cells = [("attention", "<18"), ("test acc.", ">10"), ("params", ">8"), ("GAM (paper)", "^14")]
    english = "".join(translation.printed(text, spec) for text, spec in cells)
    assert english == f"{'attention':<18}{'test acc.':>10}{'params':>8}{'GAM (paper)':^14}"
    po = translation.update("figures", [text for text, _ in cells])
    for entry, zh in zip(po, ["注意力模块", "测试准确率", "参数量", "GAM（论文）"]):
        entry.msgstr = zh
    po.save(translation.catalogue_path("figures"))
    original, family = matplotlib.text.Text.set_text, matplotlib.rcParams["font.family"]
    try:
        translation.chinese_figures()
        chinese = [translation.printed(text, spec) for text, spec in cells]
        # a Chinese character is two columns: the table keeps its columns
        assert chinese == ["注意力模块        ", "测试准确率", "  参数量", " GAM（论文）  "]
        assert translation.printed("not an entry", ">14") == "  not an entry"
    finally:
        translation.english_figures()
        matplotlib.text.Text.set_text = original
        matplotlib.rcParams["font.family"] = family
    assert translation.printed("attention") == "attention"  # English again
    with pytest.raises(ValueError, match="alignment"):
        translation.printed("attention", "18s")


FIGURE_SOURCES = {os.path.basename(p)[:-3]: p for p in lessons.lesson_paths()}
FIGURE_SOURCES["plots.gam_ports_figure"] = None  # the chapter "The GAM you copied"


def figure_source(name):
    import inspect

    from numpygam import plots
    if FIGURE_SOURCES[name] is None:
        return inspect.getsource(plots.gam_ports_figure)
    with open(FIGURE_SOURCES[name], encoding="utf-8") as f:
        return f.read()


@pytest.mark.parametrize("name", list(FIGURE_SOURCES))
def test_every_text_a_lesson_draws_or_prints_has_a_translation(name):
    """By construction, without running a lesson: each text its code draws on a figure or
    prints through printed(), followed back to the literals it is bound from, is translated
    by figures.po, with every one of those literals (a field's value) an entry itself."""
    import itertools
    source = figure_source(name)
    table = translation.table("figures")
    translate = translation.figure_translator(table)
    words = re.compile(r"[A-Za-z]{2,}")
    for line, template, fields in translation.drawn_texts(source):
        for sample in itertools.product(*[field + ("7",) for field in fields]):  # 7: data
            parts = template.split("{}")
            text = parts[0] + "".join(v + p for v, p in zip(sample, parts[1:]))
            if not words.search(re.sub(r"\$.+?\$|<\w+>", " ", text)):
                continue  # digits, a formula, a token such as <eos>
            assert translate(text) is not None, f"{name}, line {line}: {text!r} is drawn in English"
            for value in sample:
                assert value == "7" or not words.search(value) or value in table, (name, line, value)
    # and no lesson draws a text through a call drawn_texts does not read
    unread = {"set_text", "set_label", "pie", "table", "bar_label", "clabel", "figlegend"}
    calls = {getattr(n.func, "attr", getattr(n.func, "id", None))
             for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)}
    assert not calls & unread, (name, calls & unread)


def test_a_chinese_title_with_math_draws_every_glyph(caplog):
    """Lesson 7's Chinese titles hold $M_c$: mathtext lays the whole title out and takes
    its plain text from the first font family, so the Chinese font must come first."""
    import logging

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    family = list(matplotlib.rcParams["font.family"])
    try:
        if not translation.chinese_figures():
            pytest.skip("no Chinese font on this machine")
        fig, ax = plt.subplots()
        ax.set_title("通道注意力 $M_c$：取值")
        with caplog.at_level(logging.WARNING, logger="matplotlib"):
            fig.canvas.draw()
        plt.close(fig)
        assert not [r for r in caplog.records if "glyph" in r.getMessage()]
    finally:
        translation.english_figures()
        matplotlib.rcParams["font.family"] = family
