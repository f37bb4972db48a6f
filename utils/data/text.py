"""Text for the sentence-classification chapters: vocabularies, padding, WordPiece, and batches.

* :class:`Vocabulary`: the ``max_size`` most frequent words of the *training* sentences; id 0 is the
  padding token ``<pad>``, id 1 the unknown word ``<unk>`` (Keras' ``Embedding(mask_zero=True)`` also
  reserves 0 for padding).
* :func:`encode_batch`: sentences → ids (N, T) padded at the end with 0, and lengths (N,), cut to
  ``max_len`` tokens (a WordPiece with special tokens keeps ``[CLS]`` … ``[SEP]``, as Hugging Face does).
* :class:`WordPiece`: the same interface over a Hugging Face ``tokenizer.json`` (MiniLM's BERT WordPiece,
  where ``[PAD]`` also has id 0), and :func:`load_word_embeddings` for the matching embedding matrix.
* :func:`make_text_loader`: batches ``((ids, lengths), y)`` that ``utils.fit`` can train on; each batch
  is trimmed to its longest sentence; :class:`TextBatches` for training batches padded one of three ways
  (every sentence to one width, to the batch's longest, or batched by similar length).

Shapes follow the notation appendix: N sentences, T time steps (tokens), E embedding width, M classes.
The article's LSTM classifier that reads these ids is :mod:`utils.models.text_classifier`.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

import torch

from ..checks import check_choice, check_int, check_lengths
from .datasets import seeded_loader

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1


def tokenize(sentence: str) -> list[str]:
    """Split on white space: MR's sentences are already lower-cased and tokenised."""
    return sentence.split()


# --------------------------------------------------------------------------- word vocabulary
class Vocabulary:
    """A word ↔ id map. Ids 0 and 1 are ``<pad>`` and ``<unk>``; then words by falling frequency.

    ``counts`` holds how often each word occurred in the sentences :meth:`build` read (also the words
    that did not make it into the vocabulary); it is empty for a vocabulary given as a list.
    """

    def __init__(self, itos: Sequence[str], counts: Counter | None = None):
        itos = list(itos)
        if itos[:2] != [PAD, UNK]:
            raise ValueError(f"a vocabulary starts with {[PAD, UNK]}, got {itos[:2]}")
        if len(set(itos)) != len(itos):
            raise ValueError("the vocabulary lists a word twice")
        self.itos = itos
        self.stoi = {w: i for i, w in enumerate(itos)}
        self.counts = Counter(counts or {})

    @classmethod
    def build(cls, sentences: Iterable[str], max_size: int = 10_000, min_freq: int = 1) -> "Vocabulary":
        """The ``max_size - 2`` most frequent words (ties broken alphabetically, so builds repeat),
        plus ``<pad>`` and ``<unk>``: ``max_size`` ids in all, Keras' ``input_dim``."""
        if isinstance(sentences, str):     # iterating a string gives characters: a vocabulary of letters
            raise TypeError("sentences must be a list of sentences, not one string; wrap it: [sentence]")
        check_int("max_size", max_size, minimum=3)      # room for <pad>, <unk> and a word
        check_int("min_freq", min_freq)
        counts = Counter(w for s in sentences for w in tokenize(s))
        counts.pop(PAD, None), counts.pop(UNK, None)
        ranked = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
        return cls([PAD, UNK] + ranked[: max_size - 2], counts)

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def pad_id(self) -> int:
        return PAD_ID

    @property
    def unk_id(self) -> int:
        return UNK_ID

    def encode(self, sentence: str, max_len: int | None = None) -> list[int]:
        """The ids of the sentence's words, the first ``max_len`` of them (all if None)."""
        return [self.stoi.get(w, UNK_ID) for w in tokenize(sentence)][:max_len]

    def decode(self, ids: Iterable[int]) -> str:
        """Words of ``ids`` (an int list or 1-D tensor), padding dropped."""
        ids = [int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < len(self)]
        if bad:
            raise ValueError(f"ids {bad[:5]} are outside the vocabulary of {len(self)} words")
        return " ".join(self.itos[i] for i in ids if i != PAD_ID)


def pad_ids(sequences: Sequence[Sequence[int]], max_len: int, width: int | str | None = None,
            pad_id: int = PAD_ID) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut each id list to its first ``max_len`` ids and pad it at the end with ``pad_id``.

    ``width`` is the number of columns: ``None`` → ``max_len`` (Keras' ``pad_sequences(maxlen=...)``),
    ``"longest"`` → the longest (cut) sequence, or an int ≥ every length.
    Returns ids (N, width) int64 and lengths (N,) int64.
    """
    check_int("max_len", max_len)
    if isinstance(width, bool) or not (width is None or width == "longest" or isinstance(width, int)):
        raise TypeError(f"width must be None, 'longest' or an int, got {width!r} ({type(width).__name__})")
    cut = [list(s)[:max_len] for s in sequences]
    if not cut:
        raise ValueError("no sentences to encode")
    empty = [i for i, s in enumerate(cut) if not s]
    if empty:
        raise ValueError(f"sentences {empty[:5]} have no tokens; an LSTM needs at least one step")
    lengths = torch.tensor([len(s) for s in cut], dtype=torch.long)
    longest = int(lengths.max())
    width = max_len if width is None else longest if width == "longest" else width
    if width < longest:
        raise ValueError(f"width {width!r} is shorter than the longest sequence ({longest} tokens)")
    ids = torch.full((len(cut), width), pad_id, dtype=torch.long)
    for i, s in enumerate(cut):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return ids, lengths


def encode_batch(sentences: Sequence[str], vocab: "Vocabulary | WordPiece", max_len: int = 100,
                 width: int | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Sentences → ids (N, width) padded at the end with the pad id, and lengths (N,).

    Each sentence is cut to ``max_len`` ids by ``vocab.encode(sentence, max_len)``: its first
    ``max_len`` words, or for a :class:`WordPiece` with special tokens ``[CLS]``, the first
    ``max_len - 2`` pieces and ``[SEP]`` (Hugging Face's truncation); ``width`` as in :func:`pad_ids`.
    """
    if isinstance(sentences, str):
        raise TypeError("give a list of sentences, not one string")
    check_int("max_len", max_len)
    return pad_ids([vocab.encode(s, max_len) for s in sentences], max_len, width, vocab.pad_id)


# --------------------------------------------------------------------------- WordPiece (MiniLM / BERT)
class WordPiece:
    """BERT's WordPiece tokeniser from a ``tokenizer.json`` (e.g. ``utils.minilm_files()["tokenizer.json"]``).

    ``encode`` returns WordPiece ids without ``[CLS]``/``[SEP]`` unless ``add_special_tokens``; the
    library's own padding is switched off (:func:`encode_batch` pads), and its truncation too:
    ``encode(sentence, max_len)`` cuts the pieces so that, with the special tokens, ``max_len`` ids
    remain and ``[CLS]`` … ``[SEP]`` stay at the ends, as Hugging Face's ``truncation=True`` does.
    """

    def __init__(self, path: str | Path, add_special_tokens: bool = False):
        from tokenizers import Tokenizer

        path = Path(path)
        if not path.is_file():    # the tokenizers library would say "No such file or directory (os error 2)", no name
            raise FileNotFoundError(f"no tokenizer file at {path}; give the path of a Hugging Face tokenizer.json "
                                    f"(e.g. utils.minilm_files()['tokenizer.json'])")
        try:
            self.tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # the library raises a bare Exception for a file it cannot parse
            raise ValueError(f"{path} is not a Hugging Face tokenizer.json ({exc})") from exc
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.add_special_tokens = add_special_tokens
        pad = self.tokenizer.token_to_id("[PAD]")
        if pad is None:
            raise ValueError(f"{Path(path).name} has no [PAD] token; is it a BERT WordPiece tokenizer?")
        self.pad_id = pad
        self.unk_id = self.tokenizer.token_to_id("[UNK]")

    def __len__(self) -> int:
        return self.tokenizer.get_vocab_size()

    def _encoding(self, sentence: str, max_len: int | None):
        if max_len is None:
            return self.tokenizer.encode(sentence, add_special_tokens=self.add_special_tokens)
        special = self.tokenizer.num_special_tokens_to_add(False) if self.add_special_tokens else 0
        if max_len < special + 1:
            raise ValueError(f"max_len must leave room for {special} special token(s) and a piece, got {max_len}")
        encoding = self.tokenizer.encode(sentence, add_special_tokens=False)
        encoding.truncate(max_len - special)                                # the pieces only
        return self.tokenizer.post_process(encoding, None, self.add_special_tokens)

    def tokens(self, sentence: str, max_len: int | None = None) -> list[str]:
        return self._encoding(sentence, max_len).tokens

    def encode(self, sentence: str, max_len: int | None = None) -> list[int]:
        return self._encoding(sentence, max_len).ids

    def decode(self, ids: Iterable[int]) -> str:
        return self.tokenizer.decode([int(i) for i in ids if int(i) != self.pad_id])


def load_word_embeddings(path: str | Path, key: str = "embeddings.word_embeddings.weight") -> torch.Tensor:
    """The token-embedding matrix (vocab_size, E) of a BERT checkpoint in safetensors format."""
    from .files import load_safetensors

    tensors = load_safetensors(path, "embedding checkpoint")
    if key not in tensors:
        matches = [k for k in tensors if k.endswith(key)]
        if len(matches) != 1:
            raise KeyError(f"{Path(path).name} has no tensor {key!r}; it has e.g. {sorted(tensors)[:5]}")
        key = matches[0]
    return tensors[key].float()


# --------------------------------------------------------------------------- batches
def _check_text(ids: torch.Tensor, lengths: torch.Tensor, y: torch.Tensor) -> None:
    if not len(ids) == len(lengths) == len(y):
        raise ValueError(f"ids, lengths and labels differ in length: {len(ids)}, {len(lengths)}, {len(y)}")
    if not isinstance(ids, torch.Tensor) or ids.ndim != 2:
        raise ValueError(f"ids must be a (N, T) tensor, got {getattr(ids, 'shape', type(ids).__name__)}")
    check_lengths(lengths, len(ids), ids.size(1))   # a batch is cut to its longest length: none may exceed T


class _TextDataset(torch.utils.data.Dataset):
    """The sentences of :func:`make_text_loader`, one ``(ids (T,), length, label)`` per index."""

    def __init__(self, ids: torch.Tensor, lengths: torch.Tensor, y: torch.Tensor):
        _check_text(ids, lengths, y)
        self.ids, self.lengths, self.y = ids, lengths, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return self.ids[i], self.lengths[i], self.y[i]


def _collate(items):
    ids, lengths, y = (torch.stack(t) for t in zip(*items))
    return (ids[:, : int(lengths.max())], lengths), y          # trim columns that are padding everywhere


def make_text_loader(ids: torch.Tensor, lengths: torch.Tensor, y: torch.Tensor, batch_size: int = 128, *,
                     shuffle: bool = False, seed: int = 0) -> torch.utils.data.DataLoader:
    """Batches ``((ids (B, T_b), lengths (B,)), y (B,))`` with T_b the batch's longest sentence; seeded shuffling."""
    return seeded_loader(_TextDataset(ids, lengths, y), batch_size, shuffle=shuffle, seed=seed,
                         collate_fn=_collate)


PADDINGS = ("fixed", "batch", "bucket")


class TextBatches:
    """Training batches ``((ids (B, T_b), lengths (B,)), y (B,))`` of padded sentences, in a fresh
    random order on every pass (drawn from a generator seeded with ``seed``). ``padding``:

    * ``"fixed"``: every batch keeps all T columns of ``ids`` (pad every sentence to one width);
    * ``"batch"``: random batches cut to their longest sentence;
    * ``"bucket"``: sentences of similar length batched together (sorted inside random pools of
      ``pool_batches`` batches, the batches then shuffled), so that little of any batch is padding.

    The three see every sentence once per pass; only the grouping, and so the padding, differs.
    """

    def __init__(self, ids: torch.Tensor, lengths: torch.Tensor, y: torch.Tensor, batch_size: int = 32, *,
                 padding: str = "bucket", seed: int = 0, pool_batches: int = 50):
        _check_text(ids, lengths, y)
        self.batch_size = check_int("batch_size", batch_size)
        check_choice("padding", padding, PADDINGS)
        self.padding = padding
        self.pool = check_int("pool_batches", pool_batches) * batch_size
        self.ids, self.lengths, self.y = ids, lengths, y
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def _batches(self) -> list[torch.Tensor]:
        order = torch.randperm(len(self.y), generator=self.generator)
        if self.padding != "bucket":
            return list(order.split(self.batch_size))
        batches = []
        for pool in order.split(self.pool):
            by_length = pool[torch.argsort(self.lengths[pool], stable=True)]
            batches += list(by_length.split(self.batch_size))
        return [batches[i] for i in torch.randperm(len(batches), generator=self.generator)]

    def __iter__(self):
        for idx in self._batches():
            lengths = self.lengths[idx]
            width = self.ids.size(1) if self.padding == "fixed" else int(lengths.max())
            yield (self.ids[idx, :width], lengths), self.y[idx]
