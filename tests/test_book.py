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
    pages = build.build(str(out), jobs=2)  # the lessons two at a time (CI's two cores)
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
            "reading_the_blog.html", "api.html"} <= names
    assert sum(n[:2].isdigit() for n in names) == 11


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
        assert re.findall(r'<script src="([^"]+)"', text) == ["search-index.js"]


def test_formulas_link_to_the_functions_that_compute_them(site):
    out, _ = site
    formulas = (out / "formulas.html").read_text()
    api = (out / "api.html").read_text()
    for anchor in re.findall(r'href="api.html#(\w+)"', formulas):
        assert f'id="{anchor}"' in api, f"formulas.html links to a missing function {anchor}"
    assert "<math" in formulas and "def softmax_forward" in re.sub(r"<[^>]+>", "", api)


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


# -- the reader's book in a real browser (Playwright driving Debian's chromium) -----------

@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    assert CHROMIUM, "Debian's chromium is needed for this test: apt-get install chromium"
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _open(browser, url, width=1200, errors=None):
    page = browser.new_page(viewport={"width": width, "height": 800})
    if errors is not None:
        page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return page


def test_search_finds_local_p_from_file_and_opens_the_section(site, browser):
    out, _ = site
    page = _open(browser, f"file://{out}/index.html")
    page.fill("input[type=search]", "local-p")
    results = page.locator("#search-results a")
    assert results.count() > 0
    first = results.first
    href = first.get_attribute("href")
    first.click()
    page.wait_for_load_state()
    assert page.url.endswith(href.split("/")[-1])
    assert "local" in page.locator("main").inner_text().lower()
    page.goto(f"file://{out}/index.html")
    page.fill("input[type=search]", "local_p_attention_forward")  # a code name
    assert page.locator("#search-results a").count() > 0
    page.close()


def test_every_page_is_reached_by_following_next_and_none_has_errors(site, browser):
    out, pages = site
    seen, errors = [], []
    page = _open(browser, f"file://{out}/index.html", errors=errors)
    while True:
        seen.append(page.url.rsplit("/", 1)[-1])
        assert page.locator('link[rel="prev"]').count() == (0 if len(seen) == 1 else 1)
        following = page.locator('a[rel="next"]')
        if following.count() == 0:
            break
        following.first.click()
        page.wait_for_load_state()
        assert len(seen) <= len(pages)
    assert sorted(seen) == sorted(os.path.basename(p) for p in pages)
    assert errors == []
    page.close()


def test_code_is_highlighted_and_has_a_copy_button(site, browser):
    out, _ = site
    page = _open(browser, f"file://{out}/api.html")
    assert page.locator("pre.code span.k").count() > 0  # Pygments' keyword spans
    assert page.locator("pre.code button.copy").count() == page.locator("pre.code").count()
    assert page.locator("nav.toc a").count() > 3  # a long page gets its contents list
    page.close()


def test_a_400px_window_scrolls_only_inside_code_blocks_on_every_page(site, browser):
    out, pages = site
    page = browser.new_page(viewport={"width": 400, "height": 800})
    for path in pages:
        page.goto(f"file://{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        name = os.path.basename(path)
        assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at 400 px"
        assert page.evaluate("[...document.images].filter(i => !i.alt).length") == 0, name
    page.close()


def test_dark_mode_and_print_styles_are_there(site, browser):
    out, _ = site
    page = browser.new_page(color_scheme="dark")
    page.goto(f"file://{out}/index.html")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(255, 255, 255)"
    page.emulate_media(media="print")
    assert page.evaluate("getComputedStyle(document.querySelector('nav.site')).display") == "none"
    page.close()


# -- the Chinese edition ------------------------------------------------------------------

@pytest.fixture(scope="module")
def zh_site(site):
    """The Chinese edition beside the English one (out/zh/), with one lesson: lesson 3
    draws labelled figures; every lesson's translation is checked without running it
    (tests/test_translation.py), and the full build is `python book/build.py --lang zh`."""
    out, _ = site
    lesson = [p for p in build.lesson_paths() if "03_weights_and_context" in p]
    pages = build.build(str(out / "zh"), lesson_files=lesson, lang="zh")
    return out, pages


def test_the_chinese_edition_has_the_english_file_names_and_links_both_ways(zh_site):
    out, pages = zh_site
    names = {os.path.basename(p) for p in pages}
    assert {"index.html", "notation.html", "formulas.html", "03_weights_and_context.html",
            "api.html", "glossary.html"} == names - {"derivations.html", "blog_vs_paper.html",
                                                     "gam_you_copied.html",
                                                     "reading_the_blog.html"}
    for path in pages:
        text = open(path, encoding="utf-8").read()
        name = os.path.basename(path)
        assert "<html lang='zh-CN'>" in text and 'href="glossary.html">中英术语对照</a>' in text
        english = "index.html" if name == "glossary.html" else name
        assert f"hreflang='en' href='../{english}'" in text and (out / english).exists()
        if name != "glossary.html":
            assert f"hreflang='zh-CN' href='zh/{name}'" in open(out / name).read()
    notation = open(out / "zh" / "notation.html", encoding="utf-8").read()
    assert "符号" in notation and "注意力权重" in notation  # the notation page in Chinese


def test_the_chinese_lesson_draws_its_figures_in_chinese(zh_site):
    import nbformat
    nb = nbformat.read(os.path.join(build.CACHE, "03_weights_and_context_zh.ipynb"), as_version=4)
    setup = nb.cells[1]
    assert "chinese_figures" in setup.source
    assert setup.outputs == [], "no Chinese font: install fonts-wqy-microhei (the CI does)"
    english = nbformat.read(os.path.join(build.CACHE, "03_weights_and_context.ipynb"),
                            as_version=4)
    figures = [[o["data"]["image/png"] for c in n.cells if c.cell_type == "code"
                for o in c.outputs if "image/png" in o.get("data", {})] for n in (nb, english)]
    assert len(figures[0]) == len(figures[1]) > 0 and figures[0] != figures[1]


def test_a_browser_draws_the_chinese_with_a_font_the_machine_has(zh_site, browser):
    """Chromium's own report of the fonts that drew a paragraph: its Chinese characters come
    from an installed CJK font (no web font: nothing is downloaded)."""
    out, _ = zh_site
    page = _open(browser, f"file://{out}/zh/index.html")
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "main p"})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    text = page.locator("main p").first.inner_text()
    assert re.search(r"[\u4e00-\u9fff]", text)
    assert not any(f["isCustomFont"] for f in fonts)
    cjk = [f for f in fonts if re.search(r"CJK|WenQuanYi|Hei|Song|Ming|Han", f["familyName"])]
    assert cjk and sum(f["glyphCount"] for f in cjk) >= len(re.findall(r"[\u4e00-\u9fff]", text))
    page.close()


def test_the_chinese_search_finds_chinese_terms_and_code_names(zh_site, browser):
    out, pages = zh_site
    page = _open(browser, f"file://{out}/zh/index.html")
    for query in ("局部注意力", "上下文向量", "local_p_attention_forward"):
        page.fill("input[type=search]", query)
        assert page.locator("#search-results a").count() > 0, query
    page.fill("input[type=search]", "上下文向量")
    first = page.locator("#search-results a").first
    href = first.get_attribute("href")
    first.click()
    page.wait_for_load_state()
    from urllib.parse import unquote  # the anchor keeps its Chinese characters
    assert unquote(page.url).endswith(href.split("/")[-1])
    assert "上下文向量" in page.locator("main").inner_text()
    page.fill("input[type=search]", "没有这个词")
    assert page.locator("#search-results").inner_text() == "没有找到"
    page.close()


def test_every_chinese_page_is_reached_by_next_and_fits_400px(zh_site, browser):
    out, pages = zh_site
    seen, errors = [], []
    page = _open(browser, f"file://{out}/zh/index.html", width=400, errors=errors)
    while True:
        seen.append(page.url.rsplit("/", 1)[-1])
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"zh/{seen[-1]} scrolls sideways by {overflow} px at 400 px"
        following = page.locator('a[rel="next"]')
        if following.count() == 0:
            break
        assert following.first.inner_text() == "下一页 →"
        following.first.click()
        page.wait_for_load_state()
        assert len(seen) <= len(pages)
    assert sorted(seen) == sorted(os.path.basename(p) for p in pages) and errors == []
    page.close()


def test_the_chinese_copy_button_speaks_chinese(zh_site, browser):
    out, _ = zh_site
    page = _open(browser, f"file://{out}/zh/api.html")
    button = page.locator("pre.code button.copy").first
    assert button.text_content() == "复制"
    button.click()
    assert button.text_content() == "已复制"
    page.close()
