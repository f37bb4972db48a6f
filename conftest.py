"""Quick mode for every pytest run from this repository, whatever paths it is given.

Plain ``pytest`` (not only ``make test``), and ``pytest chapters/x.ipynb`` too, executes the notebooks
in quick mode: unless the caller set ``BOOK_QUICK`` (to 0 for a full run, say), it is set to 1 when
this file is imported, before nbval starts any kernel (kernels inherit the environment), so that no
command runs for hours by accident. This file lives at the repository root because pytest loads
``tests/conftest.py`` only when it collects ``tests/``. A malformed switch stops the run at once.
"""
from __future__ import annotations

import os

import pytest

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
    from utils.data import check_data
    from utils.files import DataError

    try:
        check_data()
    except DataError as exc:
        pytest.exit(f"the notebooks cannot run: their data is missing or corrupt.\n{exc}", returncode=4)

