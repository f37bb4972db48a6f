"""The article's LSTM sentence classifier (§4.2), over the padded ids of :mod:`utils.data.text`.

* :class:`SentenceClassifierConfig`: Embedding → (bi)LSTM stack → pooling → Linear, and Keras' or
  PyTorch's initialisation.
* :class:`SentenceClassifier`: Embedding → (bi)LSTM stack → last state or max over time → Linear,
  with padding handled by packed sequences, so that padding never changes a prediction.

Shapes follow the notation appendix: N sentences, T time steps (tokens), E embedding width,
D hidden size, n_dir = 2 if bidirectional else 1, M classes. Id 0 is padding (``PAD_ID`` of
:mod:`utils.data.text`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..checks import check_choice, check_ids, check_int, check_lengths, check_number
from ..data.text import PAD_ID
from ..layers.init import keras_init_


@dataclass
class SentenceClassifierConfig:
    """Embedding(vocab_size, embed_dim) → LSTM stack → pooling → Linear(n_dir·D, num_classes).

    ``dropout`` applies to the embeddings, between LSTM layers and before the classifier.
    ``pooling``: ``"last"`` (the final hidden state of the top layer; for a bidirectional LSTM the
    forward direction's last step and the backward direction's first) or ``"max"`` (the maximum of
    the top layer's outputs over the real time steps). ``init="keras"`` reproduces Keras' defaults.
    """

    vocab_size: int = 10_000
    embed_dim: int = 10
    hidden_size: int = 128
    num_layers: int = 2
    num_classes: int = 2
    bidirectional: bool = False
    dropout: float = 0.0
    pooling: str = "last"
    padding_idx: int = PAD_ID
    freeze_embedding: bool = False
    init: str = "keras"

    def __post_init__(self) -> None:
        check_choice("pooling", self.pooling, ("last", "max"))
        check_choice("init", self.init, ("keras", "pytorch"))
        check_number("dropout", self.dropout, low=0, high=1, high_open=True)
        for name in ("vocab_size", "embed_dim", "hidden_size", "num_layers"):
            check_int(name, getattr(self, name))
        check_int("num_classes", self.num_classes, minimum=2)
        check_int("padding_idx", self.padding_idx, minimum=0)
        if self.padding_idx >= self.vocab_size:
            raise ValueError(f"padding_idx must be an id below vocab_size={self.vocab_size}, got {self.padding_idx}")

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1


class SentenceClassifier(nn.Module):
    """``model(ids (N, T), lengths (N,)) → logits (N, num_classes)``; ids beyond ``lengths`` are ignored.

    ``embedding_weight`` (vocab_size, embed_dim), if given, initialises the embedding (e.g. MiniLM's);
    ``config.freeze_embedding`` keeps it fixed during training.
    """

    def __init__(self, config: SentenceClassifierConfig | None = None, embedding_weight: torch.Tensor | None = None):
        super().__init__()
        self.config = c = config or SentenceClassifierConfig()
        self.embedding = nn.Embedding(c.vocab_size, c.embed_dim, padding_idx=c.padding_idx)
        self.lstm = nn.LSTM(c.embed_dim, c.hidden_size, num_layers=c.num_layers, batch_first=True,
                            bidirectional=c.bidirectional, dropout=c.dropout if c.num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(c.dropout)
        self.classifier = nn.Linear(c.directions * c.hidden_size, c.num_classes)
        if c.init == "keras":
            self.apply(keras_init_)
        if embedding_weight is not None:
            if tuple(embedding_weight.shape) != (c.vocab_size, c.embed_dim):
                raise ValueError(f"embedding_weight has shape {tuple(embedding_weight.shape)}, the config asks for "
                                 f"({c.vocab_size}, {c.embed_dim})")
            with torch.no_grad():
                self.embedding.weight.copy_(embedding_weight)
        self.embedding.weight.requires_grad_(not c.freeze_embedding)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        check_ids(ids, self.config.vocab_size)                                 # (N, T) int64 in [0, V)
        # pack_padded_sequence wants the lengths on the CPU
        lengths = check_lengths(lengths, ids.size(0), ids.size(1)).cpu()        # (N,), each in [1, T]
        x = self.dropout(self.embedding(ids))                                  # (N, T, E)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, (h_n, _) = self.lstm(packed)                                      # h_n: (n_layers·n_dir, N, D)
        if self.config.pooling == "last":
            d = self.config.directions
            features = torch.cat(list(h_n[-d:]), dim=1)                        # (N, n_dir·D), top layer
        else:
            out, _ = pad_packed_sequence(out, batch_first=True, padding_value=float("-inf"))  # (N, T_max, n_dir·D)
            features = out.max(dim=1).values                                  # (N, n_dir·D)
        return self.classifier(self.dropout(features))                         # (N, M)
