"""tools.results: the appendix's table of headline numbers against their published anchors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import results
from utils.benchmarks import Published

from error_facts import raises_naming


def page(root: Path, name: str, label: str, title: str, glued: dict[str, str], run: dict | None = None) -> Path:
    outputs = [{"output_type": "display_data", "metadata": {"scrapbook": {"name": k}},
                "data": {"application/papermill.record/text/plain": v}} for k, v in glued.items()]
    nb = {"cells": [{"cell_type": "markdown", "source": f"({label})=\n# {title}\n", "metadata": {}},
                    {"cell_type": "code", "source": "", "outputs": outputs, "metadata": {}}],
          "metadata": {"book_run": run} if run else {}, "nbformat": 4, "nbformat_minor": 5}
    (root / name).write_text(json.dumps(nb))
    return Path(name)


ANCHOR = Published(0.80, "Table 2", "kim2014")
ROWS = [results.Row("acc", "test accuracy", "accuracy", ANCHOR, se="acc_se", se_scale=0.01),
        results.Row("secs", "time (s)", "seconds", Published(180.0, "README", "karpathy"), compare="ratio"),
        results.Row("range", "in a range", "accuracy",
                    (Published(0.9, "rows", "z"), Published(0.95, "rows", "z"))),
        results.Row("later", "not run yet", "count")]


def test_build_formats_compares_and_lists_what_is_missing(tmp_path):
    a = page(tmp_path, "a.ipynb", "ch-a", "Alpha (甲)", {"acc": "np.float64(0.8123)", "acc_se": "1.2"},
             {"seconds": 12.3, "cpus": 2, "machine": "x86_64", "torch": "2.13.0"})
    b = page(tmp_path, "b.ipynb", "ch-b", "Beta", {"secs": "360.0", "range": "0.97"},
             {"seconds": 400.0, "cpus": 2, "machine": "x86_64", "torch": "2.13.0", "cached_weights": ["w"]})
    report = results.build(tmp_path, [a, b], ROWS, bib_keys={"kim2014", "karpathy", "z"})
    lines = report.table.splitlines()
    assert lines[2] == ("| {numref}`%s Alpha <ch-a>` | test accuracy | 0.8123 ± 0.0120 | 0.800 (Table 2) "
                        "{cite:p}`kim2014` | +1.2 points | `acc` |")
    assert "×2.00" in lines[3] and "+2.0 points (above the highest)" in lines[4]
    assert report.skipped == ["later"]
    runs = results.runs_table(tmp_path, report, [a, b])
    assert "| `b.ipynb` ({numref}`%s Beta <ch-b>`) | 400 (read cached weights: w) |" in runs
    assert runs.splitlines()[-1] == "| **all of the above** | **412** | | | |"


def test_build_refuses_unknown_citations_and_duplicate_rows(tmp_path):
    a = page(tmp_path, "a.ipynb", "ch-a", "Alpha", {"acc": "0.8"})
    with pytest.raises(ValueError, match="kim2014"):
        results.build(tmp_path, [a], ROWS, bib_keys={"karpathy", "z"})
    with pytest.raises(ValueError, match="twice"):
        results.build(tmp_path, [a], ROWS + ROWS[:1], bib_keys={"kim2014", "karpathy", "z"})


def test_rows_are_checked():
    with pytest.raises(ValueError, match="unit"):
        results.Row("x", "x", "furlongs")
    with pytest.raises(ValueError, match="range"):
        results.Row("x", "x", "accuracy", (ANCHOR, ANCHOR), compare="ratio")
    with raises_naming(ValueError, "kim2014", "z"):                  # the two sources
        results.Row("x", "x", "accuracy", (ANCHOR, Published(0.9, "rows", "z")))


def test_a_page_without_a_heading_or_a_run_record_is_an_error(tmp_path):
    a = page(tmp_path, "a.ipynb", "ch-a", "Alpha", {"acc": "0.8"})
    with pytest.raises(ValueError, match="acc_se"):
        results.build(tmp_path, [a], ROWS[:1], bib_keys={"kim2014"})
    a = page(tmp_path, "a.ipynb", "ch-a", "Alpha", {"acc": "0.8", "acc_se": "1.0"})
    report = results.build(tmp_path, [a], ROWS[:1], bib_keys={"kim2014"})
    with raises_naming(ValueError, "a.ipynb", "make execute NB=a.ipynb"):   # the page, the command that fixes it
        results.runs_table(tmp_path, report, [a])
    (tmp_path / "c.ipynb").write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": "# no label"}]}))
    with pytest.raises(ValueError, match="label"):
        results.section(tmp_path, Path("c.ipynb"))


def test_the_books_rows_cite_keys_of_the_bibliography():
    root = Path(__file__).resolve().parents[1]
    report = results.build(root, [], results.ROWS)     # checks every anchor's key against references.bib
    assert report.shown == [] and len(report.skipped) == len(results.ROWS)
