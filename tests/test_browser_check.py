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


def test_full_width_marks_finds_chinese_punctuation_only():
    assert browser_check.full_width_marks("print(x, y); a: b; f'{x:.2f}' [1] <a> 'q' \"q\"") == []
    assert browser_check.full_width_marks("print（x，y）", context=2) == ["nt（x，", "（x，y）", "，y）"]
    found = browser_check.full_width_marks("\\mathcal{L}：x。", context=1)
    assert found == ["}：x", "x。"]
    assert len(browser_check.full_width_marks("“a”；b、c！d？【e】《f》")) == 10


def edition_trees(tmp_path, zh_pages=("index.html", "chapters/a/b.html")):
    """An English and a Chinese build side by side, as make book and make book-zh lay them out."""
    en, zh = tmp_path / "html", tmp_path / "zh" / "html"
    for page in ("index.html", "chapters/a/b.html"):
        write(en / page, "<p>en</p>")
    for page in zh_pages:
        write(zh / page, "<p>zh</p>")
    return en, zh


def test_a_language_link_must_lead_to_the_same_page_of_the_other_edition(tmp_path):
    en, zh = edition_trees(tmp_path)
    page = "chapters/a/b.html"
    problems = browser_check.edition_link_problems
    assert problems(en, page, zh, ["../../../zh/html/chapters/a/b.html"]) == []
    assert problems(zh, page, en, ["../../../../html/chapters/a/b.html"]) == []
    assert problems(en, "index.html", zh, ["../zh/html/index.html", "../zh/html/index.html"]) == []
    # another page, one level off, a missing link, a link out of the site
    wrong = problems(en, page, zh, ["../../../zh/html/index.html"])
    assert len(wrong) == 1 and "not to the same page" in wrong[0] and "index.html" in wrong[0]
    assert "not to the same page" in problems(en, page, zh, ["../../zh/html/chapters/a/b.html"])[0]
    assert "no link" in problems(en, page, zh, [])[0]
    assert "leaves the site" in problems(en, page, zh, ["https://example.org/zh/chapters/a/b.html"])[0]
    # the right place, but the other edition has no such page
    en, zh = edition_trees(tmp_path / "partial", zh_pages=("index.html",))
    missing = problems(en, page, zh, ["../../../zh/html/chapters/a/b.html"])
    assert len(missing) == 1 and "does not exist" in missing[0]


def test_the_published_layout_maps_english_to_the_root_and_chinese_to_zh(tmp_path):
    site = tmp_path / "site"
    write(site / "chapters" / "a.html", "<p>en</p>")
    write(site / "zh" / "chapters" / "a.html", "<p>zh</p>")
    write(site / "_static" / "x.html", "")
    both = browser_check.editions(site)
    assert (both["en"].root, both["zh"].root) == (site, site / "zh")
    assert browser_check.html_files(site, site / "zh") == [site / "chapters" / "a.html"]
    assert browser_check.html_files(site / "zh", site) == [site / "zh" / "chapters" / "a.html"]
    assert browser_check.edition_link_problems(site, "chapters/a.html", site / "zh", ["../zh/chapters/a.html"]) == []
    assert browser_check.edition_link_problems(site / "zh", "chapters/a.html", site, ["../../chapters/a.html"]) == []
    local = browser_check.editions()
    assert (local["en"].root, local["zh"].root) == (browser_check.HTML, browser_check.ZH_HTML)
    # the Chinese pass is the cheap one: axe on a few pages, no phone pass; the English one audits all
    assert local["en"].audit is None and local["en"].phone
    assert 0 < len(local["zh"].audit) <= 5 and not local["zh"].phone and local["zh"].code_marks


def test_language_links_are_read_from_the_button_and_the_alternate_link(tmp_path):
    page = tmp_path / "p.html"
    page.write_text("<html><head><link rel='alternate' hreflang='zh-CN' href='../zh/html/p.html'></head><body>"
                    "<a class='btn edition-switch' href='../zh/html/p.html'>中文</a><a href='q.html'>q</a></body></html>",
                    encoding="utf-8")
    browser_check._parse.cache_clear()
    parsed = browser_check._parse(page)
    assert parsed.edition_links == ["../zh/html/p.html", "../zh/html/p.html"]
    assert parsed.links == ["q.html"]          # the language link is not one of this edition's links


@pytest.mark.parametrize("edition", ["en", "zh"])
def test_the_built_editions_link_each_page_to_the_other_edition(edition):
    both = browser_check.editions()
    this, other = both[edition], both["zh" if edition == "en" else "en"]
    if not ((this.root / "index.html").is_file() and (other.root / "index.html").is_file()):
        pytest.skip("both editions must be built (make book, make book-zh)")
    browser_check._parse.cache_clear()
    pages = [str(p.with_suffix(".html")) for p in browser_check.toc_files()]
    problems = [p for page in pages for p in browser_check.edition_link_problems(
        this.root, page, other.root, browser_check._parse(this.root / page).edition_links)]
    assert problems == []


def test_the_built_chinese_book_has_no_broken_internal_link():
    zh = browser_check.ZH_HTML
    if not (zh / "index.html").is_file():
        pytest.skip("the Chinese book is not built (make book-zh)")
    browser_check._parse.cache_clear()
    files = browser_check.html_files(zh)
    assert len(files) > 30
    assert browser_check.broken_links(files, root=zh) == []


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
    # a translation that reached code and a formula (MathJax's element, its assistive text)
    write(root / "code_marks.html", "<p>中文，句号。<code>print(x)</code></p><pre>f(a，b)</pre>"
                                    "<mjx-container>x：y</mjx-container>")
    write(root / "inline_code_marks.html", "<p>见 <code>model（x）</code>。</p>")
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
def test_full_width_punctuation_in_code_and_formulas_is_caught(driver_and_url):
    driver, url = driver_and_url
    problems = browser_check.check_page(driver, url, "code_marks.html", audit=False, phone=False,
                                        code_marks=True).problems
    assert len(problems) == 2, problems            # the prose's ，。 are not code
    assert "in a code block" in problems[0] and "'f(a，b)'" in problems[0]
    assert "in a typeset formula" in problems[1] and "：" in problems[1]
    inline = browser_check.check_page(driver, url, "inline_code_marks.html", audit=False, phone=False,
                                      code_marks=True).problems
    assert len(inline) == 1 and "in an inline code span" in inline[0] and "model（x）" in inline[0]
    # the English edition's pass does not look for them
    assert browser_check.check_page(driver, url, "code_marks.html", audit=False, phone=False).problems == []


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
