"""Windows of a token stream: the batches a language model trains and is evaluated on.

* :func:`random_windows`: a batch of B random contiguous windows of length T from a 1-D id tensor,
  with the targets shifted by one (predict the next id); :class:`WindowBatches` is an endless
  stream of such batches for ``utils.fit(steps=...)``.
* :func:`evaluation_windows`: a fixed, seeded set of windows, so that every evaluation (and every
  model compared on the same split) sees the same text (:func:`utils.models.lm.estimate_loss`
  averages a model's loss on it).

Shapes follow the notation appendix: N windows (batch), T positions, N_text ids in the stream.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..checks import check_id_stream, check_int


def random_windows(ids: torch.Tensor, batch_size: int, seq_len: int,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` windows starting at uniformly random positions of ``ids`` (N_text,).

    Returns inputs ``x`` (N, T) = ids[s : s+T] and targets ``y`` (N, T) = ids[s+1 : s+T+1] for each
    start s, so ``y[:, t]`` is the id that follows ``x[:, t]``. Every start 0 … N_text−T−1 is equally
    likely; the draws use ``generator`` only (a CPU generator), so a seeded generator repeats them.
    """
    check_id_stream(ids, seq_len)
    check_int("batch_size", batch_size)
    starts = torch.randint(0, len(ids) - seq_len, (batch_size,), generator=generator)  # (N,)
    offsets = starts[:, None] + torch.arange(seq_len + 1)                                 # (N, T+1)
    chunk = ids.cpu()[offsets]                                                            # (N, T+1)
    return chunk[:, :-1].to(ids.device), chunk[:, 1:].to(ids.device)


@dataclass
class WindowBatches:
    """An endless iterable of :func:`random_windows` batches ``(x, y)`` for ``utils.fit(steps=...)``.

    It has no length (it never ends), so ``fit`` needs ``steps=``. The generator is created once
    from ``seed``: iterating the same object again continues the stream; a new object with the same
    seed repeats it.
    """

    ids: torch.Tensor
    batch_size: int
    seq_len: int
    seed: int = 0
    generator: torch.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_id_stream(self.ids, self.seq_len)
        check_int("batch_size", self.batch_size)
        check_int("seed", self.seed, minimum=0)
        self.generator = torch.Generator().manual_seed(self.seed)

    def __iter__(self):
        while True:
            yield random_windows(self.ids, self.batch_size, self.seq_len, self.generator)


def evaluation_windows(ids: torch.Tensor, n: int, seq_len: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed set of ``n`` windows (x (n, T), y (n, T)) from ``ids``: the same for every call with the
    same arguments, independent of the global random state."""
    return random_windows(ids, n, seq_len, torch.Generator().manual_seed(seed))
