"""BERT, the encoder the article fine-tunes (§4.3), built from the book's own Transformer blocks.

* :class:`BertConfig`: the architecture, with ``torch.nn`` names; ``BertConfig.from_json`` reads a
  Hugging Face ``config.json`` through an explicit key map.
* :class:`BertEncoder`: word + position + token-type embeddings, then ``num_layers`` post-norm
  :class:`utils.layers.transformer.TransformerBlock` with GELU, and an optional pooler (tanh of a linear map
  of the ``[CLS]`` vector). ``forward(ids, lengths)`` returns the last hidden states (N, T, D).
* :func:`load_pretrained`: a checkpoint in safetensors format (e.g. all-MiniLM-L6-v2's
  ``model.safetensors``) copied into a :class:`BertEncoder` through :func:`checkpoint_names`, an
  explicit map from the book's parameter names to the checkpoint's. Any missing, unexpected or
  mis-shaped tensor raises :class:`CheckpointError` listing every problem at once.
* :func:`mean_pool`: the sentence embedding of sentence-transformers (mean over real tokens).
* :class:`BertClassifier`: an encoder with a linear head on the mean-pooled or the [CLS] vector.

Shapes follow the notation appendix: N batch, T tokens, D = ``embed_dim``, h = ``num_heads``,
d_ff = ``dim_feedforward``, V = ``vocab_size``, M classes. Padding is at the end of each row;
``lengths`` (N,) counts the real tokens ([CLS] and [SEP] included).

One difference from Hugging Face's BERT that matters only in training: its feed-forward block has no
dropout between the two linear maps; ``TransformerBlock`` (like ``nn.TransformerEncoderLayer``) has.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..checks import check_choice, check_ids, check_int, check_lengths, check_number
from ..layers.transformer import LayerNorm, TransformerBlock, padding_mask

__all__ = ["BertConfig", "BertEncoder", "BertClassifier", "CheckpointError", "checkpoint_names",
           "load_pretrained", "mean_pool"]


@dataclass(frozen=True)
class BertConfig:
    """The architecture of a BERT encoder. The defaults are all-MiniLM-L6-v2's: 6 layers of width
    384 with 12 heads of 32, d_ff = 1536, WordPiece vocabulary of 30,522, 512 positions."""

    vocab_size: int = 30522
    embed_dim: int = 384
    num_heads: int = 12
    num_layers: int = 6
    dim_feedforward: int = 1536
    max_len: int = 512
    type_vocab_size: int = 2
    dropout: float = 0.1
    layer_norm_eps: float = 1e-12
    pad_id: int = 0
    pooler: bool = True
    fused: bool = True       # attention through F.scaled_dot_product_attention unless weights are asked for

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embed_dim", "num_heads", "num_layers", "dim_feedforward", "max_len",
                     "type_vocab_size"):
            check_int(name, getattr(self, name))
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim ({self.embed_dim}) must be divisible by num_heads ({self.num_heads})")
        check_number("dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        check_number("layer_norm_eps", self.layer_norm_eps, low=0.0, low_open=True)
        check_int("pad_id", self.pad_id, minimum=0)
        if self.pad_id >= self.vocab_size:
            raise ValueError(f"pad_id ({self.pad_id}) must be a vocabulary id, below vocab_size ({self.vocab_size})")

    # Hugging Face config.json key -> BertConfig field
    HF_KEYS = {"vocab_size": "vocab_size", "hidden_size": "embed_dim", "num_attention_heads": "num_heads",
               "num_hidden_layers": "num_layers", "intermediate_size": "dim_feedforward",
               "max_position_embeddings": "max_len", "type_vocab_size": "type_vocab_size",
               "hidden_dropout_prob": "dropout", "layer_norm_eps": "layer_norm_eps", "pad_token_id": "pad_id"}

    @classmethod
    def from_json(cls, path: str | Path, **overrides) -> "BertConfig":
        """The config of a Hugging Face BERT checkpoint (``config.json``). Refuses anything this
        encoder does not implement (another activation, relative positions, unequal dropouts)."""
        path = Path(path)
        try:
            hf = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON ({exc}); give a Hugging Face config.json") from exc
        if not isinstance(hf, dict):
            raise ValueError(f"{path} holds a JSON {type(hf).__name__}, not the object of a Hugging Face "
                             f"config.json")
        # a key the file lacks would otherwise silently take MiniLM's value from the defaults
        absent = [theirs for theirs, ours in cls.HF_KEYS.items() if theirs not in hf and ours not in overrides]
        if absent:
            raise ValueError(f"{path.name} lacks {', '.join(absent)}: a BERT config.json states its whole "
                             f"architecture; add the keys, or pass the matching BertConfig fields as "
                             f"overrides (e.g. {cls.HF_KEYS[absent[0]]}=...)")
        problems = []
        if hf.get("model_type", "bert") != "bert":
            problems.append(f"model_type is {hf['model_type']!r}, not 'bert'")
        if hf.get("hidden_act", "gelu") != "gelu":
            problems.append(f"hidden_act is {hf['hidden_act']!r}; only 'gelu' (the exact, erf form) is implemented")
        if hf.get("position_embedding_type", "absolute") != "absolute":
            problems.append(f"position_embedding_type is {hf['position_embedding_type']!r}, not 'absolute'")
        if hf.get("attention_probs_dropout_prob", 0.1) != hf.get("hidden_dropout_prob", 0.1):
            problems.append("attention and hidden dropout differ; this encoder has one dropout rate")
        if problems:
            raise ValueError(f"{path.name}: " + "; ".join(problems))
        fields = {ours: hf[theirs] for theirs, ours in cls.HF_KEYS.items() if theirs in hf}
        return cls(**(fields | overrides))


class BertEmbeddings(nn.Module):
    """x_t = LayerNorm(word(id_t) + position(t) + token_type(s_t)), then dropout: (N, T) -> (N, T, D).
    The positions are learned vectors (one per t < max_len), not the sinusoids of Vaswani et al."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.word = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=config.pad_id)
        self.position = nn.Embedding(config.max_len, config.embed_dim)
        self.token_type = nn.Embedding(config.type_vocab_size, config.embed_dim)
        self.norm = LayerNorm(config.embed_dim, config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        t = ids.size(1)
        positions = torch.arange(t, device=ids.device)                        # (T,)
        types = torch.zeros_like(ids) if token_type_ids is None else token_type_ids
        x = self.word(ids) + self.position(positions) + self.token_type(types)  # (N, T, D)
        return self.dropout(self.norm(x))


class BertEncoder(nn.Module):
    """The BERT encoder: embeddings, ``num_layers`` post-norm blocks (GELU), optional pooler.

    forward(ids (N, T), lengths (N,) or None, token_type_ids (N, T) or None) -> hidden (N, T, D);
    rows are padded at the end and ``lengths`` counts their real tokens (None: no padding).
    ``pool(hidden)`` -> (N, D): tanh(W h_[CLS] + b), BERT's sentence vector for classification.
    """

    def __init__(self, config: BertConfig | None = None):
        super().__init__()
        self.config = config = config or BertConfig()
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList(
            TransformerBlock(config.embed_dim, config.num_heads, config.dim_feedforward, config.dropout,
                             activation="gelu", norm_first=False, layer_norm_eps=config.layer_norm_eps,
                             fused=config.fused)
            for _ in range(config.num_layers))
        self.pooler = nn.Linear(config.embed_dim, config.embed_dim) if config.pooler else None

    def _inputs(self, ids: torch.Tensor, lengths: torch.Tensor | None,
                token_type_ids: torch.Tensor | None = None):
        check_ids(ids, self.config.vocab_size)                               # (N, T) int64 in [0, V)
        n, t = ids.shape
        if t > self.config.max_len:
            raise ValueError(f"{t} tokens, but the encoder has positions for {self.config.max_len} only; cut the text")
        if token_type_ids is not None:
            check_ids(token_type_ids, self.config.type_vocab_size, name="token_type_ids",
                      limit="type_vocab_size")
            if token_type_ids.shape != ids.shape:
                raise ValueError(f"token_type_ids must have the shape of ids {tuple(ids.shape)}, got "
                                 f"{tuple(token_type_ids.shape)}")
        if lengths is None:
            return None
        lengths = check_lengths(lengths, n, t).to(ids.device)               # (N,), each in [1, T]
        return padding_mask(lengths, t)                                      # (N, 1, 1, T)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        mask = self._inputs(ids, lengths, token_type_ids)
        x = self.embeddings(ids, token_type_ids)                              # (N, T, D)
        for layer in self.layers:
            x = layer(x, mask=mask)                                           # (N, T, D)
        return x

    @torch.no_grad()
    def attention_weights(self, ids: torch.Tensor, lengths: torch.Tensor | None = None,
                          token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """The attention weights of every layer and head, (n_layers, N, h, T, T), in eval mode: those
        of ``forward`` with the same arguments (token types included)."""
        mask = self._inputs(ids, lengths, token_type_ids)
        x = self.embeddings(ids, token_type_ids)                              # (N, T, D)
        maps = []
        for layer in self.layers:
            _, weights = layer.self_attn(x, mask=mask, need_weights=True)   # post-norm: attention reads x
            maps.append(weights)
            x = layer(x, mask=mask)
        return torch.stack(maps)

    def pool(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.pooler is None:
            raise ValueError("this encoder has no pooler (BertConfig(pooler=False))")
        return torch.tanh(self.pooler(hidden[:, 0]))                          # (N, D) from [CLS]


def mean_pool(hidden: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The mean of the hidden states of the real tokens of each row: (N, T, D), (N,) -> (N, D).
    ``lengths`` are whole numbers in [1, T] (a row needs a real token to have a mean)."""
    if not isinstance(hidden, torch.Tensor) or hidden.ndim != 3:
        raise ValueError(f"hidden must be a (N, T, D) tensor, got "
                         f"{tuple(hidden.shape) if isinstance(hidden, torch.Tensor) else type(hidden).__name__}")
    lengths = check_lengths(lengths, hidden.size(0), hidden.size(1)).to(hidden.device)
    real = padding_mask(lengths, hidden.size(1))[:, 0, 0, :, None]            # (N, T, 1)
    return (hidden * real).sum(1) / lengths[:, None].to(hidden.dtype)


# --------------------------------------------------------------------------- loading a checkpoint
class CheckpointError(ValueError):
    """A checkpoint does not fit the model: missing, unexpected or mis-shaped tensors."""


def checkpoint_names(config: BertConfig) -> dict[str, str]:
    """The book's parameter name -> the Hugging Face BERT checkpoint's, for every parameter of
    ``BertEncoder(config)``. Written out, so that a renamed tensor is an error and never a silent
    random initialisation."""
    names = {
        "embeddings.word.weight": "embeddings.word_embeddings.weight",
        "embeddings.position.weight": "embeddings.position_embeddings.weight",
        "embeddings.token_type.weight": "embeddings.token_type_embeddings.weight",
        "embeddings.norm.weight": "embeddings.LayerNorm.weight",
        "embeddings.norm.bias": "embeddings.LayerNorm.bias",
    }
    block = {                     # one encoder layer: ours -> theirs
        "self_attn.q_proj": "attention.self.query",
        "self_attn.k_proj": "attention.self.key",
        "self_attn.v_proj": "attention.self.value",
        "self_attn.out_proj": "attention.output.dense",
        "norm1": "attention.output.LayerNorm",        # post-norm: LN(x + Attn(x))
        "ff.linear1": "intermediate.dense",
        "ff.linear2": "output.dense",
        "norm2": "output.LayerNorm",                  # LN(x + FF(x))
    }
    for i in range(config.num_layers):
        for ours, theirs in block.items():
            for p in ("weight", "bias"):
                names[f"layers.{i}.{ours}.{p}"] = f"encoder.layer.{i}.{theirs}.{p}"
    if config.pooler:
        names |= {"pooler.weight": "pooler.dense.weight", "pooler.bias": "pooler.dense.bias"}
    return names


# Tensors a checkpoint may hold that are not parameters: the position ids buffer (0, 1, ..., max_len-1),
# checked rather than ignored.
_BUFFERS = ("embeddings.position_ids",)


def load_pretrained(path: str | Path, config: BertConfig | None = None) -> BertEncoder:
    """A :class:`BertEncoder` with every parameter copied from the safetensors checkpoint ``path``
    (``config`` defaults to MiniLM's). Raises :class:`CheckpointError` naming every missing,
    unexpected and mis-shaped tensor, and any tensor with NaN or infinite values."""
    from ..data.files import load_safetensors     # reading a file: here, so that the model code imports no file layer

    config = config or BertConfig()
    if not isinstance(config, BertConfig):
        raise TypeError(f"config must be a BertConfig or None, got {type(config).__name__}")
    tensors = load_safetensors(path, "BERT checkpoint")
    model = BertEncoder(config)
    names = checkpoint_names(config)
    ours = dict(model.named_parameters())
    if set(names) != set(ours):                       # the map itself must cover the model exactly
        raise AssertionError(f"checkpoint_names is out of date: {sorted(set(names) ^ set(ours))}")
    problems = [f"missing {theirs} (for {mine})" for mine, theirs in names.items() if theirs not in tensors]
    expected = set(names.values()) | set(_BUFFERS)
    problems += [f"unexpected {k}" for k in sorted(set(tensors) - expected)]
    problems += [f"{theirs} has shape {tuple(tensors[theirs].shape)}, {mine} needs {tuple(ours[mine].shape)}"
                 for mine, theirs in names.items()
                 if theirs in tensors and tensors[theirs].shape != ours[mine].shape]
    # a NaN or infinite weight would load without complaint and turn every output into NaN
    problems += [f"{theirs} holds {int((~torch.isfinite(tensors[theirs])).sum())} NaN or infinite values"
                 for theirs in names.values()
                 if theirs in tensors and tensors[theirs].is_floating_point()
                 and not bool(torch.isfinite(tensors[theirs]).all())]
    if "embeddings.position_ids" in tensors:
        ids = tensors["embeddings.position_ids"].flatten()
        if not torch.equal(ids, torch.arange(len(ids), dtype=ids.dtype)):
            problems.append("embeddings.position_ids is not 0, 1, 2, ...")
    if problems:
        shape = f"{config.num_layers} layers of width {config.embed_dim}, V = {config.vocab_size}"
        raise CheckpointError(f"{Path(path).name} does not fit the encoder ({shape}):\n  " + "\n  ".join(problems))
    with torch.no_grad():
        for mine, theirs in names.items():
            ours[mine].copy_(tensors[theirs])
    return model


# --------------------------------------------------------------------------- classification
class BertClassifier(nn.Module):
    """An encoder with a linear head for M classes, on one of two sentence vectors:

    * ``pooling="mean"``: the mean of the real tokens' hidden states (how MiniLM was trained);
    * ``pooling="cls"``: BERT's pooler, tanh(W h_[CLS] + b) (how BERT's paper classifies).

    forward(ids (N, T), lengths (N,)) -> logits (N, M); dropout before the head.
    """

    def __init__(self, encoder: BertEncoder, num_classes: int = 2, pooling: str = "mean", dropout: float = 0.1):
        super().__init__()
        check_int("num_classes", num_classes, minimum=2)
        check_choice("pooling", pooling, ("mean", "cls"))
        check_number("dropout", dropout, low=0.0, high=1.0, high_open=True)
        if pooling == "cls" and encoder.pooler is None:
            raise ValueError("pooling='cls' needs an encoder with a pooler")
        self.encoder, self.pooling = encoder, pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.embed_dim, num_classes)

    def features(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(ids, lengths)                                   # (N, T, D)
        return mean_pool(hidden, lengths) if self.pooling == "mean" else self.encoder.pool(hidden)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(ids, lengths)))          # (N, M)

