"""utils.runtime: the quick/full switch, seeding, and notebook set-up."""
from __future__ import annotations

import os
import random

import matplotlib as mpl
import numpy as np
import pytest
import torch

import utils
from utils.runtime import PLOT_STYLE


def test_book_quick_is_unset_by_default():
    assert "BOOK_QUICK" not in os.environ
    assert utils.is_quick() is False


@pytest.mark.parametrize("value, quick", [("", False), ("0", False), (" 0 ", False), ("1", True), ("yes", True)])
def test_is_quick(monkeypatch, value, quick):
    monkeypatch.setenv("BOOK_QUICK", value)
    assert utils.is_quick() is quick


def test_budget(monkeypatch):
    assert utils.budget(full=10_000, quick=100) == 10_000
    monkeypatch.setenv("BOOK_QUICK", "1")
    assert utils.budget(full=10_000, quick=100) == 100
    assert utils.budget(full=(60000, 10), quick=(512, 1)) == (512, 1)


def draws():
    return torch.rand(5).tolist(), np.random.rand(5).tolist(), [random.random() for _ in range(5)]


def test_seed_everything_repeats_draws():
    utils.seed_everything(123)
    first = draws()
    utils.seed_everything(123)
    assert draws() == first
    utils.seed_everything(124)
    other = draws()
    assert all(a != b for a, b in zip(other, first))  # each of the three generators was reseeded


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None])
def test_seed_everything_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        utils.seed_everything(seed)


def test_setup_full_mode(capsys):
    with mpl.rc_context({"axes.spines.top": True, "figure.dpi": 200, "axes.grid": False}):
        device = utils.setup(seed=7)
        assert mpl.rcParams["axes.spines.top"] is False
        assert mpl.rcParams["figure.dpi"] == 96 and mpl.rcParams["axes.grid"] is True
        assert all(mpl.rcParams[k] == (list(v) if isinstance(v, tuple) else v) for k, v in PLOT_STYLE.items())
    assert isinstance(device, torch.device) and device == utils.pick_device()
    out = capsys.readouterr().out
    assert out.startswith("mode: full |") and f"device: {device.type}" in out and "seed 7" in out
    assert "quick" not in out


def test_setup_quick_mode_and_seed(monkeypatch, capsys):
    monkeypatch.setenv("BOOK_QUICK", "1")
    with mpl.rc_context():
        utils.setup(seed=5)
        after_setup = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(after_setup, torch.rand(3))
    assert capsys.readouterr().out.startswith("mode: quick")


def test_setup_quiet(capsys):
    with mpl.rc_context():
        assert isinstance(utils.setup(verbose=False), torch.device)
    assert capsys.readouterr().out == ""
