"""Values across pages: every value a page read from another page's stored run is still that page's
current stored value (a provider re-run without its readers fails here), every read is declared,
and providers run before their readers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import notebooks
from utils import pages

NOTEBOOKS = [notebooks.ROOT / p for p in notebooks.notebooks()]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_values_read_from_other_pages_are_current(path):
    for record in pages.reads(path):
        assert record["key"] in pages.PROVIDES.get(record["page"], ()), record
        current = pages.parse_number(pages.stored_values(record["page"])[record["key"]])
        assert current == record["value"], (
            f"{path.name} quotes {record['page']}'s {record['key']} = {record['value']}, but that page's "
            f"stored run now says {current}: re-run {path.relative_to(notebooks.ROOT)}")


def test_every_declared_value_is_glued_by_its_provider():
    for page, keys in pages.PROVIDES.items():
        missing = keys - pages.stored_values(page).keys()
        assert not missing, f"{page} does not glue {sorted(missing)}"


def test_no_page_parses_another_page_outside_utils_pages():
    for path in NOTEBOOKS:
        if path.name == "results.ipynb":          # the report of every page, run last
            continue
        nb = json.loads(path.read_text(encoding="utf-8"))
        source = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        assert "notebooks.glued(" not in source, f"{path.name}: read other pages with utils.pages.value"


def test_execution_order_puts_providers_first():
    order = [pages._relative(p) for p in pages.execution_order(NOTEBOOKS)]
    assert sorted(order) == sorted(pages._relative(p) for p in NOTEBOOKS)
    for path in NOTEBOOKS:
        for provider in pages._providers_read(path):
            assert order.index(provider) < order.index(pages._relative(path)), (provider, path.name)


def _notebook(tmp_path: Path, name: str, cells: list[dict]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def _glue_output(key: str, text: str) -> dict:
    return {"output_type": "display_data", "metadata": {"scrapbook": {"name": key}},
            "data": {"application/papermill.record/text/plain": text}}


def test_value_reads_declared_numbers_and_refuses_the_rest(tmp_path, monkeypatch):
    monkeypatch.setattr(pages, "CHAPTERS", tmp_path)
    monkeypatch.setattr(pages, "PROVIDES", {"a.ipynb": frozenset({"x", "y"})})
    _notebook(tmp_path, "a.ipynb", [{"cell_type": "code", "source": "", "outputs": [
        _glue_output("x", "np.float64(0.8125)"), _glue_output("z", "1.0")]}])
    assert pages.value("a.ipynb", "x", show=False) == 0.8125
    with pytest.raises(ValueError, match="'z'"):
        pages.value("a.ipynb", "z", show=False)
    with pytest.raises(ValueError, match="b.ipynb"):
        pages.value("b.ipynb", "x", show=False)
    with pytest.raises(LookupError, match="'y'"):
        pages.value("a.ipynb", "y", show=False)


def test_a_stale_record_is_detected(tmp_path, monkeypatch):
    monkeypatch.setattr(pages, "CHAPTERS", tmp_path)
    monkeypatch.setattr(pages, "PROVIDES", {"a.ipynb": frozenset({"x"})})
    _notebook(tmp_path, "a.ipynb", [{"cell_type": "code", "source": "", "outputs": [_glue_output("x", "618.2")]}])
    reader = _notebook(tmp_path, "b.ipynb", [{"cell_type": "code", "source": 'pages.value("a.ipynb", "x")',
                                              "outputs": [{"output_type": "display_data", "data": {},
                                                           "metadata": {pages.RECORD: {"page": "a.ipynb",
                                                                                       "key": "x", "value": 547.0}}}]}])
    (record,) = pages.reads(reader)
    assert pages.parse_number(pages.stored_values(record["page"])[record["key"]]) != record["value"]
    assert [pages._relative(p) for p in pages.execution_order([reader, tmp_path / "a.ipynb"])] == ["a.ipynb", "b.ipynb"]


def test_parse_number_rejects_text_and_nan():
    assert pages.parse_number("tensor(1,234.5)") == 1234.5
    for bad in ("'cnn'", "nan", "1.0 2.0"):
        with pytest.raises(ValueError):
            pages.parse_number(bad)
