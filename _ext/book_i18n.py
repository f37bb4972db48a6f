"""The two editions of the book (English and 中文版) side by side: what Sphinx needs besides the catalogues.

* **A link to the same page in the other edition**, as a button in every page's header (next to the
  download and full-screen buttons) and as ``<link rel="alternate" hreflang=...>`` in its head. The
  other edition's root, relative to this edition's root, is ``book_other_edition`` (by language); the
  default is the local layout of ``make book`` and ``make book-zh`` (``_build/html``, ``_build/zh/html``).
  A site that publishes the Chinese edition under ``/zh/`` sets ``{"en": "zh/", "zh_CN": "../"}``.
* **``{glue:md}`` inside a translated paragraph.** Sphinx parses a translated paragraph again, as
  plain MyST outside its notebook, where MyST-NB's ``{glue:md}`` role finds no glue data and pastes
  nothing (a warning). ``{glue:text}`` has a document-qualified form for this (``tools/i18n.py``
  rewrites the roles); ``{glue:md}`` has none, so here it reads the value from the glue cache that
  MyST-NB wrote for the page while parsing it, and renders it as the original role does. In a
  translated build it pastes the value's translation from ``glued.po`` in the language's catalogue
  folder (``tools/i18n.py`` extracts it; the English value where it has none, which
  ``make po-status`` lists), so "within noise" reads 在噪声范围内 inside a Chinese sentence.
* **Cell outputs are not messages.** What a code cell prints or displays (a table built by
  ``display(Markdown(...))``, a stream, an error) changes with every run of its notebook; extracted, it
  would make the page's catalogue stale after each re-run and put a run's numbers into translations.
  :class:`UntranslatableOutputs` marks every node inside a cell's output container (MyST-NB's
  ``nb_element="cell_code_output"``) ``translatable=False`` before Sphinx's ``Locale`` transform, which
  is what :func:`sphinx.util.nodes.is_translatable` honours: the gettext builder skips them and a
  translated build shows them as they are (in English). Markdown cells, glued figures' captions and
  glue roles in prose are outside those containers and stay translatable, and so do the caption and
  alt text of an output's figure (written in the cell's metadata, not by the run: the caption is
  skipped here, and Sphinx extracts an image's ``alt`` whatever its ``translatable`` says; ``make pot``
  has MyST-NB show the gettext builder an output's image rather than its text, so that the alt is seen).
* **No space between two Chinese pieces.** A translation keeps a space around a ``{glue:md}`` role
  (its value is Chinese in one run, a model's name in another) and around an emphasised term (CommonMark
  opens ``*`` after a Chinese character only with a space before it); :class:`NoSpaceBetweenCJK` removes
  such a space in a Chinese build where both neighbours are Chinese ("在衬衫类上"), and keeps it beside
  Latin letters and digits ("在 LSTM 上").
* **The PDF's title** (``book_latex_title``, set by the Chinese build): Jupyter Book writes
  ``_config.yml``'s title into ``latex_documents`` after the configuration overrides.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from docutils import nodes
from myst_nb.ext.glue.roles import PasteMarkdownRole
from myst_nb.ext.glue.utils import glue_warning
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform

# language -> (the other edition's root relative to this one's, its language, the button's text, tooltip)
EDITIONS = {
    "en": ("../zh/html/", "zh-CN", "中文", "阅读本页的中文版"),
    "zh_CN": ("../../html/", "en", "English", "Read this page in English"),
}


GLUED_CATALOGUE = "glued.po"          # in <locale dir>/<language>/LC_MESSAGES/, next to the pages' catalogues
_glued_cache: dict[tuple[str, float], dict[str, str]] = {}


def glued_translations(env) -> dict[str, str]:
    """The translated glued Markdown values of this build's language: English value -> translation
    (translated, not fuzzy); empty for the English build."""
    language = env.config.language
    if not language or language == "en":
        return {}
    from babel.messages.pofile import read_po

    translations: dict[str, str] = {}
    for folder in reversed(env.config.locale_dirs):           # the first folder wins, as for Sphinx
        path = Path(env.srcdir, folder, language, "LC_MESSAGES", GLUED_CATALOGUE)
        if not path.is_file():
            continue
        key = (str(path), path.stat().st_mtime)
        if key not in _glued_cache:
            with path.open("rb") as handle:
                _glued_cache[key] = {m.id: m.string for m in read_po(handle, locale=language)
                                     if m.id and m.string and not m.fuzzy}
        translations.update(_glued_cache[key])
    return translations


class TranslatedPasteMarkdownRole(PasteMarkdownRole):
    """``{glue:md}`key``` that also works in a translated paragraph (see the module's docstring)."""

    def run(self):
        if "nb_renderer" in self.document:                      # the notebook itself: MyST-NB's own
            return super().run()
        env = getattr(self.document.settings, "env", None)
        key, _, fmt = self.text.partition(":")
        if env is None:
            return [], [glue_warning(f"{{glue:md}}`{self.text}` outside Sphinx", self.document, self.line)]
        path = Path(env.mystnb_config.output_folder).joinpath(*env.docname.split("/"))
        cache = path.with_name(path.name + ".glue.json")
        data = json.loads(cache.read_text(encoding="utf-8")) if cache.is_file() else {}
        markdown = data.get(key, {}).get("data", {}).get("text/markdown")
        if markdown is None:
            return [], [glue_warning(f"No text/markdown glued under {key!r} in {env.docname} (translated "
                                     "paragraph)", self.document, self.line)]
        if isinstance(markdown, list):
            markdown = "".join(markdown)
        markdown = glued_translations(env).get(markdown.strip(), markdown)
        children, messages = self.inliner.parse(markdown.strip(), self.line, None, nodes.Element())
        for child in children:
            self.set_source_info(child)
        return children, messages


def is_cell_output(node) -> bool:
    """Whether ``node`` is MyST-NB's container of one code cell's outputs."""
    return isinstance(node, nodes.container) and node.get("nb_element") == "cell_code_output"


def mark_untranslatable(node: nodes.Element) -> None:
    """``translatable=False`` on ``node`` and everything inside it, except figure captions and legends."""
    if isinstance(node, (nodes.caption, nodes.legend)):   # written in the cell's metadata: translated
        return
    node["translatable"] = False
    for child in node.children:
        if isinstance(child, nodes.Element):
            mark_untranslatable(child)


class UntranslatableOutputs(SphinxTransform):
    """Every node inside a code cell's outputs: ``translatable=False`` (neither extracted nor translated)."""

    default_priority = 15            # after PreserveTranslatableMessages (10), before Locale (20)

    def apply(self, **kwargs) -> None:
        for output in self.document.findall(is_cell_output):
            mark_untranslatable(output)


# Chinese (and Japanese) characters and their punctuation: no space between two of them
_CJK = re.compile(r"[\u2e80-\u2fff\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
# nodes whose text is code or a formula: read for their characters, never changed
_VERBATIM = (nodes.literal, nodes.math, nodes.raw, nodes.literal_block, nodes.math_block)


def close_cjk_gaps(block: nodes.Element) -> int:
    """Remove each space that separates two CJK characters at the boundary of an inline node of
    ``block`` (a glued value, an emphasised or linked term, a reference's text); returns how many.
    The space is in the source because the markup needs it, not the language: a translation writes
    "在 {glue:md}`worst_class` 类上" around a value that is Chinese in the Chinese build and
    "称为 *{term}`学习率 <learning rate>`*" because CommonMark opens emphasis after a CJK character
    only with a space (a ``*`` between a letter and punctuation is no delimiter). Between CJK and Latin
    letters or digits ("在 LSTM 上", "为 0.91") the space stays, as Chinese typesetting has it."""
    leaves = [t for t in block.findall(nodes.Text)]
    if len(leaves) < 2:
        return 0
    text = "".join(leaves)
    owner, start = [], 0                       # the leaf of each character, and where each leaf starts
    starts = []
    for i, leaf in enumerate(leaves):
        starts.append(start)
        owner += [i] * len(leaf)
        start += len(leaf)
    cut: dict[int, set[int]] = {}              # leaf -> offsets of the spaces to remove
    for m in re.finditer(" ", text):
        at = m.start()
        if at == 0 or at + 1 >= len(text) or not (_CJK.match(text[at - 1]) and _CJK.match(text[at + 1])):
            continue
        i = owner[at]
        boundary = owner[at - 1] != i or owner[at + 1] != i
        if boundary and not isinstance(leaves[i].parent, _VERBATIM):
            cut.setdefault(i, set()).add(at - starts[i])
    for i, offsets in cut.items():
        leaf = leaves[i]
        leaf.parent.replace(leaf, nodes.Text("".join(c for k, c in enumerate(leaf) if k not in offsets)))
    return sum(len(o) for o in cut.values())


class NoSpaceBetweenCJK(SphinxPostTransform):
    """In a Chinese build, :func:`close_cjk_gaps` in every translated paragraph, title, caption and
    table cell, once glue, terms and references have their text (after MyST-NB's and Sphinx's own
    post-transforms), for every builder (HTML and LaTeX)."""

    default_priority = 900

    def run(self, **kwargs) -> None:
        if not (self.config.language or "").startswith(("zh", "ja")):
            return
        for block in list(self.document.findall(nodes.TextElement)):
            if block.get("translated"):
                close_cjk_gaps(block)


def _language(app) -> str:
    return app.config.language or "en"


def add_edition_link(app, pagename, templatename, context, doctree) -> None:
    """The header button and the ``<link rel="alternate">`` to this page in the other edition."""
    language = _language(app)
    if language not in EDITIONS or doctree is None:
        return
    root, hreflang, text, tooltip = EDITIONS[language]
    root = (app.config.book_other_edition or {}).get(language, root)
    href = "../" * pagename.count("/") + root + pagename + ".html"
    buttons = context.get("header_buttons")
    if isinstance(buttons, list):
        buttons.insert(0, {"type": "link", "url": href, "text": text, "tooltip": tooltip,
                           "label": "edition-switch", "classes": "edition-switch"})
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{hreflang}" href="{href}" />')


def reattach_translated_nodes(app, doctree) -> None:
    """Point every node at the page's own document. Sphinx's Locale transform parses each translation
    into a throwaway document and moves its nodes over; they keep a reference to that document, and
    through its settings to the whole build environment, which pickling then writes into every
    doctree (6.7 MB a page instead of 0.2 MB, and 1-2 s to load each one: most of the Chinese LaTeX
    build's time)."""
    for node in doctree.findall():
        if getattr(node, "_document", None) not in (None, doctree):
            node._document = doctree


def set_latex_title(app, env, docnames) -> None:
    """``book_latex_title``, when set, as the title of the PDF (the cover and the title page).
    Jupyter Book writes ``_config.yml``'s ``title`` into ``latex_documents`` after Sphinx has read its
    configuration, so an override of ``latex_documents`` cannot change it; this runs later, before the
    LaTeX builder reads ``latex_documents``. The Chinese build sets it (``tools/i18n.py``)."""
    title = app.config.book_latex_title
    if title and app.builder.name == "latex":
        app.config.latex_documents = [(start, target, title, *rest)
                                      for start, target, _, *rest in app.config.latex_documents]


def setup(app):
    app.add_config_value("book_other_edition", {}, "html", types=[dict])
    app.add_config_value("book_latex_title", "", "", types=[str])
    app.connect("env-before-read-docs", set_latex_title)
    app.connect("doctree-read", reattach_translated_nodes)
    app.connect("html-page-context", add_edition_link, priority=502)   # after the theme's own buttons
    app.setup_extension("myst_nb")                                      # registers the glue domain
    app.add_role_to_domain("glue", "md", TranslatedPasteMarkdownRole(), override=True)
    app.add_transform(UntranslatableOutputs)
    app.add_post_transform(NoSpaceBetweenCJK)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
