"""Trained weights cached outside the repository, as safetensors files.

A chapter that trains a model saves its weights with :func:`save_weights`; a later chapter that
only needs the trained model calls :func:`load_or_train`, which loads the cached file when it
is intact, was trained with the same configuration and fits the model, and otherwise trains (and
saves) afresh, saying why. Nothing here is ever written into the repository: the files live in
``utils.cache_dir() / "weights"``, or in ``$BOOK_WEIGHTS_DIR`` when it is set (``make rebuild`` points
it at an empty folder, so that a rebuild trains every model it needs instead of reading old weights):

* ``<name>.safetensors`` in full mode;
* ``<name>.quick.safetensors`` in quick mode (``BOOK_QUICK=1``), so that the weakly trained model of
  a quick run is never loaded by a full run.

Each file's metadata (its header's string→string dict) holds, besides what the caller adds:

* ``sha256``: a SHA-256 over every tensor's name, dtype, shape and bytes and over the training
  configuration, checked on every load, so that a flipped byte is found instead of loaded;
* ``training_config``: the training configuration as canonical JSON (see :func:`config_json`)
  when the caller passes ``config=``; :func:`load_or_train` retrains when it differs.

safetensors stores plain tensors and strings, never pickled code, so loading a file cannot run
anything. Writes are atomic (:func:`utils.data.files.atomic_path`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from contextlib import contextmanager
from os import environ
from os.path import normpath
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

try:                          # POSIX; elsewhere two processes may both train (see _name_lock)
    import fcntl
except ImportError:           # pragma: no cover
    fcntl = None

from .files import PROJECT_ROOT, atomic_path, cache_dir
from ..runtime import is_quick

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
SHA256_KEY = "sha256"                 # metadata key of the checksum
CONFIG_KEY = "training_config"        # metadata key of the training configuration (canonical JSON)
# When set (``tools.rebuild.execute`` sets it), load_or_train appends one JSON line per call to this
# file, {"name": ..., "loaded": true|false}, so that a notebook's run record can say whether its time
# includes training or only reading cached weights.
USE_LOG_ENV = "BOOK_WEIGHTS_LOG"
# When set (``make rebuild`` sets it), the weights live here instead of ``cache_dir() / "weights"``.
WEIGHTS_DIR_ENV = "BOOK_WEIGHTS_DIR"


class WeightsMismatchError(ValueError):
    """A weights file cannot be used for this model: unreadable or corrupt, trained with another
    configuration, or not fitting (missing or unexpected tensors, other shapes or dtypes)."""


class CorruptWeightsError(WeightsMismatchError):
    """A weights file is unreadable, or its tensors do not match the checksum stored with them."""


class ConfigMismatchError(WeightsMismatchError):
    """A weights file was trained with another configuration than the one asked for."""


def weights_dir() -> Path:
    """``$BOOK_WEIGHTS_DIR`` (a relative path from the project root) when set, else
    ``utils.cache_dir() / "weights"`` (not created here)."""
    folder = environ.get(WEIGHTS_DIR_ENV, "").strip()
    if folder:        # relative to the project root, not to a notebook's folder (as BOOK_CACHE_DIR)
        return Path(normpath(PROJECT_ROOT / Path(folder).expanduser()))
    return cache_dir() / "weights"


def weights_path(name: str) -> Path:
    """Where the weights called ``name`` live in the current mode (see the module docstring)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"a weights name is letters, digits, '_' and '-' (no dots or slashes), got {name!r}")
    return weights_dir() / f"{name}{'.quick' if is_quick() else ''}.safetensors"


# --------------------------------------------------------------------------- configuration, checksum
def _plain(value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _plain(getattr(value, f.name), f"{where}.{f.name}") for f in dataclasses.fields(value)}
        return {"__class__": type(value).__name__, **fields}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"{where}: dict keys must be str to be stored as JSON, got {list(value)!r}")
        return {k: _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"{where}: a training configuration holds dataclasses, dicts, lists, tuples, str, "
                    f"numbers, bools and None; got {type(value).__name__} {value!r}")


def config_json(**parts: Any) -> str:
    """The training configuration as canonical JSON, for ``config=`` of :func:`save_weights`,
    :func:`load_weights` and :func:`load_or_train`.

    Dataclasses become dicts (with their class name), tuples lists, keys are sorted; e.g.
    ``config_json(model=ImprovedCNNConfig(), recipe=IMPROVED_RECIPE, seed=0)``.
    """
    return _canonical(json.dumps(_plain(parts, "config")), "config")


def _canonical(config: str, argument: str = "config") -> str:
    if not isinstance(config, str):
        raise TypeError(f"{argument} must be a JSON string (e.g. from utils.data.weights.config_json(...)), "
                        f"got {type(config).__name__} {config!r}")
    try:
        value = json.loads(config)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{argument} must be a JSON string, got {config[:80]!r} ({exc})") from None
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def tensors_sha256(tensors: dict[str, torch.Tensor], config: str | None = None,
                   metadata: dict[str, str] | None = None) -> str:
    """SHA-256 over the tensors' names, dtypes, shapes and bytes (in name order), ``config`` and the
    caller's ``metadata`` (a test accuracy or a history stored with the weights is checked too)."""
    digest = hashlib.sha256()
    if metadata:
        digest.update(b"metadata\0" + json.dumps(metadata, sort_keys=True).encode() + b"\0")
    for key in sorted(tensors):
        t = tensors[key].detach().cpu().contiguous()
        digest.update(json.dumps([key, str(t.dtype), list(t.shape)]).encode() + b"\0")
        digest.update(t.reshape(-1).view(torch.uint8).numpy())
    digest.update(b"config\0" + (b"-" if config is None else config.encode()))
    return digest.hexdigest()


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state_dict as CPU tensors in their logical (NCHW) layout, each with its own
    storage (safetensors refuses tensors that share memory, e.g. tied embedding weights)."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}


# --------------------------------------------------------------------------- save, read, load
def save_weights(model: nn.Module, name: str, metadata: dict[str, str] | None = None, *,
                 config: str | None = None) -> Path:
    """Save ``model.state_dict()`` (parameters and buffers) atomically; return the file's path.

    ``metadata`` is stored in the file's header (values turned into strings), e.g.
    ``{"test_acc": "0.93"}``. ``config`` (keyword) is the training configuration as a JSON string
    (see :func:`config_json`); it is stored, and covered by the checksum, so that
    :func:`load_or_train` can tell when the cached weights were trained differently.
    """
    path = weights_path(name)
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict of strings or None, got {type(metadata).__name__}")
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    reserved = sorted({SHA256_KEY, CONFIG_KEY} & meta.keys())
    if reserved:
        raise ValueError(f"metadata keys {reserved} are reserved for the checksum and the training "
                         "configuration; pass the configuration as config=")
    canonical = None if config is None else _canonical(config)
    tensors = _state(model)
    meta.setdefault("torch", torch.__version__)
    meta[SHA256_KEY] = tensors_sha256(tensors, canonical, meta)
    if canonical is not None:
        meta[CONFIG_KEY] = canonical
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    _log_use(name, loaded=False)     # a page that trains and saves itself is recorded as training it
    return path


def _existing(name: str) -> Path:
    path = weights_path(name)
    if path.is_dir():
        raise IsADirectoryError(f"the weights path {path} is a directory, not a weights file; remove it")
    if not path.is_file():
        raise FileNotFoundError(f"no cached weights {name!r} (looked for {path.name} in the book's cache "
                                f"folder {weights_dir()}); train the model to create them")
    return path


def read_weights_and_metadata(name: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and the metadata stored under ``name``, after checking the checksum.

    Raises ``FileNotFoundError`` when there is no such file, ``IsADirectoryError`` when a directory
    is in its place, and :class:`CorruptWeightsError` when the file is not readable safetensors or
    its tensors do not match the stored checksum (or it stores none).
    """
    path = _existing(name)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CorruptWeightsError(f"cached weights {path.name} are unreadable ({exc}); "
                                  "delete the file or train again to replace it") from exc
    stored = meta.get(SHA256_KEY)
    if stored is None:
        raise CorruptWeightsError(f"cached weights {path.name} carry no checksum (saved by an older version "
                                  "of utils), so they cannot be verified; train again to replace them")
    user = {k: v for k, v in meta.items() if k not in (SHA256_KEY, CONFIG_KEY)}
    actual = tensors_sha256(tensors, meta.get(CONFIG_KEY), user)
    if actual != stored:
        raise CorruptWeightsError(f"cached weights {path.name} are corrupt: the SHA-256 of their tensors is "
                                  f"{actual}, the file records {stored}; train again to replace them")
    return tensors, meta


def read_weights(name: str) -> dict[str, torch.Tensor]:
    """The verified tensors stored under ``name`` (see :func:`read_weights_and_metadata`)."""
    return read_weights_and_metadata(name)[0]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix or "(whole)": value}


def _config_differences(stored: str, wanted: str) -> str:
    a, b = _flatten(json.loads(stored)), _flatten(json.loads(wanted))
    diffs = [f"{k}: {a.get(k, '(absent)')!r} in the file, {b.get(k, '(absent)')!r} now"
             for k in sorted(a.keys() | b.keys()) if a.get(k, "(absent)") != b.get(k, "(absent)")]
    return "; ".join(diffs[:5]) + (f"; and {len(diffs) - 5} more" if len(diffs) > 5 else "")


def check_config(meta: dict[str, str], config: str, name: str = "weights") -> None:
    """Raise :class:`ConfigMismatchError` unless the metadata ``meta`` records the training
    configuration ``config`` (a JSON string), naming the settings that differ."""
    wanted = _canonical(config)
    stored = meta.get(CONFIG_KEY)
    if stored is None:
        raise ConfigMismatchError(f"{name} record no training configuration, so they may have been trained "
                                  "differently than asked")
    if stored != wanted:
        raise ConfigMismatchError(f"{name} were trained with another configuration: "
                                  + _config_differences(stored, wanted))


def check_compatible(model: nn.Module, tensors: dict[str, torch.Tensor], name: str = "weights") -> None:
    """Raise :class:`WeightsMismatchError` unless ``tensors`` has exactly the model's state_dict
    keys with the same shapes and dtypes, naming what is missing, unexpected or different."""
    expected = model.state_dict()
    missing = sorted(expected.keys() - tensors.keys())
    unexpected = sorted(tensors.keys() - expected.keys())
    common = sorted(expected.keys() & tensors.keys())
    shapes = [f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(expected[k].shape)}"
              for k in common if tensors[k].shape != expected[k].shape]
    dtypes = [f"{k}: file {tensors[k].dtype} vs model {expected[k].dtype}"
              for k in common if tensors[k].dtype != expected[k].dtype]
    if missing or unexpected or shapes or dtypes:
        parts = [f"{label}: {', '.join(items[:5])}{' ...' if len(items) > 5 else ''}"
                 for label, items in (("missing", missing), ("unexpected", unexpected),
                                      ("shape mismatch", shapes), ("dtype mismatch", dtypes))
                 if items]
        raise WeightsMismatchError(f"{name} do not fit {type(model).__name__}: " + "; ".join(parts))


def load_weights(model: nn.Module, name: str, *, config: str | None = None) -> nn.Module:
    """Load the cached weights ``name`` into ``model`` (in place) and return the model.

    The file's checksum is verified; with ``config`` (keyword, a JSON string, see
    :func:`config_json`) the stored training configuration must equal it. Raises
    ``FileNotFoundError`` when absent, :class:`CorruptWeightsError` when corrupt,
    :class:`ConfigMismatchError` when trained differently, and :class:`WeightsMismatchError` when
    the tensors do not match the model's state_dict keys, shapes and dtypes. The model is changed
    only when every check passes.
    """
    tensors, meta = read_weights_and_metadata(name)
    if config is not None:
        check_config(meta, config, f"cached weights {name!r}")
    check_compatible(model, tensors, f"cached weights {name!r}")
    model.load_state_dict(tensors)
    _log_use(name, loaded=True)      # every read lands in the page's run record, also a direct one
    return model


def _check_writable(path: Path) -> None:
    """Raise before any training when the weights could not be saved at ``path`` afterwards."""
    if path.is_dir():
        raise IsADirectoryError(f"the weights path {path} is a directory, not a weights file; remove it "
                                "(nothing was trained)")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(f"{parent} is a file, where the weights folder {path.parent} "
                                         "should be; remove it (nothing was trained)")
            break


def load_or_train(name: str, model: nn.Module, train_fn: Callable[[], object], *,
                  config: str | None = None, metadata_fn: Callable[[], dict] | None = None) -> bool:
    """Load the cached weights ``name`` into ``model`` if an intact, matching file exists; otherwise
    call ``train_fn()`` (which must train ``model`` in place) and save the result.

    ``config`` (keyword) is the training configuration as a JSON string (see :func:`config_json`):
    cached weights trained with another configuration are not loaded but trained again.
    Returns True when the weights were loaded, False when the model was trained now; before
    training, one line says why (no cached file, a corrupt file, another configuration, or a file
    that does not fit the model). A file that cannot be used is replaced, never half-loaded. A
    directory at the weights path is an error before any training. ``metadata_fn()``, if given, is
    called after training and its dict is saved with the weights (e.g. the training history as
    JSON), so that a later run that loads them can still report how they were trained
    (:func:`read_weights_and_metadata`).
    """
    path = weights_path(name)
    if config is not None:
        config = _canonical(config)
    if not callable(train_fn):
        raise TypeError(f"train_fn must be a function that trains the model in place, got {train_fn!r}")
    _check_writable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _name_lock(path):      # a second process asking for the same weights waits, then loads them
        return _load_or_train(name, path, model, train_fn, config, metadata_fn)


@contextmanager
def _name_lock(path: Path):
    """An exclusive lock between processes for one weights file (``flock`` on a hidden lock file
    beside it; a no-op where ``fcntl`` is missing)."""
    if fcntl is None:
        yield
        return
    with open(path.parent / f".{path.name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _load_or_train(name, path, model, train_fn, config, metadata_fn) -> bool:
    try:
        load_weights(model, name, config=config)
        return True
    except FileNotFoundError:
        reason = f"no cached weights ({path.name} is not in the book's cache)"
    except CorruptWeightsError as exc:
        reason = f"the cached file is corrupt or unreadable: {_short(exc, path)}"
    except ConfigMismatchError as exc:
        reason = f"the training configuration changed: {_short(exc, path)}"
    except WeightsMismatchError as exc:
        reason = f"the cached weights do not fit the model: {_short(exc, path)}"
    print(f"training {name!r} now, because {reason}")
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    train_fn()
    if all(torch.equal(v, before[k]) for k, v in model.state_dict().items()):
        raise ValueError(f"train_fn left every weight of the model unchanged, so {name!r} would cache an "
                         f"untrained model (nothing was saved): train_fn must train the model passed to "
                         f"load_or_train in place")
    save_weights(model, name, metadata_fn() if metadata_fn is not None else None, config=config)
    return False


def _log_use(name: str, loaded: bool) -> None:
    log = environ.get(USE_LOG_ENV)
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"name": name, "loaded": loaded}) + "\n")


def _short(exc: Exception, path: Path) -> str:
    """An error message without machine paths (notebook outputs must not store them)."""
    return str(exc).replace(str(path.parent) + "/", "").replace(str(path.parent), "the book's cache")
