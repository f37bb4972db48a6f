"""Data files: find a local copy, or download one, and always verify its SHA-256.

Sources are tried in a fixed order (see :func:`fetch`). A file whose checksum does not
match is never used: a corrupt copy in a folder the user controls is an error that names
the file and both hashes; a corrupt copy in the book's own cache is reported and replaced
by a fresh download (or removed when none is possible).

The cache is safe for several processes at once (two notebooks, parallel tests): every file
enters it through :func:`atomic_path` (temporary file in the same folder → verify → ``os.replace``),
so a reader sees the old file or the new one, never half a file; and a process that found a corrupt
copy removes it only if it is still that same copy, never a good one another process has just put
in its place.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import stat
import tempfile
import urllib.request
import warnings
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..runtime import env_flag

try:                         # POSIX; elsewhere the cache's lock is a no-op (see _folder_lock)
    import fcntl
except ImportError:          # pragma: no cover - Windows
    fcntl = None

DATA_DIR_ENV = "BOOK_DATA_DIR"      # a folder laid out like ../shared/data
CACHE_DIR_ENV = "BOOK_CACHE_DIR"    # where downloads (and trained weights) are cached
OFFLINE_ENV = "BOOK_OFFLINE"        # an on/off switch (see utils.runtime.env_flag): on = never try the network

# The project's root folder (the one holding utils/): a relative BOOK_DATA_DIR is resolved against it,
# so that it means the same folder from the root, from a notebook's folder, and from JupyterLab.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"   # where this project's offline copies live


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
    ``install_hint`` is one more way to provide the file, shown when it is missing
    (e.g. ``"pip install some-package==1.0"``).
    """

    dataset: str
    name: str
    sha256: str
    url: str | None = None
    gunzip: bool = False
    extra_dirs: tuple[str, ...] = field(default=())
    install_hint: str = ""

    def __post_init__(self) -> None:
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise ValueError(f"{self.name}: sha256 must be 64 lower-case hex digits, got {self.sha256!r}")
        if not isinstance(self.install_hint, str):
            raise TypeError(f"{self.name}: install_hint must be a str, got {self.install_hint!r}")


def cache_dir() -> Path:
    """The book's cache: ``$BOOK_CACHE_DIR`` (a relative path from the project root), else ``$XDG_CACHE_HOME/llm-book``, else ``~/.cache/llm-book``."""
    if os.environ.get(CACHE_DIR_ENV, "").strip():
        # a relative path is taken from the project root, as for BOOK_DATA_DIR: a notebook runs in its
        # own folder, and the cache must not land inside chapters/
        return Path(os.path.normpath(PROJECT_ROOT / Path(os.environ[CACHE_DIR_ENV].strip()).expanduser()))
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "llm-book"


def data_dir() -> Path | None:
    """``$BOOK_DATA_DIR`` as an absolute path (a relative one is taken from the project root), or None."""
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    if not value:
        return None
    return Path(os.path.normpath(PROJECT_ROOT / Path(value).expanduser()))


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` between processes (``flock`` on the folder itself, so no
    lock file is left behind). Every change of a cached file's name — the rename that installs a
    new copy, the removal of a corrupt one — happens under it, so a process that removes a corrupt
    copy never removes a good one that another process has just installed. Where ``fcntl`` is
    missing (Windows) it does nothing."""
    if fcntl is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)          # closing releases the lock


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Write ``target`` atomically: yields a temporary path in the same folder to write (and verify);
    when the block ends without an exception the file is renamed onto ``target`` (``os.replace``,
    atomic on one file system), otherwise it is deleted and ``target`` is left as it was.

    A directory at ``target`` raises ``IsADirectoryError`` before anything is written.
    """
    target = Path(target)
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a directory, where a file should be written; remove it")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with _folder_lock(target.parent):
            os.replace(tmp, target)   # readers see the old file or the new one, never half a file
    finally:
        tmp.unlink(missing_ok=True)


def sha256_of(path: Path, *, gunzip: bool = False) -> str:
    """SHA-256 of a file's bytes, or of its decompressed bytes when ``gunzip`` is set.

    A file that cannot be read to the end (truncated, not gzip, a corrupt deflate stream, gone)
    gives ``"unreadable (<reason>)"``, which never equals a hash.
    """
    digest = hashlib.sha256()
    opener = gzip.open if gunzip else open
    try:
        with opener(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except (EOFError, OSError, gzip.BadGzipFile, zlib.error) as exc:  # BadGzipFile is an OSError; listed to be plain
        return f"unreadable ({type(exc).__name__}: {exc})"
    return digest.hexdigest()


def _mismatch(spec: DataFile, where: str, actual: str, advice: str) -> ChecksumError:
    what = "decompressed bytes" if spec.gunzip else "bytes"
    return ChecksumError(
        f"{spec.dataset}/{spec.name}: checksum mismatch {where}\n"
        f"  expected SHA-256 of the {what}: {spec.sha256}\n"
        f"  actual:{' ' * (19 + len(what))}{actual}\n"
        f"The file is corrupt, truncated or a different version; it was not used. {advice}"
    )


def verify(path: Path, spec: DataFile) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has the checksum ``spec`` expects."""
    actual = sha256_of(path, gunzip=spec.gunzip)
    if actual != spec.sha256:
        raise _mismatch(spec, f"at {path}", actual,
                        "Delete it and provide a good copy (or let the book download it again).")


def package_dir(package: str, *parts: str) -> str | None:
    """Folder inside an installed package, located without importing (running) the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return str(Path(list(spec.submodule_search_locations)[0], *parts))


def _download(spec: DataFile, target: Path) -> None:
    """Download ``spec.url`` to ``target`` atomically; verify before the rename.

    A download with the wrong bytes raises :class:`ChecksumError` naming the URL; nothing is saved.
    """
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as out, urllib.request.urlopen(spec.url, timeout=60) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
        actual = sha256_of(tmp, gunzip=spec.gunzip)
        if actual != spec.sha256:
            raise _mismatch(spec, f"in the download from {spec.url}", actual,
                            "Nothing was saved. The server may now hold a different version: "
                            f"provide a good copy through {DATA_DIR_ENV} instead.")


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino, a.st_size, a.st_mtime_ns) == (b.st_dev, b.st_ino, b.st_size, b.st_mtime_ns)


def _discard(path: Path, seen: os.stat_result) -> None:
    """Remove the corrupt file ``seen`` at ``path``, unless another process got there first.

    Under the folder's lock (which every installation of a new copy also takes) the file at ``path``
    is removed only if it is still the one found corrupt: if another process has meanwhile removed
    it, or put a verified copy there, nothing is done. (An earlier version renamed the file aside to
    check it, which left ``path`` missing for a moment, and a process reading the good copy then
    failed with FileNotFoundError.)
    """
    with _folder_lock(path.parent):
        try:
            now = os.stat(path)
        except FileNotFoundError:
            return          # another process removed it already
        if _same_file(now, seen):
            path.unlink()


def _cached_copy(cached: Path, spec: DataFile) -> bool:
    """True when ``cached`` holds a verified copy; a corrupt copy is reported and removed."""
    for _ in range(3):      # a corrupt copy may be replaced by another process while we look
        try:
            seen = os.stat(cached)
        except FileNotFoundError:
            return False
        if not stat.S_ISREG(seen.st_mode):
            return False
        try:
            verify(cached, spec)
            return True
        except ChecksumError as exc:
            warnings.warn(f"removing a corrupt cached file and fetching it again:\n{exc}", stacklevel=3)
            _discard(cached, seen)
    return False


def _where(path: Path, label: str) -> str:
    if path.is_dir():
        return f"{path} ({label}: is a directory, not a file)"
    return f"{path} ({label})" if label else str(path)


def fetch(spec: DataFile) -> Path:
    """Return the path of a verified copy of ``spec``.

    Order: ``$BOOK_DATA_DIR/<dataset>/<name>`` (a relative ``BOOK_DATA_DIR`` is taken from the
    project root) → the cache → ``spec.extra_dirs`` → download into the cache (unless
    ``BOOK_OFFLINE`` is on).
    """
    offline = env_flag(OFFLINE_ENV)     # a malformed switch is an error before any work
    searched: list[str] = []
    folder = data_dir()
    if folder is not None:
        candidate = folder / spec.dataset / spec.name
        label = f"from {DATA_DIR_ENV}" + ("" if folder.is_dir() else f"; {folder} is not an existing folder")
        searched.append(_where(candidate, label))
        if candidate.is_file():
            verify(candidate, spec)
            return candidate
    else:
        searched.append(f"${DATA_DIR_ENV} (not set)")

    cached = cache_dir() / spec.dataset / spec.name
    searched.append(_where(cached, "cache"))
    if _cached_copy(cached, spec):
        return cached

    for extra in spec.extra_dirs:
        candidate = Path(extra) / spec.name
        searched.append(_where(candidate, ""))
        if candidate.is_file():
            verify(candidate, spec)
            return candidate

    reason = "no download address is known"
    if spec.url and offline:
        reason = f"{OFFLINE_ENV} is on, so {spec.url} was not tried"
    elif spec.url and cached.is_dir():
        reason = f"the cache path {cached} is a directory, so {spec.url} was not downloaded there"
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
        "Looked in:\n  " + "\n  ".join(searched) + "\n" + _how_to_provide(spec, offline))


def _how_to_provide(spec: DataFile, offline: bool) -> str:
    rel = f"{spec.dataset}/{spec.name}"
    ways = [f"set {DATA_DIR_ENV} to a folder that holds {rel} (an absolute path, or one relative to "
            f"the project root {PROJECT_ROOT})"]
    if (SHARED_DATA / spec.dataset / spec.name).is_file():
        ways[0] += f"; this machine has one: {DATA_DIR_ENV}={SHARED_DATA}"
    if spec.install_hint:
        ways.append(spec.install_hint)
    if spec.url:
        network = "unset BOOK_OFFLINE (or set it to 0) and " if offline else ""
        ways.append(f"{network}connect to the network once, so that it is downloaded from {spec.url} "
                    f"into {cache_dir()}")
    return "Provide it in one of these ways:\n" + "\n".join(f"  {i}. {w}" for i, w in enumerate(ways, 1))


def load_safetensors(path: str | Path, what: str = "checkpoint") -> dict:
    """Every tensor of the safetensors file ``path``, or an error that names the file: a
    ``FileNotFoundError`` when it is absent, a ``ValueError`` when it is not readable safetensors
    (truncated, another format), instead of the library's "invalid header length" naming nothing."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {what} at {path}" + (" (a directory)" if path.is_dir() else ""))
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise ValueError(f"the {what} {path} is not a readable safetensors file ({exc}): it may be truncated "
                         f"or corrupt; fetch it again") from exc
