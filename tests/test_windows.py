"""utils.data.windows: windows of a token stream (shapes, the shift by one, seeding, every start
reachable), the endless stream ``fit`` trains on in steps, and the fixed evaluation windows."""
from __future__ import annotations

import math

import pytest
import torch

from utils.data import windows
from utils.models import lm

from error_facts import raises_naming


def text(n: int = 500) -> torch.Tensor:
    return torch.arange(n, dtype=torch.long)   # id i at position i: a window's content tells its start


def test_random_windows_shapes_and_shift():
    ids = text()
    x, y = windows.random_windows(ids, 8, 16, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 16) and x.dtype == y.dtype == torch.long
    assert torch.equal(y[:, :-1], x[:, 1:]), "targets are the inputs shifted by one"
    assert torch.equal(y, x + 1), "each target is the id that follows its input in the text"
    assert torch.equal(x, x[:, :1] + torch.arange(16)), "windows are contiguous"
    assert x.min() >= 0 and y.max() <= len(ids) - 1


def test_random_windows_reach_every_start_including_the_last():
    ids = text(12)
    x, _ = windows.random_windows(ids, 2000, 4, torch.Generator().manual_seed(0))
    assert set(x[:, 0].tolist()) == set(range(12 - 4)), "starts 0 .. len-T-1 are all drawn, no others"


def test_random_windows_are_seeded():
    ids = text()
    a = windows.random_windows(ids, 4, 8, torch.Generator().manual_seed(1))
    b = windows.random_windows(ids, 4, 8, torch.Generator().manual_seed(1))
    c = windows.random_windows(ids, 4, 8, torch.Generator().manual_seed(2))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_window_batches_stream_continues_and_repeats_with_its_seed():
    stream = windows.WindowBatches(text(), batch_size=4, seq_len=8, seed=3)
    it = iter(stream)
    first = [next(it)[0] for _ in range(3)]
    again = iter(windows.WindowBatches(text(), batch_size=4, seq_len=8, seed=3))
    assert all(torch.equal(a, next(again)[0]) for a in first)
    assert not torch.equal(next(iter(stream))[0], first[0]), "iterating the same object continues the stream"
    assert not hasattr(stream, "__len__"), "an endless stream has no length (fit needs steps=)"


@pytest.mark.slow
def test_window_batches_drive_fit_in_steps_mode():
    from utils import fit
    torch.manual_seed(0)
    model = lm.CharLSTM(lm.CharLSTMConfig(vocab_size=5, embed_dim=4, hidden_size=8, num_layers=1))
    ids = torch.arange(300) % 5            # a periodic text: easy to learn
    history = fit(model, windows.WindowBatches(ids, 8, 10), lm.lm_loss, torch.optim.Adam(model.parameters(), 3e-2),
                  steps=60, log=False)
    assert history.records[-1]["step"] == 60
    assert history.last("train_loss") < 0.5 * math.log(5)


def test_evaluation_windows_are_fixed_and_ignore_the_global_seed():
    torch.manual_seed(0)
    a = windows.evaluation_windows(text(), 6, 10, seed=0)
    torch.manual_seed(123)
    b = windows.evaluation_windows(text(), 6, 10, seed=0)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].shape == (6, 10)
    assert not torch.equal(a[0], windows.evaluation_windows(text(), 6, 10, seed=1)[0])


@pytest.mark.parametrize("ids, batch, seq_len, facts", [
    (text(10), 2, 10, ["10", "11"]),                     # the window, the ids it needs (the text has 10)
    (text(10), 2, 0, ["seq_len", "0"]),
    (text(10), 0, 3, ["batch_size", "0"]),
    (text(10).float(), 2, 3, ["ids", "torch.float32"]),
    (text(10)[None], 2, 3, ["ids", "(1, 10)"]),
])
def test_random_windows_reject_bad_arguments(ids, batch, seq_len, facts):
    with raises_naming(ValueError, *facts):
        windows.random_windows(ids, batch, seq_len)
    with raises_naming(ValueError, *facts):
        windows.WindowBatches(ids, batch, seq_len)
