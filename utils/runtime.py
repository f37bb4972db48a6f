"""Notebook set-up: seeds, device, plot style, and the quick/full switch.

Every notebook starts with ``device = utils.setup()``. Long work is sized with
``utils.budget(full=..., quick=...)``: the full value is what the stored outputs show,
the quick value is what ``make test`` (``BOOK_QUICK=1``) runs so that every notebook
executes in CI in well under a minute. The code path is the same in both modes.
"""
from __future__ import annotations

import os
import random
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

QUICK_ENV = "BOOK_QUICK"


def is_quick() -> bool:
    """True when the environment variable ``BOOK_QUICK`` is set to anything but ``""``/``"0"``."""
    return os.environ.get(QUICK_ENV, "").strip() not in ("", "0")


def budget(full: T, quick: T) -> T:
    """Return ``quick`` in quick mode and ``full`` otherwise (sizes of data, steps, epochs)."""
    return quick if is_quick() else full


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's generators so that a run can be repeated."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pick_device() -> torch.device:
    """CUDA if present, else Apple's MPS if present, else the CPU (what the book is written for)."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


PLOT_STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 96,
    "savefig.dpi": 96,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": "medium",
    "legend.frameon": False,
    "image.cmap": "viridis",
}


def set_plot_style() -> None:
    """One plot style for the whole book (small PNGs, light grid, no top/right spines)."""
    import matplotlib as mpl

    mpl.rcParams.update(PLOT_STYLE)


def setup(seed: int = 0, *, verbose: bool = True) -> torch.device:
    """Seed everything, set the plot style, pick the device, and say which mode runs.

    Returns the device the notebook should use.
    """
    seed_everything(seed)
    set_plot_style()
    device = pick_device()
    if verbose:
        mode = "quick (BOOK_QUICK=1: small data, few steps)" if is_quick() else "full"
        print(f"mode: {mode} | device: {device.type} | torch {torch.__version__.split('+')[0]} | seed {seed}")
    return device
