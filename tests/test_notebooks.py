"""Notebook hygiene: the table of contents is complete and every notebook stores one clean full run.

Executing the notebooks (quick mode) is nbval's job: `make test` runs pytest with --nbval over chapters/.
"""
import pytest

from utils import notebooks


def test_every_toc_page_exists():
    pages = notebooks.toc_files()   # raises FileNotFoundError naming a missing page
    assert len(pages) >= 3
    assert all(p.parts[0] == "chapters" for p in pages), "book pages live under chapters/"


def test_every_notebook_is_in_the_toc():
    in_toc = set(notebooks.notebooks())
    on_disk = {p.relative_to(notebooks.ROOT) for p in (notebooks.ROOT / "chapters").rglob("*.ipynb")
               if ".ipynb_checkpoints" not in p.parts}
    assert on_disk <= in_toc, f"notebooks missing from _toc.yml: {sorted(map(str, on_disk - in_toc))}"


@pytest.mark.parametrize("path", notebooks.notebooks(), ids=str)
def test_stored_outputs_are_one_clean_full_run(path):
    problems = notebooks.hygiene_problems(notebooks.ROOT / path)
    assert not problems, f"{path}:\n  " + "\n  ".join(problems)


def test_hygiene_check_catches_problems(tmp_path):
    import json
    bad = {"cells": [
        {"cell_type": "code", "source": ["1"], "execution_count": 2, "metadata": {}, "outputs": [
            {"output_type": "error", "ename": "ValueError", "evalue": "", "traceback": []}]},
        {"cell_type": "code", "source": ["2"], "execution_count": 3, "metadata": {}, "outputs": [
            {"output_type": "stream", "name": "stdout", "text": ["/home/someone/file.txt\n"]}]},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "bad.ipynb"
    path.write_text(json.dumps(bad))
    problems = " | ".join(notebooks.hygiene_problems(path))
    assert "execution counts" in problems and "error" in problems and "machine path" in problems


def test_glued_values_and_numbers(tmp_path):
    import json
    nb = {"cells": [{"cell_type": "code", "source": ["glue('a', 1.5)"], "execution_count": 1, "metadata": {},
                     "outputs": [{"output_type": "display_data", "metadata": {"scrapbook": {"name": "acc"}},
                                  "data": {"application/papermill.record/text/plain": "np.float64(0.93)"}}]}],
          "metadata": {"book_run": {"seconds": 12.5, "cpus": 2}}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "glue.ipynb"
    path.write_text(json.dumps(nb))
    assert notebooks.glued(path) == {"acc": "np.float64(0.93)"}
    assert notebooks.run_info(path) == {"seconds": 12.5, "cpus": 2}
    # a numpy scalar cannot be formatted by MyST-NB's {glue:text}: the hygiene check says so
    assert any("glue a Python float" in p for p in notebooks.hygiene_problems(path))
    assert notebooks.as_number("np.float64(0.93)") == 0.93
    assert notebooks.as_number("225034") == 225034
    assert notebooks.as_number("tensor(-1.5e-3)") == -1.5e-3
    with pytest.raises(ValueError, match="not a single number"):
        notebooks.as_number("'Coat'")
