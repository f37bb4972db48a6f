"""Cross-references: every link has a target, and no sentence points to a page without a link.

A sentence that points the reader to another part of the book ("the Transformer chapter", "the next
section", "Chapter 3 builds ...", "a later chapter", "measured in the FAQ") must carry a `{doc}` /
`{ref}` / `{numref}` link to a page or label that exists, in that same sentence. A pointer to a page the
book does not have yet cannot carry such a link, so it fails: say the fact without promising the page.
"""
from __future__ import annotations

import json
import posixpath
import re
from pathlib import Path

import pytest

from tools import notebooks

ROOT = notebooks.ROOT

# Phrases that point to another part of the book. Case-insensitive unless written with (?-i:...).
POINTERS = [
    # "the Transformer chapter", "the GPT chapter", "the RNN chapter", "the code-example chapter"
    r"\bthe (?-i:[A-Z][\w-]*)(?: (?-i:[A-Z][\w-]*))? chapters?\b",
    r"\bthe code[- ]examples? chapters?\b",
    # "the Transformer code example", "the GPT part": the pages still to come, by name
    r"\bthe (?-i:Transformer|GPT|BERT|Outlook|FAQ)\b(?: [\w-]+){0,2} (?:chapter|section|part|example|page)s?\b",
    r"\b(?:in|of) the (?-i:FAQ|Outlook)\b",
    # "Chapter 3 builds ...", "chapter 2 derives ..." (but not "chapter 9 of {cite:t}`...`")
    r"\bchapters? \d+\b(?! of (?:the article|the source|\{cite))",
    r"\bpart \d+\b(?! of (?:the article|\{cite))",
    r"\bthe (?:next|following) (?:section|chapter|part|page)s?\b",
    r"\b(?:a|the|in|later) later (?:chapter|section|part|page)s?\b",
    r"\blater (?:chapter|part|page)s?\b",
    r"\blater (?:in|part of|parts of) (?:the|this) (?:book|chapter)\b",
    r"\b(?:chapter|section|part)s? (?:that|which) [^.;]{0,60}\blater\b",
    r"\breturns? to this\b",
    r"\b(?:is|are|is still|still) planned\b|\(planned\)",
]
_POINTER = re.compile("|".join(f"(?:{p})" for p in POINTERS), re.IGNORECASE)
_LINK = re.compile(r"\{(doc|ref|numref)\}`([^`]*)`")
_LABEL_DEFS = [
    re.compile(r"^\(([\w.:-]+)\)=\s*$", re.MULTILINE),           # (label)=
    re.compile(r"^\s*:(?:label|name):\s*(\S+)\s*$", re.MULTILINE),  # directive options
    re.compile(r"\$\$\s*\(([\w.:-]+)\)"),                          # $$ ... $$ (label)
]


def _target(link_text: str) -> str:
    """The target of a role's content: `text <target>` or `target`."""
    match = re.search(r"<([^<>]+)>\s*$", link_text)
    return (match.group(1) if match else link_text).strip()


def prose_units(root: Path = ROOT) -> list[tuple[str, str, str]]:
    """(page, where, text) for every markdown cell of every notebook and every .md page in the toc."""
    units = []
    for page in notebooks.toc_files(root):
        path = root / page
        if path.suffix == ".ipynb":
            nb = json.loads(path.read_text(encoding="utf-8"))
            for index, cell in enumerate(nb["cells"]):
                if cell["cell_type"] == "markdown":
                    units.append((str(page), f"cell {index}", "".join(cell["source"])))
        else:
            units.append((str(page), "page", path.read_text(encoding="utf-8")))
    return units


def _strip_code(text: str) -> str:
    """Drop fenced code blocks (but keep the content of ```{directive} blocks: that is prose)."""
    out, fence = [], None
    for line in text.splitlines():
        stripped = line.strip()
        marker = re.match(r"^(`{3,}|~{3,})(.*)$", stripped)
        if fence is None and marker:
            if not marker.group(2).strip().startswith("{"):
                fence = marker.group(1)
            continue
        if fence is not None:
            if stripped.startswith(fence) and stripped.strip("`~") == "":
                fence = None
            continue
        if re.match(r"^:[\w-]+:", stripped):  # a directive option line, not prose
            continue
        out.append(line)
    return "\n".join(out)


def sentences(text: str) -> list[str]:
    """The sentences of a markdown text: paragraphs, list items, headings and table rows split apart."""
    result = []
    blocks = re.split(r"\n\s*\n|\n(?=\s*(?:[*+-]|\d+\.)\s)|\n(?=\s*[#|])", _strip_code(text))
    for block in blocks:
        flat = " ".join(block.split())
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z{(\"'*_`\[])", flat):
            if sentence:
                result.append(sentence)
    return result


def known_targets(root: Path = ROOT) -> tuple[set[str], set[str]]:
    """The pages of the toc (paths without suffix) and every label the pages define (lower case)."""
    pages = {str(p.with_suffix("")) for p in notebooks.toc_files(root)}
    labels = set()
    for _, _, text in prose_units(root):
        for pattern in _LABEL_DEFS:
            labels.update(m.lower() for m in pattern.findall(text))
    return pages, labels


def _doc_exists(target: str, page: str, pages: set[str]) -> bool:
    base = "" if target.startswith("/") else posixpath.dirname(page)
    path = posixpath.normpath(posixpath.join(base, target.lstrip("/")))
    return re.sub(r"\.(md|ipynb)$", "", path) in pages


def _link_ok(role: str, target: str, page: str, pages: set[str], labels: set[str]) -> bool:
    if role == "doc":
        return _doc_exists(target, page, pages)
    return target.lower() in labels


def broken_links(units, pages: set[str], labels: set[str]) -> list[str]:
    problems = []
    for page, where, text in units:
        for role, content in _LINK.findall(_strip_code(text)):
            target = _target(content)
            if not _link_ok(role, target, page, pages, labels):
                problems.append(f"{page} {where}: {{{role}}}`{content}` has no target {target!r}")
    return problems


def unlinked_pointers(units, pages: set[str], labels: set[str]) -> list[str]:
    problems = []
    for page, where, text in units:
        for sentence in sentences(text):
            pointer = _POINTER.search(sentence)
            if pointer is None:
                continue
            links = [(role, _target(c)) for role, c in _LINK.findall(sentence)]
            if not any(_link_ok(role, t, page, pages, labels) for role, t in links):
                problems.append(f"{page} {where}: {pointer.group(0)!r} in: {sentence[:300]}")
    return problems


def test_every_doc_and_ref_link_has_a_target():
    pages, labels = known_targets()
    problems = broken_links(prose_units(), pages, labels)
    assert not problems, "links to pages or labels that do not exist:\n  " + "\n  ".join(problems)


def test_no_sentence_points_to_a_page_without_a_link():
    pages, labels = known_targets()
    problems = unlinked_pointers(prose_units(), pages, labels)
    assert not problems, (
        "sentences that point to another part of the book without a {doc}/{ref} link to an existing "
        "page (link it, or, if the page does not exist yet, state the fact without the promise):\n  "
        + "\n  ".join(problems))


@pytest.mark.parametrize("text, ok", [
    ("The Transformer chapter returns to this.", False),
    ("Chapter 3 builds this block from scratch.", False),
    ("This is measured in the FAQ chapter.", False),
    ("A later chapter rebuilds the model.", False),
    ("It becomes the Transformer (the next section).", False),
    ("The GPT chapter compares with these numbers.", False),
    ("The Outlook chapter returns to this with a scaling-law experiment.", False),
    ("Backpropagation is derived later in this chapter.", False),
    ("The next section, {ref}`ch-real`, makes the model stronger.", True),
    ("Chapter 2 ({doc}`intro`) derives the loss.", True),
    ("The next section, {ref}`ch-missing`, makes it stronger.", False),
    ("Chapter 10 of {cite:t}`goodfellow2016deep` is a good companion.", True),
    ("Section 4.1 of the article is a Keras program.", True),
    ("One year later the model was larger.", True),
    ("This chapter derives the loss. The rest of this chapter uses it.", True),
])
def test_the_checker_finds_pointers_without_a_link(text, ok):
    units = [("chapters/a/page.ipynb", "cell 0", text)]
    problems = unlinked_pointers(units, {"chapters/a/intro"}, {"ch-real"})
    assert (not problems) == ok, problems


def test_the_checker_finds_broken_links():
    units = [("chapters/a/page.md", "page",
              "See {doc}`intro`, {doc}`the intro <../a/intro>`, {doc}`/chapters/a/intro` and "
              "{ref}`ch-real`; not {doc}`missing` nor {ref}`text <ch-missing>`.\n"
              "```python\n{doc}`in code is ignored`\n```")]
    problems = broken_links(units, {"chapters/a/intro"}, {"ch-real"})
    assert len(problems) == 2 and "'missing'" in problems[0] and "'ch-missing'" in problems[1]


def test_labels_are_found():
    text = "(ch-x)=\n# T\n```{exercise}\n:label: ex-y\n```\n$$ a = b $$ (eq-z)\n"
    found = {m.lower() for p in _LABEL_DEFS for m in p.findall(text)}
    assert {"ch-x", "ex-y", "eq-z"} <= found
