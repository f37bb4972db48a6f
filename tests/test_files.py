"""utils.files: checksummed data files found locally, in the cache, or downloaded."""
from __future__ import annotations

import gzip
import hashlib
import re
import sys
from pathlib import Path

import pytest

import utils
from utils.files import ChecksumError, DataFile, MissingDataError, fetch, package_dir, sha256_of

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
    with pytest.raises(ValueError, match=r"a\.txt: sha256 must be 64 lower-case hex digits"):
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
    with pytest.raises(ChecksumError) as info:
        fetch(spec())
    message = str(info.value)
    assert "ds/a.txt: checksum mismatch" in message
    assert str(path) in message
    assert re.search(rf"expected SHA-256 of the bytes: {SHA}", message)
    assert re.search(rf"actual: +{actual}", message)
    assert "corrupt, truncated or a different version" in message
    assert path.read_bytes() != CONTENT  # the user's file is reported, not deleted or replaced
    assert isinstance(info.value, utils.DataError)


def test_truncated_gzip_in_book_data_dir_is_a_checksum_error(data_dir):
    write(data_dir / "ds" / "a.gz", gzip.compress(CONTENT)[:-12])
    with pytest.raises(ChecksumError, match=r"(?s)ds/a\.gz: checksum mismatch.*"
                                            r"expected SHA-256 of the decompressed bytes: " + SHA +
                                            r".*actual: +unreadable \("):
        fetch(spec("a.gz", gunzip=True))


def test_missing_file_offline(data_dir, isolated_book_env):
    s = spec(url="https://example.invalid/a.txt")
    with pytest.raises(MissingDataError) as info:
        fetch(s)
    message = str(info.value)
    assert "ds/a.txt is missing and could not be fetched" in message
    assert "BOOK_OFFLINE is set, so https://example.invalid/a.txt was not tried" in message
    assert str(data_dir / "ds" / "a.txt") + " (from BOOK_DATA_DIR)" in message
    assert str(isolated_book_env / "ds" / "a.txt") + " (cache)" in message
    assert "set BOOK_DATA_DIR to a folder that holds ds/a.txt" in message
    assert f"downloaded into {isolated_book_env}" in message
    assert isinstance(info.value, utils.DataError)


def test_missing_file_without_data_dir_or_url(monkeypatch):
    monkeypatch.delenv("BOOK_DATA_DIR", raising=False)
    with pytest.raises(MissingDataError, match=r"(?s)no download address is known.*\$BOOK_DATA_DIR \(not set\)"):
        fetch(spec())


def test_corrupt_cached_file_is_removed_then_missing_offline(data_dir, isolated_book_env):
    cached = write(isolated_book_env / "ds" / "a.txt", b"corrupt bytes")
    with pytest.warns(UserWarning, match=r"(?s)removing a corrupt cached file.*ds/a\.txt: checksum mismatch"):
        with pytest.raises(MissingDataError, match=r"ds/a\.txt is missing"):
            fetch(spec(url="https://example.invalid/a.txt"))
    assert not cached.exists()


def test_extra_dirs_are_searched(data_dir, tmp_path):
    first, second = tmp_path / "extra1", tmp_path / "extra2"
    first.mkdir()
    path = write(second / "a.txt", CONTENT)
    assert fetch(spec(extra_dirs=(str(first), str(second)))) == path


def test_corrupt_file_in_extra_dir_is_an_error(data_dir, tmp_path):
    write(tmp_path / "extra" / "a.txt", b"wrong")
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        fetch(spec(extra_dirs=(str(tmp_path / "extra"),)))


def test_missing_file_lists_the_extra_dirs_searched(data_dir, tmp_path):
    with pytest.raises(MissingDataError, match=re.escape(str(tmp_path / "nowhere" / "a.txt"))):
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
    with pytest.warns(UserWarning, match="removing a corrupt cached file"):
        assert fetch(spec(url=source.as_uri())) == cached
    assert cached.read_bytes() == CONTENT
    assert files_under(isolated_book_env) == [cached]


def test_download_with_wrong_bytes_leaves_nothing(data_dir, tmp_path, isolated_book_env, online):
    source = write(tmp_path / "server" / "a.txt", b"a different version of the file")
    with pytest.raises(ChecksumError, match=r"(?s)ds/a\.txt: checksum mismatch.*expected SHA-256 of the bytes: " + SHA):
        fetch(spec(url=source.as_uri()))
    assert files_under(isolated_book_env) == []


def test_failed_download_is_a_missing_data_error(data_dir, tmp_path, isolated_book_env, online):
    url = (tmp_path / "server" / "absent.txt").as_uri()
    with pytest.raises(MissingDataError, match=rf"downloading {re.escape(url)} failed"):
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
