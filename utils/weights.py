"""Trained weights cached outside the repository, as safetensors files.

A chapter that trains a model saves its weights with :func:`save_weights`; a later chapter that
only needs the trained model calls :func:`load_or_train`, which loads the cached file when it
matches the model and otherwise trains (and saves) afresh. Nothing here is ever written into the
repository: the files live in ``utils.cache_dir() / "weights"``:

* ``<name>.safetensors`` in full mode;
* ``<name>.quick.safetensors`` in quick mode (``BOOK_QUICK=1``), so that the weakly trained model of
  a quick run is never loaded by a full run.

safetensors stores plain tensors and a string→string metadata dict, never pickled code, so loading
a file cannot run anything. Writes are atomic: a temporary file in the same folder, then a rename.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from .files import cache_dir
from .runtime import is_quick

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class WeightsMismatchError(ValueError):
    """A weights file does not fit the model: missing or unexpected tensors, or different shapes."""


def weights_dir() -> Path:
    """``utils.cache_dir() / "weights"`` (not created here)."""
    return cache_dir() / "weights"


def weights_path(name: str) -> Path:
    """Where the weights called ``name`` live in the current mode (see the module docstring)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"a weights name is letters, digits, '_' and '-' (no dots or slashes), got {name!r}")
    return weights_dir() / f"{name}{'.quick' if is_quick() else ''}.safetensors"


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state_dict as contiguous CPU tensors in their logical (NCHW) layout."""
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def save_weights(model: nn.Module, name: str, metadata: dict[str, str] | None = None) -> Path:
    """Save ``model.state_dict()`` (parameters and buffers) atomically; return the file's path.

    ``metadata`` is stored in the file's header (strings only), e.g. ``{"test_acc": "0.93"}``.
    """
    path = weights_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    meta.setdefault("torch", torch.__version__)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        save_file(_state(model), str(tmp), metadata=meta)
        os.replace(tmp, path)   # atomic on one file system: readers see the old file or the new one
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_weights(name: str) -> dict[str, torch.Tensor]:
    """The tensors stored under ``name``; ``FileNotFoundError`` when there is no such file,
    :class:`WeightsMismatchError` when the file is not readable safetensors."""
    path = weights_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"no cached weights {name!r} (looked for {path.name} in the book's cache "
                                f"folder {weights_dir()}); train the model to create them")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsMismatchError(f"cached weights {path.name} are unreadable ({exc}); "
                                   "delete the file or train again to replace it") from exc


def check_compatible(model: nn.Module, tensors: dict[str, torch.Tensor], name: str = "weights") -> None:
    """Raise :class:`WeightsMismatchError` unless ``tensors`` has exactly the model's state_dict
    keys with the same shapes, naming what is missing, unexpected or differently shaped."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in tensors.items()}
    missing = sorted(expected.keys() - found.keys())
    unexpected = sorted(found.keys() - expected.keys())
    shapes = sorted(f"{k}: file {found[k]} vs model {expected[k]}"
                    for k in expected.keys() & found.keys() if expected[k] != found[k])
    if missing or unexpected or shapes:
        parts = [f"{label}: {', '.join(items[:5])}{' ...' if len(items) > 5 else ''}"
                 for label, items in (("missing", missing), ("unexpected", unexpected), ("shape mismatch", shapes))
                 if items]
        raise WeightsMismatchError(f"{name} do not fit {type(model).__name__}: " + "; ".join(parts))


def load_weights(model: nn.Module, name: str) -> nn.Module:
    """Load the cached weights ``name`` into ``model`` (in place) and return the model.

    Raises ``FileNotFoundError`` when absent and :class:`WeightsMismatchError` when the file's
    tensors do not match the model's state_dict keys and shapes.
    """
    tensors = read_weights(name)
    check_compatible(model, tensors, f"cached weights {name!r}")
    model.load_state_dict(tensors)
    return model


def load_or_train(name: str, model: nn.Module, train_fn: Callable[[], object]) -> bool:
    """Load the cached weights ``name`` into ``model`` if a matching file exists; otherwise call
    ``train_fn()`` (which must train ``model`` in place) and save the result.

    Returns True when the weights were loaded, False when the model was trained now. A file that
    is unreadable or does not fit the model is replaced, never half-loaded.
    """
    try:
        load_weights(model, name)
        return True
    except (FileNotFoundError, WeightsMismatchError):
        pass
    train_fn()
    save_weights(model, name)
    return False
