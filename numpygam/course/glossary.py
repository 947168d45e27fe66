"""The glossary of the Chinese edition (中英术语对照): one Chinese term for each English
one, taken from the blog first, from d2l-zh (《动手学深度学习》) second, and coined by
this project only where neither has one.

    TERMS       every Term: the English, the Chinese, where the Chinese comes from
    AVOID       translations the edition must not use, each with the one to use instead
    problems()  what `python book/build.py --lang zh --check` reports for one paragraph

A Term's `english` is a regular expression (case-insensitive, matched as whole words,
with an optional plural) over the paragraph's prose: formulas, inline code and quoted
titles are taken out first, since they stay English.  Where the English paragraph uses
the term, its translation must contain `chinese`, or one of `also` (a second form the
glossary names, such as 反向计算 for one op's backward beside 反向传播 for a network's).
Single words are terms too where they name something: the four score functions are
"dot", "general", "concat" and "additive" in the English, and 点积, 一般(形式), 拼接 and 加性
in the Chinese: the blog's 点积, 一般形式 and 拼接, and d2l-zh's 加性注意力.
"""
import re
from typing import NamedTuple, Tuple

BLOG = "博客"
D2L = "d2l-zh"
OURS = "本项目"
SOURCES = {BLOG: "原博客《学术裁缝必备小知识：全局注意力机制（GAM）》",
           D2L: "《动手学深度学习》中文版（d2l-zh）",
           OURS: "博客与 d2l-zh 都没有的术语，本项目的译法"}


class Term(NamedTuple):
    english: str            # a regular expression over the English prose
    chinese: str            # the one Chinese term
    source: str             # BLOG, D2L or OURS
    shown: str = ""         # the English as the glossary shows it (default: `english`)
    also: Tuple[str, ...] = ()  # other accepted forms, each named in `note`
    note: str = ""          # when to use which form

    @property
    def label(self):
        return self.shown or self.english


TERMS = [
    Term("attention mechanism", "注意力机制", BLOG),
    Term("attention weight", "注意力权重", BLOG),
    Term("context vector", "上下文向量", BLOG),
    Term("alignment score", "对齐分数", BLOG, note="$e_{ij}$，评分函数的输出"),
    Term("alignment model", "对齐模型", BLOG),
    Term("score function", "评分函数", BLOG),
    Term("dot", "点积", BLOG, "dot (score), dot product"),
    Term(r"(?<!in )general", "一般", BLOG, "general (score)",
         note="评分函数名，博客原文“一般形式（General）”；写作“一般形式评分函数”"),
    Term(r"concat|concatenat\w*", "拼接", BLOG, "concat (score), concatenate"),
    Term("additive", "加性", D2L, "additive (score, attention)",
         note="d2l-zh：加性注意力"),
    Term("scaled dot-product attention", "缩放点积注意力", D2L),
    Term("global attention", "全局注意力", BLOG,
         note="博客用它指两样东西，见“读博客”一页"),
    Term("local attention", "局部注意力", BLOG),
    Term("self-attention", "自注意力", BLOG),
    Term("multi-head attention", "多头注意力", BLOG),
    Term("channel attention|channel gate", "通道注意力", BLOG,
         "channel attention, channel gate", note="博客：通道注意力子模块"),
    Term("spatial attention|spatial gate", "空间注意力", BLOG,
         "spatial attention, spatial gate", note="博客：空间注意力子模块"),
    Term("3-?D permutation", "三维排列", BLOG, "3-D permutation",
         note="博客写作“3D排列”；本书首次出现时写“三维排列”"),
    Term("attentional hidden state", "注意力隐藏状态", OURS),
    Term("encoder-decoder", "编码器-解码器", BLOG),
    Term("encoder", "编码器", BLOG),
    Term("decoder", "解码器", BLOG),
    Term("hidden state", "隐藏状态", BLOG),
    Term("query", "查询", D2L, note="不检查：英文的 query 也可能是普通用词"),
    Term("key", "键", D2L, note="不检查：英文的 key 也可能是字典的键或“关键”"),
    Term("value", "值", D2L, note="不检查：英文的 value 也可能是“数值”"),
    Term("softmax", "softmax", D2L),
    Term("mask(?:ed|ing)?", "掩蔽", D2L, "mask, masked, masking"),
    Term("padd(?:ing|ed)", "填充", D2L, "padding, padded"),
    Term("positional encoding", "位置编码", D2L),
    Term("position-wise feed-forward", "基于位置的前馈网络", D2L),
    Term("layer norm(?:alization|alisation)?", "层规范化", D2L, "layer norm"),
    Term("tokens?", "词元", D2L, "token", note="博客作“令牌”，本书不用"),
    Term("dropout", "dropout", OURS, note="d2l-zh 作“暂退法”；本书保留英文"),
    Term("batch norm(?:alization|alisation)?", "批量规范化", D2L, "batch norm"),
    Term("channel shuffle", "通道混洗", BLOG),
    Term("group(?:ed)? convolution", "分组卷积", BLOG, "group convolution"),
    Term("forward pass", "前向传播", D2L, also=("前向计算",),
         note="整个网络：前向传播；单个算子：前向计算"),
    Term("backward pass", "反向传播", D2L, also=("反向计算",),
         note="整个网络：反向传播；单个算子：反向计算"),
    Term("backpropagation through time", "通过时间反向传播", D2L),
    Term("gradient", "梯度", D2L),
    Term("finite differences", "有限差分", OURS, note="数值分析的通用译名"),
    Term("beam search", "束搜索", D2L),
    Term("greedy (?:decoding|search)", "贪心搜索", D2L, "greedy decoding, greedy search"),
    Term("teacher forcing", "强制教学", D2L),
    Term("held-out|test set", "测试集", D2L, "held-out set, test set"),
    Term("word error rate", "词错误率", OURS),
    Term("phone error rate", "音素错误率", OURS),
    Term(r"et al\.?", "等人", BLOG, "Bahdanau et al. (2014)",
         note="写作“Bahdanau 等人（2014）”，年份在全角括号里"),
]

# Words a lone English word does not make a term of: the check skips them (a dictionary's
# key, a number's value), though the glossary lists their translations.
UNCHECKED = {"query", "key", "value"}

# Translations the edition does not use, and what to write instead.
AVOID = [
    ("通道门控", "通道注意力"),
    ("空间门控", "空间注意力"),
    ("补齐", "填充"),
    ("掩盖", "掩蔽"),
    ("遮盖", "掩蔽"),
    ("令牌", "词元"),
    ("留出集", "测试集"),
    ("批归一化", "批量规范化"),
    ("教师强制", "强制教学"),
    (r"置换(?!不变)", "排列"),
    (r"等人? ?\d{4}", "等人（年份）"),
    (r"等人 ?\(\d{4}\)", "等人（年份），全角括号"),
]

# formulas and inline code, which stay as they are in both editions
INLINE = re.compile(r"\$\$.+?\$\$|\$.+?\$|`[^`]*`", re.S)


def _pattern(term):
    return re.compile(rf"(?<![\w-])(?:{term.english})s?(?![\w-])", re.I)


_CHECKED = [(t, _pattern(t)) for t in TERMS if t.english not in UNCHECKED]


def prose(english):
    """The words of an English paragraph that the glossary judges: no formulas, no inline
    code, no quoted titles (a figure's title stays as it is quoted)."""
    return re.sub(r'"[^"]*"', " ", INLINE.sub(" ", english))


def problems(english, chinese):
    """["term: <English> -> <Chinese>" or "avoid: <written> -> <instead>", ...] for one
    translated paragraph: a term of the English missing from the Chinese, or a
    translation the glossary avoids."""
    found, words = [], prose(english)
    for term, pattern in _CHECKED:
        if pattern.search(words) and not any(z in chinese for z in (term.chinese, *term.also)):
            found.append(f"term: {term.label} -> {term.chinese}")
    text = INLINE.sub(" ", chinese)  # code may spell anything
    for written, instead in AVOID:
        match = re.search(written, text)
        if match:
            found.append(f"avoid: {match.group(0)} -> {instead}")
    return found


def _plain(pattern):
    """An AVOID pattern as a reader reads it: 置换(?!不变) is 置换."""
    return re.sub(r"\(\?!.*?\)", "", pattern)


def markdown():
    """The glossary page (中英术语对照) as markdown: every term with its source, and the
    translations the edition avoids."""
    rows = "\n".join(f"| {t.chinese}{''.join('、' + a for a in t.also)} | {t.label} | "
                     f"{t.source} | {t.note} |" for t in TERMS)
    avoided = "\n".join(f"| {instead} | {_plain(written)} |"
                        for written, instead in AVOID if not written.startswith("等"))
    sources = "\n".join(f"- **{k}**：{v}" for k, v in SOURCES.items())
    return ("# 中英术语对照\n\n本书中文版的术语先取原博客的说法，博客没有的再取 d2l-zh，"
            "两者都没有的才由本项目定名；每个英文术语只用一个中文译名。检查"
            "（`python book/build.py --lang zh --check`）会找出译法不一致的段落。\n\n"
            f"出处：\n\n{sources}\n\n"
            "| 中文 | English | 出处 | 说明 |\n|---|---|---|---|\n" + rows +
            "\n\n## 不用的译法\n\n| 用 | 不用 |\n|---|---|\n" + avoided +
            "\n\n文献写作“Bahdanau 等人（2014）”，不写“Bahdanau 等 2014”。\n")
