"""``make pdf``: the PDF edition, through Jupyter Book's LaTeX builder and xelatex.

Steps: Sphinx writes ``_build/latex/book.tex`` (``jupyter-book build --builder latex``); ANSI colour
codes that stored outputs may hold are removed from it (xelatex cannot typeset the escape
character); ``latexmk`` runs xelatex until the cross-references settle; then the PDF is checked:
its text (``pdftotext``) must hold known headings, Chinese among them, because a missing CJK font
or glyph fails silently in LaTeX; English quotes must not be set full-width by the CJK font (which
leaves a gap in the text: "book’ s", "“ quoted ”"); and two pages are rendered to PNG
(``pdftoppm``) for a look.

Needs, besides the Python environment: xelatex and latexmk with the CJK and recommended fonts
packages, the Noto CJK fonts and poppler's tools. On Debian:

    apt-get install texlive-xetex latexmk texlive-lang-chinese texlive-fonts-recommended \\
        fonts-noto-cjk poppler-utils

    python -m tools.pdf            # -> _build/latex/book.pdf, _build/pdf-pages/page-*.png
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tools.notebooks import ROOT

LATEX_DIR = ROOT / "_build" / "latex"
PAGES_DIR = ROOT / "_build" / "pdf-pages"
TOOLS = {"xelatex": "texlive-xetex", "latexmk": "latexmk", "pdftotext": "poppler-utils",
         "pdftoppm": "poppler-utils", "pdfinfo": "poppler-utils"}
# Headings that must survive into the PDF's text layer: a Chinese one proves the CJK font works.
MUST_CONTAIN = ("大型人工智能模型的工作原理", "未来发展趋势与挑战", "常见问题与解答", "Notation")
# The Chinese edition (``--lang zh_CN``, ``make pdf-zh``): built by tools.i18n's configuration into
# _build/zh/latex; its text must hold a translated heading of the preface and the Chinese part titles.
ZH_LATEX_DIR = ROOT / "_build" / "zh" / "latex"
ZH_PAGES_DIR = ROOT / "_build" / "zh" / "pdf-pages"
ZH_MUST_CONTAIN = ("大型人工智能模型的工作原理", "1 背景介绍", "本书与原文的对应", "未来发展趋势与挑战", "常见问题与解答")
# The title on the first page (the cover) of each edition, and a title it must not show there: the
# Chinese PDF's cover once showed the English title, which Jupyter Book takes from _config.yml
COVER = {"en": ("How large AI models work", None),
         "zh_CN": ("大型人工智能模型的工作原理", "How large AI models work")}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# English quotes set full-width (xeCJK's CJK punctuation class) as they come out of pdftotext: a gap
# inside a contraction or possessive ("book’ s", "don’ t"), after an opening or before a closing quote,
# or the space after a quote eaten by xeCJK's CJK spacing rules ("“quoted”text", "tokens’outputs")
_FULL_WIDTH_GAP = re.compile(r"[A-Za-z]’ +(?:s|t|d|m|ll|re|ve)\b|[“‘] +[A-Za-z]|[A-Za-z.,] +”"
                             r"|”[A-Za-z]|[a-z]’(?!(?:s|t|d|m|ll|re|ve)\b)[a-z]")


def missing_tools() -> list[str]:
    return [f"{tool} (Debian package {package})" for tool, package in TOOLS.items() if not shutil.which(tool)]


def strip_ansi(text: str) -> tuple[str, int]:
    """``text`` without ANSI escape sequences (colour codes of tracebacks and progress output)."""
    return _ANSI.subn("", text)


def full_width_gaps(pages: list[str]) -> list[str]:
    """Places in the PDF's text (one string per page) where an English quote was set full-width:
    ``"page 166: …the book’ s version…"`` for each, in page order."""
    found = []
    for number, page in enumerate(pages, 1):
        flat = page.replace("\n", " ")
        for m in _FULL_WIDTH_GAP.finditer(flat):
            found.append(f"page {number}: …{flat[max(0, m.start() - 25):m.end() + 15]}…")
    return found


def cover_problems(first_page: str, lang: str) -> list[str]:
    """What is wrong with the title on the PDF's first page (its text from pdftotext), for edition
    ``lang``: the edition's title missing, or the other edition's shown instead (line breaks ignored)."""
    title, other = COVER[lang]
    flat = "".join(first_page.split())
    problems = []
    if "".join(title.split()) not in flat:
        problems.append(f"the first page lacks the title {title!r}")
    if other and "".join(other.split()) in flat:
        problems.append(f"the first page shows {other!r}, the other edition's title")
    return problems


def _run(command: list[str], cwd: Path, what: str, log: Path | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, errors="replace")
    if log is not None:
        log.write_text(done.stdout + done.stderr)
    if done.returncode:
        errors = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("!")]
        where = f"; full log: {log.relative_to(ROOT)}" if log is not None else ""
        raise RuntimeError(f"{what} failed (exit {done.returncode}){where}\n"
                           + ("\n".join(errors[:10]) or (done.stdout + done.stderr)[-3000:]))
    return done.stdout


def page_count(pdf: Path) -> int:
    info = _run(["pdfinfo", str(pdf)], ROOT, "pdfinfo")
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))


def build(lang: str = "en") -> Path:
    """Build and check ``_build/latex/book.pdf`` (``lang="zh_CN"``: the Chinese edition,
    ``_build/zh/latex/book.pdf``); returns its path. Raises with the cause on failure."""
    latex_dir, pages_dir, must_contain = _edition(lang)
    missing = missing_tools()
    if missing:
        raise FileNotFoundError("the PDF needs programs that are not installed: " + ", ".join(missing)
                                + ". On Debian: apt-get install texlive-xetex latexmk texlive-lang-chinese "
                                "texlive-fonts-recommended fonts-noto-cjk poppler-utils")
    if lang == "en":
        builder = Path(sys.executable).with_name("jupyter-book")
        _run([str(builder), "build", str(ROOT), "--builder", "latex", "-W", "-n", "--keep-going"], ROOT,
             "the LaTeX build (jupyter-book --builder latex)")
    else:
        from tools import i18n

        i18n.build_latex()
    tex = latex_dir / "book.tex"
    text, removed = strip_ansi(tex.read_text(encoding="utf-8"))
    tex.write_text(text, encoding="utf-8")
    print(f"book.tex: {removed} ANSI escape sequences removed")
    # -pdf with Sphinx's latexmkrc runs xelatex (latex_engine); as many passes as the references need.
    _run(["latexmk", "-pdf", "-dvi-", "-ps-", "-interaction=nonstopmode", "-halt-on-error", "book.tex"],
         latex_dir, "xelatex (latexmk)", log=latex_dir / "latexmk-run.log")
    undefined = sorted(set(re.findall(r"(?:Reference|Citation) `([^']+)' on page \d+ undefined",
                                      (latex_dir / "book.log").read_text(errors="replace").replace("\n", ""))))
    if undefined:
        raise RuntimeError(f"the PDF has unresolved references (printed as ??): {undefined}")
    pdf = latex_dir / "book.pdf"
    content = _run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], ROOT, "pdftotext")
    pages = content.split("\f")                     # pdftotext ends every page with a form feed
    absent = [s for s in must_contain if s not in content]
    if absent:
        raise RuntimeError(f"{pdf.relative_to(ROOT)} lacks the text {absent}: a font or glyph is missing "
                           "(for Chinese: Debian's fonts-noto-cjk, and xeCJK in _config.yml)")
    cover = cover_problems(pages[0], lang)
    if cover:
        raise RuntimeError(f"{pdf.relative_to(ROOT)}: {'; '.join(cover)} (the title comes from _config.yml, "
                           "and for the Chinese edition from tools/i18n.py's ZH_CONFIG book_latex_title)")
    gaps = full_width_gaps(pages)
    if gaps:
        raise RuntimeError(f"{pdf.relative_to(ROOT)}: {len(gaps)} English quote(s) set full-width by the CJK font "
                           "(xeCJK's character classes in _config.yml's LaTeX preamble), e.g.\n  "
                           + "\n  ".join(gaps[:5]))
    pages_dir.mkdir(parents=True, exist_ok=True)
    for old in pages_dir.glob("page-*.png"):
        old.unlink()
    for first in (1, _first_page_with(pages, "the test loss falls as a power")):
        _run(["pdftoppm", "-png", "-r", "60", "-f", str(first), "-l", str(first), str(pdf),
              str(pages_dir / "page")], ROOT, "pdftoppm")
    return pdf


def _edition(lang: str) -> tuple[Path, Path, tuple[str, ...]]:
    """The LaTeX folder, the folder of rendered pages and the text the PDF must hold, of an edition."""
    if lang == "en":
        return LATEX_DIR, PAGES_DIR, MUST_CONTAIN
    if lang == "zh_CN":
        return ZH_LATEX_DIR, ZH_PAGES_DIR, ZH_MUST_CONTAIN
    raise ValueError(f"lang={lang!r}; allowed: 'en', 'zh_CN'")


def _first_page_with(pages: list[str], needle: str) -> int:
    """The number (from 1) of the first page whose text holds ``needle`` (1 if none)."""
    return next((i for i, page in enumerate(pages, 1) if needle in page), 1)


def main(argv: list[str] | None = None) -> int:
    import argparse

    # parsed before anything runs: `--help` (or a stray argument) used to start the whole LaTeX build
    args = argparse.ArgumentParser(
        prog="python -m tools.pdf",
        description="Build the PDF edition through xelatex (_build/latex/book.pdf; --lang zh_CN: the "
                    "Chinese edition, _build/zh/latex/book.pdf), check its text and fonts, and render two "
                    "pages as PNG (_build/pdf-pages, _build/zh/pdf-pages).",
    )
    args.add_argument("--lang", choices=("en", "zh_CN"), default="en", help="the edition (default: en)")
    lang = args.parse_args(argv).lang
    _, pages_dir, must_contain = _edition(lang)
    try:
        pdf = build(lang)
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    pngs = sorted(p.name for p in pages_dir.glob("page-*.png"))
    print(f"{pdf.relative_to(ROOT)}: {page_count(pdf)} pages, {pdf.stat().st_size / 1e6:.1f} MB; "
          f"text holds {', '.join(must_contain)}; pages rendered: {', '.join(pngs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
