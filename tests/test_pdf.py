"""utils.pdf: what the PDF build does to the LaTeX source and how it reports a missing program.
(`make pdf` itself runs in .ci/run, where TeX is installed.)"""
from __future__ import annotations

import pytest

from utils import pdf


def test_strip_ansi_removes_colour_codes_only():
    text, removed = pdf.strip_ansi("\x1b[31mError\x1b[0m: 5 \x1b[1;32mok\x1b[39;49m [x] 中文")
    assert text == "Error: 5 ok [x] 中文" and removed == 4


def test_a_missing_program_is_named_with_its_package(monkeypatch):
    monkeypatch.setattr(pdf.shutil, "which", lambda tool: None if tool == "xelatex" else f"/usr/bin/{tool}")
    assert pdf.missing_tools() == ["xelatex (Debian package texlive-xetex)"]
    with pytest.raises(FileNotFoundError, match=r"xelatex \(Debian package texlive-xetex\).*apt-get install"):
        pdf.build()


def test_the_bbm_stand_in_defines_mathbbm():
    sty = (pdf.ROOT / "_latex" / "bbm.sty").read_text()
    assert r"\ProvidesPackage{bbm}" in sty and r"\providecommand{\mathbbm}" in sty
