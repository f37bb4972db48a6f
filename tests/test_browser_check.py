"""utils.browser_check: the link check on crafted HTML files, and (where Chromium, its driver and
Selenium are installed) the in-browser checks on crafted pages, each of which must catch its defect."""
from __future__ import annotations

import importlib.util
import shutil

import pytest

from utils import browser_check


def write(path, body: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body><main>{body}</main>"
                    "</body></html>", encoding="utf-8")
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
    write(root / "good.html", "<h1>Fine</h1><p>Text that fits.</p><pre style='overflow-x: auto'>" + "x" * 400 + "</pre>")
    write(root / "raw_tex.html", r"<p>The loss is $$\mathcal{L}$$ and \(x\).</p>")
    write(root / "raw_table.html", "<p>| a | b |<br>|---|---|<br>| 1 | 2 |</p>")
    write(root / "wide.html", "<p style='width: 3000px'>a paragraph far wider than the window</p>")
    write(root / "image.html", "<img src='nowhere.png'>")
    write(root / "script.html", "<script>const a = 1;</script><script>const a = 2;</script>")
    return root


@pytest.fixture(scope="module")
def driver_and_url(site):
    server, url = browser_check.serve(site)
    driver = browser_check.browser()
    yield driver, url
    driver.quit()
    server.shutdown()


@needs_browser
@pytest.mark.parametrize("page, expected", [
    ("raw_tex.html", "raw TeX"),
    ("raw_table.html", "Markdown table"),
    ("wide.html", "wider than the window"),
    ("image.html", "did not load"),
    ("script.html", "console error"),
])
def test_each_check_catches_its_defect(driver_and_url, page, expected):
    driver, url = driver_and_url
    problems = browser_check.check_page(driver, url, page).problems
    assert any(expected in p for p in problems), problems


@needs_browser
def test_a_good_page_passes(driver_and_url):
    driver, url = driver_and_url
    assert browser_check.check_page(driver, url, "good.html").problems == []
