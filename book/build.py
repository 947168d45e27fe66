"""Build the numpygam book: a static website from the lessons and the chapters.

    python book/build.py [--out book/_build/html] [--student]

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
"""
import argparse
import base64
import glob
import hashlib
import html
import inspect
import os
import re
import sys

import markdown
import nbformat
from latex2mathml.converter import convert as latex_to_mathml
from nbclient import NotebookClient

from numpygam.course import lessons
from numpygam.course.exercises import EXERCISES

HERE = os.path.dirname(os.path.abspath(__file__))
LESSONS = lessons.LESSONS
CACHE = os.path.join(HERE, "_build", "executed")


# -- lessons -----------------------------------------------------------------------------

def lesson_paths():
    return lessons.lesson_paths()


def execute_lesson(path, timeout=600):
    """The lesson run top to bottom in a fresh kernel (cached by its source hash)."""
    with open(path) as f:
        source = f.read()
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    cached = os.path.join(CACHE, os.path.basename(path)[:-3] + ".ipynb")
    if os.path.exists(cached):
        nb = nbformat.read(cached, as_version=4)
        if nb.metadata.get("numpygam_source_hash") == digest:
            return nb
    nb = nbformat.from_dict(lessons.notebook(source))  # the .ipynb students download
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": LESSONS}}).execute()
    nb.metadata["numpygam_source_hash"] = digest
    os.makedirs(CACHE, exist_ok=True)
    nbformat.write(nb, cached)
    return nb


# -- markdown with math ------------------------------------------------------------------

MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.S)


def render_markdown(text):
    """Markdown to HTML; $...$ and $$...$$ become MathML."""
    formulas = []

    def stash(match):
        display = match.group(1) is not None
        latex = (match.group(1) if display else match.group(2)).strip()
        mathml = latex_to_mathml(latex, display="block" if display else "inline")
        formulas.append(mathml)
        return f"@@MATH{len(formulas) - 1}@@"

    body = markdown.markdown(MATH.sub(stash, text), extensions=["tables", "fenced_code"])
    return re.sub(r"@@MATH(\d+)@@", lambda m: formulas[int(m.group(1))], body)


def render_lesson(nb, name, figures_dir):
    parts, figure = [], 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(render_markdown(cell.source))
            continue
        parts.append(f'<pre class="code"><code>{html.escape(cell.source)}</code></pre>')
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                figure += 1
                filename = f"{name}_{figure}.png"
                with open(os.path.join(figures_dir, filename), "wb") as f:
                    f.write(base64.b64decode(data["image/png"]))
                parts.append(f'<img class="figure" src="figures/{filename}" alt="figure {figure}">')
            elif "text/plain" in data or output.get("output_type") == "stream":
                text = output.get("text") or data.get("text/plain", "")
                parts.append(f'<pre class="output">{html.escape(text)}</pre>')
    return "\n".join(parts)


# -- the API page: each op's docstring and source ------------------------------------------

def api_page(student=False):
    import numpygam.functional as F
    homework = {fn for exercise in EXERCISES.values() for fn in exercise.write}
    parts = ["<h1>numpygam.functional</h1>",
             "<p>Every op's formula (forward and backward) and shapes, then its code.</p>"]
    if student:
        parts.append("<p><b>Students' edition:</b> the code of the backward passes that are "
                     "homework exercises (" + ", ".join(f"<code>{n}</code>" for n in
                                                      sorted(homework)) + ") is left out; "
                     "their docstrings, with the formulas, are shown.</p>")
    names = sorted(n for n in dir(F) if n.endswith(("_forward", "_backward"))
                   or n in ("sinusoidal_positions", "causal_mask"))
    shown_modules = set()
    for name in names:
        fn = getattr(F, name)
        source = inspect.getsource(fn)
        if student and "# BEGIN SOLUTION" in source:
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
        parts.append(f'<pre class="code"><code>{html.escape(source)}</code></pre>')
    return "\n".join(parts)


# -- the site -------------------------------------------------------------------------------

CSS = """
body { font-family: Georgia, serif; margin: 0; display: flex; color: #222; }
nav { width: 15rem; padding: 1rem; background: #f4f1ea; min-height: 100vh; font-family: sans-serif;
      font-size: 0.9rem; }
nav a { display: block; margin: 0.3rem 0; color: #334; }
main { max-width: 52rem; padding: 1rem 2rem; line-height: 1.5; }
pre { overflow-x: auto; padding: 0.6rem; font-size: 0.82rem; }
pre.code { background: #f6f8fa; border-left: 3px solid #8aa; }
pre.output { background: #fff; border-left: 3px solid #ddd; }
img.figure { max-width: 100%; display: block; margin: 0.5rem 0; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 0.2rem 0.5rem; }
math[display="block"] { margin: 0.6rem 0; font-size: 1.1rem; }
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


def page(title, body, nav):
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)} "
            f"- numpygam</title><style>{CSS}</style></head><body><nav>{nav}</nav>"
            f"<main>{body}</main>{SELF_CHECK}</body></html>")


def lesson_title(nb):
    first = nb.cells[0].source.split("\n")[0] if nb.cells else ""
    return first.lstrip("# ").strip() or "lesson"


def build(out_dir, lesson_files=None, student=False):
    """Build the site into out_dir (student: the students' edition); returns the pages."""
    figures = os.path.join(out_dir, "figures")
    os.makedirs(figures, exist_ok=True)
    chapters = sorted(glob.glob(os.path.join(HERE, "chapters", "*.md")))
    lesson_files = lesson_paths() if lesson_files is None else lesson_files
    executed = [(os.path.basename(p)[:-3], execute_lesson(p)) for p in lesson_files]
    # the clean notebooks (no outputs) beside the pages, for Jupyter and Colab
    downloads = os.path.join(out_dir, "notebooks")
    os.makedirs(downloads, exist_ok=True)
    for path in lesson_files:
        with open(path) as f:
            nbformat.write(nbformat.from_dict(lessons.notebook(f.read())),
                           os.path.join(downloads, os.path.basename(path)[:-3] + ".ipynb"))
    entries = []
    for path in chapters:
        with open(path) as f:
            text = f.read()
        slug = os.path.basename(path)[3:-3]  # "00_index.md" -> "index"
        entries.append((slug, text.split("\n")[0].lstrip("# ").strip(), render_markdown(text)))
    for name, nb in executed:
        link = (f'<p class="download"><a href="notebooks/{name}.ipynb" download>Download this '
                f'lesson as a notebook ({name}.ipynb)</a>, for Jupyter or Colab.</p>')
        entries.append((name, lesson_title(nb), link + render_lesson(nb, name, figures)))
    entries.append(("api", "API: every op and its code", api_page(student)))
    nav = "".join(f'<a href="{slug}.html">{html.escape(title)}</a>' for slug, title, _ in entries)
    written = []
    for slug, title, body in entries:
        path = os.path.join(out_dir, f"{slug}.html")
        with open(path, "w") as f:
            f.write(page(title, body, nav))
        written.append(path)
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(HERE, "_build", "html"))
    parser.add_argument("--student", action="store_true",
                        help="the students' edition: no homework solutions on the API page")
    args = parser.parse_args()
    pages = build(args.out, student=args.student)
    print(f"wrote {len(pages)} pages to {args.out}; open {os.path.join(args.out, 'index.html')}")
    sys.exit(0)
