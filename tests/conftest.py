"""Shared fixtures of the unit tests (quick mode for the notebooks is set by the root conftest.py).

Every unit test runs with its own empty cache (``BOOK_CACHE_DIR``) and with ``BOOK_OFFLINE=1``, so
that no test touches the network or the user's cache, and in full mode unless it sets ``BOOK_QUICK``.
Tests that need the real data sets ask for ``shared_data`` (or ``shared_data_module`` for data
loaded once per module); both skip when the data folder is absent.
"""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before anything imports pyplot: no windows, no display needed

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent

def locate_shared_data() -> Path:
    """``$BOOK_DATA_DIR`` if set (a relative path is taken from the repository root, as
    ``utils.data.files`` does), else ``<repo root>/../shared/data``."""
    env = os.environ.get("BOOK_DATA_DIR", "").strip()
    return (REPO_ROOT / Path(env).expanduser()).resolve() if env else (REPO_ROOT / ".." / "shared" / "data").resolve()


@pytest.fixture(autouse=True)
def isolated_book_env(tmp_path, monkeypatch) -> Path:
    """A fresh cache folder per test, offline, and full mode unless the test sets BOOK_QUICK."""
    cache = tmp_path / "book-cache"
    monkeypatch.setenv("BOOK_CACHE_DIR", str(cache))
    monkeypatch.setenv("BOOK_OFFLINE", "1")
    monkeypatch.delenv("BOOK_QUICK", raising=False)
    return cache


@pytest.fixture(scope="session")
def shared_data_root() -> Path:
    folder = locate_shared_data()
    if not folder.is_dir():
        pytest.skip(f"the shared data folder {folder} does not exist; set BOOK_DATA_DIR to a folder "
                    "laid out like ../shared/data (fashion-mnist/, rt-polarity/, tinyshakespeare/)")
    return folder


@pytest.fixture
def shared_data(shared_data_root, monkeypatch) -> Path:
    """The real data folder; ``BOOK_DATA_DIR`` points at it for the test."""
    monkeypatch.setenv("BOOK_DATA_DIR", str(shared_data_root))
    return shared_data_root


@pytest.fixture(scope="module")
def shared_data_module(shared_data_root, tmp_path_factory):
    """Like ``shared_data``, for module-scoped fixtures that load a data set once per module:
    the same isolated environment (own cache, offline, full mode) for the module's lifetime."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BOOK_DATA_DIR", str(shared_data_root))
        mp.setenv("BOOK_CACHE_DIR", str(tmp_path_factory.mktemp("book-cache-module")))
        mp.setenv("BOOK_OFFLINE", "1")
        mp.delenv("BOOK_QUICK", raising=False)
        yield shared_data_root
