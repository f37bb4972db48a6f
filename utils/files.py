"""Data files: find a local copy, or download one, and always verify its SHA-256.

Sources are tried in a fixed order (see :func:`fetch`). A file whose checksum does not
match is never used: a corrupt copy in a folder the user controls is an error that names
the file and both hashes; a corrupt copy in the book's own cache is reported, deleted and
fetched again. Downloads are atomic: temporary file → verify → rename.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import tempfile
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR_ENV = "BOOK_DATA_DIR"      # a folder laid out like ../shared/data
CACHE_DIR_ENV = "BOOK_CACHE_DIR"    # where downloads (and trained weights) are cached
OFFLINE_ENV = "BOOK_OFFLINE"        # set to 1 to never try the network


class DataError(RuntimeError):
    """Base class of the data errors below."""


class ChecksumError(DataError):
    """A file exists but its SHA-256 is not the expected one (corrupt, truncated or wrong)."""


class MissingDataError(DataError):
    """No copy of a file was found and none could be downloaded."""


@dataclass(frozen=True)
class DataFile:
    """One file of a data set.

    ``sha256`` is the hash of the file's bytes, or of its decompressed bytes when ``gunzip``
    is set (Fashion-MNIST: Debian's and upstream's ``.gz`` headers differ, the content does not).
    ``extra_dirs`` are further folders that may hold the file (a Debian install, a Python package).
    """

    dataset: str
    name: str
    sha256: str
    url: str | None = None
    gunzip: bool = False
    extra_dirs: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise ValueError(f"{self.name}: sha256 must be 64 lower-case hex digits, got {self.sha256!r}")


def cache_dir() -> Path:
    """The book's cache: ``$BOOK_CACHE_DIR``, else ``$XDG_CACHE_HOME/llm-book``, else ``~/.cache/llm-book``."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "llm-book"


def sha256_of(path: Path, *, gunzip: bool = False) -> str:
    """SHA-256 of a file's bytes, or of its decompressed bytes when ``gunzip`` is set."""
    digest = hashlib.sha256()
    opener = gzip.open if gunzip else open
    try:
        with opener(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except (EOFError, OSError, gzip.BadGzipFile) as exc:  # truncated or not gzip at all
        return f"unreadable ({type(exc).__name__}: {exc})"
    return digest.hexdigest()


def verify(path: Path, spec: DataFile) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has the checksum ``spec`` expects."""
    actual = sha256_of(path, gunzip=spec.gunzip)
    if actual != spec.sha256:
        what = "decompressed bytes" if spec.gunzip else "bytes"
        raise ChecksumError(
            f"{spec.dataset}/{spec.name}: checksum mismatch at {path}\n"
            f"  expected SHA-256 of the {what}: {spec.sha256}\n"
            f"  actual:                          {actual}\n"
            "The file is corrupt, truncated or a different version; it was not used. "
            "Delete it and provide a good copy (or let the book download it again)."
        )


def package_dir(package: str, *parts: str) -> str | None:
    """Folder inside an installed package, located without importing (running) the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return str(Path(list(spec.submodule_search_locations)[0], *parts))


def _download(spec: DataFile, target: Path) -> None:
    """Download ``spec.url`` to ``target`` atomically; verify before the rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(spec.url, timeout=60) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
        verify(tmp, spec)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def fetch(spec: DataFile) -> Path:
    """Return the path of a verified copy of ``spec``.

    Order: ``$BOOK_DATA_DIR/<dataset>/<name>`` → the cache → ``spec.extra_dirs`` → download
    into the cache (unless ``BOOK_OFFLINE=1``).
    """
    searched: list[str] = []
    data_dir = os.environ.get(DATA_DIR_ENV)
    if data_dir:
        candidate = Path(data_dir).expanduser() / spec.dataset / spec.name
        searched.append(f"{candidate} (from {DATA_DIR_ENV})")
        if candidate.is_file():
            verify(candidate, spec)
            return candidate
    else:
        searched.append(f"${DATA_DIR_ENV} (not set)")

    cached = cache_dir() / spec.dataset / spec.name
    searched.append(f"{cached} (cache)")
    if cached.is_file():
        try:
            verify(cached, spec)
            return cached
        except ChecksumError as exc:
            warnings.warn(f"removing a corrupt cached file and fetching it again:\n{exc}", stacklevel=2)
            cached.unlink()

    for folder in spec.extra_dirs:
        candidate = Path(folder) / spec.name
        searched.append(str(candidate))
        if candidate.is_file():
            verify(candidate, spec)
            return candidate

    reason = "no download address is known"
    if spec.url and os.environ.get(OFFLINE_ENV, "").strip() not in ("", "0"):
        reason = f"{OFFLINE_ENV} is set, so {spec.url} was not tried"
    elif spec.url:
        try:
            _download(spec, cached)
            return cached
        except ChecksumError:
            raise
        except OSError as exc:  # URLError, timeouts, refused connections are OSErrors
            reason = f"downloading {spec.url} failed: {exc}"
    raise MissingDataError(
        f"{spec.dataset}/{spec.name} is missing and could not be fetched ({reason}).\n"
        "Looked in:\n  " + "\n  ".join(searched) + "\n"
        "Provide it in one of two ways:\n"
        f"  1. set {DATA_DIR_ENV} to a folder that holds {spec.dataset}/{spec.name} "
        "(for this project: BOOK_DATA_DIR=../shared/data), or\n"
        f"  2. connect to the network once so that it is downloaded into {cache_dir()}."
    )
