"""Notebook hygiene: the table of contents is complete and every notebook stores one clean full run.

Executing the notebooks (quick mode) is nbval's job: `make test` runs pytest with --nbval over chapters/.
"""
import json
import re

import pytest

from tools import notebooks

from error_facts import raises_naming


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
    with raises_naming(ValueError, "'Coat'"):
        notebooks.as_number("'Coat'")


# --- Markdown tables produced by code render as tables, not as `| a | b |` text -----------------

TABLE_FORMATS = ("myst", "gfm")  # MyST-NB's Markdown formats that have tables (CommonMark has none)


def _book_markdown_format() -> str:
    import yaml

    config = yaml.safe_load((notebooks.ROOT / "_config.yml").read_text(encoding="utf-8"))
    return ((config.get("sphinx") or {}).get("config") or {}).get("nb_render_markdown_format", "commonmark")


def _glue_md_formats() -> dict[str, list[str]]:
    """The format of every {glue:md} use in the book's prose, by glue key (default: commonmark)."""
    import re

    texts = []
    for page in notebooks.toc_files():
        path = notebooks.ROOT / page
        if path.suffix == ".ipynb":
            nb = json.loads(path.read_text(encoding="utf-8"))
            texts += ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
        else:
            texts.append(path.read_text(encoding="utf-8"))
    uses: dict[str, list[str]] = {}
    for text in texts:
        for key, options in re.findall(r"[`~]{3,}\{glue:md\}\s+(\S+)[ \t]*\n((?:[ \t]*:[^\n]*\n)*)", text):
            fmt = re.search(r":format:\s*(\w+)", options)
            uses.setdefault(key.split("::")[-1], []).append(fmt.group(1) if fmt else "commonmark")
        for content in re.findall(r"\{glue:md\}`([^`]+)`", text):  # `key`, `key:fmt`, `doc::key:fmt`
            rest = content.split("::", 1)[-1]
            key, fmt = rest.rsplit(":", 1) if ":" in rest else (rest, "commonmark")
            uses.setdefault(key, []).append(fmt)
    return uses


def test_markdown_tables_from_code_render_as_tables():
    """Every table a notebook's code outputs as Markdown is rendered by a format that has tables."""
    book_format = _book_markdown_format()
    glue_formats = _glue_md_formats()
    problems, tables = [], 0
    for path in notebooks.notebooks():
        for index, mime, glue in notebooks.markdown_tables(notebooks.ROOT / path):
            tables += 1
            if glue is None:
                if book_format not in TABLE_FORMATS:
                    problems.append(f"{path} cell {index}: a text/markdown table, but _config.yml renders "
                                    f"Markdown outputs as {book_format!r}: set nb_render_markdown_format: myst")
            else:
                bad = [f for f in glue_formats.get(glue, []) if f not in TABLE_FORMATS]
                if bad:
                    problems.append(f"{path} cell {index}: the glued table {glue!r} is pasted with "
                                    f"{{glue:md}} in format {bad[0]!r}: add `:format: myst`")
    assert tables > 0, "no Markdown table found in any notebook: the scan is broken"
    assert not problems, "\n  ".join(["tables that would render as text:"] + problems)


def test_table_and_line_checks_catch_problems(tmp_path):
    table = "| a | b |\n|---|---:|\n| 1 | 2 |\n"
    assert notebooks.has_table(table) and not notebooks.has_table("a | b\n---\n")
    nb = {"cells": [
        {"cell_type": "markdown", "source": ["# title"], "metadata": {}},
        {"cell_type": "code", "source": ["x = 1  # " + "y" * 90 + "\n", "print(x)"], "execution_count": 1,
         "metadata": {}, "outputs": [
             {"output_type": "stream", "name": "stdout", "text": [table]},
             {"output_type": "execute_result", "execution_count": 1, "metadata": {},
              "data": {"text/markdown": [table], "text/plain": ["<Markdown>"]}},
             {"output_type": "display_data", "metadata": {"scrapbook": {"name": "tab"}},
              "data": {"application/papermill.record/text/markdown": table}}]},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "tables.ipynb"
    path.write_text(json.dumps(nb))
    problems = " | ".join(notebooks.hygiene_problems(path))
    assert "cell 1 (0-based), line 1: 99 characters" in problems
    assert "prints a Markdown table" in problems
    assert notebooks.markdown_tables(path) == [
        (1, "text/markdown", None), (1, "application/papermill.record/text/markdown", "tab")]


def list_markers_inside_inline_math(markdown: str) -> list[str]:
    """Lines that start with `+ `, `- ` or `* ` while an inline `$...$` opened on an earlier line of
    the same paragraph is still open: Markdown reads them as list items and the formula breaks
    (seen: `... 2048` / `+ 8192 ...` rendered as a bullet and raw TeX)."""
    found, open_dollars, in_fence = [], 0, False
    for line in markdown.split("\n"):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if not line.strip():
            open_dollars = 0
            continue
        if open_dollars % 2 == 1 and re.match(r"\s*[+*-] ", line):
            found.append(line.strip())
        open_dollars += len(re.findall(r"(?<!\\)\$", line.replace("$$", "")))
    return found


def test_list_marker_check_catches_a_broken_formula():
    assert list_markers_inside_inline_math("a $x\n+ y$ b") == ["+ y$ b"]
    assert list_markers_inside_inline_math("a $x +\ny$ b\n\n- item") == []


@pytest.mark.parametrize("path", notebooks.notebooks(), ids=str)
def test_no_formula_is_broken_by_a_list_marker(path):
    nb = json.loads((notebooks.ROOT / path).read_text(encoding="utf-8"))
    problems = [f"cell {i}: {line}" for i, cell in enumerate(nb["cells"]) if cell["cell_type"] == "markdown"
                for line in list_markers_inside_inline_math("".join(cell["source"]))]
    assert not problems, "move the +, - or * to the end of the previous line:\n" + "\n".join(problems)


# --- JupyterLab readers see every quoted value (issue 13) ----------------------------------------

@pytest.mark.parametrize("path", notebooks.notebooks(), ids=str)
def test_every_quoted_value_is_visible_in_jupyterlab(path):
    problems = notebooks.lab_hidden_glue(notebooks.ROOT / path)
    assert not problems, f"{path}: JupyterLab shows glue roles as their key:\n  " + "\n  ".join(problems)


def test_lab_check_catches_hidden_values_and_directives(tmp_path):
    def glue_output(key, value):
        return {"output_type": "display_data", "metadata": {"scrapbook": {"name": key, "mime_prefix":
                "application/papermill.record/"}}, "data": {"application/papermill.record/text/plain": value}}

    def notebook(printed):
        code = {"cell_type": "code", "source": "", "execution_count": 1, "metadata": {}, "outputs": [
            glue_output("loss", "1.64352"), glue_output("n", "2000"),
            {"output_type": "stream", "name": "stdout", "text": printed}]}
        prose = {"cell_type": "markdown", "metadata": {}, "source":
                 "Loss {glue:text}`loss:.3f` after {glue:text}`n:,d` steps."}
        return {"cells": [code, prose], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}

    path = tmp_path / "lab.ipynb"
    for printed, hidden in [("loss 1.6435 after 2000 steps\n", []),      # more digits, no comma: seen
                            ("loss 1.65 after 2,000 steps\n", ["loss"]),   # fewer digits than the prose
                            ("nothing\n", ["loss", "n"])]:
        path.write_text(json.dumps(notebook(printed)))
        problems = notebooks.lab_hidden_glue(path)
        assert [p.split("'")[1] for p in problems] == hidden, (printed, problems)
        # the same roles in the document-qualified form that translated paragraphs need (tools.i18n)
        nb = notebook(printed)
        nb["cells"][1]["source"] = nb["cells"][1]["source"].replace("`loss", "`lab.ipynb::loss").replace(
            "`n:", "`./lab.ipynb::n:")
        path.write_text(json.dumps(nb))
        assert [p.split("'")[1] for p in notebooks.lab_hidden_glue(path)] == hidden, printed
    # a role that reads another page's value is that page's to show
    nb = notebook("nothing\n")
    nb["cells"][1]["source"] = "Loss {glue:text}`other.ipynb::loss:.3f`."
    path.write_text(json.dumps(nb))
    assert notebooks.lab_hidden_glue(path) == []
    nb = notebook("loss 1.6435 after 2000 steps\n")
    nb["cells"][1]["source"] += "\n\n```{glue:figure} table\n:name: tab-x\n\nCaption.\n```\n"
    path.write_text(json.dumps(nb))
    assert "glue directive" in " ".join(notebooks.lab_hidden_glue(path))


def test_nbval_compares_full_precision_floats_to_four_decimals():
    # stored on one CPU, re-run on another: float32 rounding differs in the last digits only
    from nbval.plugin import get_sanitize_patterns
    patterns = get_sanitize_patterns((notebooks.ROOT / "tests" / "nbval_sanitize.cfg").read_text())
    assert patterns, "no regex/replace pair in tests/nbval_sanitize.cfg"

    def sanitize(s):
        for regex, replace in patterns:
            s = re.sub(regex, replace, s)
        return s
    assert sanitize("0.7021651864051819") == sanitize("0.7021648287773132")
    assert sanitize("0.7021651864051819") != sanitize("0.7031651864051819")   # a real change
    assert sanitize("validation accuracy 0.8480") == "validation accuracy 0.8480"   # printed: exact
    assert sanitize("1.2345678901234e-05") == "1.2345e-05"
