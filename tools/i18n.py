"""The Chinese edition (中文版): translation catalogues, the Chinese builds, and their checks.

The Chinese book is built from the same notebooks as the English one. Sphinx's gettext builder
extracts every paragraph, heading, caption and table cell of every page as a message; each page has
one catalogue ``locale/zh_CN/LC_MESSAGES/<page>.po`` (``chapters/03_algorithms/cnn.po`` for
``chapters/03_algorithms/cnn.ipynb``) that holds the Chinese for each message; a build with
``language: zh_CN`` replaces every translated message and keeps the code, outputs, glued numbers,
formulas and numbering. When an English paragraph changes, its old message disappears from the
catalogue (``make po`` marks it obsolete, or fuzzy with the old translation as a starting point) and the
new one shows up untranslated: the edition cannot silently drift.

Commands (``python -m tools.i18n <command>``; the Makefile's targets call them)::

    pot              extract the messages: _build/i18n/gettext/<page>.pot            (make pot)
    po               update every page's catalogue from them (sphinx-intl), and the catalogue of
                     glued Markdown values, glued.po, from the notebooks' stored outputs  (make po)
    status           coverage per page, and every problem check() finds; exit 1 on a problem
    html             the Chinese HTML book: _build/zh/html                          (make book-zh);
                     the download button of each page then offers the Chinese notebook or page
    sources [--out DIR] [PAGE ...]
                     the Chinese notebooks and pages (their Markdown translated from the catalogues,
                     code and outputs unchanged): coverage per page; --out writes them under DIR
    qualify-glue [--check] [NOTEBOOK ...]
                     rewrite {glue:text} roles in Markdown cells to the form that also works inside
                     a translated paragraph; --check only reports (exit 1 if any would change)

Two pitfalls of translated notebooks, and what this module does about them:

* A translated paragraph is parsed again as plain MyST, outside its notebook, so a ``{glue:text}``
  role that names only a key (``key:.3f``) finds no glue data there and renders empty, with a warning.
  The document-qualified form ``{glue:text}`page.ipynb::key:.3f``` is resolved after parsing, from
  the glue cache of the page, and works in both editions: :func:`qualify_glue` rewrites the roles
  (idempotent). A qualified role needs a format spec (MyST-NB splits ``page.ipynb::key`` at its last
  colon), so a role without one gets ``:s``, which MyST-NB applies anyway when there is none. The
  ``{glue:md}`` role has no qualified form in MyST-NB; ``_ext/book_i18n.py`` makes it work in a
  translated paragraph.
* A ``{glue:md}`` role pastes Markdown that code composed (``within noise``, ``Shirt``, a model's
  name) into the sentence; inside a Chinese sentence it would be English. Those values are messages
  of their own catalogue, ``glued.po`` (:func:`update_glued`, run by ``make po``: one message per
  distinct value, a comment naming each page and key that pastes it; a value no page pastes any more
  is kept as obsolete, so a verdict that flips back on a re-run finds its translation), and the
  Chinese build pastes the translation (``_ext/book_i18n.py``). A value without words to translate
  (``$T = 50$, $T = 100$``) needs none.
* The gettext build needs its own doctrees (Sphinx refuses to share them with the HTML builder) and
  an output folder outside the book's sources: ``_build/i18n``, which ``exclude_patterns`` skips.

:func:`check` is what ``tests/test_i18n.py`` runs: a catalogue must exist for every page of
``_toc.yml``, be in step with the English (no message the English no longer has, none missing), and
every translated message must keep its msgid's glue roles, formulas, inline code, link URLs and the
targets of its ``{ref}``/``{doc}``/``{eq}``/``{numref}``/``{term}``/``{cite}`` roles, and give each
glossary term it links in the glossary's Chinese.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tools.notebooks import ROOT, toc_files

LANGUAGE = "zh_CN"
LOCALE = ROOT / "locale" / LANGUAGE / "LC_MESSAGES"
I18N_BUILD = ROOT / "_build" / "i18n"            # the gettext build: doctrees and .pot files
POT_DIR = I18N_BUILD / "gettext"
ZH_BUILD = ROOT / "_build" / "zh"                # the Chinese builds: html/, latex/, .doctrees/
TOC_ZH = ROOT / "_toc_zh.yml"
GLUED_PO = LOCALE / "glued.po"                   # the glued Markdown values that {glue:md} roles paste
GLOSSARY = ROOT / "chapters" / "appendix" / "glossary.md"
# What a Chinese build changes in _config.yml's Sphinx configuration (cli overrides, highest precedence)
# (the PDF's title through _ext/book_i18n.py: Jupyter Book writes _config.yml's title into latex_documents
# after the overrides; the book names no author, in either edition)
ZH_TITLE = "大型人工智能模型的工作原理"
# The PDF's own words (LaTeX's \contentsname, \chaptername, \partname) come from babel's English captions,
# which sphinx-jupyterbook-latex sets again at the end of the preamble ("Contents"): the Chinese PDF sets
# them in the document, just before the table of contents (the chapter headings then show the number alone)
ZH_LATEX_NAMES = (r"\renewcommand{\contentsname}{目录}\renewcommand{\chaptername}{}\renewcommand{\partname}{}"
                  "\n\\sphinxtableofcontents")
ZH_CONFIG = {
    "language": LANGUAGE,
    "html_title": ZH_TITLE,
    "project": ZH_TITLE,
    "book_latex_title": ZH_TITLE,
    "latex_elements": {"tableofcontents": ZH_LATEX_NAMES},     # merged into _config.yml's latex_elements
}

# ---------------------------------------------------------------------------------------------------
# glue roles


# a {glue}, {glue:text} or {glue:md} role, and its content
_GLUE_ROLE = re.compile(r"\{glue(?::(?P<kind>[a-z]+))?\}`(?P<content>[^`]+)`")


def qualify_glue_text(markdown: str, page: str) -> str:
    """``markdown`` with every ``{glue:text}`` role naming a key of this page written in the
    document-qualified form ``{glue:text}`page::key:spec```; roles already qualified are kept.

    >>> qualify_glue_text("loss {glue:text}`loss:.3f` in {glue:text}`n` steps", "gpt.ipynb")
    'loss {glue:text}`gpt.ipynb::loss:.3f` in {glue:text}`gpt.ipynb::n:s` steps'
    """
    def rewrite(m: re.Match) -> str:
        if m.group("kind") != "text" or "::" in m.group("content"):
            return m.group(0)
        key, colon, spec = m.group("content").partition(":")
        return f"{{glue:text}}`{page}::{key}:{spec if colon else 's'}`"

    return _GLUE_ROLE.sub(rewrite, markdown)


def unqualified_glue(markdown: str) -> list[str]:
    """The glue roles in ``markdown`` that would render empty inside a translated paragraph:
    ``{glue:text}`` and ``{glue}`` roles without a ``page::`` part."""
    return [m.group(0) for m in _GLUE_ROLE.finditer(markdown)
            if m.group("kind") in (None, "text") and "::" not in m.group("content")]


def qualify_notebook(path: Path, write: bool = True) -> int:
    """Qualify the ``{glue:text}`` roles of a notebook's Markdown cells (see :func:`qualify_glue_text`);
    returns how many roles changed. Only the ``source`` of Markdown cells is touched: code, outputs,
    metadata and the file's JSON layout (nbformat's, one-space indent) stay byte for byte."""
    text = path.read_text(encoding="utf-8")
    nb = json.loads(text)
    changed = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        new = qualify_glue_text(source, path.name)
        if new != source:
            changed += len(unqualified_glue(source)) - len(unqualified_glue(new))
            cell["source"] = new.splitlines(keepends=True) if isinstance(cell["source"], list) else new
    if changed and write:
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return changed


def qualify_markdown_page(path: Path, write: bool = True) -> int:
    """The same for a MyST Markdown page (``.md``): a glue role there reads another page's values, so
    it must already be qualified; returns the number of roles that are not (they cannot be fixed
    here, since the page they read from is not known)."""
    return len(unqualified_glue(path.read_text(encoding="utf-8")))


# ---------------------------------------------------------------------------------------------------
# catalogues


def page_name(page: Path) -> str:
    """``chapters/03_algorithms/cnn`` for ``chapters/03_algorithms/cnn.ipynb`` (Sphinx's docname)."""
    return page.with_suffix("").as_posix()


def po_path(page: Path, locale: Path = LOCALE) -> Path:
    return locale / f"{page_name(page)}.po"


def pot_path(page: Path, pot_dir: Path = POT_DIR) -> Path:
    return pot_dir / f"{page_name(page)}.pot"


def _jupyter_book_build(builder: str, outdir: Path, doctrees: Path, overrides: dict | None = None,
                        fresh: bool = False) -> int:
    """Jupyter Book's build (what ``jupyter-book build`` runs), with our own output and doctree folders
    and configuration overrides, in a child process; returns its exit status."""
    args = {"builder": builder, "outdir": str(outdir), "doctrees": str(doctrees),
            "overrides": overrides or {}, "fresh": fresh, "root": str(ROOT)}
    program = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from jupyter_book.sphinx import build_sphinx\n"
        f"a = json.loads({json.dumps(json.dumps(args))})\n"
        "root = Path(a['root'])\n"
        "overrides = {'external_toc_path': (root / '_toc.yml').as_posix(), 'nitpicky': True,\n"
        "             'latex_individualpages': False, **a['overrides']}\n"
        "sys.exit(build_sphinx(root, Path(a['outdir']), doctreedir=Path(a['doctrees']), noconfig=True,\n"
        "         path_config=str(root / '_config.yml'), confoverrides=overrides, builder=a['builder'],\n"
        "         warningiserror=True, keep_going=True, freshenv=a['fresh']))\n")
    return subprocess.run([sys.executable, "-c", program], cwd=ROOT).returncode


# The gettext build shows a cell's output image, not its text/plain stand-in ("<Figure size ...>"), so that
# the image's alt text (mystnb.image.alt in the cell's metadata) is a message: MyST-NB picks one of an
# output's formats per builder after parsing, and its choice for gettext drops images. The Chinese build
# parses every format before that choice, so Sphinx's Locale transform translates the alt of the image it
# shows (the output itself stays as it is: _ext/book_i18n.py).
GETTEXT_OVERRIDES = {"nb_mime_priority_overrides": [
    ["gettext", "image/svg+xml", 1], ["gettext", "image/png", 2], ["gettext", "image/jpeg", 3],
    ["gettext", "image/gif", 4]]}


def extract(fresh: bool = False) -> Path:
    """Run Sphinx's gettext builder over the book: one ``.pot`` per page under :data:`POT_DIR`."""
    status = _jupyter_book_build("gettext", POT_DIR, I18N_BUILD / ".doctrees", GETTEXT_OVERRIDES, fresh=fresh)
    if status:
        raise RuntimeError(f"the gettext build failed (exit {status}); its warnings are above")
    return POT_DIR


def update(pages: list[Path] | None = None) -> list[Path]:
    """Create or update the catalogue of every page from its ``.pot`` (``sphinx-intl update``):
    new English messages arrive untranslated, changed ones fuzzy, removed ones obsolete (``#~``)."""
    pages = toc_files() if pages is None else pages
    missing = [str(pot_path(p).relative_to(ROOT)) for p in pages if not pot_path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"no .pot for {missing}: run `make pot` first")
    command = [str(Path(sys.executable).with_name("sphinx-intl")), "update", "-p", str(POT_DIR),
               "-l", LANGUAGE, "-d", str(LOCALE.parent.parent), "-w", "0", "--no-obsolete"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"sphinx-intl update failed:\n{done.stdout}{done.stderr}")
    for page in pages:
        fill_wordless(po_path(page))
    return [po_path(p) for p in pages]


def fill_wordless(path: Path) -> int:
    """Give every message with no words to translate (a number, a formula, a code-only table cell: see
    :func:`needs_translation`) itself as its translation, so that the catalogue is complete for gettext's
    own tools too (``msgfmt --statistics``), not only for :func:`page_status`. Returns how many it filled."""
    from babel.messages.pofile import write_po

    catalogue = read_catalogue(path)
    filled = 0
    for message in catalogue:
        if message.id and not message.string and not needs_translation(message.id):
            message.string, filled = message.id, filled + 1
    if filled:
        with path.open("wb") as handle:
            write_po(handle, catalogue, width=0)
    return filled


def read_catalogue(path: Path):
    from babel.messages.pofile import read_po

    with path.open("rb") as handle:
        return read_po(handle, locale=LANGUAGE)


# ---------------------------------------------------------------------------------------------------
# glued Markdown values


GLUED_MARKDOWN = "application/papermill.record/text/markdown"     # how myst_nb.glue stores Markdown(...)
_GLUE_MD_ROLE = re.compile(r"\{glue:md\}`(?P<key>[^`:]+)(?::[^`]*)?`")


def glued_markdown(pages: list[Path] | None = None, root: Path = ROOT) -> dict[str, list[str]]:
    """Every Markdown value that a ``{glue:md}`` role in a notebook's prose pastes -> where
    (``["evaluation.ipynb::faq_eval_worst_class", ...]``), read from the notebook's
    stored outputs; a role whose key the notebook does not store is left out (the English build
    warns about it)."""
    found: dict[str, list[str]] = {}
    for page in toc_files() if pages is None else pages:
        if page.suffix != ".ipynb":
            continue
        nb = json.loads((root / page).read_text(encoding="utf-8"))
        stored = {}
        for cell in nb["cells"]:
            for out in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
                key = out.get("metadata", {}).get("scrapbook", {}).get("name")
                data = out.get("data", {}).get(GLUED_MARKDOWN)
                if key is not None and data is not None:
                    stored[key] = ("".join(data) if isinstance(data, list) else data).strip()
        for cell in nb["cells"]:
            if cell["cell_type"] != "markdown":
                continue
            for m in _GLUE_MD_ROLE.finditer("".join(cell["source"])):
                value = stored.get(m.group("key"))
                place = f"{page.name}::{m.group('key')}"
                if value and place not in found.setdefault(value, []):
                    found[value].append(place)
    return {value: places for value, places in found.items() if places}


def update_glued(pages: list[Path] | None = None, path: Path = GLUED_PO, root: Path = ROOT) -> Path:
    """Create or update ``glued.po``: one message per value of :func:`glued_markdown`, its translation
    kept; a translated value no page pastes any more becomes obsolete (``#~``, translation kept), and
    one that comes back is restored with it. Written with no line wrapping, like the pages' catalogues."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    values = glued_markdown(pages, root)
    if path.is_file():
        catalogue = read_catalogue(path)
    else:
        catalogue = Catalog(locale=LANGUAGE, project="大型人工智能模型的工作原理", charset="utf-8",
                            fuzzy=False, header_comment=(
                                "# The Markdown values that {glue:md} roles paste into the book's prose, from the\n"
                                "# notebooks' stored outputs (python -m tools.i18n po; see tools/i18n.py). A comment\n"
                                "# names each page::key that pastes the value; translate the words only."))
    old = {m.id: m for m in catalogue if m.id}
    obsolete = dict(catalogue.obsolete)
    for msgid in list(old):
        if msgid not in values:
            if old[msgid].string:                 # kept only for its translation
                obsolete[msgid] = old[msgid]
            del catalogue[msgid]
    for value, places in values.items():
        message = catalogue.get(value) or obsolete.pop(value, None)
        string, flags = (message.string, message.flags) if message is not None else ("", ())
        if value in catalogue:
            del catalogue[value]
        catalogue.add(value, string, auto_comments=places, flags=flags)
    catalogue.obsolete.clear()
    catalogue.obsolete.update(sorted(obsolete.items()))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalogue, width=0, sort_output=True)
    return path


def glued_translations(path: Path = GLUED_PO) -> dict[str, str]:
    """value -> its Chinese, for every translated, not fuzzy message of ``glued.po``."""
    if not path.is_file():
        return {}
    return {m.id: m.string for m in read_catalogue(path) if m.id and m.string and not m.fuzzy}


# ---------------------------------------------------------------------------------------------------
# checks of a translation against its English


# roles whose target must survive translation: ({ref}`text <target>` or {ref}`target`)
_TARGET_ROLES = ("ref", "numref", "doc", "eq", "term", "cite", "cite:t", "cite:p", "cite:ps", "cite:ts",
                 "cite:alp", "download", "prf:ref", "math")
_ROLE = re.compile(r"\{(?P<name>[a-z]+(?::[a-z]+)?)\}`(?P<content>[^`]*)`")
_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<![\s\\])\$(?!\d)")
_CODE = re.compile(r"(?<![}`])`([^`\n]+)`")
_URL = re.compile(r"\]\(([^)\s]+)\)")


def _target(name: str, content: str) -> str:
    """The target of a role: ``label`` in ``{ref}`text <label>``` or ``{ref}`label```."""
    m = re.fullmatch(r"(?s).*<([^<>]+)>\s*", content)
    target = (m.group(1) if m else content).strip()
    return target.lower() if name == "term" else target


def markup(message: str) -> dict[str, Counter]:
    """What a translation must keep of ``message``, by kind: glue roles, math, roles' targets,
    inline code and link URLs (each a multiset, so a role dropped or doubled shows)."""
    glue, targets, rest = Counter(), Counter(), message
    for m in _ROLE.finditer(message):
        name, content = m.group("name"), m.group("content")
        if name.startswith("glue"):
            glue[m.group(0)] += 1
        elif name in _TARGET_ROLES:
            targets[f"{{{name}}}`{_target(name, content)}`"] += 1
    rest = _ROLE.sub(" ", message)
    math = Counter(" ".join(m.split()) for m in _DISPLAY_MATH.findall(rest))
    rest = _DISPLAY_MATH.sub(" ", rest)
    math += Counter(" ".join(m.split()) for m in _INLINE_MATH.findall(rest))
    rest = _INLINE_MATH.sub(" ", rest)
    return {"glue role": glue, "formula": math, "role target": targets,
            "inline code": Counter(_CODE.findall(rest)), "link": Counter(_URL.findall(rest))}


def needs_translation(message: str) -> bool:
    """Whether ``message`` has words to translate once its roles, formulas, code, URLs and numbers are
    set aside ("11.4", "`ch1_acc`", "$x$" and "0.93 ± 0.01" have none)."""
    rest = _ROLE.sub(" ", message)
    rest = _INLINE_MATH.sub(" ", _DISPLAY_MATH.sub(" ", rest))
    rest = _URL.sub(" ", _CODE.sub(" ", rest))
    return re.search(r"[A-Za-z]{2,}", rest) is not None


def glossary_chinese(path: Path = GLOSSARY) -> dict[str, list[str]]:
    """Every glossary term (lower case) -> the Chinese forms its entry gives, any of which a translation
    that links the term may use: ``**卷积神经网络（CNN）**`` gives ``["卷积神经网络（CNN）", "卷积神经网络",
    "CNN"]`` (the parts split at parentheses and separators such as ``/`` and ``、``), and a Latin short
    form written before the Chinese counts too: ``**Adam 优化器（自适应矩估计）**`` also gives ``Adam``,
    ``**Softmax 函数**`` ``Softmax``. The check compares Latin letters without regard to case."""
    text = path.read_text(encoding="utf-8")
    block = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    terms: dict[str, list[str]] = {}
    entries: list[tuple[list[str], list[str]]] = []        # (the entry's terms, its Chinese forms)
    pending: list[str] = []
    for line in block.splitlines():
        if not line.strip() or line.startswith(":"):
            continue
        if not line.startswith((" ", "\t")):
            pending.append(line.strip().lower())
            continue
        m = re.match(r"\s+\*\*(.+?)\*\*", line)
        if m and pending:
            whole = m.group(1).strip()
            forms = [whole] + [f.strip() for f in re.split(r"[（()）、，,/；;]", whole) if f.strip()]
            # a Latin short form before the Chinese: "Adam 优化器" -> "Adam", "Softmax 函数" -> "Softmax"
            forms += [short.group(1) for f in forms[1:]
                      if (short := re.match(r"([^\u4e00-\u9fff]*[A-Za-z][^\u4e00-\u9fff\s]*)\s*[\u4e00-\u9fff]", f))
                      and len(short.group(1)) > 1]
            entries.append((pending, list(dict.fromkeys(forms))))
        pending = []
    # a part that is another entry's term is a qualifier, not this term's Chinese: "池化器（BERT）"
    everything = {term for names, _ in entries for term in names}
    for names, forms in entries:
        for term in names:
            terms[term] = [f for i, f in enumerate(forms)
                           if i == 0 or f.lower() in names or f.lower() not in everything]
    return terms


def translation_problems(msgid: str, msgstr: str, glossary: dict[str, list[str]] | None = None) -> list[str]:
    """What a translation ``msgstr`` of ``msgid`` breaks: one line per problem (empty if none)."""
    problems = []
    want, got = markup(msgid), markup(msgstr)
    for kind in want:
        lost, extra = want[kind] - got[kind], got[kind] - want[kind]
        if lost or extra:
            detail = "; ".join(part for part in (
                f"missing {sorted(lost)}" if lost else "", f"not in the English {sorted(extra)}" if extra else "")
                if part)
            problems.append(f"{kind}s differ from the English ({detail}): copy them from the msgid unchanged "
                            "(translate only the text of a {term}/{ref} role, before its <target>)")
    if glossary:
        # the text a reader sees: a role's title, not its <target>
        visible = _ROLE.sub(lambda r: re.sub(r"\s*<[^<>]+>\s*$", "", r.group("content")), msgstr)
        for m in _ROLE.finditer(msgid):
            if m.group("name") != "term":
                continue
            term = _target("term", m.group("content"))
            forms = glossary.get(term)
            if forms and not any(form.lower() in visible.lower() for form in forms):
                problems.append(f"the glossary term {term!r} is linked but its Chinese ({forms[0]}) is not in the "
                                f"translation: write {{term}}`{forms[1] if len(forms) > 1 else forms[0]} <{term}>`"
                                " (or change the glossary's Chinese column)")
    if msgid.startswith("Proof. ") and not msgstr.startswith("证明"):
        # sphinx-proof writes its label into the proof's first paragraph, so it is part of the message
        problems.append("the proof's label \"Proof.\" (the start of the English) is missing: begin with 证明。")
    if re.search(r"[\u4e00-\u9fff][ \t]+[，。；：！？、]|[，。；：！？、][ \t]+[\u4e00-\u9fff]", msgstr):
        problems.append("a space next to full-width punctuation (，。；：！？、): remove it")
    return problems


@dataclass
class PageStatus:
    page: str
    messages: int = 0               # messages in the English (.pot)
    to_translate: int = 0           # of which have words to translate
    translated: int = 0             # of those, translated and not fuzzy
    fuzzy: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def percent(self) -> float:
        return 100.0 * self.translated / self.to_translate if self.to_translate else 100.0


def page_status(page: Path, pot_dir: Path = POT_DIR, locale: Path = LOCALE,
                glossary: dict[str, list[str]] | None = None) -> PageStatus:
    """How far the catalogue of ``page`` is translated, and what is wrong with it."""
    status = PageStatus(page_name(page))
    po, pot = po_path(page, locale), pot_path(page, pot_dir)
    if not pot.is_file():
        status.problems.append(f"no {pot.relative_to(pot_dir)} in {pot_dir}: run `make pot`")
        return status
    if not po.is_file():
        status.problems.append(f"{po} is missing: run `make po` to create it, and commit it")
        return status
    english = {m.id for m in read_catalogue(pot) if m.id}
    catalogue = read_catalogue(po)
    ids = {m.id for m in catalogue if m.id}
    status.messages = len(english)
    stale, new = ids - english, english - ids
    if stale or new:
        example = sorted(stale or new)[0]
        status.problems.append(
            f"out of step with the English: {len(stale)} message(s) the English no longer has, {len(new)} new "
            f"one(s) not in the catalogue (e.g. {example[:70]!r}): run `make pot po`, then translate "
            "what is untranslated or fuzzy")
    for message in catalogue:
        if not message.id or message.id not in english:
            continue
        if not needs_translation(message.id):
            if message.string and not message.fuzzy:
                status.problems += [f"{message.id[:50]!r}: {p}" for p in translation_problems(message.id, message.string)]
            continue
        _tally(status, message, glossary)
    return status


def _tally(status: PageStatus, message, glossary: dict[str, list[str]] | None = None) -> None:
    """Count one message that needs translating (fuzzy, translated or not) and check its translation."""
    status.to_translate += 1
    if message.fuzzy:
        status.fuzzy += 1
    elif message.string:
        status.translated += 1
        status.problems += [f"{message.id[:50]!r}: {p}"
                            for p in translation_problems(message.id, message.string, glossary)]


GLUED_NAME = "glued Markdown values (glued.po)"


def glued_status(pages: list[Path] | None = None, path: Path = GLUED_PO) -> PageStatus:
    """How far ``glued.po`` is translated, and what is wrong with it: a value some page pastes that
    the catalogue lacks (a re-run changed it: ``make po``), a translation that breaks its markup."""
    status = PageStatus(GLUED_NAME)
    values = glued_markdown(pages)
    status.messages = len(values)
    if not path.is_file():
        if values:
            status.problems.append(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} is "
                                   "missing: run `make po` to create it, translate it, and commit it")
        return status
    catalogue = read_catalogue(path)
    new = sorted(set(values) - {m.id for m in catalogue if m.id})
    if new:
        status.problems.append(f"{len(new)} glued value(s) not in the catalogue (e.g. {new[0][:70]!r}, pasted by "
                               f"{values[new[0]][0]}): run `make po`, then translate them")
    for message in catalogue:
        if not message.id or message.id not in values or not needs_translation(message.id):
            continue
        _tally(status, message)
    return status


def untranslated_glued(page: Path, path: Path = GLUED_PO) -> list[str]:
    """The values that ``{glue:md}`` roles of ``page`` paste in English in the Chinese edition: words
    to translate and no translation (or a fuzzy one) in ``glued.po``."""
    translations = glued_translations(path)
    return [value for value in glued_markdown([page])
            if needs_translation(value) and value not in translations]


def check(pages: list[Path] | None = None, pot_dir: Path = POT_DIR, locale: Path = LOCALE) -> list[PageStatus]:
    """The status of every page's catalogue (``_toc.yml``'s pages by default), then of ``glued.po``."""
    glossary = glossary_chinese()
    pages = toc_files() if pages is None else pages
    return ([page_status(p, pot_dir, locale, glossary) for p in pages]
            + [glued_status(pages, locale / GLUED_PO.name)])


def report(statuses: list[PageStatus]) -> str:
    """A table: page, messages, translated %, fuzzy, untranslated; then the totals."""
    lines = [f"{'page':48} {'messages':>8} {'translated':>10} {'fuzzy':>6} {'left':>6}"]
    for s in statuses:
        left = s.to_translate - s.translated - s.fuzzy
        lines.append(f"{s.page:48} {s.messages:8d} {s.percent:9.1f}% {s.fuzzy:6d} {left:6d}")
    total = sum(s.to_translate for s in statuses)
    done = sum(s.translated for s in statuses)
    lines.append(f"{'all ' + str(len(statuses)) + ' catalogues':48} {sum(s.messages for s in statuses):8d} "
                 f"{100.0 * done / max(total, 1):9.1f}% {sum(s.fuzzy for s in statuses):6d} "
                 f"{total - done - sum(s.fuzzy for s in statuses):6d}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# Chinese sources: what the Chinese edition's download button offers
#
# A message is the source of one block as MyST hands it to docutils: Sphinx's gettext builder takes a
# paragraph's, heading's or table cell's ``rawsource``, which MyST-Parser sets to markdown-it's inline
# content of the block (its lines joined by "\n", without the list or quote marker and the
# indentation), and reads the newlines as spaces; a formula's message is its LaTeX. So the source is
# parsed here with the same markdown-it configuration, every block's message is computed the same way,
# looked up in the page's catalogue, and the block's text replaced in place by the translation: list
# markers, headings' ``#``, fences, directive options, labels and blank lines stay as they are.


# Directives whose body is not MyST prose: code, raw output, a bibliography, a table of contents
# ({math}'s body is one message, its formula; {glossary}'s body is terms and indented definitions).
_LITERAL_DIRECTIVES = {"code", "code-block", "code-cell", "sourcecode", "literalinclude", "raw", "bibliography",
                       "toctree", "tableofcontents", "csv-table", "list-table", "mermaid", "eval-rst"}
# Directives whose argument is a label, a path or a key, not a title
_ARGUMENT_NOT_TEXT = {"solution", "figure", "image", "include", "math", "glossary", "glue", "glue:any",
                      "glue:figure", "glue:math", "glue:md", "glue:text"}
_DIRECTIVE = re.compile(r"^\{(?P<name>[^}\s]+)\}\s*(?P<argument>.*)$")
_OPTION = re.compile(r"^\s*:(?P<key>[A-Za-z][\w-]*):(?:\s+(?P<value>.*?))?\s*$")
_TEXT_OPTIONS = {"alt"}                          # options whose value a reader sees (Sphinx makes it a message)
# sphinx-proof writes "Proof. " before the first paragraph of a proof (so the message holds it), and the
# translation starts with 证明; a directive's title becomes "(title)" in sphinx-proof's messages
_PROOF_LABEL = "Proof. "
_PROOF_LABEL_ZH = re.compile(r"^\s*证明\s*[。：:．.]?\s*")


@dataclass
class _Piece:
    """One translatable piece of MyST Markdown: a paragraph, a heading, a list item's or table cell's
    text, a directive's title or ``:alt:``, a formula, a glossary term. ``content`` is its text as
    markdown-it gives it; ``first`` and ``last`` are the lines that hold it."""
    first: int
    last: int
    content: str
    keys: tuple[tuple[str, str], ...]            # (msgid, how its msgstr is pasted: "", "proof", "title")
    inline: bool = False                         # inside one line (a table cell, a title, an option)
    table: bool = False                          # a table cell: "|" in the text is written "\|"


def message_of(content: str) -> str:
    """The msgid Sphinx makes of a block's source (``sphinx.util.nodes.extract_messages``)."""
    return content.replace("\n", " ").strip()


_md_parser = None


def _markdown_parser():
    """markdown-it configured as MyST-Parser is for the book (``_config.yml``'s MyST extensions)."""
    global _md_parser
    if _md_parser is None:
        import yaml
        from markdown_it.renderer import RendererHTML
        from myst_parser.config.main import MdParserConfig
        from myst_parser.parsers.mdit import create_md_parser

        config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
        extensions = set(config.get("parse", {}).get("myst_enable_extensions", []))
        _md_parser = create_md_parser(MdParserConfig(enable_extensions=extensions), RendererHTML)
    return _md_parser


def _directive_options(lines: list[str]) -> tuple[list[tuple[int, str, str]], int]:
    """A directive's options (``:key: value`` lines, or a ``---`` YAML block) and the index of its
    body's first line: ``([(line, key, value), ...], body)``."""
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), len(lines) - 1)
        return [], end + 1
    options, i = [], 0
    while i < len(lines) and (m := _OPTION.match(lines[i])):
        options.append((i, m.group("key"), m.group("value") or ""))
        i += 1
    return options, i


def _glossary_pieces(lines: list[str], offset: int) -> list[_Piece]:
    """A ``{glossary}`` body: a term on a line of its own (a message), its definition indented below
    (MyST, parsed as such)."""
    found, i = [], 0
    while i < len(lines):
        line = lines[i]
        if line.strip() and not line[0].isspace():
            found.append(_Piece(offset + i, offset + i, line.strip(), ((line.strip(), ""),), inline=True))
            i += 1
            continue
        if not line.strip():
            i += 1
            continue
        start = i
        while i < len(lines) and (not lines[i].strip() or lines[i][0].isspace()):
            i += 1
        block = lines[start:i]
        indent = min(len(b) - len(b.lstrip()) for b in block if b.strip())
        found += _pieces("\n".join(b[indent:] for b in block), offset + start)
    return found


def _pieces(text: str, offset: int = 0, proof: bool = False) -> list[_Piece]:
    """The translatable pieces of MyST Markdown ``text``, lines counted from ``offset``; in a proof's
    body (``proof``), the first paragraph's message may start with sphinx-proof's label."""
    found: list[_Piece] = []
    in_table = False
    for token in _markdown_parser().parse(text):
        if token.type in ("table_open", "table_close"):
            in_table = token.type == "table_open"
        elif token.type == "inline" and token.map:
            first, last = token.map[0] + offset, token.map[1] - 1 + offset
            keys = ((message_of(token.content), ""),)
            if proof and not any(not p.inline for p in found):
                keys = ((_PROOF_LABEL + keys[0][0], "proof"),) + keys
            found.append(_Piece(first, first if in_table else last, token.content, keys, in_table, in_table))
        elif token.type in ("math_block", "math_block_label", "amsmath") and token.map:
            found.append(_Piece(token.map[0] + offset, token.map[1] - 1 + offset, token.content,
                                ((token.content.strip(), ""),)))
        elif token.type in ("fence", "colon_fence") and token.map:
            directive = _DIRECTIVE.match(token.info.strip())
            if not directive or directive.group("name") in _LITERAL_DIRECTIVES:
                continue                                   # a code block, or a directive without prose
            name, argument = directive.group("name"), directive.group("argument").strip()
            line = token.map[0] + offset                   # the fence's line; its body starts below
            lines = token.content.split("\n")
            options, body = _directive_options(lines)
            if argument and name not in _ARGUMENT_NOT_TEXT:
                found.append(_Piece(line, line, argument, ((argument, "title"), (f"({argument})", "title")),
                                    inline=True))
            for number, key, value in options:
                if key in _TEXT_OPTIONS and value:
                    found.append(_Piece(line + 1 + number, line + 1 + number, value, ((value, ""),), inline=True))
            rest = "\n".join(lines[body:])
            if name == "math":
                found.append(_Piece(line + 1 + body, token.map[1] - 1 + offset, rest, ((rest.strip(), ""),)))
            elif name == "glossary":
                found += _glossary_pieces(lines[body:], line + 1 + body)
            else:
                found += _pieces(rest, line + 1 + body, proof=name == "prf:proof")
    return found


def _paste(msgstr: str, how: str) -> str:
    """A translation as it goes into the source: without sphinx-proof's label or the parentheses it
    puts around a title (the build adds them again)."""
    if how == "proof":
        return _PROOF_LABEL_ZH.sub("", msgstr, count=1)
    if how == "title" and msgstr[:1] in "(（" and msgstr[-1:] in ")）":
        return msgstr[1:-1].strip()
    return msgstr


def _locate(lines: list[str], piece: _Piece, start: int = 0) -> tuple[int, int] | None:
    """Where ``piece``'s text is: its start column in ``lines[piece.first]`` and its end column in
    ``lines[piece.last]`` (None if it is not found there)."""
    parts = piece.content.split("\n")
    head, tail = parts[0].strip(), parts[-1].strip()
    for variant in ([head, head.replace("|", "\\|")] if piece.table else [head]):
        column = lines[piece.first].find(variant, start)
        if column < 0:
            continue
        if len(parts) == 1:
            return column, column + len(variant)
        end = lines[piece.last].rfind(tail)
        if end >= 0 and piece.last > piece.first:
            return column, end + len(tail)
    return None


@dataclass
class SourceCoverage:
    """How much of a page's catalogue :func:`chinese_source` found in the page's source."""
    page: str
    messages: int = 0               # messages of the catalogue the source holds (all but those outside it)
    to_translate: int = 0           # of which have words to translate
    found: int = 0                  # of those, found in the source
    outside: int = 0                # messages from outside the source's text (code cells' metadata, _toc.yml)
    replaced: int = 0               # pieces of the source whose text the translation replaced
    missing: list[str] = field(default_factory=list)      # messages with words not found in the source
    unmatched: list[str] = field(default_factory=list)    # source pieces with words that are no message
    unplaced: list[str] = field(default_factory=list)     # messages found but not located in the lines
    found_ids: set[str] = field(default_factory=set)

    @property
    def percent(self) -> float:
        return 100.0 * self.found / self.to_translate if self.to_translate else 100.0


def translate_markdown(text: str, translations: dict[str, str], messages: set[str] | None = None,
                       coverage: SourceCoverage | None = None) -> str:
    """MyST Markdown ``text`` with every piece whose message has a translation in ``translations``
    (msgid -> msgstr) replaced by it; ``messages`` (the catalogue's msgids, translated or not) decides
    which pieces count as found (recorded in ``coverage``). The markup around the pieces stays."""
    coverage = coverage if coverage is not None else SourceCoverage("")
    messages = set(translations) if messages is None else messages
    lines = text.split("\n")
    edits: list[tuple[int, int, int, int, str]] = []       # (first line, start column, last line, end column, new)
    cursor: dict[int, int] = {}                            # inline pieces: where the next search on a line starts
    for piece in _pieces(text):
        key, how = next(((k, h) for k, h in piece.keys if k in messages), (None, ""))
        if key is None:
            if needs_translation(message_of(piece.content)):
                coverage.unmatched.append(message_of(piece.content))
            continue
        coverage.found_ids.add(key)
        where = _locate(lines, piece, cursor.get(piece.first, 0) if piece.inline else 0)
        if where is None:
            coverage.unplaced.append(key)
            continue
        if piece.inline:
            cursor[piece.first] = where[1]
        msgstr = translations.get(key)
        if not msgstr or msgstr == key:
            continue
        new = _paste(msgstr, how)
        if piece.table:
            new = re.sub(r"(?<!\\)\|", r"\\|", new)
        edits.append((piece.first, where[0], piece.last, where[1], new))
    for first, start, last, end, new in sorted(edits, reverse=True):      # bottom up, right to left
        lines[first:last + 1] = [lines[first][:start] + new + lines[last][end:]]
        coverage.replaced += 1
    return "\n".join(lines)


def catalogue_messages(po: Path) -> tuple[set[str], dict[str, str]]:
    """Every msgid of a page's catalogue, and msgid -> msgstr of those translated and not fuzzy."""
    catalogue = read_catalogue(po)
    return ({m.id for m in catalogue if m.id},
            {m.id: m.string for m in catalogue if m.id and m.string and not m.fuzzy})


def outside_messages(nb: dict | None = None, root: Path = ROOT) -> set[str]:
    """Messages that come from outside a page's text: the part captions of ``_toc.yml`` (the root
    page's table of contents) and, for a notebook ``nb``, its code cells' metadata (a figure's caption,
    an output image's alt text: ``mystnb.figure.caption``, ``mystnb.image.alt``), which a notebook
    shows nowhere and which stays as it is (metadata is not translated)."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    found = {message_of(part["caption"]) for part in toc.get("parts", []) if part.get("caption")}
    for cell in (nb or {}).get("cells", []):
        mystnb = cell.get("metadata", {}).get("mystnb", {})
        for group, key in (("figure", "caption"), ("image", "alt"), ("figure", "alt")):
            value = mystnb.get(group, {}).get(key) if isinstance(mystnb.get(group), dict) else None
            if isinstance(value, str) and value.strip():
                found.add(message_of(value))
    return found


def translate_notebook(nb: dict, messages: set[str], translations: dict[str, str],
                       coverage: SourceCoverage) -> dict:
    """The Chinese notebook: ``nb`` with its Markdown cells translated (:func:`translate_markdown`);
    every code cell (source, outputs, metadata) and the notebook's metadata are the same objects."""
    chinese = dict(nb)
    chinese["cells"] = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            new = translate_markdown(source, translations, messages, coverage)
            cell = {**cell, "source": new.splitlines(keepends=True) if isinstance(cell["source"], list) else new}
        chinese["cells"].append(cell)
    return chinese


def chinese_source(page: Path, root: Path = ROOT, locale: Path = LOCALE) -> tuple[str, SourceCoverage]:
    """The Chinese version of ``page`` (a notebook or a MyST Markdown page, relative to ``root``) from
    its catalogue, as the text of the file, and its coverage: how many of the catalogue's messages with
    words to translate it found in the source (those from outside the text counted apart). A notebook
    is written as nbformat writes it (one-space indent, UTF-8, a final newline), as the book's are."""
    messages, translations = catalogue_messages(po_path(page, locale))
    text = (root / page).read_text(encoding="utf-8")
    coverage = SourceCoverage(page_name(page))
    if page.suffix == ".ipynb":
        nb = json.loads(text)
        outside = outside_messages(nb, root) & messages
        chinese = json.dumps(translate_notebook(nb, messages, translations, coverage), indent=1,
                             ensure_ascii=False) + "\n"
    else:
        outside = outside_messages(None, root) & messages
        chinese = translate_markdown(text, translations, messages, coverage)
    inside = messages - outside
    wanted = {m for m in inside if needs_translation(m)}
    coverage.messages, coverage.to_translate, coverage.outside = len(inside), len(wanted), len(outside)
    coverage.found = len(wanted & coverage.found_ids)
    coverage.missing = sorted(wanted - coverage.found_ids)
    return chinese, coverage


def coverage_report(coverages: list[SourceCoverage]) -> str:
    """A table: page, messages with words found in the source / all of them, outside the text, pieces replaced."""
    lines = [f"{'page':48} {'found':>9} {'%':>6} {'outside':>7} {'replaced':>8}"]
    for c in coverages:
        lines.append(f"{c.page:48} {c.found:4d}/{c.to_translate:<4d} {c.percent:5.1f}% {c.outside:7d} {c.replaced:8d}")
    found, total = sum(c.found for c in coverages), sum(c.to_translate for c in coverages)
    lines.append(f"{'all ' + str(len(coverages)) + ' pages':48} {found:4d}/{total:<4d} "
                 f"{100.0 * found / max(total, 1):5.1f}% {sum(c.outside for c in coverages):7d} "
                 f"{sum(c.replaced for c in coverages):8d}")
    return "\n".join(lines)


def write_chinese_sources(html: Path, pages: list[Path] | None = None) -> list[SourceCoverage]:
    """Replace the English sources that a Chinese HTML build copied to ``html/_sources`` (what each
    page's download button links to: ``_sources/<page>.ipynb`` or ``.md``) by the Chinese ones."""
    coverages = []
    for page in toc_files() if pages is None else pages:
        target = html / "_sources" / page
        if not target.is_file():                        # a page Sphinx did not copy (html_copy_source off)
            continue
        text, coverage = chinese_source(page)
        if target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
        coverages.append(coverage)
    return coverages


# ---------------------------------------------------------------------------------------------------
# the Chinese build


def build_html(fresh: bool = False) -> Path:
    """The Chinese HTML book in ``_build/zh/html`` (``make book-zh``), zero warnings allowed."""
    toc = TOC_ZH if TOC_ZH.is_file() else ROOT / "_toc.yml"
    overrides = {**ZH_CONFIG, "external_toc_path": toc.as_posix()}
    status = _jupyter_book_build("html", ZH_BUILD / "html", ZH_BUILD / ".doctrees", overrides, fresh=fresh)
    if status:
        raise RuntimeError(f"the Chinese HTML build failed (exit {status}); its warnings are above")
    # the download button links to _sources/<page>.ipynb (.md): the Chinese notebook (page), not the English
    coverages = write_chinese_sources(ZH_BUILD / "html")
    found, total = sum(c.found for c in coverages), sum(c.to_translate for c in coverages)
    print(f"Chinese sources for the download button: {len(coverages)} pages in "
          f"{(ZH_BUILD / 'html' / '_sources').relative_to(ROOT)}, {found} of {total} messages translated in place")
    english = sum(len(c.unmatched) for c in coverages)
    if english:          # as in the HTML: a paragraph whose English changed since `make pot po` stays English
        print(f"{english} Markdown block(s) with no message in their page's catalogue stay English in the Chinese "
              "sources (the catalogues are out of step: make pot po; python -m tools.i18n sources lists them)")
    return ZH_BUILD / "html" / "index.html"


def build_latex(fresh: bool = False) -> Path:
    """The Chinese LaTeX sources in ``_build/zh/latex`` (``make pdf-zh`` runs xelatex on them through
    ``tools/pdf.py``, the English PDF's path)."""
    toc = TOC_ZH if TOC_ZH.is_file() else ROOT / "_toc.yml"
    overrides = {**ZH_CONFIG, "external_toc_path": toc.as_posix()}
    status = _jupyter_book_build("latex", ZH_BUILD / "latex", ZH_BUILD / ".doctrees", overrides, fresh=fresh)
    if status:
        raise RuntimeError(f"the Chinese LaTeX build failed (exit {status}); its warnings are above")
    return ZH_BUILD / "latex" / "book.tex"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.i18n", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pot = commands.add_parser("pot", help="extract the messages of every page into _build/i18n/gettext")
    pot.add_argument("--fresh", action="store_true", help="re-read every page (default: only changed ones)")
    commands.add_parser("po", help="update locale/zh_CN/LC_MESSAGES/<page>.po from the .pot files, and "
                        "glued.po from the notebooks' glued Markdown values")
    commands.add_parser("status", help="coverage per page, and every problem; exit 1 on a problem")
    sources = commands.add_parser("sources", help="the Chinese notebooks and pages (Markdown translated from the "
                                  "catalogues): coverage per page; --out DIR also writes them there")
    sources.add_argument("--out", type=Path, help="write each Chinese source under DIR/<page>.ipynb (.md)")
    sources.add_argument("pages", nargs="*", type=Path, help="default: every page of _toc.yml")
    html = commands.add_parser("html", help="the Chinese HTML book in _build/zh/html")
    html.add_argument("--fresh", action="store_true")
    glue = commands.add_parser("qualify-glue", help="qualify the {glue:text} roles of notebooks' Markdown cells")
    glue.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook and page of _toc.yml")
    glue.add_argument("--check", action="store_true", help="report, change nothing; exit 1 if a role would change")
    args = parser.parse_args(argv)
    try:
        if args.command == "pot":
            print(f"catalogue templates: {extract(args.fresh).relative_to(ROOT)}")
        elif args.command == "po":
            pos = update()
            glued = update_glued()
            print(f"{len(pos)} catalogues updated in {LOCALE.relative_to(ROOT)}, and {glued.relative_to(ROOT)}")
        elif args.command == "status":
            statuses = check()
            print(report(statuses))
            english = [(page, value) for page in toc_files() for value in untranslated_glued(page)]
            if english:
                print(f"\n{len(english)} glued value(s) pasted in English into the Chinese pages (translate "
                      f"them in {GLUED_PO.relative_to(ROOT)}):\n  "
                      + "\n  ".join(f"{page_name(page)}: {value[:70]!r}" for page, value in english))
            problems = [f"{s.page}: {p}" for s in statuses for p in s.problems]
            if problems:
                print(f"\n{len(problems)} problem(s):\n  " + "\n  ".join(problems), file=sys.stderr)
                return 1
        elif args.command == "sources":
            pages = [p.resolve().relative_to(ROOT) if p.is_absolute() or p.exists() else p for p in args.pages]
            coverages = []
            for page in pages or toc_files():
                text, coverage = chinese_source(page)
                coverages.append(coverage)
                if args.out:
                    (args.out / page).parent.mkdir(parents=True, exist_ok=True)
                    (args.out / page).write_text(text, encoding="utf-8")
            print(coverage_report(coverages))
            lost = [f"{c.page}: not in the source: {m[:70]!r}" for c in coverages for m in c.missing + c.unplaced]
            lost += [f"{c.page}: no message: {m[:70]!r}" for c in coverages for m in c.unmatched]
            if lost:
                print(f"\n{len(lost)} problem(s):\n  " + "\n  ".join(lost), file=sys.stderr)
                return 1
        elif args.command == "html":
            print(f"The Chinese book: {build_html(args.fresh)}")
        elif args.command == "qualify-glue":
            paths = [p.resolve() for p in args.notebooks] or [ROOT / p for p in toc_files()]
            total, left = 0, 0
            shown = lambda path: path.relative_to(ROOT) if path.is_relative_to(ROOT) else path  # noqa: E731
            for path in paths:
                if path.suffix == ".ipynb":
                    changed = qualify_notebook(path, write=not args.check)
                    total += changed
                    if changed:
                        print(f"{shown(path)}: {changed} role(s) "
                              + ("to qualify" if args.check else "qualified"))
                elif path.suffix == ".md":
                    bad = qualify_markdown_page(path)
                    left += bad
                    if bad:
                        print(f"{shown(path)}: {bad} glue role(s) without page:: (write "
                              "{glue:text}`page.ipynb::key:spec`)")
                else:
                    parser.error(f"{path} is neither a notebook (.ipynb) nor a page (.md)")
            print(f"{total} role(s) {'to qualify' if args.check else 'qualified'} in {len(paths)} file(s)")
            return 1 if (args.check and total) or left else 0
    except (RuntimeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
