"""The book's one definition of FLOPs per token, n_mm and MFU."""
from __future__ import annotations

import pytest
import torch

from utils.models import gpt
from utils.training import flops


def test_matmul_weights_counts_2d_weights_once_without_positions():
    config = gpt.GPTConfig(vocab_size=65, block_size=64, num_layers=4, num_heads=4, embed_dim=128)
    model = gpt.GPT(config)
    D = config.embed_dim
    # the tied (V, D) table once, and 4 + 8 D² per block from attention and the feed-forward block
    assert flops.matmul_weights(model) == config.vocab_size * D + config.num_layers * 12 * D * D
    assert flops.matmul_weights(model, exclude=()) == flops.matmul_weights(model) + 64 * D


def test_flops_per_token_and_mfu():
    assert flops.transformer_flops_per_token(1000, 2, 64, 16) == 6 * 1000 + 12 * 2 * 64 * 16
    assert flops.mfu(1e6, 5e3, 10.0) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="peak_gflops"):
        flops.mfu(1e6, 5e3, 0.0)
    with pytest.raises(TypeError, match="seq_len"):
        flops.transformer_flops_per_token(1000, 2, 64.0, 16)


def test_best_seconds_takes_the_fastest_call():
    times = iter([5.0, 5.0, 0.0, 3.0, 0.0, 1.0])          # warm-up calls are not timed
    clock = {"t": 0.0}

    def fn():
        clock["t"] += next(times)

    real = flops.time.perf_counter
    flops.time.perf_counter = lambda: clock["t"]
    try:
        assert flops.best_seconds(fn, repeats=2, warmup=2) == 0.0
    finally:
        flops.time.perf_counter = real


def test_matmul_gflops_is_positive():
    assert flops.matmul_gflops(64, repeats=2) > 0
