"""``make check-browser``: every page of both editions of the built book loaded in headless Chromium.

The English HTML in ``_build/html`` (``make book``) is served on localhost and each page the table of
contents names is loaded at 1280 × 900 pixels. Per page: no JavaScript errors in the console;
MathJax typeset every formula (no error nodes, no raw ``$$`` or ``\\(`` left in the prose); every
image loaded; no Markdown table reached the page as raw ``|---|`` text; nothing but code listings
and their outputs wider than the window; English punctuation (’ ‘ “ ”) beside a Latin letter set in
a Latin face, not full-width by a CJK font (its advance width, measured in the page, must stay below
0.7 em); no serious or critical WCAG 2 A/AA violation found by axe-core. Then the same page at a
phone's width (390 px, mobile emulation) must not scroll sideways. Over the whole site: every
internal link and ``#anchor`` resolves (checked on the HTML files). The search page must find a
known term. Screenshots of key pages (one in the dark theme, one at phone width) go to
``_build/screenshots``.

The Chinese edition (``_build/zh/html``, ``make book-zh``) has the same text structure, so it gets the
checks a translation can break, in the same browser session: every page loads without console errors,
MathJax typesets every formula, no raw TeX or Markdown table, no full-width punctuation (，。：；（）“”
and the like) inside code, inline code or a typeset formula (translation must never touch code or
math), every internal link and anchor resolves, and a Chinese search term (segmented by jieba at build
time) finds its page. axe-core audits only a few Chinese pages (:data:`ZH_AUDIT`: the theme and the
markup are the English pages', only the text differs), there is no 390 px pass and one screenshot.
On both editions every page's language link (the header button and ``<link rel="alternate">`` that
``_ext/book_i18n.py`` adds) must lead to the same page of the other edition, and that page must exist.
``--site DIR`` checks the published layout instead: English in ``DIR``, Chinese in ``DIR/zh``.

Needs Chromium and its driver (Debian: ``apt-get install chromium chromium-driver``; elsewhere set
``BOOK_CHROME`` and ``BOOK_CHROMEDRIVER`` to the browser and driver programs), Selenium
(in ``requirements.txt``) and axe-core from npm (``.ci/run`` installs it into ``.ci/axe``; elsewhere
set ``BOOK_AXE`` to its ``axe.min.js``).

    python -m tools.browser_check [--lab] [--edition en|zh] [--site DIR]
        # --lab: also a notebook in JupyterLab, screenshot; --edition: one edition only (default both)
"""
from __future__ import annotations

import argparse
import functools
import html.parser
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from tools.notebooks import ROOT, has_table, toc_files

HTML = ROOT / "_build" / "html"
ZH_HTML = ROOT / "_build" / "zh" / "html"
SHOTS = ROOT / "_build" / "screenshots"
WIDTH, HEIGHT = 1280, 900
PHONE_WIDTH, PHONE_HEIGHT = 390, 844          # a phone's CSS pixels (iPhone 12-15)
AXE = ROOT / ".ci" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
AXE_INSTALL = "npm install --no-save --prefix .ci/axe axe-core@4.14.1"
# WCAG 2.0, 2.1 and 2.2 at levels A and AA; a violation of impact serious or critical fails the page
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_FAIL = ("serious", "critical")        # axe's experimental rules (not ready, its docs say) are left out
FULL_WIDTH_EM = 0.7     # a Latin ’ is 0.2-0.35 em wide, a CJK font's full-width one 1 em
SEARCH_TERM, SEARCH_MUST_FIND = "backpropagation", "chapters/02_core_concepts/06_backpropagation.html"
# the Chinese index holds the words jieba cut the text into: 注意力 (attention) must find the Transformer
ZH_SEARCH_TERM, ZH_SEARCH_MUST_FIND = "注意力", "chapters/03_algorithms/transformer.html"
# axe-core on the Chinese edition (4 s per long page, so three short ones): the first page, the notation
# (formulas in tables), the glossary (a long table, Chinese beside English)
ZH_AUDIT = ("chapters/preface.html", "chapters/appendix/notation.html", "chapters/appendix/glossary.html")
# Chinese (full-width) punctuation that a translation may bring into code or a formula; none belongs there
FULL_WIDTH_MARKS = "，。：；、！？（）【】《》“”"
# (page, file name, theme, element to scroll to[, window width]): the reader's first page, a chapter
# with formulas, a plot in the dark theme (plots must stay readable there), and a page at phone width
SCREENSHOTS = [("chapters/preface.html", "preface-light.png", "light", None),
               ("chapters/03_algorithms/transformer.html", "transformer-light.png", "light", None),
               ("chapters/05_outlook/trends.html", "trends-plot-dark.png", "dark", ".cell_output img"),
               ("chapters/03_algorithms/transformer.html", "transformer-phone.png", "light", None, PHONE_WIDTH)]
ZH_SCREENSHOTS = [("chapters/03_algorithms/transformer.html", "zh-transformer-light.png", "light", None)]
LAB_NOTEBOOK = "chapters/03_algorithms/cnn.ipynb"

# Run in the page: what a reader would see that is wrong. Code listings (pre), notebook outputs and
# formulas may scroll sideways inside their own box; the page itself and the prose must not.
PAGE_PROBLEMS_JS = r"""
const main = document.querySelector("main") || document.body;
const problems = [];
const mathErrors = document.querySelectorAll("mjx-merror, .MathJax_Error, mjx-container [data-mjx-error]");
if (mathErrors.length) problems.push(`${mathErrors.length} MathJax error node(s): ` +
    Array.from(mathErrors).slice(0, 3).map(e => e.textContent.slice(0, 60)).join(" | "));
// the prose as rendered (innerText keeps line breaks only on laid-out elements): hide code, outputs
// and typeset formulas for a moment, read the text, show them again
const hidden = Array.from(main.querySelectorAll(
    "pre, code, script, style, mjx-container, .highlight, .cell_output, textarea"));
const before = hidden.map(e => e.style.display);
hidden.forEach(e => { e.style.display = "none"; });
const text = main.innerText;
hidden.forEach((e, i) => { e.style.display = before[i]; });
for (const raw of ["$$", "\\(", "\\[", "\\begin{"]) {
  const at = text.indexOf(raw);
  if (at >= 0) problems.push(`raw TeX ${JSON.stringify(raw)} in the text: ` +
                             JSON.stringify(text.slice(Math.max(0, at - 40), at + 40)));
}
const images = Array.from(document.images);
const broken = images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src"));
if (broken.length) problems.push(`images that did not load: ${broken.slice(0, 5).join(", ")}`);
const width = document.documentElement.clientWidth;
if (document.documentElement.scrollWidth > width + 1)
  problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px wide in a ${width} px window`);
const allowed = "pre, .highlight, .cell_output, .output, mjx-container, .math, table, .table-wrapper, .pst-scrollable-table-container";
const wide = Array.from(main.querySelectorAll("p, li, h1, h2, h3, h4, dd, dt, figcaption, td, th"))
  .filter(e => !e.closest(allowed) && e.getBoundingClientRect().right > width + 1)
  .map(e => e.tagName + ": " + e.textContent.trim().slice(0, 50));
if (wide.length) problems.push(`text wider than the window: ${wide.slice(0, 3).join(" | ")}`);
return {problems: problems, text: text};
"""

# English punctuation set by a CJK font is full-width: "article’ s". For ’ ‘ “ ” next to a Latin
# letter in the prose, measure the advance width of the character (a Range around it) in em of its
# element's font size, and that of the letter beside it.
FULL_WIDTH_JS = r"""
const limit = arguments[0];
const main = document.querySelector("main") || document.body;
const skip = "pre, code, script, style, mjx-container, .cell_output, textarea, kbd, samp";
const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT, {acceptNode: n =>
  (n.parentElement && !n.parentElement.closest(skip)) ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT});
const pattern = /[A-Za-z][\u2018\u2019\u201C\u201D]|[\u2018\u2019\u201C\u201D][A-Za-z]/g;
const width = (node, i) => { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);
                             return r.getBoundingClientRect().width; };
let checked = 0; const bad = [];
for (let node = walker.nextNode(); node && checked < 400; node = walker.nextNode()) {
  for (const m of node.data.matchAll(pattern)) {
    const mark = /[A-Za-z]/.test(m[0][0]) ? m.index + 1 : m.index;
    const letter = mark === m.index ? m.index + 1 : m.index;
    const em = parseFloat(getComputedStyle(node.parentElement).fontSize);
    const w = width(node, mark);
    if (!(w > 0) || !(em > 0)) continue;              // not rendered (a hidden element)
    checked++;
    if (w >= limit * em) bad.push({text: node.data.slice(Math.max(0, mark - 20), mark + 20), mark: node.data[mark],
        em: w / em, letter: width(node, letter) / em,
        font: getComputedStyle(node.parentElement).fontFamily.slice(0, 60)});
  }
}
return {checked: checked, bad: bad};
"""

AXE_JS = r"""
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: "tag", values: arguments[0]}, resultTypes: ["violations"]})
  .then(r => done(r.violations.filter(v => !v.tags.includes("experimental")).map(v => ({
                                          id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
                                          targets: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))),
        e => done("error: " + e));
"""

# At phone width the page itself must not scroll sideways; if it does, name the outermost elements
# that stick out and are not inside a box that scrolls (or clips) on its own.
PHONE_OVERFLOW_JS = r"""
const root = document.documentElement;
const width = root.clientWidth;
if (root.scrollWidth <= width + 1) return null;
const scrolls = e => ["auto", "scroll", "hidden", "clip"].includes(getComputedStyle(e).overflowX);
const culprits = [];
for (const e of document.body.querySelectorAll("*")) {
  if (e.getBoundingClientRect().right <= width + 1) continue;
  let fixed = false;                                      // a fixed box (the skip link) does not widen the page
  for (let a = e; a && !fixed; a = a.parentElement) fixed = getComputedStyle(a).position === "fixed";
  if (fixed) continue;
  let inside = false;
  for (let a = e.parentElement; a && a !== document.body; a = a.parentElement)
    if (scrolls(a) || a.getBoundingClientRect().right > width + 1) { inside = true; break; }
  if (!inside) culprits.push(e.tagName.toLowerCase() + (e.className && typeof e.className === "string" ?
      "." + e.className.trim().split(/\s+/).join(".") : "") + " " +
      JSON.stringify((e.textContent || "").trim().slice(0, 40)));
}
return {scrollWidth: root.scrollWidth, width: width, culprits: culprits.slice(0, 4)};
"""

# The text of every code block, inline code and typeset formula (MathJax's assistive MathML) of the
# page that holds one of the marks (outermost elements only: a code inside a pre counts once).
CODE_AND_MATH_JS = r"""
const marks = Array.from(arguments[0]);
const main = document.querySelector("main") || document.body;
const inside = "pre, code, mjx-container";
const found = [];
for (const e of main.querySelectorAll(inside)) {
  if (e.parentElement && e.parentElement.closest(inside)) continue;
  const text = e.textContent;
  if (marks.some(m => text.includes(m)))
    found.push({kind: e.tagName === "PRE" ? "a code block" : e.tagName === "CODE" ? "an inline code span" :
                "a typeset formula", text: text});
}
return found;
"""

WAIT_FOR_MATHJAX_JS = r"""
const done = arguments[arguments.length - 1];
const start = Date.now();
(function poll() {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => done("ok"), e => done("error: " + e));
  } else if (!document.querySelector("script[src*='mathjax']") || Date.now() - start > 20000) {
    done(document.querySelector("script[src*='mathjax']") ? "MathJax did not start" : "no MathJax");
  } else { setTimeout(poll, 100); }
})();
"""


# --------------------------------------------------------------------------- links, on the HTML files
class _Anchors(html.parser.HTMLParser):
    """The ids of a page and the targets of its links."""

    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.edition_links: list[str] = []      # to the same page in the other edition

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        # the header's link to the same page in the other edition (_ext/book_i18n.py) and the head's
        # <link rel="alternate" hreflang> leave this edition's folder: edition_link_problems checks them
        if tag == "a" and attrs.get("href"):
            switch = "edition-switch" in (attrs.get("class") or "").split()
            (self.edition_links if switch else self.links).append(attrs["href"])
        if tag == "link" and attrs.get("rel") == "alternate" and attrs.get("hreflang") and attrs.get("href"):
            self.edition_links.append(attrs["href"])


@functools.lru_cache(maxsize=None)
def _parse(path: Path) -> _Anchors:
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def broken_links(pages: list[Path], root: Path = HTML) -> list[str]:
    """Internal links of ``pages`` (HTML files under ``root``) whose file or ``#anchor`` is missing."""
    problems = []
    for page in pages:
        for href in _parse(page).links:
            parts = urllib.parse.urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
                continue
            target = (page.parent / urllib.parse.unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(root)}: {href}"
            if not target.is_file():
                problems.append(f"{where} (no file {target.relative_to(root.resolve()) if target.is_relative_to(root.resolve()) else target})")
            elif parts.fragment and target.suffix == ".html" and urllib.parse.unquote(parts.fragment) not in _parse(target).ids:
                problems.append(f"{where} (no id {parts.fragment!r} in {target.name})")
    return problems


def html_files(root: Path, other: Path | None = None) -> list[Path]:
    """The pages of the edition in ``root`` (not its ``_static``, ``_sources``, nor the other edition
    ``other`` when it lies inside ``root``, as ``zh/`` does in the published site)."""
    other = other.resolve() if other and other.resolve().is_relative_to(root.resolve()) else None
    return sorted(p for p in root.rglob("*.html") if "_static" not in p.relative_to(root).parts
                  and "_sources" not in p.relative_to(root).parts
                  and not (other and p.resolve().is_relative_to(other)))


def edition_link_problems(root: Path, page: str, other: Path, hrefs: list[str]) -> list[str]:
    """The language links of ``page`` (its path under ``root``, ``hrefs`` as written in it) must be
    there and each lead to the same page under ``other``, the other edition's root, which must exist."""
    if not hrefs:
        return [f"{page}: no link to the other edition's page (the header's language button)"]
    problems = []
    expected = (other / page).resolve()
    for href in dict.fromkeys(hrefs):
        parts = urllib.parse.urlsplit(href)
        if parts.scheme or parts.netloc:
            problems.append(f"{page}: the language link {href!r} leaves the site")
            continue
        target = ((root / page).parent / urllib.parse.unquote(parts.path)).resolve()
        if target != expected:
            problems.append(f"{page}: the language link {href!r} leads to {target}, not to the same page of "
                            f"the other edition ({expected})")
        elif not target.is_file():
            problems.append(f"{page}: the language link {href!r} leads to {target}, which does not exist")
    return problems


def full_width_marks(text: str, marks: str = FULL_WIDTH_MARKS, context: int = 15) -> list[str]:
    """Each full-width punctuation mark in ``text`` with ``context`` characters either side."""
    return [text[max(0, i - context):i + context + 1] for i, c in enumerate(text) if c in marks]


# --------------------------------------------------------------------------- the browser
def _program(env: str, *names: str) -> str:
    if os.environ.get(env):
        return os.environ[env]
    for name in names:
        if shutil.which(name):
            return shutil.which(name)
    raise FileNotFoundError(f"none of {', '.join(names)} found: install Chromium and its driver (Debian: "
                            f"apt-get install chromium chromium-driver) or set {env}")


def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise ImportError("the browser check needs Selenium: pip install -r requirements.txt") from None
    options = webdriver.ChromeOptions()
    options.binary_location = _program("BOOK_CHROME", "chromium", "chromium-browser", "google-chrome")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(_program("BOOK_CHROMEDRIVER", "chromedriver")), options=options)
    driver.set_window_size(WIDTH, HEIGHT)
    driver.set_script_timeout(30)
    return driver


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


@dataclass
class PageReport:
    page: str
    problems: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=None)
def axe_source() -> str:
    """axe-core's script (``BOOK_AXE`` or the copy ``.ci/run`` installs); a clear error if missing."""
    path = Path(os.environ.get("BOOK_AXE") or AXE)
    if not path.is_file():
        raise FileNotFoundError(f"axe-core is missing ({path}): install it with `{AXE_INSTALL}` in the "
                                "repository root (.ci/run does), or set BOOK_AXE to its axe.min.js")
    return path.read_text(encoding="utf-8")


def full_width_punctuation(driver) -> list[str]:
    """English punctuation in the loaded page that a CJK font set full-width (see FULL_WIDTH_JS)."""
    result = driver.execute_script(FULL_WIDTH_JS, FULL_WIDTH_EM)
    if not result["bad"]:
        return []
    first = result["bad"][0]
    return [f"{len(result['bad'])} of {result['checked']} ’‘“” beside Latin letters are full-width (a CJK font "
            f"sets them): {first['mark']} is {first['em']:.2f} em wide, the letter beside it {first['letter']:.2f} em, "
            f"in {first['text']!r} (font-family {first['font']!r}...)"]


def full_width_in_code(driver) -> list[str]:
    """Full-width punctuation inside the loaded page's code blocks, inline code or typeset formulas."""
    found = driver.execute_script(CODE_AND_MATH_JS, FULL_WIDTH_MARKS)
    problems = []
    for item in found[:3]:
        snippets = full_width_marks(item["text"])
        problems.append(f"full-width punctuation in {item['kind']} ({len(snippets)} mark(s); a translation "
                        f"must not touch code or math): {' | '.join(map(repr, snippets[:3]))}")
    if len(found) > 3:
        problems.append(f"... and {len(found) - 3} more code or formula element(s) with full-width punctuation")
    return problems


def accessibility(driver) -> list[str]:
    """Serious or critical WCAG 2 A/AA violations that axe-core finds in the loaded page."""
    driver.execute_script(axe_source() + "\n;return 0;")
    found = driver.execute_async_script(AXE_JS, AXE_TAGS)
    if isinstance(found, str):
        return [f"axe-core failed: {found}"]
    return [f"accessibility ({v['impact']}): {v['id']}: {v['help']}: {v['count']} element(s), e.g. "
            + "; ".join(v["targets"]) for v in found if v["impact"] in AXE_FAIL]


def phone_overflow(driver) -> list[str]:
    """Load nothing new: show the loaded page at phone width and report sideways scrolling."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": PHONE_WIDTH, "height": PHONE_HEIGHT, "deviceScaleFactor": 1, "mobile": True})
    try:
        driver.execute_async_script("const done = arguments[0];"
                                    "requestAnimationFrame(() => requestAnimationFrame(() => done(0)));")
        found = driver.execute_script(PHONE_OVERFLOW_JS)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    if not found:
        return []
    return [f"at {PHONE_WIDTH} px the page scrolls sideways: {found['scrollWidth']} px wide in a {found['width']} px "
            f"window; sticking out: {' | '.join(found['culprits']) or '?'}"]


def check_page(driver, url: str, page: str, audit: bool = True, phone: bool = True,
               code_marks: bool = False) -> PageReport:
    """Every check on one page; ``audit``: axe-core's WCAG audit, ``phone``: the 390 px pass,
    ``code_marks``: no full-width punctuation in code or formulas (the Chinese edition)."""
    report = PageReport(page)
    driver.get(url + page)
    state = driver.execute_async_script(WAIT_FOR_MATHJAX_JS)
    if state not in ("ok", "no MathJax"):
        report.problems.append(f"MathJax: {state}")
    result = driver.execute_script(PAGE_PROBLEMS_JS)
    report.problems += result["problems"]
    if has_table(result["text"]):
        report.problems.append("a Markdown table reached the page as raw | --- | text")
    report.problems += full_width_punctuation(driver)
    if code_marks:
        report.problems += full_width_in_code(driver)
    if audit:
        report.problems += accessibility(driver)
    if phone:
        report.problems += phone_overflow(driver)
    for entry in driver.get_log("browser"):
        if entry["level"] == "SEVERE":
            report.problems.append(f"console error: {entry['message'][:200]}")
    return report


def check_search(driver, url: str, term: str = SEARCH_TERM, must_find: str = SEARCH_MUST_FIND) -> list[str]:
    """The search page with ``term`` must list ``must_find`` once the search has finished (Sphinx writes
    its summary line, in the edition's language, last)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{url}search.html?q={urllib.parse.quote(term)}")
    try:
        WebDriverWait(driver, 30).until(
            lambda d: any(p.text.strip() for p in d.find_elements(By.CSS_SELECTOR, "p.search-summary")))
    except Exception as exc:  # a timeout: the search never finished
        return [f"search for {term!r} did not finish ({type(exc).__name__})"]
    found = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "ul.search li a")]
    if not any(must_find in (h or "") for h in found):
        return [f"search for {term!r} did not find {must_find} (found {len(found)} results)"]
    return []


def screenshot(driver, url: str, page: str, name: str, theme: str, scroll_to: str | None = None,
               width: int | None = None) -> Path:
    if width:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": PHONE_HEIGHT, "deviceScaleFactor": 1, "mobile": True})
    try:
        return _screenshot(driver, url, page, name, theme, scroll_to)
    finally:
        if width:
            driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def _screenshot(driver, url: str, page: str, name: str, theme: str, scroll_to: str | None) -> Path:
    driver.get(url + page)
    # pydata-sphinx-theme keeps the reader's choice in localStorage and on <html data-theme>
    driver.execute_script("localStorage.setItem('theme', arguments[0]); localStorage.setItem('mode', arguments[0]);"
                          "document.documentElement.dataset.theme = arguments[0];"
                          "document.documentElement.dataset.mode = arguments[0];", theme)
    driver.refresh()
    driver.execute_async_script(WAIT_FOR_MATHJAX_JS)
    if scroll_to:
        driver.execute_script("document.querySelector(arguments[0]).scrollIntoView({block: 'center'})", scroll_to)
    time.sleep(0.5)
    if driver.execute_script("return document.documentElement.dataset.theme") != theme:
        raise RuntimeError(f"{page}: the theme did not switch to {theme}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / name
    driver.save_screenshot(str(path))
    driver.execute_script("localStorage.clear()")
    return path


def lab_screenshot(driver) -> tuple[Path, list[str]]:
    """Open a notebook in JupyterLab (with jupyterlab-myst) and screenshot it; the MyST markup must be
    rendered, not shown as raw text."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log_path = ROOT / "_build" / "lab-check.log"
    log = log_path.open("w")
    # --allow-root: CI containers run as root; the server listens on 127.0.0.1 only
    lab = subprocess.Popen([str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser", f"--port={port}",
                            "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.ip=127.0.0.1",
                            f"--ServerApp.root_dir={ROOT}", "--allow-root", "--LabApp.news_url=None",
                            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
                           stdout=log, stderr=subprocess.STDOUT)
    problems = []
    try:
        url = f"http://127.0.0.1:{port}/lab/tree/{LAB_NOTEBOOK}"
        deadline = time.time() + 60
        while True:
            if lab.poll() is not None:
                raise RuntimeError(f"JupyterLab exited (code {lab.returncode}); see {log_path.relative_to(ROOT)}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError(f"JupyterLab did not listen within 60 s; see {log_path.relative_to(ROOT)}")
                time.sleep(1)
        driver.get(url)
        WebDriverWait(driver, 90).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-MarkdownCell h1"))
        # the MyST renderer works cell by cell, and slowly on a busy machine: wait until no raw
        # markup is left, and fail only if some is still there after a minute
        raw_markup = ("(ch3-cnn)=", "{cite:t}", "{cite:p}", ":::{")
        deadline = time.time() + 60
        while True:
            text = driver.find_element(By.CSS_SELECTOR, ".jp-Notebook").text
            raw = [r for r in raw_markup if r in text]
            if not raw or time.time() > deadline:
                break
            time.sleep(1)
        problems += [f"JupyterLab shows raw MyST {r!r} in {LAB_NOTEBOOK} after 60 s" for r in raw]
        time.sleep(2)   # MathJax in the rendered cells, for the screenshot
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / "lab-cnn.png"
        driver.save_screenshot(str(path))
    finally:
        lab.terminate()
        lab.wait(timeout=30)
        log.close()
    return path, problems


@dataclass(frozen=True)
class Edition:
    """One edition of the book and what the browser pass does on it."""
    key: str                            # "en" or "zh": the prefix of its problems
    root: Path                          # its built HTML
    build: str                          # the command that builds it
    audit: tuple[str, ...] | None       # the pages axe-core audits (None: every page)
    phone: bool                         # every page again at 390 px
    code_marks: bool                    # no full-width punctuation in code and formulas
    search: tuple[str, str]             # a search term and a page it must find
    screenshots: list = field(default_factory=list)


def editions(site: Path | None = None) -> dict[str, Edition]:
    """Both editions, as ``make book`` and ``make book-zh`` lay them out, or as the published ``site``
    (English at its root, Chinese in ``zh/``)."""
    en_root, zh_root = (site, site / "zh") if site else (HTML, ZH_HTML)
    return {"en": Edition("en", en_root, "make book", None, True, False, (SEARCH_TERM, SEARCH_MUST_FIND),
                          SCREENSHOTS),
            "zh": Edition("zh", zh_root, "make book-zh", ZH_AUDIT, False, True,
                          (ZH_SEARCH_TERM, ZH_SEARCH_MUST_FIND), ZH_SCREENSHOTS)}


def _shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.browser_check", description=__doc__.split("\n")[0])
    parser.add_argument("--lab", action="store_true", help="also open a notebook in JupyterLab and screenshot it")
    parser.add_argument("--edition", choices=("en", "zh"), help="check this edition only (default: both)")
    parser.add_argument("--site", type=Path, help="the published layout: English in SITE, Chinese in SITE/zh")
    args = parser.parse_args(argv)
    both = editions(args.site.resolve() if args.site else None)
    chosen = [both[args.edition]] if args.edition else list(both.values())
    for edition in chosen:
        if not (edition.root / "index.html").is_file():
            print(f"error: {_shown(edition.root)}/index.html is missing: run `{edition.build}` first (or check "
                  f"the other edition alone: --edition)", file=sys.stderr)
            return 1
    pages = [str(p.with_suffix(".html")) for p in toc_files()]
    problems, notes, files = [], [], {}
    for edition in chosen:
        other = both["zh" if edition.key == "en" else "en"]
        files[edition.key] = html_files(edition.root, other.root)
        problems += [f"{edition.key} link {p}" for p in broken_links(files[edition.key], edition.root)]
        if (other.root / "index.html").is_file():
            for page in pages:
                problems += [f"{edition.key} {p}" for p in edition_link_problems(
                    edition.root, page, other.root, _parse(edition.root / page).edition_links)]
        else:
            notes.append(f"{edition.key}: language links not checked ({_shown(other.root)} is not built)")
    try:
        axe_source()
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    driver = browser()
    shots, seconds = [], {}
    try:
        for edition in chosen:
            started = time.perf_counter()
            server, url = serve(edition.root)
            try:
                for page in pages:
                    report = check_page(driver, url, page, audit=edition.audit is None or page in edition.audit,
                                        phone=edition.phone, code_marks=edition.code_marks)
                    problems += [f"{edition.key} {page}: {p}" for p in report.problems]
                    print(f"  {'ok ' if not report.problems else 'BAD'} {edition.key} {page}", flush=True)
                problems += [f"{edition.key} {p}" for p in check_search(driver, url, *edition.search)]
                shots += [screenshot(driver, url, *args) for args in edition.screenshots]
            finally:
                server.shutdown()
            seconds[edition.key] = time.perf_counter() - started
        if args.lab:
            started = time.perf_counter()
            shot, lab_problems = lab_screenshot(driver)
            shots.append(shot)
            problems += lab_problems
            seconds["JupyterLab"] = time.perf_counter() - started
    finally:
        driver.quit()
    for edition in chosen:
        how = (f"at {WIDTH} px with axe-core's audit, then at {PHONE_WIDTH} px" if edition.audit is None else
               f"at {WIDTH} px, axe-core's audit on {len(edition.audit)} of them, no full-width marks in code or math")
        print(f"{edition.key}: {len(pages)} pages loaded in Chromium ({how}), {len(files[edition.key])} HTML files' "
              f"links and the language links checked, search for {edition.search[0]!r} checked, in "
              f"{seconds[edition.key]:.0f} s")
    if "JupyterLab" in seconds:
        print(f"JupyterLab: {LAB_NOTEBOOK} rendered, in {seconds['JupyterLab']:.0f} s")
    print(f"screenshots: {', '.join(str(_shown(s)) for s in shots)}")
    for note in notes:
        print(f"note: {note}")
    if problems:
        print(f"{len(problems)} problem(s):\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("no problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
