"""The Chinese edition's glossary: the blog's terms first, d2l-zh's second, each term
checked where the English uses it, single words (the score functions' names) included."""
import re

import pytest

from numpygam.course import glossary


def test_each_english_term_has_one_chinese_term_and_a_source():
    labels = [t.label for t in glossary.TERMS]
    assert len(set(labels)) == len(labels)
    chinese = [t.chinese for t in glossary.TERMS]
    assert len(set(chinese)) == len(chinese)
    assert all(t.source in glossary.SOURCES for t in glossary.TERMS)


@pytest.mark.parametrize("english, chinese", [
    ("attention mechanism", "注意力机制"), ("context vector", "上下文向量"),
    ("alignment score", "对齐分数"), ("score function", "评分函数"),
    ("channel gate", "通道注意力"), ("spatial gate", "空间注意力"),
    ("global attention", "全局注意力"), ("3D permutation", "三维排列")])
def test_the_blogs_own_words_are_the_terms(english, chinese):
    term = next(t for t in glossary.TERMS if re.fullmatch(t.english, english, re.I))
    assert term.chinese == chinese and term.source == glossary.BLOG


@pytest.mark.parametrize("english, right, wrong", [
    ("The dot score is one product per pair.", "点积评分函数每对只算一次乘积。",
     "dot 评分函数每对只算一次乘积。"),
    ("Luong with the general score.", "Luong 模型，用一般评分函数。",
     "Luong 模型，用 general 评分函数。"),
    ("The concat score, like the additive one, has $v_a$.",
     "拼接评分函数与加性评分函数一样有 $v_a$。", "concat 评分函数与 additive 评分函数一样有 $v_a$。"),
    ("The channel gate permutes the map.", "通道注意力先排列特征图。", "通道门控先排列特征图。"),
    ("Bahdanau et al. (2014) let each step look back.", "Bahdanau 等人（2014）让每一步回看。",
     "Bahdanau 等 2014 让每一步回看。"),
    ("Padding must get no weight: a mask sets it.", "填充位置不得有权重：由掩蔽来设。",
     "补齐位置不得有权重：由掩盖来设。"),
])
def test_a_score_name_or_a_term_translated_another_way_is_found(english, right, wrong):
    assert glossary.problems(english, right) == []
    assert glossary.problems(english, wrong) != []


def test_one_ops_backward_may_be_a_backward_computation():
    english = "A backward pass receives $dout$."
    assert glossary.problems(english, "反向计算接收 $dout$。") == []
    assert glossary.problems(english, "反向传播接收 $dout$。") == []
    assert glossary.problems(english, "后向接收 $dout$。") == ["term: backward pass -> 反向传播"]


def test_code_formulas_and_quoted_titles_are_not_judged():
    english = 'Call `dot_score_forward` on "general" inputs; $W_a$ is general.'
    assert glossary.problems(english, "调用 `dot_score_forward`；$W_a$ 是一般的。") == []
    # the Chinese may quote code that spells an avoided word
    assert glossary.problems("The mask.", "掩蔽 `补齐`") == []


def test_in_general_is_not_the_score():
    assert glossary.problems("In general the weights are dense.", "权重通常是稠密的。") == []


def test_the_page_lists_every_term_its_source_and_what_is_avoided():
    page = glossary.markdown()
    assert page.startswith("# 中英术语对照")
    for term in glossary.TERMS:
        assert f"| {term.chinese}" in page and term.source in page
    for written, instead in glossary.AVOID:
        if not written.startswith("等"):
            assert f"| {instead} | {glossary._plain(written)} |" in page
    assert "Bahdanau 等人（2014）" in page
