"""Timing, FLOPs and model FLOP utilisation (MFU): one definition for the whole book.

* :func:`best_seconds`: the book's one timing helper: the fastest (or the median) of several timed
  calls, per call.
* :func:`matmul_gflops`: the machine's float32 rate on an n × n matrix product, the denominator of MFU.
  Every page and ``make bench`` measure it the same way (n = 2048, best of 10), in the same run as the
  throughput it divides, because it differs between machines by a factor of two.
* :func:`matmul_weights`: n_mm, the weights that take part in matrix products: every 2-D parameter
  except position tables (a lookup, not a product); biases and LayerNorm parameters are left out,
  a tied output layer is counted once.
* :func:`transformer_flops_per_token`: 6·n_mm + 12·n_layers·T·D (forward and backward; the attention
  term counts the whole T × T score matrix, as nanoGPT and the PaLM paper do);
  :func:`model_flops_per_token` reads n_mm, n_layers and D from a model.
* :func:`mfu`: tokens per second × FLOPs per token / the measured matmul rate.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch
from torch import nn

from ..checks import check_choice, check_int, check_number

__all__ = ["best_seconds", "matmul_gflops", "matmul_weights", "transformer_flops_per_token",
           "model_flops_per_token", "mfu"]

MATMUL_SIZE = 2048
STATISTICS = ("min", "median")       # what best_seconds reports


def best_seconds(fn: Callable[[], object], repeats: int = 5, warmup: int = 2, *, number: int = 1,
                 statistic: str = "min", setup: Callable[[], object] | None = None) -> float:
    """Seconds per call of ``fn``: ``warmup`` untimed calls, then ``repeats`` timings of ``number``
    consecutive calls each, of which the fastest (``statistic="min"``: the timing least disturbed by
    other work) or the median (``"median"``: a typical call, when calls differ by design, such as
    training steps on batches of different widths), divided by ``number``.

    ``setup``, when given, runs untimed before each timing (``gc.collect``, say). The median of an
    even number of timings is the mean of the middle two.
    """
    check_int("repeats", repeats)
    check_int("warmup", warmup, minimum=0)
    check_int("number", number)
    check_choice("statistic", statistic, STATISTICS)
    for name, value in (("fn", fn), ("setup", setup)):
        if not callable(value) and not (name == "setup" and value is None):
            raise TypeError(f"{name} must be callable, got {value!r}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return min(times) if statistic == "min" else statistics.median(times)


def matmul_gflops(n: int = MATMUL_SIZE, repeats: int = 10) -> float:
    """This machine's float32 rate on an n × n matrix product (2n³ operations), in GFLOP/s."""
    check_int("n", n)
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n ** 3 / best_seconds(lambda: a @ b, repeats=repeats) / 1e9


def matmul_weights(model: nn.Module, *, exclude: tuple[str, ...] = ("pos.",)) -> int:
    """n_mm: the number of weights in the model's matrix products (2-D parameters, each shared
    parameter once, names starting with one of ``exclude`` left out: the position table)."""
    return sum(p.numel() for name, p in model.named_parameters()
               if p.dim() == 2 and not name.startswith(exclude))


def transformer_flops_per_token(n_mm: int, num_layers: int, seq_len: int, embed_dim: int) -> float:
    """Training FLOPs per token of a Transformer: 6·n_mm + 12·n_layers·T·D."""
    for name, value in (("n_mm", n_mm), ("num_layers", num_layers), ("seq_len", seq_len),
                        ("embed_dim", embed_dim)):
        check_int(name, value)
    return 6 * n_mm + 12 * num_layers * seq_len * embed_dim


def model_flops_per_token(model: nn.Module, seq_len: int) -> float:
    """:func:`transformer_flops_per_token` of a model with a ``config`` (a GPT's: ``num_layers``,
    ``embed_dim``) on windows of ``seq_len`` tokens, with n_mm = :func:`matmul_weights` ``(model)``."""
    config = getattr(model, "config", None)
    if not all(hasattr(config, name) for name in ("num_layers", "embed_dim")):
        raise TypeError(f"model must have a config with num_layers and embed_dim (a GPT), "
                        f"got {type(model).__name__}")
    return transformer_flops_per_token(matmul_weights(model), config.num_layers, seq_len, config.embed_dim)


def mfu(tokens_per_second: float, flops_per_token: float, peak_gflops: float) -> float:
    """Model FLOP utilisation, a fraction: the useful FLOPs per second over the measured peak."""
    check_number("tokens_per_second", tokens_per_second, low=0.0)
    check_number("flops_per_token", flops_per_token, low=0.0)
    check_number("peak_gflops", peak_gflops, low=0.0, low_open=True)
    return tokens_per_second * flops_per_token / (peak_gflops * 1e9)
