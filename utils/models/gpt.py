"""A GPT: a decoder-only Transformer language model, built from the book's blocks.

* :class:`GPTConfig`: the shape (``vocab_size``, ``block_size``, ``num_layers``, ``num_heads``,
  ``embed_dim``, ``dropout``), with ``torch.nn`` names.
* :class:`GPT`: token + learned position embeddings, ``num_layers`` pre-norm
  :class:`utils.layers.transformer.TransformerBlock` with causal self-attention through
  ``F.scaled_dot_product_attention`` and a GELU feed-forward block of width 4·D, a final LayerNorm
  (the LayerNorms through ``F.layer_norm``: the same formula in one kernel, a faster step),
  and an output layer that shares its weights with the token embedding (weight tying).
  ``forward(ids)`` returns next-token logits; ``forward_with_state(ids, caches)`` also keeps every
  layer's keys and values (:class:`utils.layers.transformer.KVCache`), so generation feeds one token at a
  time; ``generate`` samples through :func:`utils.models.lm.sample`, with or without that cache.

The model follows GPT-2 {Radford et al. 2019} in the layout and the initialisation (normal with
standard deviation 0.02, the projections into the residual stream scaled by 1/√(2·num_layers)), as
nanoGPT's ``model.py`` does. Shapes follow the notation appendix: N batch, T positions
(T ≤ ``block_size``), D = ``embed_dim``, V = ``vocab_size``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from . import lm
from ..checks import check_ids, check_int, check_number
from ..layers.transformer import KVCache, LayerNorm, TransformerBlock

__all__ = ["GPTConfig", "GPT"]


@dataclass(frozen=True)
class GPTConfig:
    """The shape of a GPT. The defaults are nanoGPT's CPU recipe for character-level Shakespeare:
    4 layers, 4 heads, width 128, context 64, no dropout."""

    vocab_size: int = 65
    block_size: int = 64
    num_layers: int = 4
    num_heads: int = 4
    embed_dim: int = 128
    dropout: float = 0.0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "num_layers", "num_heads", "embed_dim"):
            check_int(name, getattr(self, name))
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim ({self.embed_dim}) must be divisible by num_heads ({self.num_heads})")
        check_number("dropout", self.dropout, low=0.0, high=1.0, high_open=True)


class GPT(nn.Module):
    """A decoder-only Transformer: ids (N, T) -> next-token logits (N, T, V)."""

    def __init__(self, config: GPTConfig | None = None):
        super().__init__()
        self.config = c = config or GPTConfig()
        self.tok = nn.Embedding(c.vocab_size, c.embed_dim)
        self.pos = nn.Embedding(c.block_size, c.embed_dim)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(c.embed_dim, c.num_heads, 4 * c.embed_dim, c.dropout, activation="gelu",
                             norm_first=True, fused=True, fused_norm=True)
            for _ in range(c.num_layers))
        self.norm = LayerNorm(c.embed_dim, fused=True)
        self.head = nn.Linear(c.embed_dim, c.vocab_size, bias=False)
        self.head.weight = self.tok.weight                 # weight tying: one (V, D) matrix, two uses
        self.apply(self._init)
        for block in self.blocks:                           # the two projections that add to the residual
            for proj in (block.self_attn.out_proj, block.ff.linear2):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * c.num_layers))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def _embed(self, ids: torch.Tensor, start: int) -> torch.Tensor:
        check_ids(ids, self.config.vocab_size)                                      # (N, T) int64 in [0, V)
        t = ids.size(1)
        if start + t > self.config.block_size:
            raise ValueError(f"{start + t} positions, but the model has {self.config.block_size} "
                             f"(block_size); feed at most the last {self.config.block_size} tokens")
        positions = torch.arange(start, start + t, device=ids.device)               # (T,)
        return self.drop(self.tok(ids) + self.pos(positions))                        # (N, T, D)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self._embed(ids, 0)
        for block in self.blocks:
            x = block(x, is_causal=True)                                             # (N, T, D)
        return self.head(self.norm(x))                                               # (N, T, V)

    def forward_with_state(self, ids: torch.Tensor, caches: list[KVCache] | None = None):
        """Logits (N, T, V) of ``ids`` (N, T) that continue the tokens already in ``caches`` (one
        :class:`KVCache` per layer; None = start afresh), and the extended caches."""
        if caches is None:
            caches = [KVCache() for _ in self.blocks]
        elif len(caches) != len(self.blocks):
            raise ValueError(f"{len(caches)} caches for {len(self.blocks)} layers: pass one KVCache per "
                             f"layer (or None to start afresh)")
        x = self._embed(ids, len(caches[0]))
        for block, cache in zip(self.blocks, caches):
            x = block(x, is_causal=True, cache=cache)
        return self.head(self.norm(x)), caches

    @property
    def max_context(self) -> int:
        """The longest context the model reads (its learned position table): ``block_size``."""
        return self.config.block_size

    def generate(self, prompt: torch.Tensor, n: int, *, temperature: float = 1.0, top_k: int | None = None,
                 generator: torch.Generator | None = None, use_cache: bool = True) -> torch.Tensor:
        """Continue ``prompt`` (T0,) by ``n`` tokens with :func:`utils.models.lm.sample`; returns (T0 + n,).
        τ = 0 is greedy decoding; ``top_k`` keeps the k most likely tokens. Each token is predicted from
        the last ``block_size`` tokens. ``use_cache`` feeds one token at a time through the key/value
        cache while the text fits the context; past ``block_size`` the window slides, every position
        shifts, and the cache is rebuilt from the window at each step. ``use_cache=False`` recomputes
        the whole window at every step (the reference the cache must reproduce)."""
        return lm.sample(self, prompt, n, temperature, generator, top_k=top_k, use_state=use_cache)
