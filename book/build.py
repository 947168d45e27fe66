"""Build the numpygam book: a static website from the lessons and the chapters.

    python book/build.py [--out book/_build/html] [--student] [--lang en|zh]
    python book/build.py --lang zh --check     # exit 1 naming each paragraph to translate
    python book/build.py --lang zh --update    # bring the catalogues in step with the English

Offline and self-contained: lessons (notebooks/*.py, jupytext percent format)
are converted to notebooks by numpygam.course.lessons (the same .ipynb files that
`python -m numpygam lessons` writes, linked from each lesson's page) and
executed by a Jupyter kernel (cached in book/_build/executed/ by a hash of
their source), math is converted to MathML at build time (the browser renders
it natively: no script, no CDN), figures are written next to the pages, and an
API page shows each op's docstring and source so that formulas link to code.

--student builds the students' edition: the API page leaves out the code of
every function that is a homework exercise (and says so), so the book does
not hand out the solutions.

What a reader gets on every page, all of it working from file:// with no server:
code highlighted by Pygments (a palette that prints; another for dark mode, from
prefers-color-scheme), a search box whose index is a script (search-index.js: a
browser refuses fetch() on file://, but loads a <script src>), rel="prev" and
rel="next" links through every page in reading order, a contents list on pages
with more than three sections, a copy button on code blocks, a layout that fits a
400 px window (only code blocks and wide tables scroll, each by itself), alt text
on every figure and a print stylesheet.  The first page also links the pages that live
beside the code (README.md, docs/*.md, ARCHITECTURE.md, benchmarks/README.md) by paths
relative to the built page, so they open from a checkout.

--lang zh builds the Chinese edition into book/_build/html/zh/ (the same file names):
each paragraph of every chapter, lesson and walkthrough from its gettext catalogue
(numpygam/locale/zh/*.po, see numpygam.course.translation), the lessons executed with
their figures labelled in Chinese, a glossary page (中英术语对照, glossary.html) that
every Chinese page links, and a link on every page to the other edition.  A paragraph
without a translation stays English in the build; --check names each one (and each
stale one, and each glossary term translated another way) and exits 1, so CI refuses an
English change that lands without its translation.
"""
import argparse
import base64
import concurrent.futures
import glob
import hashlib
import html
import inspect
import json
import os
import re
import subprocess
import sys

import markdown
import nbformat
from latex2mathml.converter import convert as latex_to_mathml
from markdown.extensions.toc import slugify_unicode
from nbclient import NotebookClient
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from numpygam import plots
from numpygam.course import glossary, homework, lessons, translation
from numpygam.course.exercises import EXERCISES

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LESSONS = lessons.LESSONS
CACHE = os.path.join(HERE, "_build", "executed")


# -- lessons -----------------------------------------------------------------------------

def lesson_paths():
    return lessons.lesson_paths()


def _cache_entry(path, lang):
    """(the cached notebook's path, the hash of the lesson's source and, for lang="zh",
    of its catalogues): what execute_lesson keys its cache by."""
    name = os.path.basename(path)[:-3]
    with open(path) as f:
        source = f.read()
    if lang == "zh":
        for catalogue in (name, "figures"):
            if os.path.exists(translation.catalogue_path(catalogue)):
                with open(translation.catalogue_path(catalogue)) as f:
                    source += f.read()
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    return os.path.join(CACHE, name + ("_zh" if lang == "zh" else "") + ".ipynb"), digest


def _cached(path, lang):
    """The lesson's executed notebook from the cache, or None when it is missing or stale."""
    cached, digest = _cache_entry(path, lang)
    if os.path.exists(cached):
        nb = nbformat.read(cached, as_version=4)
        if nb.metadata.get("numpygam_source_hash") == digest:
            return nb
    return None


def execute_lesson(path, timeout=600, lang="en"):
    """The lesson run top to bottom in a fresh kernel (cached by a hash of its source and,
    for lang="zh", of its catalogues)."""
    name = os.path.basename(path)[:-3]
    nb = _cached(path, lang)
    if nb is not None:
        return nb
    cached, digest = _cache_entry(path, lang)
    with open(path) as f:  # the .ipynb students download
        nb = nbformat.from_dict(lessons.notebook(f.read(), lang, name))
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": LESSONS}}).execute()
    nb.metadata["numpygam_source_hash"] = digest
    os.makedirs(CACHE, exist_ok=True)
    nbformat.write(nb, cached)
    return nb


def execute_lessons(paths, lang="en", jobs=1):
    """[(name, executed notebook)] of each lesson.  jobs > 1: the lessons not yet cached
    run `jobs` at a time, each in a process of its own (`build.py --execute PATH`) with one
    BLAS thread, so that they share the cores rather than fight over them; their printed
    timings are then those of a shared machine (the default, 1, runs one at a time)."""
    stale = [p for p in paths if _cached(p, lang) is None] if jobs > 1 else []
    if stale:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1"}

        def run(path):
            return subprocess.run([sys.executable, os.path.abspath(__file__), "--execute", path,
                                   "--lang", lang], env=env, capture_output=True, text=True)

        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            for path, done in zip(stale, pool.map(run, stale)):
                if done.returncode != 0:
                    raise RuntimeError(f"{os.path.basename(path)} failed in --lang {lang}:\n"
                                       + done.stderr[-3000:])
    return [(os.path.basename(p)[:-3], execute_lesson(p, lang=lang)) for p in paths]


# -- markdown with math ------------------------------------------------------------------

MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)


def render_markdown(text, lang="en"):
    """Markdown to HTML; $...$ and $$...$$ become MathML (lang="zh": headings' anchors keep
    their Chinese characters)."""
    formulas = []

    def stash(match):
        display = match.group(1) is not None
        latex = (match.group(1) if display else match.group(2)).strip()
        mathml = latex_to_mathml(latex, display="block" if display else "inline")
        formulas.append(mathml)
        return f"@@MATH{len(formulas) - 1}@@"

    body = markdown.markdown(MATH.sub(stash, text),
                             extensions=["tables", "fenced_code", "codehilite", "toc"],
                             extension_configs={"codehilite": {"css_class": "highlight",
                                                               "guess_lang": False},
                                                "toc": {"slugify": slugify_unicode} if lang == "zh"
                                                else {}})
    return re.sub(r"@@MATH(\d+)@@", lambda m: formulas[int(m.group(1))], body)


def code_block(source):
    """Python source as a highlighted block (Pygments' spans inside <pre><code>)."""
    return (f'<pre class="code highlight"><code>'
            f'{highlight(source, PythonLexer(), HtmlFormatter(nowrap=True))}</code></pre>')


def render_lesson(nb, name, figures_dir, lang="en"):
    parts, figure = [], 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(render_markdown(cell.source, lang))
            continue
        parts.append(code_block(cell.source))
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                figure += 1
                filename = f"{name}_{figure}.png"
                with open(os.path.join(figures_dir, filename), "wb") as f:
                    f.write(base64.b64decode(data["image/png"]))
                alt = html.escape(UI[lang]["figure"].format(n=figure, title=lesson_title(nb)),
                                  quote=True)
                parts.append(f'<img class="figure" src="figures/{filename}" alt="{alt}">')
            elif "text/plain" in data or output.get("output_type") == "stream":
                text = output.get("text") or data.get("text/plain", "")
                parts.append(f'<pre class="output">{html.escape(text)}</pre>')
    return "\n".join(parts)


# -- the API page: each op's docstring and source ------------------------------------------

def api_page(student=False, lang="en"):
    import numpygam.functional as F
    exercises = {fn for exercise in EXERCISES.values() for fn in exercise.write}
    parts = ["<h1>numpygam.functional</h1>", f"<p>{UI[lang]['api_intro']}</p>"]
    if student:
        parts.append(UI[lang]["api_student"].format(", ".join(
            f"<code>{n}</code>" for n in sorted(exercises))))
    names = sorted(n for n in dir(F) if n.endswith(("_forward", "_backward"))
                   or n in ("sinusoidal_positions", "causal_mask"))
    shown_modules = set()
    for name in names:
        fn = getattr(F, name)
        source = inspect.getsource(fn)
        if student and "# BEGIN SOLUTION" in source:  # (the docstrings stay English)
            source = re.sub(r"( *)# BEGIN SOLUTION\n.*?# END SOLUTION",
                            r"\1# (left out of the students' edition: a homework exercise)",
                            source, flags=re.S)
        source = "\n".join(l for l in source.split("\n")
                           if l.strip() not in ("# BEGIN SOLUTION", "# END SOLUTION"))
        module = fn.__module__.replace("numpygam.functional.", "")
        if module not in shown_modules:  # ops refer to their module's docstring for the math
            shown_modules.add(module)
            doc = inspect.getdoc(sys.modules[fn.__module__]) or ""
            parts.append(f'<h2 id="{module}.py"><code>{module}.py</code></h2>')
            parts.append(f'<pre class="doc">{html.escape(doc)}</pre>')
        parts.append(f'<h2 id="{name}"><code>{name}</code> <small>({module}.py)</small></h2>')
        parts.append(code_block(source))
    return "\n".join(parts)


# -- the site -------------------------------------------------------------------------------

# The words of the site itself, in each edition (the pages' prose comes from the catalogues).
UI = {
    "en": {"html": "en", "contents": "Contents", "previous": "previous", "next": "next",
           "search": "search the book", "nothing": "nothing found", "copy": "copy",
           "copied": "copied",
           "other": ("中文版", "zh/{slug}.html", "zh-CN"),
           "download": "Download this lesson as a notebook ({name}.ipynb), for Jupyter or Colab.",
           "figure": "figure {n} of {title}", "api_title": "API: every op and its code",
           "api_intro": "Every op's formula (forward and backward) and shapes, then its code.",
           "api_student": "<p><b>Students' edition:</b> the code of the backward passes that "
                          "are homework exercises ({}) is left out; their docstrings, with the "
                          "formulas, are shown.</p>",
           "repository_title": "Beside the code", "colon": ": ",
           "repository_intro": "These pages live in the repository, as Markdown files; the "
                               "links open them from a checkout.",
           "repository": ("what numpygam is, the two commands, a short example",
                          "for students: the lessons, the homework, gradient checks, the "
                          "command line",
                          "for instructors: handing out and grading the homework, the sandbox, "
                          "Gradescope",
                          "for contributors: the layout, adding an op, tests, mutation "
                          "testing, the translation check",
                          "the package drawn as floors, from the textbook ops up",
                          "numpygam against PyTorch, and every measurement")},
    "zh": {"html": "zh-CN", "contents": "目录", "previous": "上一页", "next": "下一页",
           "search": "搜索本书", "nothing": "没有找到", "copy": "复制", "copied": "已复制",
           "other": ("English", "../{slug}.html", "en"),
           "download": "下载本课的 notebook（{name}.ipynb），可在 Jupyter 或 Colab 中打开。",
           "figure": "{title}：图 {n}", "api_title": "API：每个算子及其代码",
           "api_intro": "每个算子的公式（前向计算与反向计算）和形状，然后是它的代码。"
                        "文档字符串与代码保持英文，与英文版是同一份源码。",
           "api_student": "<p><b>学生版：</b>作为作业的反向计算（{}）的代码不在此页给出；"
                          "它们的文档字符串（含公式）照常显示。</p>",
           "glossary": "中英术语对照",
           "repository_title": "代码旁的文档", "colon": "：",
           "repository_intro": "下面这些页面在代码仓库中，是 Markdown 文件（英文）；"
                               "链接在本地检出的仓库中打开它们。",
           "repository": ("numpygam 是什么、两条命令、一个简短的例子",
                          "给学生：课程、作业、梯度检验、命令行",
                          "给教师：布置与批改作业、沙箱、Gradescope",
                          "给贡献者：目录结构、如何添加算子、测试、变异测试、翻译检查",
                          "按层画出的整个包，从教科书式的算子往上",
                          "numpygam 与 PyTorch 的对比，以及每一次测量")},
}

CSS = """
:root { --fg: #222; --bg: #fff; --nav: #f4f1ea; --link: #334; --code: #f6f8fa; --rule: #ccc; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #ddd; --bg: #181a1b; --nav: #23262a; --link: #9cf; --code: #1e2124; --rule: #555; }
}
body { font-family: Georgia, serif; margin: 0; display: flex; color: var(--fg);
       background: var(--bg); }
/* the Chinese edition: fonts a machine has (fontconfig falls back to any other CJK font) */
html:lang(zh-CN) body { font-family: Georgia, "Noto Serif CJK SC", "Source Han Serif SC",
       "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", serif; }
nav.site { width: 15rem; flex: none; padding: 1rem; background: var(--nav); min-height: 100vh;
           font-family: sans-serif; font-size: 0.9rem; }
nav.site a, nav.toc a { display: block; margin: 0.3rem 0; color: var(--link); }
a { color: var(--link); }
main { max-width: 52rem; min-width: 0; padding: 1rem 2rem; line-height: 1.5;
       overflow-wrap: anywhere; }
pre { overflow-x: auto; padding: 0.6rem; font-size: 0.82rem; max-width: 100%;
      overflow-wrap: normal; position: relative; }
pre.code, div.highlight pre { background: var(--code); border-left: 3px solid #8aa; }
pre.output { border-left: 3px solid var(--rule); }
img.figure, main img { max-width: 100%; height: auto; display: block; margin: 0.5rem 0; }
table { border-collapse: collapse; display: block; overflow-x: auto; max-width: 100%; }
td, th { border: 1px solid var(--rule); padding: 0.2rem 0.5rem; }
math[display="block"] { margin: 0.6rem 0; font-size: 1.1rem; display: block; overflow-x: auto; }
input[type=search] { width: 100%; box-sizing: border-box; margin-bottom: 0.5rem; }
#search-results a { font-size: 0.85rem; }
nav.toc { border: 1px solid var(--rule); padding: 0.5rem 1rem; margin: 1rem 0; font-size: 0.9rem; }
p.prevnext { display: flex; justify-content: space-between; margin-top: 2rem; }
button.copy { position: absolute; top: 0.2rem; right: 0.2rem; font-size: 0.7rem; }
@media (max-width: 700px) {
  body { flex-direction: column; }
  nav.site { width: auto; min-height: 0; }
  main { padding: 0.5rem; }
}
@media print {
  nav.site, button.copy, p.prevnext, #search { display: none; }
  body { display: block; color: #000; background: #fff; }
  pre { white-space: pre-wrap; }
}
""" + HtmlFormatter(style="friendly").get_style_defs(".highlight") + """
@media (prefers-color-scheme: dark) {
""" + HtmlFormatter(style="monokai").get_style_defs(".highlight") + """
}
"""

# Records, for tests and readers alike, whether this browser laid out the math
# (a fraction's numerator sits above its denominator) and loaded every figure.
SELF_CHECK = """
<script>
window.addEventListener("load", function () {
  var fracs = document.querySelectorAll("mfrac"), ok = fracs.length > 0;
  fracs.forEach(function (f) {
    var num = f.children[0].getBoundingClientRect(), den = f.children[1].getBoundingClientRect();
    if (!(num.height > 0 && den.height > 0 && num.bottom <= den.top + 1)) ok = false;
  });
  var imgs = document.querySelectorAll("img"), loaded = 0;
  imgs.forEach(function (i) { if (i.complete && i.naturalWidth > 0) loaded++; });
  document.body.setAttribute("data-fractions", fracs.length);
  document.body.setAttribute("data-math-rendered", fracs.length ? String(ok) : "no-fractions");
  document.body.setAttribute("data-figures", imgs.length);
  document.body.setAttribute("data-figures-loaded", loaded);
});
</script>
"""

# The search box: every word typed must appear in a section (its title or text); the
# index (search-index.js) is a script, since a browser refuses fetch() on file://.
SEARCH = """
<script src="search-index.js"></script>
<script>
(function () {
  var box = document.getElementById("search"), out = document.getElementById("search-results");
  function run() {
    var words = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
    out.innerHTML = "";
    if (!words.length || !window.NUMPYGAM_SEARCH) return;
    var shown = 0;
    window.NUMPYGAM_SEARCH.forEach(function (e) {
      if (shown >= 30) return;
      var text = (e.s + " " + e.x).toLowerCase();
      if (words.every(function (w) { return text.indexOf(w) >= 0; })) {
        var a = document.createElement("a");
        a.href = e.p + (e.a ? "#" + e.a : "");
        a.textContent = e.t + (e.s && e.s !== e.t ? " \u2014 " + e.s : "");
        out.appendChild(a);
        shown++;
      }
    });
    if (!shown) out.textContent = box.getAttribute("data-nothing");
  }
  box.addEventListener("input", run);
})();
document.querySelectorAll("pre.code").forEach(function (pre) {
  var b = document.createElement("button");
  var box = document.getElementById("search");  // it carries the edition's words
  b.className = "copy"; b.type = "button"; b.textContent = box.getAttribute("data-copy");
  b.addEventListener("click", function () {
    var text = pre.querySelector("code").innerText;
    if (navigator.clipboard) { navigator.clipboard.writeText(text); }
    b.textContent = box.getAttribute("data-copied");
  });
  pre.appendChild(b);
});
</script>
"""

SECTION = re.compile(r'<h([1-3]) id="([^"]+)"[^>]*>(.*?)</h\1>', re.S)


def sections(body):
    """[(anchor, title, text)] of a page body, one per heading with an id (and one for
    what comes before the first)."""
    out, last, anchor, title = [], 0, "", ""
    for match in SECTION.finditer(body):
        out.append((anchor, title, body[last:match.start()]))
        anchor, title, last = match.group(2), _text(match.group(3)), match.end()
    out.append((anchor, title, body[last:]))
    return [(a, t, _text(x)) for a, t, x in out if t or x.strip()]


def _text(fragment):
    """The words of an HTML fragment, tags and MathML markup dropped."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


# The pages beside the code, in the order of the README's "Where to go next": the book's
# first page links each by a path relative to the built page, so the links work from
# file:// in a checkout (they are Markdown; a browser shows them as text).
REPOSITORY_PAGES = ("README.md", "docs/students.md", "docs/instructors.md",
                    "docs/contributors.md", "ARCHITECTURE.md", "benchmarks/README.md")


def repository_links(out_dir, lang="en"):
    """The index page's section linking the repository's own pages (README, docs/*.md,
    ARCHITECTURE.md, benchmarks/README.md), relative to out_dir."""
    ui = UI[lang]
    try:
        up = os.path.relpath(ROOT, out_dir).replace(os.sep, "/")
    except ValueError:  # out_dir on another drive (Windows): an absolute file URL
        up = "file:///" + ROOT.replace(os.sep, "/").lstrip("/")
    items = "".join(f'<li><a href="{html.escape(up + "/" + path, quote=True)}">'
                    f"<code>{html.escape(path)}</code></a>{ui['colon']}{html.escape(what)}</li>"
                    for path, what in zip(REPOSITORY_PAGES, ui["repository"]))
    return (f'<h2 id="repository">{html.escape(ui["repository_title"])}</h2>'
            f'<p>{html.escape(ui["repository_intro"])}</p><ul>{items}</ul>')


def page(title, body, nav, prev=None, next=None, lang="en", slug="index"):
    """A page: the site's navigation and search, a link to the other edition, a contents
    list when the body has more than three sections, the body, and rel=prev / rel=next
    links."""
    ui = UI[lang]
    heads = [(a, t) for a, t, _ in sections(body) if a and t]
    toc = (f"<nav class='toc'><b>{ui['contents']}</b>" + "".join(
        f'<a href="#{a}">{html.escape(t)}</a>' for a, t in heads[:40]) + "</nav>"
           if len(heads) > 3 else "")
    links = "".join(f'<link rel="{rel}" href="{href}">' for rel, href in
                    (("prev", prev), ("next", next)) if href)
    arrows = ("<p class='prevnext'>"
              + (f'<a rel="prev" href="{prev}">&larr; {ui["previous"]}</a>' if prev
                 else "<span></span>")
              + (f'<a rel="next" href="{next}">{ui["next"]} &rarr;</a>' if next
                 else "<span></span>")
              + "</p>")
    search = (f"<input type='search' id='search' placeholder='{ui['search']}' "
              f"aria-label='{ui['search']}' data-nothing='{ui['nothing']}' "
              f"data-copy='{ui['copy']}' data-copied='{ui['copied']}'>"
              "<div id='search-results'></div>")
    label, href, hreflang = ui["other"]
    other = (f"<a class='edition' rel='alternate' hreflang='{hreflang}' "
             f"href='{href.format(slug='index' if slug == 'glossary' else slug)}'>{label}</a>")
    return (f"<!doctype html><html lang='{ui['html']}'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)} - numpygam</title>{links}<style>{CSS}</style></head>"
            f"<body><nav class='site'>{search}{other}{nav}</nav><main>{toc}{body}{arrows}</main>"
            f"{SELF_CHECK}{SEARCH}</body></html>")


def lesson_title(nb):
    first = nb.cells[0].source.split("\n")[0] if nb.cells else ""
    return first.lstrip("# ").strip() or "lesson"


def chapter_paths():
    return sorted(glob.glob(os.path.join(HERE, "chapters", "*.md")))


def catalogue_sources():
    """{catalogue name: its English paragraphs, in page order}: every page the Chinese
    edition translates (chapters, lessons, the homework walkthroughs, the figures, and
    the templates of what the grader, gradcheck and the exercise files' comments say)."""
    from numpygam.course import feedback
    sources = {}
    for path in chapter_paths():
        with open(path) as f:
            sources[os.path.basename(path)[:-3]] = translation.paragraphs(f.read())
    figures = []
    for path in lesson_paths():
        with open(path) as f:
            text = f.read()
        sources[os.path.basename(path)[:-3]] = lessons.markdown_paragraphs(text)
        figures += translation.figure_texts(text)
    figures += translation.figure_texts(inspect.getsource(plots.gam_ports_figure))
    sources["exercises"] = homework.walkthrough_paragraphs()
    sources["figures"] = list(dict.fromkeys(figures))
    sources["feedback"] = feedback.templates()
    return sources


def build(out_dir, lesson_files=None, student=False, lang="en", jobs=1):
    """Build the site into out_dir (student: the students' edition; lang="zh": the Chinese
    edition, each paragraph from its catalogue; jobs: lessons executed at once, see
    execute_lessons); returns the pages."""
    ui = UI[lang]
    figures = os.path.join(out_dir, "figures")
    os.makedirs(figures, exist_ok=True)
    lesson_files = lesson_paths() if lesson_files is None else lesson_files
    executed = execute_lessons(lesson_files, lang, jobs)
    # the clean notebooks (no outputs) beside the pages, for Jupyter and Colab
    downloads = os.path.join(out_dir, "notebooks")
    os.makedirs(downloads, exist_ok=True)
    for path in lesson_files:
        name = os.path.basename(path)[:-3]
        with open(path) as f:
            nbformat.write(nbformat.from_dict(lessons.notebook(f.read(), lang, name)),
                           os.path.join(downloads, name + ".ipynb"))
    # the chapters' figures ("The GAM you copied"), labelled in the edition's language
    if lang == "zh":
        translation.chinese_figures()
    try:
        plots.gam_ports_figure(os.path.join(figures, "gam_you_copied.png"))
    finally:
        translation.english_figures()
    entries = []
    for path in chapter_paths():
        with open(path) as f:
            text = f.read()
        if lang == "zh":
            text = translation.translate_markdown(
                text, translation.table(os.path.basename(path)[:-3]))
        slug = os.path.basename(path)[3:-3]  # "00_index.md" -> "index"
        body = render_markdown(text, lang)
        if slug == "index":  # the pages beside the code: README, docs/, ARCHITECTURE.md
            body += repository_links(out_dir, lang)
        entries.append((slug, text.split("\n")[0].lstrip("# ").strip(), body))
        if lang == "zh" and slug == "index":  # the glossary, linked from every Chinese page
            entries.append(("glossary", ui["glossary"],
                            render_markdown(glossary.markdown(), lang)))
    for name, nb in executed:
        link = (f'<p class="download"><a href="notebooks/{name}.ipynb" download>'
                f'{ui["download"].format(name=name)}</a></p>')
        entries.append((name, lesson_title(nb), link + render_lesson(nb, name, figures, lang)))
    entries.append(("api", ui["api_title"], api_page(student, lang)))
    nav = "".join(f'<a href="{slug}.html">{html.escape(title)}</a>' for slug, title, _ in entries)
    written, index = [], []
    for i, (slug, title, body) in enumerate(entries):
        prev = f"{entries[i - 1][0]}.html" if i > 0 else None
        next_ = f"{entries[i + 1][0]}.html" if i + 1 < len(entries) else None
        path = os.path.join(out_dir, f"{slug}.html")
        with open(path, "w") as f:
            f.write(page(title, body, nav, prev, next_, lang, slug))
        written.append(path)
        index += [{"p": f"{slug}.html", "t": title, "a": anchor, "s": section or title,
                   "x": text[:4000]} for anchor, section, text in sections(body)]
    with open(os.path.join(out_dir, "search-index.js"), "w") as f:
        f.write("window.NUMPYGAM_SEARCH = " + json.dumps(index, ensure_ascii=False) + ";\n")
    return written


def check(update=False):
    """Print each paragraph of the Chinese edition that is missing, stale or off the
    glossary, and return how many (update=True first brings the catalogues in step)."""
    found, total = [], 0
    for name, sources in catalogue_sources().items():
        if update:
            translation.update(name, sources)
        found += translation.problems(name, sources)
        total += len(set(sources))
    for name, kind, msgid in found:
        first = " ".join(msgid.split())
        print(f"numpygam/locale/zh/{name}.po: {kind}: {first[:90]}{'...' if len(first) > 90 else ''}")
    print(f"{total - len(found)} of {total} paragraphs translated and current; {len(found)} to do"
          + ("" if not found else
             " (python book/build.py --lang zh --update, then fill the msgstr of each)"))
    return len(found)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=None,
                        help="default book/_build/html (English), book/_build/html/zh (zh)")
    parser.add_argument("--student", action="store_true",
                        help="the students' edition: no homework solutions on the API page")
    parser.add_argument("--lang", choices=translation.LANGS, default="en")
    parser.add_argument("--check", action="store_true",
                        help="with --lang zh: name each paragraph whose translation is missing "
                             "or stale, exit 1 if any; builds nothing")
    parser.add_argument("--update", action="store_true",
                        help="with --lang zh: add the new English paragraphs to the catalogues "
                             "(a changed one keeps its old translation, marked fuzzy)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="lessons executed at once, each with one BLAS thread (default 1: "
                             "one at a time, as a reader runs them)")
    parser.add_argument("--execute", metavar="LESSON", help=argparse.SUPPRESS)  # --jobs' worker
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f"--jobs must be 1 or more, got {args.jobs}")
    try:
        if args.execute:
            execute_lesson(args.execute, lang=args.lang)
            sys.exit(0)
        if args.check or args.update:
            if args.lang != "zh":
                parser.error("--check and --update are for the translation: add --lang zh")
            sys.exit(1 if check(update=args.update) and args.check else 0)
        out = args.out or os.path.join(HERE, "_build", "html",
                                       *(["zh"] if args.lang == "zh" else []))
        pages = build(out, student=args.student, lang=args.lang, jobs=args.jobs)
    except translation.CatalogueError as err:
        sys.exit(f"book/build.py: {err}")  # one line, exit status 1
    print(f"wrote {len(pages)} pages to {out}; open {os.path.join(out, 'index.html')}")
    sys.exit(0)
