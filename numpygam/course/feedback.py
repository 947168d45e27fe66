"""What numpygam says to a student, in the student's language (en or zh).

Every message stays in the code where it is said, in English, as a str.format template,
and say() puts it in the student's language on its way out:

    say("WRONG in {wrong} of {size} entries", lang, wrong=3, size=20)

lang "en" formats the template itself.  lang "zh" looks the template up in
numpygam/locale/zh/feedback.po (msgid: the English template; msgstr: the Chinese, with
the same {fields}; read with polib, like the other catalogues of translation.py) and
formats the Chinese.  A template without a current translation (none yet, marked fuzzy,
or with fields other than the English's) is said in English: a new message is never
lost, only untranslated until `python book/build.py --lang zh --check` stops naming it.

The catalogue's msgids are templates(): the first argument of every say() call in
SOURCES, read from their syntax trees (so that a template must be a literal string;
tests/test_feedback.py fails on any other), then data_texts(), the words of the
exercises' table that reach a student as data (the variant in a check's name, "softmax
(a fully masked row)"), said with say_text().

Who says what:
  course/grading.py, runner.py, gradescope.py, sandbox.py   the grader's lines, results.json
  gradcheck.py                                               gradcheck's reports
  course/homework.py                                         the exercise files' comments
  __main__.py                                                `grade`'s usage errors

The runner runs in the sandbox, where neither polib nor the catalogues can be read: the
grader sends it the translations of what it says in its request, and it calls
use_table(lang, those) first.

Which language: `grade --lang`, `autograder --lang`, or, for a folder `homework --lang
zh` wrote, the MARKER file it left there (folder_language); gradcheck's reports follow
gradcheck.set_report_language, which the Chinese lessons' first cell sets
(translation.chinese_verdicts).
"""
import ast
import os
import string

LANGS = ("en", "zh")
CATALOGUE = "feedback"  # numpygam/locale/<lang>/feedback.po
PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ("course/grading.py", "course/runner.py", "course/gradescope.py", "course/sandbox.py",
           "course/homework.py", "gradcheck.py", "__main__.py")  # relative to the package

_GIVEN = {}   # {lang: table} handed over by use_table (the runner, in the sandbox)
_READ = {}    # {catalogue path: (its modification time, table)}


def check_lang(lang, argument="lang"):
    """lang itself when it is one of LANGS; else ValueError naming argument."""
    if lang not in LANGS:
        raise ValueError(f"{argument}={lang!r}: expected one of {', '.join(LANGS)}")
    return lang


def fields(template):
    """The template's replacement fields as (name, format spec, conversion), sorted: a
    translation must have the same ones (in any order)."""
    return sorted((name, spec or "", conversion or "")
                  for _, name, spec, conversion in string.Formatter().parse(template)
                  if name is not None)


def _current(found):
    """found without the translations whose fields differ from the English's (or that are
    no format string at all): those are said in English."""
    def same(en, tr):
        try:
            return fields(en) == fields(tr)
        except ValueError:  # a lone brace: not a template
            return False
    return {en: tr for en, tr in found.items() if same(en, tr)}


def table(lang):
    """{English template: translation} of every current translation in lang's catalogue
    whose fields are the English's ({} for English).  Read once, and again when the
    catalogue file changes."""
    check_lang(lang)
    if lang == "en":
        return {}
    if lang in _GIVEN:
        return _GIVEN[lang]
    from . import translation  # polib: imported where the catalogues are read, never in the box
    path = translation.catalogue_path(CATALOGUE, lang)
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        stamp = None  # no catalogue: everything in English
    if path not in _READ or _READ[path][0] != stamp:
        found = translation.table(CATALOGUE, lang) if stamp is not None else {}
        _READ[path] = (stamp, _current(found))
    return _READ[path][1]


def use_table(lang, given):
    """Say lang's messages from `given` ({English template: translation}, what table()
    returned in the grader) instead of reading the catalogue: the runner's case."""
    check_lang(lang)
    if not isinstance(given, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                              for k, v in given.items()):
        raise ValueError("use_table: expected a dict of English template -> translation")
    _GIVEN[lang] = _current(given)


def say(template, lang="en", **values):
    """template (English, with str.format {fields}) in lang, its fields filled from values."""
    return table(lang).get(template, template).format(**values)


def say_text(text, lang="en"):
    """A text from data rather than code (data_texts()) in lang; English where untranslated."""
    return table(lang).get(text, text)


# Punctuation around the messages: ASCII in English, full-width in Chinese.

def colon(head, tail, lang="en"):
    """'head: tail' ('head：tail' in Chinese)."""
    return f"{head}{'：' if lang == 'zh' else ': '}{tail}"


def parenthesized(note, lang="en"):
    """'(note)' ('（note）' in Chinese)."""
    return f"（{note}）" if lang == "zh" else f"({note})"


def aside(text, note, lang="en"):
    """'text (note)' ('text（note）' in Chinese)."""
    return text + ("" if lang == "zh" else " ") + parenthesized(note, lang)


# The catalogue's msgids.

def check_variant(check):
    """The variant a check's name gives in parentheses ("a fully masked row" of "softmax (a
    fully masked row)"), or None."""
    return check.split("(", 1)[1][:-1] if check.endswith(")") and "(" in check else None


def data_texts():
    """The texts of the exercises' table that reach a student as data: each check's variant."""
    from .exercises import EXERCISES
    variants = (check_variant(c) for e in EXERCISES.values() for c in e.checks)
    return list(dict.fromkeys(v for v in variants if v))


def say_calls(source):
    """[(line, the call's first argument node)] of every say() call in source, in order."""
    calls = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args and \
                getattr(node.func, "id", getattr(node.func, "attr", None)) == "say":
            calls.append((node.lineno, node.args[0]))
    return sorted(calls, key=lambda call: call[0])


def templates(sources=SOURCES, data=True):
    """Every English template said to a student, in source order, then data_texts(): the
    msgids of feedback.po (sources: the files to read, relative to the package; data:
    whether data_texts() are in)."""
    found = []
    for relative in sources:
        with open(os.path.join(PACKAGE, relative), encoding="utf-8") as f:
            source = f.read()
        found += [node.value for _, node in say_calls(source)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    return list(dict.fromkeys(found + (data_texts() if data else [])))


# Where a homework folder's language is kept.

MARKER = ".numpygam-lang"  # in the folder `homework --lang zh` wrote; holds "zh"


def folder_language(folder):
    """The language `homework` wrote folder's exercises in (the MARKER file), "en" where
    there is none or it holds anything else."""
    try:
        with open(os.path.join(folder, MARKER), encoding="utf-8") as f:
            found = f.read(16).strip()
    except (OSError, UnicodeDecodeError):
        return "en"
    return found if found in LANGS else "en"
