"""tools.pdf: what the PDF build does to the LaTeX source and how it reports a missing program.
(`make pdf` itself runs in .ci/run, where TeX is installed.)"""
from __future__ import annotations

import pytest

from tools import pdf

from error_facts import raises_naming


@pytest.mark.parametrize("argv, code", [(["--help"], 0), (["--fast"], 2)])
def test_arguments_are_parsed_before_the_build_starts(monkeypatch, capsys, argv, code):
    monkeypatch.setattr(pdf, "build", lambda: pytest.fail("started the LaTeX build"))
    with pytest.raises(SystemExit) as exit_:
        pdf.main(argv)
    assert exit_.value.code == code
    printed = capsys.readouterr()
    assert "python -m tools.pdf" in printed.out + printed.err          # usage, or the error with it


def test_strip_ansi_removes_colour_codes_only():
    text, removed = pdf.strip_ansi("\x1b[31mError\x1b[0m: 5 \x1b[1;32mok\x1b[39;49m [x] 中文")
    assert text == "Error: 5 ok [x] 中文" and removed == 4


def test_a_missing_program_is_named_with_its_package(monkeypatch):
    monkeypatch.setattr(pdf.shutil, "which", lambda tool: None if tool == "xelatex" else f"/usr/bin/{tool}")
    assert pdf.missing_tools() == ["xelatex (Debian package texlive-xetex)"]
    with raises_naming(FileNotFoundError, "xelatex", "texlive-xetex"):     # the program and its package
        pdf.build()


def test_the_bbm_stand_in_defines_mathbbm():
    sty = (pdf.ROOT / "_latex" / "bbm.sty").read_text()
    assert r"\ProvidesPackage{bbm}" in sty and r"\providecommand{\mathbbm}" in sty


def test_full_width_quotes_leave_a_gap_that_the_check_finds():
    """What xeCJK's default classes did to the PDF's English ("book’ s version" on page 166), found with
    the page number; correctly set quotes, plural possessives and Chinese quotes pass."""
    bad = ["Contents", "The book’ s version and “ quoted ” text; don’ t.\nMore."]
    found = pdf.full_width_gaps(bad)
    assert len(found) == 4 and all(f.startswith("page 2: ") for f in found), found
    assert "book’ s version" in found[0]
    # xelatex with xeCJK's default classes, pdftotext of "The book’s version, “quoted” text; the tokens’ outputs."
    eaten = pdf.full_width_gaps(["The book’s version, “quoted”text; the tokens’outputs."])
    assert len(eaten) == 2 and "“quoted”text" in eaten[0] and "tokens’outputs" in eaten[1], eaten
    good = ["The book’s version, the tokens’ outputs, “quoted” text; don’t. 术语“注意力”。", "x = 'a'  # code"]
    assert pdf.full_width_gaps(good) == []


def test_the_cover_shows_the_edition_s_own_title():
    cover_problems = pdf.cover_problems
    english_cover = "How large AI models work (大型人\n工智能模型的工作原理)\n\n2026 年 12 月 07 日\n"
    assert cover_problems(english_cover, "en") == []
    assert any("other edition" in p for p in cover_problems(english_cover, "zh_CN"))
    assert cover_problems("大型人工智能模型的\n工作原理\n\n2026 年 12 月 07 日\n", "zh_CN") == []
    assert cover_problems("Contents\n", "zh_CN") == ["the first page lacks the title '大型人工智能模型的工作原理'"]
