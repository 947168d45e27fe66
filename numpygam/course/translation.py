"""The Chinese edition: gettext catalogues keyed by the English paragraph.

One English source, one catalogue of translations beside it, so the two cannot drift:

    numpygam/locale/zh/<page>.po     one per chapter (00_index.po, ...), per lesson
                                     (01_why_attention.po, ...), one for the homework
                                     walkthroughs (exercises.po) and one for the lessons'
                                     figure texts and printed table headers (figures.po)

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

INLINE = glossary.INLINE  # formulas and inline code
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
#
# A figure's text is often not a literal at the call that draws it: a legend's label is a
# variable bound from a literal (`label = "a" if ... else "b"`), a title an f-string whose
# field is a dictionary's key (`for name, p in params.items(): ax.set_title(f"{name}: ...")`).
# figure_texts follows each such variable back, through the lesson's own assignments and
# loops, to the string literals it can hold; every one with words goes into figures.po, and
# the translator translates a field of a template as well when its text is an entry there.
# What it cannot follow back to a literal (an index, a number, a model's output, a word of
# the data set, a field written {x!r}) is data, and is drawn as it is.

# The calls that draw or print a text, and where the text is: (argument position, whether it
# is one text or a sequence of texts: tick labels, a bar chart's categories).  `printed` is
# this module's own, for the tables a lesson prints.
DRAWN = {**{name: (0, False) for name in FIGURE_CALLS},
         "text": (2, False), "figtext": (2, False), "annotate": (0, False),
         "set_xticks": (1, True), "set_yticks": (1, True), "set_xticklabels": (0, True),
         "set_yticklabels": (0, True), "legend": (0, True), "bar": (0, True), "barh": (0, True),
         "plot": (0, True), "scatter": (0, True), "printed": (0, False)}
DRAWN_KEYWORDS = {"label": False, "title": False, "xlabel": False, "ylabel": False, "labels": True}

_OPAQUE = ("opaque",)  # a value the flow does not follow: data


class _Flow:
    """Where a lesson's names get their values, read from its syntax tree alone (no code
    runs): enough to follow a label back to the string literals it is drawn from.

    An abstract value is a frozenset of atoms: ("str", text, position), ("tuple", (value,
    ...)) for a literal tuple or list, ("seq", value) for anything iterated over,
    ("dict", keys, values), and _OPAQUE.  The flow ignores order and scope (every binding
    of a name counts, wherever it is): a label may get more candidates than it ever shows,
    never fewer than the literals it is bound from."""

    def __init__(self, tree):
        self.bindings = {}
        self.active = set()

        def bind(target, how):
            if isinstance(target, ast.Name):
                self.bindings.setdefault(target.id, []).append(how)
            elif isinstance(target, (ast.Tuple, ast.List)):
                for i, element in enumerate(target.elts):
                    bind(element, how[:-1] + (how[-1] + (i,),))
            elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                # d[k] = v: d has the key k
                self.bindings.setdefault(target.value.id, []).append(("item", target.slice, how))

        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    bind(target, ("value", node.value, ()))
            elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                bind(node.target, ("value", node.value, ()))
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                bind(node.target, ("iter", node.iter, ()))
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and isinstance(node.func.value, ast.Name) and len(node.args) == 1
                  and node.func.attr in ("append", "extend")):  # rows.append((name, ...))
                self.bindings.setdefault(node.func.value.id, []).append(
                    (node.func.attr, node.args[0], ()))

    # -- the operations on abstract values
    @staticmethod
    def iterate(value):
        out = set()
        for atom in value:
            if atom[0] == "tuple":
                out.update(*atom[1])
            elif atom[0] in ("seq", "dict"):
                out.update(atom[1])
            else:
                out.add(_OPAQUE)  # a string's characters, or data
        return frozenset(out)

    @staticmethod
    def element(value, index):
        """value[index], index an int (or None: any)."""
        out = set()
        for atom in value:
            if atom[0] == "tuple":
                if index is None:
                    out.update(*atom[1])
                elif -len(atom[1]) <= index < len(atom[1]):
                    out.update(atom[1][index])
            elif atom[0] == "seq":
                out.update(atom[1])
            elif atom[0] == "dict":
                out.update(atom[2])
            else:
                out.add(_OPAQUE)
        return frozenset(out)

    def destructure(self, value, path):
        for index in path:
            value = self.element(value, index)
        return value

    def name(self, name):
        hows = self.bindings.get(name)
        if not hows:
            return frozenset({_OPAQUE})  # a parameter, an import, a with-target
        if name in self.active:
            return frozenset()  # rows -> name -> rows: the other bindings say it
        self.active.add(name)
        try:
            out = set()
            for how in hows:
                if how[0] == "item":
                    _, key, (_, value, path) = how
                    out.add(("dict", self.value(key), self.destructure(self.value(value), path)))
                    continue
                kind, node, path = how
                value = self.value(node)
                if kind == "iter":
                    value = self.iterate(value)
                elif kind == "append":
                    out.add(("seq", value))
                    continue
                elif kind == "extend":
                    out.add(("seq", self.iterate(value)))
                    continue
                out.update(self.destructure(value, path))
            return frozenset(out)
        finally:
            self.active.discard(name)

    def value(self, node):
        """The abstract value of an expression."""
        one = frozenset
        if isinstance(node, ast.Constant):
            return one({("str", node.value, (node.lineno, node.col_offset))}
                       if isinstance(node.value, str) else {_OPAQUE})
        if isinstance(node, ast.JoinedStr):
            return one({("str", _template(node), (node.lineno, node.col_offset))})
        if isinstance(node, ast.IfExp):
            return self.value(node.body) | self.value(node.orelse)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            if any(isinstance(e, ast.Starred) for e in node.elts):
                return one({("seq", self.iterate(frozenset().union(
                    *(self.value(getattr(e, "value", e)) for e in node.elts))))})
            return one({("tuple", tuple(self.value(e) for e in node.elts))})
        if isinstance(node, ast.Dict):
            if None in node.keys:
                return one({_OPAQUE})
            return one({("dict", frozenset().union(*map(self.value, node.keys)),
                         frozenset().union(*map(self.value, node.values)))})
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
            return one({("seq", self.value(node.elt))})
        if isinstance(node, ast.DictComp):
            return one({("dict", self.value(node.key), self.value(node.value))})
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # list + list
            both = self.value(node.left) | self.value(node.right)
            return one({_OPAQUE} if any(a[0] == "str" for a in both) else both)
        if isinstance(node, ast.Subscript):
            base = self.value(node.value)
            if isinstance(node.slice, ast.Slice):
                return one(a if a[0] in ("tuple", "seq") else _OPAQUE for a in base)
            index = node.slice.value if isinstance(node.slice, ast.Constant) else None
            if isinstance(index, str):  # d["key"]: the dictionary's values
                return one(v for a in base for v in (a[2] if a[0] == "dict" else {_OPAQUE}))
            return self.element(base, index if isinstance(index, int) else None)
        if isinstance(node, ast.Call):
            return self.call(node)
        return one({_OPAQUE})

    def call(self, node):
        one = frozenset
        func = node.func
        if isinstance(func, ast.Attribute) and not node.args:
            of = self.value(func.value)
            dicts = [a for a in of if a[0] == "dict"]
            keys = frozenset().union(*(a[1] for a in dicts))
            values = frozenset().union(*(a[2] for a in dicts))
            if func.attr == "items":
                return one({("seq", one({("tuple", (keys, values))}))})
            if func.attr in ("keys", "values"):
                return one({("seq", keys if func.attr == "keys" else values)})
        if isinstance(func, ast.Name) and not node.keywords:
            if func.id == "zip":
                return one({("seq", one({("tuple", tuple(self.iterate(self.value(a))
                                                         for a in node.args))}))})
            if func.id == "enumerate" and node.args:
                return one({("seq", one({("tuple", (one({_OPAQUE}),
                                                    self.iterate(self.value(node.args[0]))))}))})
            if func.id in ("list", "tuple", "sorted", "reversed", "set") and len(node.args) == 1:
                return one({("seq", self.iterate(self.value(node.args[0])))})
        return one({_OPAQUE})


def _template(node):
    """An f-string as a template: each field "{}"."""
    return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)


def _has_words(text):
    """A word of two letters or more outside formulas, fields and tokens such as <eos>."""
    return re.search(r"[A-Za-z]{2,}", re.sub(r"\$.+?\$|\{\}|<\w+>", " ", text)) is not None


def drawn_texts(source):
    """[(line, template, fields)]: each text a lesson's code draws on a figure (titles,
    axis labels, legends, tick labels, a bar chart's categories, texts) or prints through
    printed(), as a template (an f-string's fields "{}") with, for each field, the string
    literals it can hold, in the order they appear (empty: data, drawn as it is)."""
    flow, found = _Flow(ast.parse(source)), []

    def strings(value):
        return [s for s, _ in sorted({(a[1], a[2]) for a in value if a[0] == "str"},
                                     key=lambda item: item[1])]

    def one(node):
        if isinstance(node, ast.JoinedStr):
            fields = tuple(() if v.conversion == ord("r") else tuple(dict.fromkeys(
                strings(flow.value(v.value)))) for v in node.values
                if isinstance(v, ast.FormattedValue))
            found.append(((node.lineno, node.col_offset), _template(node), fields))
        else:
            for text in dict.fromkeys(strings(flow.value(node))):
                found.append(((node.lineno, node.col_offset), text, ((),) * text.count("{}")))

    def many(node):
        if isinstance(node, (ast.List, ast.Tuple)):
            for element in node.elts:
                one(element)
        elif isinstance(node, (ast.ListComp, ast.GeneratorExp)):
            one(node.elt)
        else:
            for text in dict.fromkeys(strings(flow.iterate(flow.value(node)))):
                found.append(((node.lineno, node.col_offset), text, ((),) * text.count("{}")))

    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", None))
        drawn = [(node.args[DRAWN[name][0]], DRAWN[name][1])] if (
            name in DRAWN and len(node.args) > DRAWN[name][0]) else []
        drawn += [(k.value, DRAWN_KEYWORDS[k.arg]) for k in node.keywords if k.arg in DRAWN_KEYWORDS]
        for arg, sequence in drawn:
            (many if sequence else one)(arg)
    return [(at[0], template, fields) for at, template, fields in sorted(found, key=lambda f: f[0])]


def figure_texts(source):
    """The texts a lesson's code draws on its figures or prints through printed(), as
    figures.po's msgids: templates (an f-string's fields become "{}": "head {}" for
    f"head {h}") with words in them, or whose fields hold words, and each string literal
    with words that a field or a label variable holds (drawn_texts follows them back)."""
    texts = []
    for _, template, fields in drawn_texts(source):
        values = [v for field in fields for v in field if _has_words(v)]
        if template != "{}" and (_has_words(template) or values):
            texts.append(template)
        texts += values
    return list(dict.fromkeys(texts))


def _figure_pattern(template, values=()):
    """The regular expression of a template: each field one word (a number, a name), or
    one of `values` whole (figures.po's entries, which may hold spaces), so "head {}"
    matches "head 3" but not "head 3 of 4"."""
    field = "(" + "".join(re.escape(v) + "|" for v in values) + r"\S+?)"
    return re.compile(field.join(map(re.escape, template.split("{}"))) + r"\Z")


def figure_translator(table):
    """A function text -> its translation from `table` (figures.po's lookup()), or None when
    no entry matches: an entry whole, else a template whose fields take the English
    fields in order, each one translated too where it is itself an entry ("{}: softmax(e)"
    and "dot" make "dot: softmax(e)" into "点积：softmax(e)").  The template with the most
    fixed text wins."""
    values = sorted((en for en in table if "{}" not in en), key=len, reverse=True)
    templates = sorted((en for en in table if "{}" in en), key=lambda en: -len(en.replace("{}", "")))
    patterns = [(_figure_pattern(en, values), table[en]) for en in templates]

    def translate(text):
        if text in table:
            return table[text]
        for pattern, zh in patterns:
            match = pattern.match(text)
            if match:  # zh's "{}" take the English fields in order; other braces stay
                parts = zh.split("{}")
                return parts[0] + "".join(table.get(g, g) + p for g, p in zip(match.groups(), parts[1:]))
        return None

    return translate


_printed = None  # the translator printed() uses: set by chinese_figures, unset by english_figures


def _columns(text):
    import unicodedata
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def printed(text, spec=""):
    """`text` as this edition prints it: its translation from figures.po once
    chinese_figures() has run (the Chinese lessons' first cell calls it), else unchanged.
    `spec` aligns it as a format spec does ("<18", ">10", "^8"), counting a Chinese
    character as two columns, as a terminal or a notebook draws it; so a lesson's table
    header reads `printed("attention", "<18") + printed("params", ">8")` and prints in
    English exactly what f"{'attention':<18}{'params':>8}" prints."""
    match = re.fullmatch(r"([<>^]?)(\d*)", spec)
    if match is None:
        raise ValueError(f"printed: spec {spec!r} is an alignment (<, > or ^) and a width")
    if _printed is not None:
        text = _printed(text) or text
    pad = max(0, int(match.group(2) or 0) - _columns(text))
    align = match.group(1) or "<"
    left = pad if align == ">" else pad // 2 if align == "^" else 0
    return " " * left + text + " " * (pad - left)


CJK_FONTS = ["Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
             "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC"]


def chinese_figures():
    """Draw the lessons' figure texts in Chinese, and print their printed() texts in
    Chinese, with the code unchanged.

    The Chinese notebooks call this in their first cell.  Matplotlib sets every title,
    label and tick label through Text.set_text; this wraps it so that a text figures.po
    translates (figure_translator: "head {}" -> "第 {} 个头", "dot" -> "点积") is drawn
    translated, and puts the CJK fonts the machine has before DejaVu Sans (matplotlib falls
    back glyph by glyph, and mathtext needs the Chinese font first).  Returns the fonts
    found; with none, Chinese glyphs would draw as boxes, so the figures stay English and
    it says which font to install.
    """
    global _printed
    import matplotlib
    import matplotlib.text
    from matplotlib import font_manager

    translate = figure_translator(table("figures"))
    _printed = translate  # printed text needs no font
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
    # the Chinese font first: a title that mixes Chinese and $math$ is laid out by
    # mathtext, which takes its plain text from the first family only (no fallback)
    matplotlib.rcParams["font.family"] = [*fonts, "DejaVu Sans"]
    original = getattr(matplotlib.text.Text.set_text, "__wrapped__", matplotlib.text.Text.set_text)

    def set_text(self, s):
        text = "" if s is None else str(s)
        translated = translate(text) if text else None
        return original(self, text if translated is None else translated)

    set_text.__wrapped__ = original
    matplotlib.text.Text.set_text = set_text
    return fonts


def english_figures():
    """Undo chinese_figures: matplotlib's own Text.set_text again, printed() English (the
    fonts stay)."""
    global _printed
    import matplotlib.text
    _printed = None
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

