"""One sequence classifier with three interchangeable mixers, for comparing architectures (FAQ 6.1).

``SequenceClassifier(config)`` reads a sequence of T steps and returns class logits (N, M). Only the
part that mixes information *across* steps changes with ``config.kind``; the input layer, dropout and
the linear head are the same for all three:

* ``"cnn"``: 1-D convolutions over time with several kernel widths K, ReLU, then the maximum over
  time of every channel (Kim 2014's sentence CNN); padding positions are excluded from the maximum.
* ``"lstm"``: an LSTM (``nn.LSTM``) over the real steps (packed, so padding is never read); the
  last hidden state of the top layer is the sequence's vector.
* ``"transformer"``: learned position embeddings added to the inputs, then pre-norm
  :class:`utils.layers.transformer.TransformerBlock` layers whose attention never looks at padding, a final
  LayerNorm, and the mean over the real steps.

The input layer is ``nn.Embedding(vocab_size, embed_dim)`` for token ids (N, T) (id 0 is padding,
as in :mod:`utils.data.text`; like the position embeddings it starts as N(0, 0.02²), BERT's and GPT-2's
choice), or ``nn.Linear(input_size, embed_dim)`` for real-valued steps
(N, T, input_size), e.g. the 28 rows of 28 pixels of an image (:class:`ImageRows` turns a batch of
images into that). ``forward(x, lengths=None)``: ``lengths`` (N,) gives each sequence's number of
real steps (all T when None).

Shapes follow the notation appendix: N batch, T steps, D = ``embed_dim``, C channels per kernel
width, K kernel width, M classes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from ..checks import check_choice, check_int, check_number
from ..layers.transformer import LayerNorm, TransformerBlock, padding_mask

KINDS = ("cnn", "lstm", "transformer")


@dataclass
class SequenceClassifierConfig:
    """Give exactly one of ``vocab_size`` (token ids) or ``input_size`` (real-valued steps).

    ``num_layers`` counts LSTM layers or Transformer blocks (the CNN has one convolution layer, as in
    Kim 2014); ``kernel_sizes`` and ``channels`` (C per width) are the CNN's; ``num_heads``,
    ``dim_feedforward`` and ``max_len`` (positions that have an embedding) the Transformer's;
    ``hidden_size`` is the LSTM's D (default: ``embed_dim``). ``dropout`` acts on the input layer's
    output and on the pooled vector for every kind (and inside the Transformer's blocks).
    """

    kind: str
    num_classes: int = 2
    vocab_size: int | None = None
    input_size: int | None = None
    embed_dim: int = 128
    num_layers: int = 1
    dropout: float = 0.0
    kernel_sizes: tuple[int, ...] = (3, 4, 5)
    channels: int = 100
    hidden_size: int | None = None
    num_heads: int = 4
    dim_feedforward: int = 256
    max_len: int = 128

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, KINDS)
        if (self.vocab_size is None) == (self.input_size is None):
            raise ValueError(f"give exactly one of vocab_size (token ids) or input_size (real-valued "
                             f"steps), got vocab_size={self.vocab_size}, input_size={self.input_size}")
        if self.vocab_size is not None:
            check_int("vocab_size", self.vocab_size, minimum=2)
        if self.input_size is not None:
            check_int("input_size", self.input_size)
        check_int("num_classes", self.num_classes, minimum=2)
        for name in ("embed_dim", "num_layers", "channels", "num_heads", "dim_feedforward", "max_len"):
            check_int(name, getattr(self, name))
        check_number("dropout", self.dropout, low=0, high=1, high_open=True)
        self.kernel_sizes = tuple(self.kernel_sizes)
        if not self.kernel_sizes:
            raise ValueError("kernel_sizes must list at least one kernel width, got ()")
        for k in self.kernel_sizes:
            check_int("kernel_sizes entry", k)
        if self.hidden_size is None:
            self.hidden_size = self.embed_dim
        check_int("hidden_size", self.hidden_size)
        if self.kind == "transformer" and self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim ({self.embed_dim}) must be divisible by num_heads ({self.num_heads})")

    @property
    def features(self) -> int:
        """Width of the pooled vector the head reads: C · (number of widths), D of the LSTM, or D."""
        return {"cnn": self.channels * len(self.kernel_sizes), "lstm": self.hidden_size,
                "transformer": self.embed_dim}[self.kind]


class ImageRows(nn.Module):
    """Images (N, 1, H, W) → sequences (N, T = H, W): each row of pixels is one step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 1:
            raise ValueError(f"expected one-channel images (N, 1, H, W), got shape {tuple(x.shape)}")
        return x[:, 0]                                                    # (N, H, W)


class SequenceClassifier(nn.Module):
    """``model(x, lengths=None)`` → logits (N, M); x: ids (N, T) or steps (N, T, input_size)."""

    def __init__(self, config: SequenceClassifierConfig):
        super().__init__()
        self.config = c = config
        if c.vocab_size is not None:
            self.input_layer: nn.Module = nn.Embedding(c.vocab_size, c.embed_dim, padding_idx=0)
        else:
            self.input_layer = nn.Linear(c.input_size, c.embed_dim)
        self.dropout = nn.Dropout(c.dropout)
        if c.kind == "cnn":
            # padding K-1 on both sides: every window that touches a real step is computed, so a
            # sequence shorter than K still has outputs (Kim pads short sentences for the same reason)
            self.convs = nn.ModuleList(nn.Conv1d(c.embed_dim, c.channels, k, padding=k - 1)
                                       for k in c.kernel_sizes)
        elif c.kind == "lstm":
            self.lstm = nn.LSTM(c.embed_dim, c.hidden_size, num_layers=c.num_layers, batch_first=True,
                                dropout=c.dropout if c.num_layers > 1 else 0.0)
        else:
            self.position = nn.Embedding(c.max_len, c.embed_dim)
            self.blocks = nn.ModuleList(
                TransformerBlock(c.embed_dim, c.num_heads, c.dim_feedforward, c.dropout, activation="gelu",
                                 norm_first=True, fused=True, fused_norm=True)
                for _ in range(c.num_layers))
            self.norm = LayerNorm(c.embed_dim, fused=True)
        self.head = nn.Linear(c.features, c.num_classes)
        for module in self.modules():       # embeddings start small, N(0, 0.02²), as in BERT and GPT-2,
            if isinstance(module, nn.Embedding):    # so that Adam's steps of about lr move them
                nn.init.normal_(module.weight, std=0.02)
                if module.padding_idx is not None:
                    nn.init.zeros_(module.weight[module.padding_idx])

    def _check(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        c = self.config
        if c.vocab_size is not None and (x.ndim != 2 or x.is_floating_point()):
            raise ValueError(f"expected token ids (N, T), got {x.dtype} of shape {tuple(x.shape)}")
        if c.input_size is not None and (x.ndim != 3 or x.shape[2] != c.input_size):
            raise ValueError(f"expected steps (N, T, {c.input_size}), got shape {tuple(x.shape)}")
        n, t = x.shape[:2]
        if c.kind == "transformer" and t > c.max_len:
            raise ValueError(f"sequences of {t} steps are longer than max_len={c.max_len}")
        if lengths is None:
            return torch.full((n,), t, dtype=torch.long, device=x.device)
        if lengths.shape != (n,) or int(lengths.min()) < 1 or int(lengths.max()) > t:
            raise ValueError(f"lengths must be (N,) = ({n},) values in [1, {t}], got {lengths.tolist()[:5]}...")
        return lengths

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        lengths = self._check(x, lengths)
        n, t = x.shape[:2]
        real = torch.arange(t, device=x.device) < lengths[:, None]          # (N, T) True at real steps
        h = self.input_layer(x)                                              # (N, T, D)
        kind = self.config.kind
        if kind == "transformer":
            h = h + self.position.weight[:t]                                 # (N, T, D) + (T, D)
        h = self.dropout(h)
        if kind == "cnn":
            h = h * real[:, :, None]                                         # padding steps read as zeros
            pooled = []
            for conv, k in zip(self.convs, self.config.kernel_sizes):
                out = torch.relu(conv(h.transpose(1, 2)))                    # (N, C, T + K - 1)
                # output j covers steps j-K+1 .. j: it touches a real step iff j < length + K - 1
                j = torch.arange(out.shape[2], device=x.device)
                keep = j < (lengths[:, None] + k - 1)                        # (N, T + K - 1)
                pooled.append(out.masked_fill(~keep[:, None, :], float("-inf")).amax(2))  # (N, C)
            features = torch.cat(pooled, dim=1)                              # (N, C·widths)
        elif kind == "lstm":
            if bool((lengths == t).all()):                                   # nothing to skip
                _, (h_n, _) = self.lstm(h)                                   # (layers, N, D)
            else:
                packed = pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
                _, (h_n, _) = self.lstm(packed)                              # (layers, N, D)
            features = h_n[-1]                                               # (N, D) top layer
        else:
            mask = padding_mask(lengths, t)                                  # (N, 1, 1, T)
            for block in self.blocks:
                h = block(h, mask=mask)                                      # (N, T, D)
            h = self.norm(h) * real[:, :, None]                              # padding steps → 0
            features = h.sum(1) / lengths[:, None].to(h.dtype)               # (N, D) mean of real steps
        return self.head(self.dropout(features))                             # (N, M)
