"""The book's one definition of FLOPs per token, n_mm and MFU."""
from __future__ import annotations

import pytest
import torch

from error_facts import raises_naming
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


class FakeClock:
    """time.perf_counter for best_seconds: each call of the timed function takes the next duration."""

    def __init__(self, durations):
        self.durations, self.t, self.calls = iter(durations), 0.0, 0

    def __call__(self):
        return self.t

    def fn(self):
        self.calls += 1
        self.t += next(self.durations)


@pytest.fixture
def clock(monkeypatch):
    def make(durations):
        fake = FakeClock(durations)
        monkeypatch.setattr(flops.time, "perf_counter", fake)
        return fake
    return make


def test_best_seconds_median_and_calls_per_timing(clock):
    fake = clock([9.0, 4.0, 1.0, 3.0, 2.0])                      # one warm-up, then four timings
    assert flops.best_seconds(fake.fn, repeats=4, warmup=1, statistic="median") == 2.5
    fake = clock([1.0, 3.0, 1.0, 2.0, 6.0, 0.0])                 # three timings of two calls each
    assert flops.best_seconds(fake.fn, repeats=3, warmup=0, number=2) == 1.5   # per call: (1+2)/2
    assert fake.calls == 6
    fake = clock([1.0, 5.0, 3.0])
    assert flops.best_seconds(fake.fn, repeats=3, warmup=0, number=1, statistic="median") == 3.0


def test_best_seconds_runs_setup_untimed_before_each_timing(clock):
    fake = clock([2.0, 1.0, 2.0, 1.0])
    setups = []

    def setup():
        setups.append(fake.calls)
        fake.t += 100.0                                          # untimed: not in the result
    assert flops.best_seconds(fake.fn, repeats=2, warmup=0, number=2, setup=setup) == 1.5
    assert setups == [0, 2]


def test_best_seconds_refuses_bad_arguments():
    with raises_naming(ValueError, "statistic", "'mean'"):
        flops.best_seconds(lambda: None, statistic="mean")
    with raises_naming(ValueError, "number", 0):
        flops.best_seconds(lambda: None, number=0)
    with raises_naming(TypeError, "fn"):
        flops.best_seconds(3.0)
    with raises_naming(TypeError, "setup"):
        flops.best_seconds(lambda: None, setup="gc.collect")


def test_model_flops_per_token_reads_the_gpt_config():
    model = gpt.GPT(gpt.GPTConfig(vocab_size=65, block_size=32, num_layers=2, num_heads=2, embed_dim=32))
    assert flops.model_flops_per_token(model, 32) == flops.transformer_flops_per_token(
        flops.matmul_weights(model), 2, 32, 32)
    with raises_naming(TypeError, "Linear", "num_layers"):
        flops.model_flops_per_token(torch.nn.Linear(2, 2), 32)


def test_matmul_gflops_is_positive():
    assert flops.matmul_gflops(64, repeats=2) > 0
