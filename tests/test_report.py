"""utils.report.markdown_table: the book's one way to display a table of results."""
from __future__ import annotations

from IPython.display import Markdown
from markdown_it import MarkdownIt

import utils
from error_facts import raises_naming
from utils.report import markdown_table


def test_the_text_is_header_alignment_row_and_one_line_per_row():
    table = markdown_table(["model", "accuracy", "note"], [["CNN", f"{0.91234:.3f}", ""], ("LSTM", 0.5, "-")],
                           align="lrc")
    assert isinstance(table, Markdown)
    assert table.data == ("| model | accuracy | note |\n|---|---:|:---:|\n| CNN | 0.912 |  |\n"
                          "| LSTM | 0.5 | - |")


def test_every_column_is_left_without_align_and_rows_may_be_a_generator():
    table = markdown_table(("a", "b"), ((str(i), str(i * i)) for i in range(2)))
    assert table.data == "| a | b |\n|---|---|\n| 0 | 0 |\n| 1 | 1 |"
    assert markdown_table(["a"], []).data == "| a |\n|---|"


def test_it_renders_as_a_table_with_a_bar_inside_a_cell():
    table = markdown_table(["sentence", "loss"], [["a | b", "1.00"]], align="lr")
    assert "a \\| b" in table.data
    html = MarkdownIt("commonmark").enable("table").render(table.data)
    assert html.count("<td") == 2 and "a | b" in html and 'style="text-align:right"' in html


def test_bad_tables_are_refused_naming_the_row_or_the_column():
    with raises_naming(ValueError, "row", 1, 2):
        markdown_table(["a", "b"], [["1", "2"], ["3"]])
    with raises_naming(ValueError, "align", "'lx'"):
        markdown_table(["a", "b"], [], align="lx")
    with raises_naming(ValueError, "align", 2):
        markdown_table(["a", "b"], [], align="l")
    with raises_naming(ValueError, "row", 0, "column", 1):
        markdown_table(["a", "b"], [["1", "two\nlines"]])
    with raises_naming(ValueError, "header"):
        markdown_table("a b", [])
    with raises_naming(ValueError, "row", 0):
        markdown_table(["a", "b"], ["ab"])


def test_it_is_an_everyday_name():
    assert utils.markdown_table is markdown_table
