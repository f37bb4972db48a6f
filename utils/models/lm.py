"""Language models over sequences of ids: what the character LSTM and the GPT chapters share.

* :func:`lm_loss`: mean cross-entropy in nats per predicted id, of logits (N, T, V) against targets (N, T);
  :func:`estimate_loss` averages it over fixed windows, :func:`split_loss` over a whole split.
* :func:`temperature_probs`, :func:`sample_next`, :func:`sample`: temperature sampling.
* :class:`CharLSTM` with :class:`CharLSTMConfig`: Embedding → multi-layer LSTM → Linear over the vocabulary.

The windows it trains on are :mod:`utils.data.windows`; how it is trained (budget, optimiser,
schedule) is :class:`utils.training.recipes.LMRecipe`.
Shapes follow the notation appendix: N sequences (batch), T positions, V vocabulary entries.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_id_stream, check_ids, check_int, check_number
from ..layers.rnn import lstm_parameters
from . import eval_mode


# --------------------------------------------------------------------------- loss
def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats per predicted id) of logits (N, T, V) against target ids (N, T):
    −(1/NT) Σ_{n,t} log softmax(logits[n, t])[targets[n, t]]. Targets outside [0, V) are an error
    naming them and V (PyTorch's own is a bare "Target 7 is out of bounds" from inside the loss)."""
    if logits.ndim != 3 or targets.shape != logits.shape[:2]:
        raise ValueError(f"expected logits (N, T, V) and targets (N, T), got {tuple(logits.shape)} "
                         f"and {tuple(targets.shape)}")
    check_ids(targets, logits.shape[-1], name="targets", limit="V, the logits' last dimension")
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))  # (N·T, V) vs (N·T,)


@torch.no_grad()
def estimate_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 64) -> float:
    """Mean :func:`lm_loss` of ``model`` ((N, T) ids → (N, T, V) logits) over the windows x, y (N, T),
    in eval mode, in chunks of ``batch_size`` windows (every window has the same length, so the mean of
    the chunk means weighted by chunk size is the mean over all positions)."""
    check_int("batch_size", batch_size)        # range(0, n, -1) would score nothing and return 0.0
    if x.ndim != 2 or y.shape != x.shape or len(x) == 0:
        raise ValueError(f"x and y must be (N, T) windows of the same shape, N >= 1; got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    device = next(model.parameters()).device
    total = 0.0
    with eval_mode(model):
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
            total += lm_loss(model(xb), yb).item() * len(xb)
    return total / len(x)


# --------------------------------------------------------------------------- sampling
def temperature_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(z / τ) over the last dimension; τ = 0 gives the one-hot of the argmax (greedy decoding)."""
    check_number("temperature", temperature, low=0.0)    # finite: τ = inf would give a uniform draw
    if temperature == 0:
        return F.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
    return torch.softmax(logits / temperature, dim=-1)


def sample_next(logits: torch.Tensor, temperature: float = 1.0,
                generator: torch.Generator | None = None, top_k: int | None = None) -> torch.Tensor:
    """One id per row of logits (N, V), drawn from softmax(logits / τ) over the ``top_k`` most likely
    ids (all when ``None``); τ = 0 takes the argmax. Returns (N,) int64 on the CPU (the generator is a
    CPU generator). The book's only sampling rule: every language model samples through it."""
    if logits.ndim != 2:
        raise ValueError(f"expected logits (N, V), got {tuple(logits.shape)}")
    check_number("temperature", temperature, low=0.0)
    if top_k is not None:
        check_int("top_k", top_k)
    logits = logits.detach().float().cpu()
    if temperature == 0:
        return logits.argmax(-1)
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]                       # (N, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = temperature_probs(logits, temperature)                                  # (N, V)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


@torch.no_grad()
def sample(model: nn.Module, prompt_ids: torch.Tensor, n: int, temperature: float = 1.0,
           generator: torch.Generator | None = None, *, top_k: int | None = None,
           context: int | None = None, use_state: bool = True) -> torch.Tensor:
    """Continue ``prompt_ids`` (T0,) by ``n`` ids drawn one at a time; returns (T0 + n,) on the CPU.

    ``model`` maps ids (N, T) to logits (N, T, V). Each new id is drawn (:func:`sample_next`) from the
    logits of the last position given the last ``context`` ids: all of them when ``context`` is None,
    and never more than the model's ``max_context`` (a GPT's ``block_size``), which is also the default.

    A model with ``forward_with_state(ids, state) -> (logits, state)`` (the LSTM's (h, c), the GPT's
    key/value cache) is fed each new id alone while the state still describes exactly the last
    ``context`` ids; once the text is longer than ``context``, the window slides and the state is
    rebuilt from the window at every step (a GPT's learned positions shift with the window, so its
    cached keys and values are no longer valid). ``use_state=False`` re-runs ``model`` on the window
    at every step: the reference the stateful path must reproduce, token for token.
    τ = 0 is greedy decoding; the model is put in eval mode and restored afterwards.
    """
    if not isinstance(prompt_ids, torch.Tensor) or prompt_ids.ndim != 1 or len(prompt_ids) == 0:
        raise ValueError(f"prompt_ids must be a non-empty 1-D tensor of ids, got "
                         f"{tuple(prompt_ids.shape) if isinstance(prompt_ids, torch.Tensor) else type(prompt_ids)}")
    if prompt_ids.dtype.is_floating_point or prompt_ids.dtype == torch.bool:
        raise TypeError(f"prompt_ids must hold integer ids, got {prompt_ids.dtype}")
    check_int("n", n, minimum=0)
    check_number("temperature", temperature, low=0.0)
    if top_k is not None:
        check_int("top_k", top_k)
    limit = getattr(model, "max_context", None)
    if context is None:
        context = limit
    else:
        check_int("context", context)
        if limit is not None and context > limit:
            raise ValueError(f"context={context} is longer than the model's max_context ({limit})")
    device = next(model.parameters()).device
    ids = prompt_ids.detach().long().cpu().tolist()
    stateful = use_state and hasattr(model, "forward_with_state")
    with eval_mode(model):
        state, fed = None, 0                  # fed: how many of the last ids the state describes
        for _ in range(n):
            window = ids if context is None else ids[-context:]
            if stateful and state is not None and fed < len(window):
                # the state holds window[:-1]: feed the newest id alone
                logits, state = model.forward_with_state(torch.tensor([[ids[-1]]], device=device), state)
                fed += 1
            elif stateful:                    # first step, or the window slid: rebuild the state
                logits, state = model.forward_with_state(torch.tensor(window, device=device)[None])
                fed = len(window)
            else:
                logits = model(torch.tensor(window, device=device)[None])            # (1, T, V)
            ids.append(sample_next(logits[:, -1], temperature, generator, top_k).item())
    return torch.tensor(ids, dtype=torch.long)


# --------------------------------------------------------------------------- the character LSTM
@dataclass
class CharLSTMConfig:
    """Embedding(vocab_size, embed_dim) → LSTM(hidden_size, num_layers, dropout between layers)
    → Dropout → Linear(hidden_size, vocab_size)."""

    vocab_size: int = 65
    embed_dim: int = 64
    hidden_size: int = 512
    num_layers: int = 2
    dropout: float = 0.0

    def __post_init__(self) -> None:
        check_int("vocab_size", self.vocab_size, minimum=2)
        for name in ("embed_dim", "hidden_size", "num_layers"):
            check_int(name, getattr(self, name))
        check_number("dropout", self.dropout, low=0, high=1, high_open=True)

    @property
    def num_parameters(self) -> int:
        """By formula: V·E for the embedding; per LSTM layer 4D(D_in + D) weights and two bias
        vectors of 4D (PyTorch's b_ih and b_hh), with D_in = E for the first layer and D after;
        D·V + V for the output layer."""
        v, e, d = self.vocab_size, self.embed_dim, self.hidden_size
        lstm = sum(lstm_parameters(e if layer == 0 else d, d) for layer in range(self.num_layers))
        return v * e + lstm + d * v + v


class CharLSTM(nn.Module):
    """Ids (N, T) → logits (N, T, V) for the next id at every position."""

    def __init__(self, config: CharLSTMConfig | None = None):
        super().__init__()
        self.config = config = config or CharLSTMConfig()
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim)
        self.lstm = nn.LSTM(config.embed_dim, config.hidden_size, config.num_layers, batch_first=True,
                            dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)

    def forward_with_state(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        """Logits (N, T, V) and the final state (h, c), each (n_layers, N, D); ``state=None`` starts
        from zeros. Feeding a sequence in pieces while carrying the state gives the same logits as
        feeding it whole."""
        check_ids(x, self.config.vocab_size)                    # (N, T) int64 in [0, V)
        hidden, state = self.lstm(self.embedding(x), state)     # (N, T, E) → (N, T, D)
        return self.head(self.dropout(hidden)), state           # (N, T, V)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_state(x)[0]


@torch.no_grad()
def split_loss(model: nn.Module, ids: torch.Tensor, seq_len: int, batch_size: int = 64) -> float:
    """Mean :func:`lm_loss` over a *whole* split: ``ids`` (N_text,) cut into consecutive windows of
    ``seq_len`` inputs, so that every id after the first is predicted exactly once (a position j of a
    window sees the j + 1 ids before it in that window). Unlike :func:`estimate_loss` on random
    windows, nothing is sampled: the same model always gets the same number."""
    check_id_stream(ids, 1)
    check_int("seq_len", seq_len)
    check_int("batch_size", batch_size)
    device = next(model.parameters()).device
    inputs, targets = ids[:-1], ids[1:]
    n_full = len(inputs) // seq_len
    total, count = 0.0, 0
    with eval_mode(model):
        x = inputs[: n_full * seq_len].view(n_full, seq_len)                     # (windows, T)
        y = targets[: n_full * seq_len].view(n_full, seq_len)
        for i in range(0, n_full, batch_size):
            xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
            total += lm_loss(model(xb), yb).item() * yb.numel()
            count += yb.numel()
        if len(inputs) > n_full * seq_len:                                        # the last, shorter window
            xb = inputs[n_full * seq_len:][None].to(device)
            yb = targets[n_full * seq_len:][None].to(device)
            total += lm_loss(model(xb), yb).item() * yb.numel()
            count += yb.numel()
    return total / count
