"""tools.bench: the rows of `make bench` (the timings themselves are measured by `make bench`, not here)."""
from __future__ import annotations

import json
import time

import pytest

from tools import bench


def test_best_seconds_is_the_fastest_call():
    delays = iter([0.0, 0.0, 0.03, 0.01, 0.02])     # two warm-up calls, then three timed ones
    seconds = bench.best_seconds(lambda: time.sleep(next(delays)), repeats=3, warmup=2)
    assert 0.009 < seconds < 0.019


def test_test_row_reads_the_record_of_make_test(tmp_path):
    record = tmp_path / "test_time.json"
    assert bench.test_row(record).value is None and "run `make test`" in bench.test_row(record).note
    record.write_text(json.dumps({"seconds": 700, "exit": 0, "date": "2026-12-01 03:00 UTC"}))
    row = bench.test_row(record)
    assert row.value == 700 and row.met is False and "exit 0" in row.note


def test_notebook_rows_cover_every_notebook_and_sum_them():
    rows = bench.notebook_rows()
    *notebooks, total = rows
    assert len(notebooks) >= 20 and all(r.value > 0 for r in notebooks)
    assert total.value == pytest.approx(sum(r.value for r in notebooks))
    assert all(r.met == (r.value <= bench.NOTEBOOK_TARGET_S) for r in notebooks)


def test_a_run_that_read_cached_weights_says_so(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_toc.yml").write_text("root: chapters/a\nchapters:\n  - file: chapters/b\n")
    for name, run in [("a", {"seconds": 90.0, "cpus": 2, "torch": "2.13.0", "cached_weights": ["bert_mr"]}),
                      ("b", {"seconds": 700.0, "cpus": 2, "torch": "2.13.0", "cached_weights": []})]:
        nb = {"cells": [], "metadata": {"book_run": run}, "nbformat": 4, "nbformat_minor": 5}
        (tmp_path / "chapters" / f"{name}.ipynb").write_text(json.dumps(nb))
    a, b, total = bench.notebook_rows(tmp_path)
    assert "read cached weights bert_mr" in a.note and a.met is True
    assert "cached" not in b.note and b.met is False
    assert total.value == 790.0


def test_table_marks_misses_and_rows_without_a_target():
    rows = [bench.Row("g", "fast", 12.345, "s", "≤ 60", True), bench.Row("g", "slow", 1234.5, "s", "≤ 600", False),
            bench.Row("g", "ratio", 3.0, "× time")]
    lines = bench.table(rows).splitlines()
    assert lines[0].startswith("| group |") and len(lines) == 5
    assert "| 12.3 |" in lines[2] and "| yes |" in lines[2]
    assert "| 1,234 |" in lines[3] and "**no**" in lines[3]
    assert lines[4].count("|  |") == 2        # no target, so nothing in "met"
