"""The blog mapped one to one: the formulas chapter names, for each formula, the blog's
subsection by its own heading, in both editions; the formula column holds formulas only;
and "Reading the blog" sets each of the blog's slips beside the paper and the code."""
import os
import re

from numpygam.course import translation

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHAPTERS = os.path.join(ROOT, "book", "chapters")

# The blog's own headings (its section 2's subsections are numbered 1-6 under "2 注意力机制
# 核心组成"; "变体与扩展" is unnumbered; section 3 is GAM, then its code).
BLOG_HEADINGS = ("2.1 编码器-解码器框架", "2.2 上下文向量", "2.3 对齐模型", "2.4 评分函数",
                 "2.5 解码器与注意力的结合", "2.6 注意力机制的优点", "变体与扩展 1", "变体与扩展 2",
                 "变体与扩展 3", "3.1 背景与动机", "3.2 方法创新点", "GAM 代码实现")


def _read(name):
    with open(os.path.join(CHAPTERS, name), encoding="utf-8") as f:
        return f.read()


def _rows(table):
    """The body rows of a markdown table, as lists of cells (a cell's `|` inside $...$
    or `...` is not a separator)."""
    rows = []
    for line in table.split("\n")[2:]:
        masked = translation.INLINE.sub(lambda m: "x" * len(m.group(0)), line)
        bars = [i for i, ch in enumerate(masked) if ch == "|"]
        rows.append([line[a + 1:b].strip() for a, b in zip(bars, bars[1:])])
    return rows


def _formula_tables(text):
    return [b for b in translation.blocks(text) if b.startswith("| formula |")
            or b.startswith("| 公式 |")]


def test_every_formula_names_the_blogs_subsection_by_its_heading_in_both_editions():
    english = _read("02_formulas.md")
    table = translation.table("02_formulas")
    tables = _formula_tables(english)
    assert len(tables) == 5
    seen = set()
    for block in tables:
        assert block.split("\n")[0] == "| formula | meaning | source | blog | code |"
        zh = table[block]
        assert zh.split("\n")[0] == "| 公式 | 含义 | 出处 | 博客 | 代码 |"
        for en_row, zh_row in zip(_rows(block), _rows(zh), strict=True):
            assert len(en_row) == len(zh_row) == 5, en_row
            blog_en, blog_zh = en_row[3], zh_row[3]
            heading = next((h for h in BLOG_HEADINGS if blog_en.startswith(h)), None)
            # "—" where the blog gives no formula, with what it says instead, if anything
            assert heading or blog_en.startswith("—"), f"not one of the blog's headings: {blog_en}"
            assert blog_zh.startswith(heading or "—"), (blog_en, blog_zh)
            seen.add(heading)
    # the subsections the issue names are each mapped
    assert {"2.2 上下文向量", "2.3 对齐模型", "2.4 评分函数", "2.5 解码器与注意力的结合"} <= seen


def test_the_formula_column_holds_formulas_only_and_the_same_in_both_editions():
    english = _read("02_formulas.md")
    table = translation.table("02_formulas")
    for block in _formula_tables(english):
        for en_row, zh_row in zip(_rows(block), _rows(table[block])):
            words = re.sub(r"\$.+?\$", "", en_row[0])
            assert not re.search(r"[A-Za-z]", words), f"prose in the formula column: {en_row[0]}"
            assert zh_row[0] == en_row[0]


def test_the_score_rows_point_at_the_misattribution_and_2_5_at_the_misplacement():
    english = _read("02_formulas.md")
    for name in ("dot", "general", "concat"):
        row = next(line for line in english.split("\n") if f"| {name} score |" in line)
        assert "2.4 评分函数" in row and "reading_the_blog.html" in row
    for meaning in ("attentional hidden state", "the prediction"):
        row = next(line for line in english.split("\n") if f"| {meaning} |" in line)
        assert "2.5 解码器与注意力的结合" in row and "reading_the_blog.html" in row


def test_reading_the_blog_quotes_the_blog_and_gives_the_paper_and_the_code_for_each_slip():
    english = _read("06_reading_the_blog.md")
    parts = re.split(r"\n## \d\. ", english)
    assert len(parts) == 4  # the introduction, then the three slips
    quotes = {1: "解码器与注意力的结合", 2: "论文中提出了多种评分函数", 3: "全局注意力机制"}
    papers = {1: ("Luong", "eqs. 5 and 6", "Bahdanau", "eq. 4"),
              2: ("sec. 3.1 (after eq. 7)", "A.1.2"), 3: ("eq. 7", "eqs. 9 and 10", "GAM eq. 1")}
    code = {1: ("attentional_hidden_forward", "gru_cell_forward"),
            2: ("dot_score_forward", "general_score_forward", "concat_score_forward",
                "additive_score_forward"),
            3: ("attention_forward", "channel_gate_forward", "spatial_gate_forward")}
    for i in (1, 2, 3):
        section = parts[i]
        assert quotes[i] in section
        assert all(p in section for p in papers[i]), (i, papers[i])
        assert all(f"api.html#{c}" in section for c in code[i]), (i, code[i])
    assert "相比于 GAM" in parts[3]  # the sentence that mixes the two meanings
    index = _read("00_index.md")
    assert "(reading_the_blog.html)" in index and "(reading_the_blog.html)" in _read("02_formulas.md")
