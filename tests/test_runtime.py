"""utils.runtime: the quick/full switch, seeding, and notebook set-up."""
from __future__ import annotations

import importlib.util
import os
import random
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pytest
import torch

import utils
from utils.runtime import PLOT_STYLE

from error_facts import raises_naming


def test_book_quick_is_unset_by_default():
    assert "BOOK_QUICK" not in os.environ
    assert utils.is_quick() is False


@pytest.mark.parametrize("value, quick", [("", False), ("0", False), (" 0 ", False), ("1", True), ("yes", True),
                                          ("false", False), ("no", False), ("off", False), ("OFF", False),
                                          ("False", False), ("true", True), ("On", True), (" YES ", True)])
def test_is_quick(monkeypatch, value, quick):
    monkeypatch.setenv("BOOK_QUICK", value)
    assert utils.is_quick() is quick


@pytest.mark.parametrize("value", ["2", "maybe", "y", "n", "quick", "1.0", "t"])
def test_malformed_switch_is_rejected(monkeypatch, value):
    monkeypatch.setenv("BOOK_QUICK", value)
    facts = ("BOOK_QUICK", repr(value), "1/true/yes/on/0/false/no/off")   # the switch, its value, what it accepts
    with raises_naming(ValueError, *facts):
        utils.is_quick()
    with raises_naming(ValueError, *facts):
        utils.budget(full=1, quick=0)


def test_env_flag(monkeypatch):
    from utils.runtime import env_flag
    monkeypatch.delenv("BOOK_TEST_SWITCH", raising=False)
    assert env_flag("BOOK_TEST_SWITCH") is False
    monkeypatch.setenv("BOOK_TEST_SWITCH", "Yes")
    assert env_flag("BOOK_TEST_SWITCH") is True
    monkeypatch.setenv("BOOK_TEST_SWITCH", "nope")
    with pytest.raises(ValueError, match="BOOK_TEST_SWITCH='nope'"):
        env_flag("BOOK_TEST_SWITCH")
    with raises_naming(TypeError, 'name'):
        env_flag("")


def test_the_package_reads_switches_only_through_env_flag():
    """Every on/off switch goes through one parser: no module compares os.environ values itself."""
    import re
    from pathlib import Path
    package = Path(utils.__file__).parent
    for path in package.glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if re.search(r"environ\.get\((QUICK_ENV|OFFLINE_ENV|\"BOOK_QUICK\"|\"BOOK_OFFLINE\")", line):
                assert path.name == "runtime.py" and "raw = " in line, f"{path.name}: {line.strip()}"


# --------------------------------------------------------------------------- conftest: quick mode by default
CONFTEST = Path(__file__).resolve().parent.parent / "conftest.py"   # the root conftest


def import_conftest():
    """Import conftest.py afresh, as pytest does at the start of a run."""
    spec = importlib.util.spec_from_file_location("probe_conftest", CONFTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("given, seen", [(None, "1"), ("", "1"), ("0", "0"), ("false", "false"), ("1", "1")])
def test_conftest_sets_quick_mode_unless_the_caller_chose(monkeypatch, given, seen):
    if given is not None:
        monkeypatch.setenv("BOOK_QUICK", given)
    import_conftest()
    assert os.environ["BOOK_QUICK"] == seen      # the autouse fixture restores the variable afterwards


@pytest.mark.parametrize("name", ["BOOK_QUICK", "BOOK_OFFLINE"])
def test_pytest_stops_on_a_malformed_switch(monkeypatch, name):
    conftest = import_conftest()
    conftest.pytest_configure(None)                           # well-formed (or unset): nothing happens
    monkeypatch.setenv(name, "maybe")
    with raises_naming(pytest.UsageError, name, "'maybe'"):
        conftest.pytest_configure(None)
