"""The book builds offline, and a real browser renders its math and shows its figures."""
import os
import re
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "book"))
import build  # noqa: E402  (book/build.py)

pytestmark = pytest.mark.slow  # builds the book / executes every lesson (minutes)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=5000"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    pages = build.build(str(out))
    return out, pages


def browser_verdict(page, profile):
    """The <body> attributes the page's self-check set, as rendered by headless Chromium."""
    assert CHROMIUM, "Debian's chromium is needed for this test: apt-get install chromium"
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                          f"file://{page}"], capture_output=True, text=True, timeout=120).stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, f"no DOM came back for {page}"
    return dict(re.findall(r'data-([\w-]+)="([^"]*)"', body.group(1)))


def test_every_chapter_lesson_and_the_api_page_is_built(site):
    out, pages = site
    names = {os.path.basename(p) for p in pages}
    assert {"index.html", "notation.html", "formulas.html", "derivations.html", "blog_vs_paper.html",
            "api.html"} <= names
    assert sum(n[:2].isdigit() for n in names) == 10


def test_each_lesson_page_links_its_notebook(site):
    import nbformat
    out, pages = site
    for page in pages:
        name = os.path.basename(page)[:-5]
        if name[:2].isdigit():
            assert f'href="notebooks/{name}.ipynb"' in open(page).read()
            nbformat.validate(nbformat.read(out / "notebooks" / f"{name}.ipynb", as_version=4))


def test_the_site_loads_nothing_from_the_network(site):
    out, pages = site
    for page in pages:
        text = open(page).read()
        assert not re.search(r'(src|href)="(https?:)?//', text), f"{page} references the network"
        assert "<script src" not in text


def test_formulas_link_to_the_functions_that_compute_them(site):
    out, _ = site
    formulas = (out / "formulas.html").read_text()
    api = (out / "api.html").read_text()
    for anchor in re.findall(r'href="api.html#(\w+)"', formulas):
        assert f'id="{anchor}"' in api, f"formulas.html links to a missing function {anchor}"
    assert "<math" in formulas and "def softmax_forward" in api


def test_the_blog_vs_paper_page_names_each_difference(site):
    out, _ = site
    text = (out / "blog_vs_paper.html").read_text()
    for difference in ("no sigmoid", "replicate", "permute", "forward", "call"):
        assert difference in text


@pytest.mark.parametrize("name", ["index.html", "03_weights_and_context.html"])
def test_a_browser_renders_the_math_and_loads_the_figures(site, name, tmp_path):
    out, _ = site
    verdict = browser_verdict(out / name, tmp_path / "profile")
    assert int(verdict["fractions"]) > 0
    assert verdict["math-rendered"] == "true", verdict
    assert verdict["figures-loaded"] == verdict["figures"], verdict
    if name != "index.html":
        assert int(verdict["figures"]) > 0
