"""The Chinese edition: gettext catalogues keyed by the English paragraph.

One English source, one catalogue of translations beside it, so the two cannot drift:

    numpygam/locale/zh/<page>.po     one per chapter (00_index.po, ...), per lesson
                                     (01_why_attention.po, ...), one for the homework
                                     walkthroughs (exercises.po) and one for the lessons'
                                     figure titles and axis labels (figures.po)

A page's prose is cut into paragraphs (blocks between blank lines; a fenced code block
is one block).  Each paragraph with words in it is a msgid; its msgstr is the Chinese.
Code, identifiers, docstrings and formulas are not translated: a paragraph of nothing
but a formula or code stays as it is, and the Chinese lesson runs the very code cells
of the English one.

When the English changes, the old msgid no longer matches: `update` (what
`python book/build.py --lang zh --update` runs) adds the new paragraph, carries the
closest old translation over marked fuzzy (gettext's word for "stale, to review"),
keeps the previous English as `#| msgid` so a translator sees what changed, and moves
translations no page uses any more to the obsolete entries (`#~`) rather than losing
them.  `problems` (what `--check` prints, and CI fails on) names every paragraph whose
translation is missing, stale, or that breaks the glossary (numpygam.course.glossary: one
Chinese term for each English one, the blog's first).  The files are read and written
with polib, so Poedit, Lokalize, Weblate and msgmerge all open them.
"""
import ast
import difflib
import os
import re

import polib

from . import glossary

LOCALE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "locale")
LANGS = ("en", "zh")

INLINE = re.compile(r"\$\$.+?\$\$|\$.+?\$|`[^`]*`", re.S)
FIGURE_CALLS = {"set_title", "set_xlabel", "set_ylabel", "suptitle", "title", "xlabel", "ylabel"}


# -- paragraphs --------------------------------------------------------------------------

def blocks(markdown):
    """The markdown's blocks, in order: runs of lines between blank lines, a fenced code
    block (``` ... ```) whole even where it holds blank lines."""
    out, current, fenced = [], [], False
    for line in markdown.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if line.strip() or fenced:
            current.append(line)
        elif current:
            out.append("\n".join(current))
            current = []
    if current:
        out.append("\n".join(current))
    return out


def translatable(block):
    """True when the block has words to translate: not a code fence, and some word of two
    letters or more outside its formulas and inline code."""
    lines = block.split("\n")
    if block.lstrip().startswith("```") or all(l.startswith("    ") for l in lines):
        return False  # a code block, fenced or indented
    return re.search(r"[A-Za-z]{2,}", INLINE.sub(" ", block)) is not None


def paragraphs(markdown):
    """The msgids of a text: its translatable blocks, in order."""
    return [b for b in blocks(markdown) if translatable(b)]


# -- catalogues --------------------------------------------------------------------------

def catalogue_path(name, lang="zh"):
    return os.path.join(LOCALE, lang, f"{name}.po")


def header(name):
    """The catalogue's header: the fields msgfmt --check asks for."""
    return {"Project-Id-Version": f"numpygam {name}", "PO-Revision-Date": "2026-12-06 00:00+0000",
            "Last-Translator": "numpygam contributors", "Language-Team": "Chinese (zh_CN)",
            "Language": "zh_CN", "MIME-Version": "1.0",
            "Content-Type": "text/plain; charset=UTF-8", "Content-Transfer-Encoding": "8bit",
            "Plural-Forms": "nplurals=1; plural=0;"}


class CatalogueError(ValueError):
    """A catalogue file polib cannot read; the message names the file and the line."""


def load(name, lang="zh"):
    """The catalogue of page `name` (an empty one when the file does not exist yet)."""
    path = catalogue_path(name, lang)
    if os.path.exists(path):
        try:
            return polib.pofile(path, wrapwidth=0)
        except OSError as err:  # polib's syntax errors are OSErrors naming the line
            raise CatalogueError(f"{err}: fix that line, or restore the file from git "
                                 f"(git checkout -- {path})") from None
    po = polib.POFile(wrapwidth=0)
    po.metadata = header(name)
    return po


def lookup(po):
    """{English paragraph: Chinese} for every entry translated and not stale."""
    return {e.msgid: e.msgstr for e in po if e.msgstr and not e.fuzzy and not e.obsolete}


def table(name, lang="zh"):
    """lookup() of page `name`'s catalogue: what translate_markdown reads."""
    return lookup(load(name, lang))


def translate_markdown(markdown, table):
    """The markdown with each paragraph replaced by its translation from `table`
    (lookup()'s dict); a paragraph without one stays English."""
    return "\n\n".join(table.get(b, b) for b in blocks(markdown))


def update(name, sources, lang="zh"):
    """Bring the catalogue of page `name` in step with its English `sources` (a list of
    msgids, in page order) and save it; returns the catalogue.  A new paragraph close to
    one that left (difflib ratio >= 0.5) starts from its translation, marked fuzzy."""
    po = load(name, lang)
    old = {e.msgid: e for e in po}
    wanted = list(dict.fromkeys(sources))
    gone = [e for msgid, e in old.items() if msgid not in wanted and e.msgstr]
    fresh = polib.POFile(wrapwidth=0)
    fresh.metadata = po.metadata
    for msgid in wanted:
        entry = old.get(msgid)
        if entry is not None:  # unchanged, or an obsolete one whose English came back
            entry.obsolete = False
            fresh.append(entry)
            continue
        entry = polib.POEntry(msgid=msgid, msgstr="")
        scored = [(difflib.SequenceMatcher(None, e.msgid, msgid).ratio(), i)
                  for i, e in enumerate(gone)]
        ratio, best = max(scored, default=(0, None))
        if ratio >= 0.5:
            match = gone.pop(best)
            entry.msgstr, entry.previous_msgid = match.msgstr, match.msgid
            entry.flags.append("fuzzy")
        fresh.append(entry)
    for entry in gone:  # kept for the translator, out of the way
        entry.obsolete = True
        fresh.append(entry)
    path = catalogue_path(name, lang)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fresh.save(path + ".tmp")  # then renamed: a kill while saving leaves the old file whole
    os.replace(path + ".tmp", path)
    return fresh


def problems(name, sources, lang="zh"):
    """[(page, kind, English paragraph)] for page `name`: kind is "missing" (no
    translation), "stale" (the English changed since it was translated: fuzzy), or
    "term: <English> -> <Chinese>" (a glossary term translated another way) or
    "avoid: <written> -> <instead>" (a translation the glossary avoids)."""
    po = load(name, lang)
    entries = {e.msgid: e for e in po if not e.obsolete}
    found = []
    for msgid in dict.fromkeys(sources):
        entry = entries.get(msgid)
        if entry is None or not entry.msgstr:
            found.append((name, "missing", msgid))
        elif entry.fuzzy:
            found.append((name, "stale", msgid))
        else:
            found += [(name, kind, msgid) for kind in glossary.problems(msgid, entry.msgstr)]
    return found


# -- figures -----------------------------------------------------------------------------

def figure_texts(source):
    """The titles and axis labels a lesson's code draws, as templates: an f-string's
    fields become "{}" ("head {}" for f"head {h}"); only texts with words in them."""
    texts = []

    def template(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        return None

    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", None))
        candidates = [node.args[0]] if name in FIGURE_CALLS and node.args else []
        candidates += [k.value for k in node.keywords if k.arg == "label"]
        for text in filter(None, map(template, candidates)):
            if re.search(r"[A-Za-z]{2,}", re.sub(r"\$.+?\$|\{\}", " ", text)):
                texts.append(text)
    return list(dict.fromkeys(texts))


def _figure_pattern(template):
    """The regular expression of a template: each field one word (a number, a name), so
    "head {}" matches "head 3" but not "head 3 of 4"."""
    return re.compile(r"(\S+?)".join(map(re.escape, template.split("{}"))) + r"\Z")


CJK_FONTS = ["Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
             "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC"]


def chinese_figures():
    """Draw the lessons' figure titles and axis labels in Chinese, with the code unchanged.

    The Chinese notebooks call this in their first cell.  Matplotlib sets every title and
    label through Text.set_text; this wraps it so that a text matching a template of
    figures.po ("head {}" -> "第 {} 个头") is drawn translated, and adds the CJK fonts the
    machine has after DejaVu Sans (matplotlib falls back glyph by glyph).  Returns the
    fonts found; with none, Chinese glyphs would draw as boxes, so it says which to install.
    """
    import matplotlib
    import matplotlib.text
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    if not installed.intersection(CJK_FONTS):  # matplotlib's font cache may predate the font
        for path in font_manager.findSystemFonts():
            if re.search(r"wqy|cjk|sourcehan|simhei|yahei|pingfang", os.path.basename(path), re.I):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue  # a file FreeType cannot read: skip it
        installed = {f.name for f in font_manager.fontManager.ttflist}
    fonts = [f for f in CJK_FONTS if f in installed]
    if not fonts:
        print("chinese_figures: no Chinese font found; figures keep English labels "
              "(install one: apt-get install fonts-noto-cjk, or fonts-wqy-microhei)")
        return fonts
    matplotlib.rcParams["font.family"] = ["DejaVu Sans", *fonts]
    patterns = [(_figure_pattern(en), zh) for en, zh in table("figures").items()]
    original = getattr(matplotlib.text.Text.set_text, "__wrapped__", matplotlib.text.Text.set_text)

    def set_text(self, s):
        text = "" if s is None else str(s)
        for pattern, zh in patterns:
            match = pattern.match(text)
            if match:  # zh's "{}" take the English fields in order; other braces stay
                parts = zh.split("{}")
                text = parts[0] + "".join(g + p for g, p in zip(match.groups(), parts[1:]))
                break
        return original(self, text)

    set_text.__wrapped__ = original
    matplotlib.text.Text.set_text = set_text
    return fonts


def english_figures():
    """Undo chinese_figures: matplotlib's own Text.set_text again (the fonts stay)."""
    import matplotlib.text
    matplotlib.text.Text.set_text = getattr(matplotlib.text.Text.set_text, "__wrapped__",
                                            matplotlib.text.Text.set_text)


def chinese_verdicts():
    """Print gradcheck's reports in Chinese (feedback.po), with the code unchanged: the
    Chinese notebooks call this in their first cell, beside chinese_figures."""
    from ..gradcheck import set_report_language
    set_report_language("zh")


def english_verdicts():
    """Undo chinese_verdicts: gradcheck's reports in English again."""
    from ..gradcheck import set_report_language
    set_report_language("en")

