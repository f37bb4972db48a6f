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

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def env_flag(name: str) -> bool:
    """The on/off switch in the environment variable ``name`` (``BOOK_QUICK``, ``BOOK_OFFLINE``).

    ``1``/``true``/``yes``/``on`` mean on; ``0``/``false``/``no``/``off`` mean off (case and
    surrounding spaces do not matter); unset or empty means off. Anything else is a mistake that
    would otherwise silently pick a mode, so it raises ``ValueError`` naming the variable and value.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be the name of an environment variable, got {name!r}")
    raw = os.environ.get(name, "")
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in ("",) + _FALSE:
        return False
    allowed = "/".join(_TRUE + _FALSE)
    raise ValueError(f"environment variable {name}={raw!r} is not an on/off switch: "
                     f"use one of {allowed} (any case), or leave it unset or empty for off")


def is_quick() -> bool:
    """True when quick mode is on: ``BOOK_QUICK`` is 1/true/yes/on (see :func:`env_flag`)."""
    return env_flag(QUICK_ENV)


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
