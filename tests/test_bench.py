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


def test_notebook_rows_come_from_one_run_and_sum_it():
    rows = bench.notebook_rows()
    *notebooks, total = rows
    assert notebooks and all(r.value > 0 for r in notebooks)
    assert total.value == pytest.approx(sum(r.value for r in notebooks))
    rate = {bench.notebooks.run_info(bench.ROOT / "chapters" / r.name).get("matmul_gflops") for r in notebooks}
    page_target, _ = bench.run_targets(rate.pop() if len(rate) == 1 else None)
    assert all(r.met == (r.value <= page_target) for r in notebooks)


def test_targets_follow_the_machines_class():
    assert bench.run_targets(290.0) == (600, 3600) and bench.run_targets(None) == (600, 3600)
    assert bench.run_targets(140.0) == (900, 5400)


def fake_book(root, records: dict[str, dict]) -> None:
    (root / "chapters").mkdir()
    names = list(records)
    (root / "_toc.yml").write_text(f"root: chapters/{names[0]}\nchapters:\n"
                                   + "".join(f"  - file: chapters/{n}\n" for n in names[1:]))
    for name, run in records.items():
        nb = {"cells": [], "metadata": {"book_run": run}, "nbformat": 4, "nbformat_minor": 5}
        (root / "chapters" / f"{name}.ipynb").write_text(json.dumps(nb))


def test_a_run_that_read_cached_weights_says_so(tmp_path):
    fake_book(tmp_path, {"a": {"seconds": 90.0, "cpus": 2, "torch": "2.13.0", "cached_weights": ["bert_mr"]},
                         "b": {"seconds": 700.0, "cpus": 2, "torch": "2.13.0", "cached_weights": []}})
    a, b, total = bench.notebook_rows(tmp_path)
    assert "read cached weights bert_mr" in a.note and a.met is True
    assert "cached" not in b.note and b.met is False
    assert total.value == 790.0
    assert "may come from different machines" in bench.records_table(tmp_path)   # no run id: said so


def record(run, seconds, *, rebuild=True, started="2026-12-07 10:00 UTC", cpu="AMD EPYC", **extra):
    return {"seconds": seconds, "run": run, "rebuild": rebuild, "run_started": started, "cpu": cpu,
            "cpu_flags": ["avx2"], "cpus": 2, "matmul_gflops": 160.0, "torch": "2.13.0",
            "weights_cache": "empty at the start of the run", "cached_weights": [], "trained_weights": [],
            **extra}


def test_the_table_shows_the_latest_rebuild_only_and_names_its_machine(tmp_path):
    fake_book(tmp_path, {
        "train": record("new", 300.0, trained_weights=["bert_mr"]),
        "read": record("new", 20.0, cached_weights=["bert_mr"]),
        "later": record("one-page", 5.0, rebuild=False, started="2026-12-08 09:00 UTC", cpu="Intel Xeon"),
        "old": record("old", 50.0, started="2026-12-01 10:00 UTC", cpu="Intel Xeon")})
    assert bench.chosen_run({p: bench.notebooks.run_info(tmp_path / "chapters" / f"{p}.ipynb")
                             for p in ("train", "read", "later", "old")}) == "new"
    train, read, total = bench.notebook_rows(tmp_path)
    assert (train.name, read.name, total.value) == ("train.ipynb", "read.ipynb", 320.0)
    assert "bert_mr (trained by train in this run)" in read.note and "first run" not in read.note
    assert total.met is False and "not from run new (left out): chapters/later.ipynb, chapters/old.ipynb" \
        in total.note
    text = bench.records_table(tmp_path)
    assert text.startswith("Notebook times: run new (`make rebuild`, started 2026-12-07 10:00 UTC")
    assert "on AMD EPYC (2 CPUs, avx2; float32 matmul 160.0 GFLOP/s), torch 2.13.0" in text
    assert "Intel" not in text and "| train.ipynb | 300 |" in text


def test_table_marks_misses_and_rows_without_a_target():
    rows = [bench.Row("g", "fast", 12.345, "s", "≤ 60", True), bench.Row("g", "slow", 1234.5, "s", "≤ 600", False),
            bench.Row("g", "ratio", 3.0, "× time")]
    lines = bench.table(rows).splitlines()
    assert lines[0].startswith("| group |") and len(lines) == 5
    assert "| 12.3 |" in lines[2] and "| yes |" in lines[2]
    assert "| 1,234 |" in lines[3] and "**no**" in lines[3]
    assert lines[4].count("|  |") == 2        # no target, so nothing in "met"
