"""Tables of results, as the book shows them: Markdown text that MyST renders as a table.

A page builds the rows (each cell already formatted, ``f"{acc:.4f}"``) and displays
:func:`markdown_table` of them; the header, the alignment row and the escaping are written here once.
"""
from __future__ import annotations

from typing import Iterable, Sequence

from IPython.display import Markdown

__all__ = ["ALIGNMENTS", "markdown_table"]

# one letter per column -> its cell in the table's second row
ALIGNMENTS = {"l": "---", "r": "---:", "c": ":---:"}


def _cell(value: object, where: str) -> str:
    text = str(value)
    if "\n" in text or "\r" in text:
        raise ValueError(f"{where} has a line break, which would end the table: {text!r}")
    return text.replace("|", "\\|")                # a bar inside a cell is text, not a column border


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str | None = None) -> Markdown:
    """A Markdown table: the ``header`` row, the alignment row, then one line per row of ``rows``.

    ``rows``: one sequence of cells per row, as many as ``header`` has titles; a cell is written as
    ``str(cell)`` (format numbers before: ``f"{acc:.4f}"``, ``f"{n:,}"``), and a ``|`` in a cell is
    escaped. ``align``: one letter per column, ``"l"`` (left, ``---``), ``"r"`` (right, ``---:``) or
    ``"c"`` (centred, ``:---:``); None leaves every column left. Returns an IPython ``Markdown``
    object: display it, or end a cell with it; its ``.data`` is the text, lines joined by newlines::

        markdown_table(["model", "accuracy"], [["CNN", "0.912"]], align="lr").data
        == "| model | accuracy |\\n|---|---:|\\n| CNN | 0.912 |"
    """
    if isinstance(header, str) or not len(header):
        raise ValueError(f"header must be a non-empty sequence of column titles, got {header!r}")
    columns = len(header)
    align = "l" * columns if align is None else align
    if not isinstance(align, str) or len(align) != columns or set(align) - set(ALIGNMENTS):
        raise ValueError(f"align must be one letter of {''.join(ALIGNMENTS)} per column ({columns} columns), "
                         f"got {align!r}")
    lines = ["| " + " | ".join(_cell(title, f"header title {k}") for k, title in enumerate(header)) + " |",
             "|" + "|".join(ALIGNMENTS[a] for a in align) + "|"]
    for i, row in enumerate(rows):
        if isinstance(row, str) or len(row) != columns:
            raise ValueError(f"row {i} must have {columns} cells, one per column of the header, got {row!r}")
        lines.append("| " + " | ".join(_cell(cell, f"row {i}, column {k}") for k, cell in enumerate(row)) + " |")
    return Markdown("\n".join(lines))
