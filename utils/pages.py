"""Values that one page of the book computes and another page quotes: one declared mechanism.

A page that quotes a result of another page (the MR table of 4.3 quotes 4.2's LSTM, the FAQ quotes the
fine-tuned MiniLM) reads it with :func:`value`, never by retyping it or by parsing the other notebook
itself. Three things make such a copy impossible to go stale silently:

* :data:`PROVIDES` declares which page offers which glued values; :func:`value` refuses anything else.
* :func:`value` reads the provider's *stored* glued value (the output of its last full run) and shows
  it in the reader's output together with a record (output metadata ``book_page_value``: provider,
  key, value). ``tests/test_pages.py`` checks every such record in every notebook against the
  provider's current stored value, so re-running a provider without re-running its readers fails
  ``make test``.
* :func:`execution_order` puts providers before readers; ``make execute`` runs the pages in that order.

Paths are relative to the book's ``chapters/`` folder, e.g. ``"04_code_examples/rnn_article.ipynb"``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

__all__ = ["PROVIDES", "CHAPTERS", "value", "glued_values", "stored_values", "reads", "execution_order"]

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"

# provider page -> the glued keys other pages may read
PROVIDES: dict[str, frozenset[str]] = {
    "04_code_examples/rnn_article.ipynb": frozenset({
        "rnn_mr_seed_test_acc", "rnn_mr_seed_params", "rnn_mr_seed_train_seconds",
        "rnn_mr_test_acc", "rnn_mr_params", "rnn_mr_train_seconds",
        "rnn_mr_tfidf_test_acc", "rnn_mr_tfidf_seconds"}),
    "04_code_examples/bert_finetune.ipynb": frozenset({"bert_mr_test_acc", "bert_mr_train_seconds",
                                                       "probe_mr_test_acc"}),
    "04_code_examples/cnn_improved.ipynb": frozenset({"cnn_improved_test_acc"}),
}

RECORD = "book_page_value"


def glued_values(notebook: Path) -> dict[str, str]:
    """The values a notebook glued (``myst_nb.glue``) in its stored outputs, as their text form, by key."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    values = {}
    for cell in nb["cells"]:
        for out in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            key = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if key is not None:
                data = out.get("data", {})
                values[key] = "".join(data.get("text/plain",
                                               data.get("application/papermill.record/text/plain", "")))
    return values


def stored_values(page: str) -> dict[str, str]:
    """The glued values in ``page``'s stored outputs (``page`` relative to ``chapters/``), by key."""
    return glued_values(_path(page))


def parse_number(text: str) -> float:
    """The number in a glued value's text form: ``0.93``, ``np.float64(0.93)``, ``tensor(0.93)``."""
    inner = text.split("(", 1)[1].rsplit(")", 1)[0] if "(" in text else text
    try:
        number = float(inner.strip().replace(",", ""))
    except ValueError:
        raise ValueError(f"not a single number: {text!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {text!r}")
    return number


def value(page: str, key: str, *, show: bool = True) -> float:
    """The number that ``page`` glued under ``key`` in its stored full run.

    With ``show`` (the default) the reader's output shows what was read and records it for the
    staleness test; a page that reads several values calls this once per value.
    """
    if page not in PROVIDES:
        raise ValueError(f"{page!r} provides no values to other pages; declared providers: "
                         f"{sorted(PROVIDES)} (add it to utils.pages.PROVIDES)")
    if key not in PROVIDES[page]:
        raise ValueError(f"{page!r} does not declare {key!r}; it provides {sorted(PROVIDES[page])} "
                         f"(declare the key in utils.pages.PROVIDES)")
    stored = stored_values(page)
    if key not in stored:
        raise LookupError(f"{page} declares {key!r} but its stored outputs do not glue it: "
                          f"run `make execute NB=chapters/{page}` first")
    number = parse_number(stored[key])
    if show:
        from IPython.display import display

        display({"text/plain": f"from {page}: {key} = {number!r}"}, raw=True,
                metadata={RECORD: {"page": page, "key": key, "value": number}})
    return number


def reads(notebook: Path) -> list[dict]:
    """The records of :func:`value` calls in a notebook's stored outputs: ``{page, key, value}``."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    return [out["metadata"][RECORD]
            for cell in nb["cells"] if cell["cell_type"] == "code"
            for out in cell.get("outputs", []) if RECORD in out.get("metadata", {})]


def execution_order(paths: list[Path]) -> list[Path]:
    """``paths`` with every declared provider moved before the first of them that reads it (stable
    otherwise); readers are found from their stored records and from ``utils.pages.value`` calls in
    their source, so a page that has never been run is still ordered."""
    rel = {p.resolve(): _relative(p) for p in paths}
    needs = {p: _providers_read(p) for p in rel}
    done: list[Path] = []
    visiting: set[Path] = set()
    by_rel = {r: p for p, r in rel.items()}

    def visit(p: Path) -> None:
        if p in done:
            return
        if p in visiting:
            raise ValueError(f"cycle in the pages' values through {rel[p]}")
        visiting.add(p)
        for page in sorted(needs[p]):
            if page in by_rel:
                visit(by_rel[page])
        visiting.discard(p)
        done.append(p)

    for p in rel:
        visit(p)
    return done


def _providers_read(notebook: Path) -> set[str]:
    found = {r["page"] for r in reads(notebook)}
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    source = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    found |= {page for page in PROVIDES if f'"{page}"' in source or f"'{page}'" in source}
    return found


def _relative(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(CHAPTERS).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _path(page: str) -> Path:
    path = CHAPTERS / page
    if not path.is_file():
        raise FileNotFoundError(f"no page {page!r} under {CHAPTERS}")
    return path
