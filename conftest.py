"""Quick mode for every pytest run from this repository, whatever paths it is given.

Plain ``pytest`` (not only ``make test``), and ``pytest chapters/x.ipynb`` too, executes the notebooks
in quick mode: unless the caller set ``BOOK_QUICK`` (to 0 for a full run, say), it is set to 1 when
this file is imported, before nbval starts any kernel (kernels inherit the environment), so that no
command runs for hours by accident. This file lives at the repository root because pytest loads
``tests/conftest.py`` only when it collects ``tests/``. A malformed switch stops the run at once.

It also makes nbval execute the exercises' solutions: after the cells of a notebook, one item per
```python block of a ``{solution}`` (``tools.exercises``), in the same kernel (see the end of the file).
"""
from __future__ import annotations

import os
from collections import defaultdict

import nbformat
import pytest
from nbval.plugin import IPyNbCell, IPyNbFile

if not os.environ.get("BOOK_QUICK", "").strip():   # unset or empty: the caller did not choose
    os.environ["BOOK_QUICK"] = "1"


def pytest_configure(config) -> None:
    from utils.runtime import env_flag

    for name in ("BOOK_QUICK", "BOOK_OFFLINE"):
        try:
            env_flag(name)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None


def pytest_collection_finish(session) -> None:
    """Before any notebook runs, check that the data it reads is there and intact: without it, one
    message saying how to provide the data (not a traceback from inside the first notebook)."""
    if session.config.option.collectonly or not any(
            str(item.path).endswith(".ipynb") for item in session.items):
        return
    from utils.data.datasets import check_data
    from utils.data.files import DataError

    try:
        check_data()
    except DataError as exc:
        pytest.exit(f"the notebooks cannot run: their data is missing or corrupt.\n{exc}", returncode=4)




# --- Exercises: every solution's code runs in its page's kernel, after the page's last cell ---------

class SolutionItem(IPyNbCell):
    """One ```python block of an exercise's solution (a Markdown cell), run like a code cell without
    stored outputs, so that only an error fails it; it runs in the page's kernel after the page's
    cells, and the page is not executed a second time."""

    def reportinfo(self):
        return self.path, 0, f"{self.path.relative_to(self.config.rootpath)}::{self.name}"

    def repr_failure(self, excinfo):
        return (f"The code of {self.name} (a Markdown cell of the page) failed after the page's "
                f"last cell:\n{super().repr_failure(excinfo)}")


class NotebookWithSolutions(IPyNbFile):
    """nbval's notebook: one item per code cell, then one per solution code block."""

    def collect(self):
        from tools.exercises import notebook_solution_code

        cells = list(super().collect())
        yield from cells
        for number, block in enumerate(notebook_solution_code(self.path), start=len(cells)):
            cell = nbformat.v4.new_code_cell(block.code)    # execution_count None: nothing compared
            item = SolutionItem.from_parent(self, name=block.name, cell_num=number, cell=cell,
                                            options=defaultdict(bool, check=False))
            if block.opt_out:
                item.add_marker(pytest.mark.skip(reason=f"opted out: {block.opt_out}"))
            yield item


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path, parent):
    """nbval's collector of a notebook, replaced by the one that appends the solutions."""
    collectors = yield
    return [NotebookWithSolutions.from_parent(parent, path=file_path) if type(c) is IPyNbFile else c
            for c in collectors or []]
