"""tools.browser_check: the link check on crafted HTML files, and (where Chromium, its driver and
Selenium are installed) the in-browser checks on crafted pages, each of which must catch its defect."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess

import pytest

from tools import browser_check

from error_facts import raises_naming


def write(path, body: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>A page</title>"
                    "<meta name='viewport' content='width=device-width, initial-scale=1'></head>"
                    f"<body><main>{body}</main></body></html>", encoding="utf-8")
    return path


def test_broken_links_finds_missing_files_and_anchors(tmp_path):
    a = write(tmp_path / "a.html", "<h1 id='top'>A</h1><a href='b/c.html#here'>ok</a><a href='#top'>ok</a>"
                                   "<a href='b/c.html#gone'>bad anchor</a><a href='missing.html'>bad file</a>"
                                   "<a href='https://example.org/x.html'>external</a><a href='b/'>folder</a>")
    write(tmp_path / "b" / "c.html", "<p id='here'>C</p><a name='old'></a><a href='../a.html#top'>ok</a>")
    write(tmp_path / "b" / "index.html", "<p>folder page</p>")
    browser_check._parse.cache_clear()
    problems = browser_check.broken_links(sorted(tmp_path.rglob("*.html")), root=tmp_path)
    assert len(problems) == 2, problems
    assert any("b/c.html#gone" in p and "no id 'gone'" in p for p in problems)
    assert any("missing.html" in p and "no file" in p for p in problems)


def test_the_built_book_has_no_broken_internal_link():
    html = browser_check.HTML
    if not (html / "index.html").is_file():
        pytest.skip("the book is not built (make book)")
    browser_check._parse.cache_clear()
    files = sorted(p for p in html.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts)
    assert len(files) > 30
    assert browser_check.broken_links(files) == []


needs_browser = pytest.mark.skipif(
    importlib.util.find_spec("selenium") is None
    or not (shutil.which("chromium") or shutil.which("google-chrome")) or not shutil.which("chromedriver"),
    reason="needs Chromium and chromedriver (Debian: apt-get install chromium chromium-driver) and Selenium")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    # a long code line scrolls inside its own box, as the theme styles it: allowed
    write(root / "good.html", "<h1>Fine</h1><p>Text that fits.</p><pre tabindex='0' style='overflow-x: auto'>" + "x" * 400 + "</pre>")
    write(root / "raw_tex.html", r"<p>The loss is $$\mathcal{L}$$ and \(x\).</p>")
    write(root / "raw_table.html", "<p>| a | b |<br>|---|---|<br>| 1 | 2 |</p>")
    write(root / "wide.html", "<p style='width: 3000px'>a paragraph far wider than the window</p>")
    write(root / "image.html", "<img src='nowhere.png'>")
    write(root / "script.html", "<script>const a = 1;</script><script>const a = 2;</script>")
    # English set in a CJK font (what a Linux machine without Arial did to the book): ’ “ ” full-width
    write(root / "full_width.html", "<p style='font-family: \"Noto Sans CJK SC\"'>The book’s version, "
                                    "“quoted”.</p>")
    # a phone: a formula-like line that cannot wrap, 600 px wide, fits 1280 px but not 390 px
    write(root / "phone.html", "<p>Fits a desktop: <span style='display: inline-block; width: 600px'>"
                               "Attention(Q, K, V)</span></p>")
    # WCAG: a disclosure toggle without a name; a link at 4.29:1 contrast (AA needs 4.5:1)
    write(root / "summary.html", "<details><summary></summary><p>Hidden</p></details>")
    write(root / "contrast.html", "<div style='background: #ecf3ff; padding: 1em'><p>See the "
                                  "<a href='#' style='color: #176de8'>glossary</a>.</p></div>")
    return root


@pytest.fixture(scope="module")
def driver_and_url(site):
    server, url = browser_check.serve(site)
    driver = browser_check.browser()
    yield driver, url
    driver.quit()
    server.shutdown()


HAS_AXE = browser_check.AXE.is_file()
needs_axe = pytest.mark.skipif(not HAS_AXE, reason=f"needs axe-core: {browser_check.AXE_INSTALL}")
needs_cjk_font = pytest.mark.skipif(
    not shutil.which("fc-list") or "Noto Sans CJK SC" not in subprocess.run(
        ["fc-list", ":", "family"], capture_output=True, text=True).stdout,
    reason="needs the Noto CJK fonts (Debian: fonts-noto-cjk)")


@needs_browser
@pytest.mark.parametrize("page, expected", [
    ("raw_tex.html", "raw TeX"),
    ("raw_table.html", "Markdown table"),
    ("wide.html", "wider than the window"),
    ("image.html", "did not load"),
    ("script.html", "console error"),
    ("phone.html", f"at {browser_check.PHONE_WIDTH} px the page scrolls sideways"),
    pytest.param("full_width.html", "are full-width", marks=needs_cjk_font),
    pytest.param("summary.html", "accessibility (serious): summary-name", marks=needs_axe),
    pytest.param("contrast.html", "accessibility (serious): color-contrast", marks=needs_axe),
])
def test_each_check_catches_its_defect(driver_and_url, page, expected):
    driver, url = driver_and_url
    problems = browser_check.check_page(driver, url, page, audit=HAS_AXE).problems
    assert any(expected in p for p in problems), problems


@needs_browser
def test_a_good_page_passes(driver_and_url):
    driver, url = driver_and_url
    assert browser_check.check_page(driver, url, "good.html", audit=HAS_AXE).problems == []


@needs_browser
def test_latin_punctuation_in_a_latin_face_passes(driver_and_url, tmp_path):
    """The same sentence as full_width.html in a Latin face: ’ about 0.3 em, no problem."""
    driver, url = driver_and_url
    driver.get(url + "good.html")
    driver.execute_script("document.querySelector('p').textContent = 'The book’s version, “quoted”.';")
    assert browser_check.full_width_punctuation(driver) == []


@needs_browser
@needs_cjk_font
def test_the_books_font_stack_sets_english_punctuation_in_a_latin_face(driver_and_url, site):
    """_static/cjk-fonts.css on a machine without Arial or Helvetica (this one, if the Noto CJK fonts are
    its only sans-serif besides DejaVu): ’ “ ” stay narrow next to Chinese text in the same paragraph."""
    import shutil as sh
    driver, url = driver_and_url
    sh.copy(browser_check.ROOT / "_static" / "cjk-fonts.css", site / "cjk-fonts.css")
    write(site / "book_fonts.html", "<link rel='stylesheet' href='cjk-fonts.css'>"
                                    "<p style='font-family: var(--pst-font-family-base)'>The book’s version, "
                                    "“quoted”, and the article’s heading 卷积神经网络.</p>")
    driver.get(url + "book_fonts.html")
    assert browser_check.full_width_punctuation(driver) == []


def test_a_missing_axe_is_named_with_its_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("BOOK_AXE", str(tmp_path / "nowhere" / "axe.min.js"))
    browser_check.axe_source.cache_clear()
    try:
        with raises_naming(FileNotFoundError, '--no-save', '--prefix'):
            browser_check.axe_source()
    finally:
        browser_check.axe_source.cache_clear()
