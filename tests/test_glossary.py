"""The glossary (appendix) is Sphinx's glossary, and the chapters link to it.

Every entry gives the English term (one or more term lines), the Chinese term and a one-line definition;
the entries are in alphabetical order; every chapter page outside the appendix uses the {term} role at
least once; and every {term} role names a term the glossary defines (Sphinx matches terms without regard
to case; an unknown term is a warning, and the book builds with -W).
"""
from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest

from tools import notebooks

ROOT = notebooks.ROOT
GLOSSARY = ROOT / "chapters" / "appendix" / "glossary.md"
MIN_ENTRIES = 80

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_TERM_ROLE = re.compile(r"\{term\}`([^`]*)`")


def parse_glossary(text: str) -> list[tuple[list[str], str]]:
    """(term lines, definition) for every entry of the ```{glossary} block of a MyST page."""
    match = re.search(r"^```+\{glossary\}[^\n]*\n(.*?)^```+\s*$", text, re.S | re.M)
    if match is None:
        raise ValueError("no ```{glossary} directive in the page")
    entries: list[tuple[list[str], str]] = []
    terms: list[str] = []
    definition: list[str] = []
    for line in match.group(1).splitlines():
        if not line.strip():
            continue
        if line[0].isspace():                       # an indented line belongs to the definition
            if not terms:
                raise ValueError(f"definition without a term: {line.strip()!r}")
            definition.append(line.strip())
        elif re.match(r"^:[\w-]+:", line):          # a directive option such as :sorted:
            continue
        else:                                       # a term line: starts a new entry after a definition
            if definition:
                entries.append((terms, " ".join(definition)))
                terms, definition = [], []
            terms.append(line.strip())
    if terms:
        entries.append((terms, " ".join(definition)))
    return entries


def entry_problems(entries: list[tuple[list[str], str]]) -> list[str]:
    """What is wrong with the entries: no definition, no Chinese term, no English definition, order."""
    problems = []
    for terms, definition in entries:
        name = terms[0]
        if not definition:
            problems.append(f"{name!r}: no definition")
            continue
        if not _CJK.search(definition):
            problems.append(f"{name!r}: no Chinese (中文) term")
        english = _CJK.sub("", re.sub(r"\*\*[^*]*\*\*", "", definition))
        if len(re.findall(r"[A-Za-z]{2,}", english)) < 4:
            problems.append(f"{name!r}: no English definition of a few words")
    keys = [unicodedata.normalize("NFD", terms[0].lower()) for terms, _ in entries]
    for before, after in zip(keys, keys[1:]):
        if before > after:
            problems.append(f"not in alphabetical order: {before!r} before {after!r}")
    seen: set[str] = set()
    for terms, _ in entries:
        for term in terms:
            if term.lower() in seen:
                problems.append(f"term defined twice: {term!r}")
            seen.add(term.lower())
    return problems


def _role_target(content: str) -> str:
    match = re.search(r"<([^<>]+)>\s*$", content)
    return " ".join((match.group(1) if match else content).split())


def chapter_prose(root: Path = ROOT) -> dict[str, str]:
    """The prose of every page of the toc outside the appendix: .md pages and notebook markdown cells."""
    prose = {}
    for page in notebooks.toc_files(root):
        if page.parts[:2] == ("chapters", "appendix"):
            continue
        path = root / page
        if path.suffix == ".ipynb":
            nb = json.loads(path.read_text(encoding="utf-8"))
            text = "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
        else:
            text = path.read_text(encoding="utf-8")
        prose[str(page)] = text
    return prose


def unknown_terms(prose: dict[str, str], defined: set[str]) -> list[str]:
    return [f"{page}: {{term}}`{content}`" for page, text in prose.items()
            for content in _TERM_ROLE.findall(text) if _role_target(content).lower() not in defined]


def pages_without_terms(prose: dict[str, str]) -> list[str]:
    return [page for page, text in prose.items() if not _TERM_ROLE.search(text)]


# --- the book --------------------------------------------------------------------------------------

def _entries():
    return parse_glossary(GLOSSARY.read_text(encoding="utf-8"))


def test_the_glossary_has_enough_complete_entries_in_order():
    entries = _entries()
    assert len(entries) >= MIN_ENTRIES, f"the glossary has {len(entries)} entries, fewer than {MIN_ENTRIES}"
    problems = entry_problems(entries)
    assert not problems, "glossary entries:\n  " + "\n  ".join(problems)


def test_every_chapter_page_links_to_the_glossary():
    prose = chapter_prose()
    assert len(prose) >= 10
    missing = pages_without_terms(prose)
    assert not missing, ("pages that use no {term} role (link the first use of a glossary term, e.g. "
                         "{term}`convolution`):\n  " + "\n  ".join(missing))


def test_every_term_role_names_a_glossary_term():
    defined = {term.lower() for terms, _ in _entries() for term in terms}
    problems = unknown_terms(chapter_prose(), defined)
    assert not problems, ("{term} roles whose target is not a glossary term (add the term to "
                          "chapters/appendix/glossary.md or use {term}`text <term>`):\n  " + "\n  ".join(problems))


# --- the checks themselves can fail ------------------------------------------------------------------

GOOD = """(x)=
# G

```{glossary}
:sorted:

attention
  **注意力** — A layer that averages values with weights from query-key scores. See {ref}`ch3`.

convolutional neural network
CNN
  **卷积神经网络** — A network built mainly from convolution and pooling layers.
```
"""


def test_parser_reads_entries_and_term_lines():
    entries = parse_glossary(GOOD)
    assert [terms for terms, _ in entries] == [["attention"], ["convolutional neural network", "CNN"]]
    assert entry_problems(entries) == []


@pytest.mark.parametrize("bad, expected", [
    (GOOD.replace("**注意力** — ", ""), "no Chinese"),
    (GOOD.replace("— A layer that averages values with weights from query-key scores. See {ref}`ch3`.",
                  ""), "no English definition"),
    (GOOD.replace("attention\n", "zebra\n"), "alphabetical"),
    (GOOD.replace("CNN\n", "Attention\n"), "defined twice"),
])
def test_entry_checks_catch_problems(bad, expected):
    problems = " | ".join(entry_problems(parse_glossary(bad)))
    assert expected in problems, problems


def test_term_checks_catch_problems():
    defined = {"attention", "cnn", "convolutional neural network"}
    prose = {"a.md": "Uses {term}`CNNs <CNN>` and {term}`Attention`.",
             "b.md": "Uses {term}`pooling` only.",
             "c.md": "No roles here, only {ref}`x`."}
    assert unknown_terms(prose, defined) == ["b.md: {term}`pooling`"]
    assert pages_without_terms(prose) == ["c.md"]
    with pytest.raises(ValueError, match="no ```\\{glossary\\}"):
        parse_glossary("# G\n\n| a | b |\n")
