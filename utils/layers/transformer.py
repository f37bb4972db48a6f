"""The Transformer's pieces written from their equations: the book's final versions.

The Transformer, GPT and BERT chapters import these and check them against ``torch.nn`` with copied
weights (outputs and every gradient, see ``tests/test_transformer.py``).

* ``scaled_dot_product_attention``: softmax(Q Kᵀ / √d_k) V, with a boolean mask (True = may attend).
* ``causal_mask``, ``padding_mask``: the two masks a language model and an encoder need.
* ``MultiHeadAttention``: h heads of width d_k = D / h, with separate ``q_proj``, ``k_proj``, ``v_proj``
  and ``out_proj`` (BERT's layout); ``from_torch(nn.MultiheadAttention)`` copies the weights.
* ``sinusoidal_positional_encoding``: Vaswani et al.'s fixed positions (sin on even, cos on odd dims).
* ``LayerNorm``, ``FeedForward``, ``TransformerBlock`` (post-norm as in the article, or pre-norm as in
  GPT-2); ``TransformerBlock.from_torch(nn.TransformerEncoderLayer)`` copies the weights.

Shapes follow the notation appendix: N batch, T length, D = ``embed_dim``, h = ``num_heads``,
d_k = D / h, d_ff = ``dim_feedforward``. Everything is batch-first: a block reads and returns (N, T, D).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_choice, check_int, check_lengths, check_number

__all__ = ["scaled_dot_product_attention", "causal_mask", "padding_mask", "KVCache", "MultiHeadAttention",
           "sinusoidal_positional_encoding", "LayerNorm", "FeedForward", "TransformerBlock"]

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


# --------------------------------------------------------------------------- attention
def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None, dropout_p: float = 0.0,
                                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ / √d_k) v, the attention of every query to every key.

    q: (N, h, T_q, d_k), k: (N, h, T_k, d_k), v: (N, h, T_k, d_v); any leading dims work the same.
    mask: boolean, broadcastable to (N, h, T_q, T_k), True where a query may attend to a key. A query
    that may attend to no key at all gets weights 0 and output 0 (as ``F.scaled_dot_product_attention``
    in recent PyTorch), with finite gradients, instead of the NaN of a softmax over only -inf.
    dropout_p: dropout on the weights before they multiply v (the returned weights are without it).
    Returns (output (N, h, T_q, d_v), weights (N, h, T_q, T_k)); each row of the weights sums to 1
    (to 0 for a query that sees no key).
    """
    if mask is not None and mask.dtype != torch.bool:
        raise TypeError(f"mask must be a boolean tensor (True = may attend), got dtype {mask.dtype}")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))   # (N, h, T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
        any_key = mask.any(dim=-1, keepdim=True)                # (..., T_q, 1): rows with a key to see
        scores = scores.masked_fill(~any_key, 0.0)              # no all -inf row: no NaN, not even in grads
    weights = scores.softmax(dim=-1)                            # (N, h, T_q, T_k)
    if mask is not None:
        weights = weights * any_key                             # a query that sees no key gets 0
    dropped = F.dropout(weights, dropout_p) if dropout_p > 0 else weights
    return dropped @ v, weights                                 # (N, h, T_q, d_v)


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(T, T) boolean, True on and below the diagonal: position t may attend to positions 0..t."""
    check_int("T", T)
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """(N, 1, 1, T) boolean, True at the first ``lengths[n]`` positions of sequence n (the real
    tokens), so that no query attends to padding. Combine with a causal mask by ``&``.
    ``lengths`` (N,) are whole numbers in [0, T] (0: a row with no real token, which attends to
    nothing); a fractional, negative or longer length is an error, not a mask that counts padding."""
    check_int("T", T)
    lengths = check_lengths(lengths, None, T, minimum=0)                 # (N,) int64
    positions = torch.arange(T, device=lengths.device)                   # (T,)
    return (positions < lengths[:, None])[:, None, None, :]              # (N, T) -> (N, 1, 1, T)


class KVCache:
    """The keys and values one attention layer has computed so far, (N, h, T_past, d_k) each.

    ``extend(k, v)`` appends the new positions' keys and values and returns all of them. A language
    model that generates one token at a time then computes each token's key and value once, instead
    of recomputing the whole prefix at every step.
    """

    def __init__(self) -> None:
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.size(2)

    def extend(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.k = k if self.k is None else torch.cat([self.k, k], dim=2)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=2)
        return self.k, self.v


def _check_sizes(embed_dim, num_heads, dropout) -> None:
    check_int("embed_dim", embed_dim)
    check_int("num_heads", num_heads)
    if embed_dim % num_heads:
        raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
    check_number("dropout", dropout, low=0.0, high=1.0, high_open=True)


class MultiHeadAttention(nn.Module):
    """h heads of scaled dot-product attention, each on its own d_k = D / h slice of the projections:

        head_i = attention(Q W_q[i], K W_k[i], V W_v[i]),   output = concat(head_1..head_h) W_o

    forward(query, key=None, value=None, mask=None, need_weights=False, is_causal=False, cache=None):
      query: (N, T_q, D); key, value: (N, T_k, D), default: key = query, value = key (self-attention);
      mask: boolean, broadcastable to (N, h, T_q, T_k), True = may attend; ``is_causal=True`` instead
      lets query i attend to the keys up to its own position (the last T_q of the keys are the queries'
      own tokens); ``cache``: a :class:`KVCache` that keeps the keys and values of earlier calls, so
      that generation feeds one new token at a time;
      returns output (N, T_q, D), or (output, weights (N, h, T_q, T_k)) with ``need_weights=True``.
    ``dropout`` acts on the attention weights, as in ``nn.MultiheadAttention``.
    ``fused=True`` computes the same attention with ``F.scaled_dot_product_attention`` (PyTorch's
    kernel, which never stores the T_q × T_k weights) whenever the weights are not asked for; the
    book's :func:`scaled_dot_product_attention` is the default, so that what runs is what was derived.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 fused: bool = False):
        super().__init__()
        _check_sizes(embed_dim, num_heads, dropout)
        if not isinstance(fused, bool):
            raise TypeError(f"fused must be True or False, got {fused!r}")
        self.embed_dim, self.num_heads, self.dropout, self.fused = embed_dim, num_heads, dropout, fused
        self.head_dim = embed_dim // num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        n, t, _ = x.shape
        return x.view(n, t, self.num_heads, self.head_dim).transpose(1, 2)   # (N, T, D) -> (N, h, T, d_k)

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None, value: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, need_weights: bool = False, is_causal: bool = False,
                cache: "KVCache | None" = None):
        key = query if key is None else key
        value = key if value is None else value
        if query.ndim != 3 or query.size(-1) != self.embed_dim:
            raise ValueError(f"query must be (N, T, {self.embed_dim}), got {tuple(query.shape)}")
        if key.shape[:2] != value.shape[:2]:
            raise ValueError(f"key and value must have the same (N, T_k): {tuple(key.shape)}, {tuple(value.shape)}")
        if is_causal and mask is not None:
            raise ValueError("give either mask or is_causal=True, not both")
        if mask is not None and (not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool):
            # F.scaled_dot_product_attention would add a float mask to the scores: 1.0/0.0 masks nothing
            raise TypeError(f"mask must be a boolean tensor (True = may attend), got "
                            f"{mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__}; "
                            f"use mask.bool() for a 0/1 mask")
        q = self._split(self.q_proj(query))                        # (N, h, T_q, d_k)
        k = self._split(self.k_proj(key))                          # (N, h, T_k, d_k)
        v = self._split(self.v_proj(value))                        # (N, h, T_k, d_k)
        if cache is not None:                                      # keys and values of earlier calls first
            k, v = cache.extend(k, v)                              # (N, h, T_past + T_k, d_k)
        t_q, t_k = q.size(2), k.size(2)
        if is_causal and t_q != t_k:   # the queries are the last t_q positions: query i sees keys up to t_k - t_q + i
            mask = torch.ones(t_q, t_k, dtype=torch.bool, device=q.device).tril(diagonal=t_k - t_q)
            is_causal = False
        p = self.dropout if self.training else 0.0
        if self.fused and not need_weights:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, is_causal=is_causal)
            weights = None
        else:
            if is_causal:
                mask = causal_mask(t_q, device=q.device)
            out, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p=p)  # (N, h, T_q, d_k)
        n, _, t_q, _ = out.shape
        out = out.transpose(1, 2).reshape(n, t_q, self.embed_dim)  # (N, h, T_q, d_k) -> (N, T_q, D)
        out = self.out_proj(out)
        return (out, weights) if need_weights else out

    @classmethod
    @torch.no_grad()
    def from_torch(cls, mha: nn.MultiheadAttention) -> "MultiHeadAttention":
        """A copy of ``nn.MultiheadAttention`` (same dtype and device); the stacked ``in_proj_weight``
        (3D, D) splits into q, k and v. kdim/vdim != D, add_bias_kv and add_zero_attn are not supported."""
        if not isinstance(mha, nn.MultiheadAttention):
            raise TypeError(f"mha must be an nn.MultiheadAttention, got {type(mha).__name__}")
        if not mha._qkv_same_embed_dim or mha.bias_k is not None or mha.add_zero_attn:
            raise ValueError("from_torch supports only kdim = vdim = embed_dim, "
                             "without add_bias_kv or add_zero_attn")
        bias = mha.in_proj_bias is not None
        ours = cls(mha.embed_dim, mha.num_heads, mha.dropout, bias=bias).to(mha.in_proj_weight)
        projections = (ours.q_proj, ours.k_proj, ours.v_proj)
        for proj, w in zip(projections, mha.in_proj_weight.chunk(3)):   # (3D, D) -> 3 x (D, D)
            proj.weight.copy_(w)
        if bias:
            for proj, b in zip(projections, mha.in_proj_bias.chunk(3)):  # (3D,) -> 3 x (D,)
                proj.bias.copy_(b)
        ours.out_proj.load_state_dict(mha.out_proj.state_dict())
        return ours

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"


# --------------------------------------------------------------------------- positions
def sinusoidal_positional_encoding(T: int, D: int) -> torch.Tensor:
    """(T, D) fixed positions of Vaswani et al. (2017), frequencies ω_i = 10000^(-2i/D):

        PE[t, 2i] = sin(ω_i t),   PE[t, 2i+1] = cos(ω_i t)

    Each (sin, cos) pair turns by the angle ω_i k when t moves to t + k: PE(t + k) is a fixed linear
    map (a block rotation) of PE(t), whatever t. An odd D drops the last cosine.
    """
    check_int("T", T)
    check_int("D", D)
    t = torch.arange(T, dtype=torch.float64)[:, None]                           # (T, 1)
    omega = torch.pow(10000.0, -torch.arange(0, D, 2, dtype=torch.float64) / D)  # (ceil(D/2),)
    pe = torch.zeros(T, D, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(t * omega)
    pe[:, 1::2] = torch.cos(t * omega[: D // 2])
    return pe.to(torch.get_default_dtype())


# --------------------------------------------------------------------------- the block
class LayerNorm(nn.Module):
    """Layer normalisation over the last dim (the D features of one token), from scratch:

        y = (x - mean) / sqrt(var + eps) * weight + bias,   mean and (biased) var over the last dim

    x: (..., D) -> (..., D). weight starts at 1, bias at 0, as in ``nn.LayerNorm``. ``fused=True``
    computes the same with ``F.layer_norm``, PyTorch's single kernel (equal up to rounding, tested).
    """

    def __init__(self, D: int, eps: float = 1e-5, fused: bool = False):
        super().__init__()
        self.D = check_int("D", D)
        self.eps = check_number("eps", eps, low=0.0, low_open=True)
        if not isinstance(fused, bool):
            raise TypeError(f"fused must be True or False, got {fused!r}")
        self.fused = fused
        self.weight = nn.Parameter(torch.ones(D))
        self.bias = nn.Parameter(torch.zeros(D))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused:          # the same formula in one kernel (forward and backward): a GPT step is faster
            return F.layer_norm(x, (self.D,), self.weight, self.bias, self.eps)
        if x.numel() == 0:      # an empty batch: nothing to normalise (x.var would warn about 0 degrees of freedom)
            return x * self.weight + self.bias
        mean = x.mean(dim=-1, keepdim=True)                          # (..., 1)
        var = x.var(dim=-1, keepdim=True, unbiased=False)           # (..., 1)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias

    def extra_repr(self) -> str:
        return f"{self.D}, eps={self.eps}"


class FeedForward(nn.Module):
    """The position-wise feed-forward block, applied to each token alone:

        FF(x) = linear2(dropout(activation(linear1(x))))     (N, T, D) -> (N, T, d_ff) -> (N, T, D)
    """

    def __init__(self, embed_dim: int, dim_feedforward: int, dropout: float = 0.0, activation: str = "gelu"):
        super().__init__()
        check_int("embed_dim", embed_dim)
        check_int("dim_feedforward", dim_feedforward)
        check_number("dropout", dropout, low=0.0, high=1.0, high_open=True)
        check_choice("activation", activation, tuple(ACTIVATIONS))
        self.activation = activation
        self.linear1 = nn.Linear(embed_dim, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, embed_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(ACTIVATIONS[self.activation](self.linear1(x))))


class TransformerBlock(nn.Module):
    """One encoder layer: self-attention and a feed-forward block, each with a residual and a LayerNorm.

        post-norm (the article, BERT):  x = LN1(x + Attn(x));   x = LN2(x + FF(x))
        pre-norm  (GPT-2, norm_first):  x = x + Attn(LN1(x));   x = x + FF(LN2(x))

    forward(x, mask=None, is_causal=False, cache=None): x (N, T, D) -> (N, T, D); mask, is_causal and
    cache as in ``MultiHeadAttention`` (e.g.
    ``causal_mask(T)`` for GPT, ``padding_mask(lengths, T)`` for BERT). ``fused`` and ``fused_norm``
    switch attention and the LayerNorms to PyTorch's kernels (same results up to rounding). Dropout, as in
    ``nn.TransformerEncoderLayer``: on the attention weights, inside FF, and on each branch's output.
    """

    def __init__(self, embed_dim: int, num_heads: int, dim_feedforward: int, dropout: float = 0.0,
                 activation: str = "relu", norm_first: bool = False, layer_norm_eps: float = 1e-5,
                 fused: bool = False, fused_norm: bool = False):
        super().__init__()
        _check_sizes(embed_dim, num_heads, dropout)
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(embed_dim, num_heads, dropout, fused=fused)
        self.ff = FeedForward(embed_dim, dim_feedforward, dropout, activation)
        self.norm1 = LayerNorm(embed_dim, layer_norm_eps, fused=fused_norm)
        self.norm2 = LayerNorm(embed_dim, layer_norm_eps, fused=fused_norm)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, is_causal: bool = False,
                cache: KVCache | None = None) -> torch.Tensor:
        def attend(y):
            return self.self_attn(y, mask=mask, is_causal=is_causal, cache=cache)

        if self.norm_first:
            x = x + self.dropout1(attend(self.norm1(x)))
            x = x + self.dropout2(self.ff(self.norm2(x)))
        else:
            x = self.norm1(x + self.dropout1(attend(x)))
            x = self.norm2(x + self.dropout2(self.ff(x)))
        return x

    @classmethod
    @torch.no_grad()
    def from_torch(cls, layer: nn.TransformerEncoderLayer) -> "TransformerBlock":
        """A copy of ``nn.TransformerEncoderLayer`` with activation "relu" or "gelu" (same dtype and
        device). Its masks mean the opposite (True = ignore): pass ``~src_key_padding_mask``."""
        if not isinstance(layer, nn.TransformerEncoderLayer):
            raise TypeError(f"layer must be an nn.TransformerEncoderLayer, got {type(layer).__name__}")
        activation = {1: "relu", 2: "gelu"}.get(getattr(layer, "activation_relu_or_gelu", 0))
        if activation is None or layer.linear1.bias is None or layer.norm1.bias is None:
            raise ValueError("from_torch supports activation 'relu' or 'gelu' and bias=True only")
        attn = layer.self_attn
        ours = cls(attn.embed_dim, attn.num_heads, layer.linear1.out_features, layer.dropout.p, activation,
                   layer.norm_first, layer.norm1.eps).to(layer.linear1.weight)
        ours.self_attn = MultiHeadAttention.from_torch(attn)
        ours.ff.linear1.load_state_dict(layer.linear1.state_dict())
        ours.ff.linear2.load_state_dict(layer.linear2.state_dict())
        ours.norm1.load_state_dict(layer.norm1.state_dict())
        ours.norm2.load_state_dict(layer.norm2.state_dict())
        return ours
