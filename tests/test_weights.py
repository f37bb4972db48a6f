"""utils.weights: safetensors round trip, mismatches reported clearly, atomic writes, load_or_train.

The autouse fixture in conftest.py gives every test its own empty BOOK_CACHE_DIR.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from utils import weights
from utils.cnn import ArticleCNN, ImprovedCNN, ImprovedCNNConfig


def small_model(seed: int = 0, hidden: int = 16) -> nn.Module:
    torch.manual_seed(seed)
    return ImprovedCNN(ImprovedCNNConfig(channels=(4, 8), hidden_size=hidden))


def assert_same_state(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=0, atol=0, msg=k)


def test_round_trip_restores_parameters_and_buffers(isolated_book_env):
    model = small_model(0)
    model.train()(torch.rand(8, 1, 28, 28))            # moves the batch-norm running statistics
    path = weights.save_weights(model, "tiny", metadata={"test_acc": 0.5})
    assert path == isolated_book_env / "weights" / "tiny.safetensors" and path.is_file()
    other = small_model(1)
    weights.load_weights(other, "tiny")
    assert_same_state(model, other)
    from safetensors import safe_open
    with safe_open(str(path), "pt") as f:
        assert f.metadata()["test_acc"] == "0.5" and "torch" in f.metadata()


def test_channels_last_models_are_saved_in_logical_layout():
    model = small_model(0).to(memory_format=torch.channels_last)
    weights.save_weights(model, "cl")
    plain = weights.load_weights(small_model(1), "cl")
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(plain.eval()(x), model.eval()(x), atol=1e-5, rtol=1e-4)


def test_quick_mode_uses_its_own_file(monkeypatch, isolated_book_env):
    monkeypatch.setenv("BOOK_QUICK", "1")
    assert weights.weights_path("m").name == "m.quick.safetensors"
    weights.save_weights(small_model(), "m")
    monkeypatch.delenv("BOOK_QUICK")
    with pytest.raises(FileNotFoundError, match="no cached weights 'm'"):
        weights.load_weights(small_model(), "m")   # a full run never sees the quick run's weights


@pytest.mark.parametrize("name", ["", "../escape", "a/b", "dot.name", None])
def test_bad_names_are_rejected(name):
    with pytest.raises(ValueError, match="weights name"):
        weights.weights_path(name)


def test_mismatched_shapes_and_keys_are_reported_clearly():
    weights.save_weights(small_model(hidden=16), "m")
    with pytest.raises(weights.WeightsMismatchError, match=r"shape mismatch: classifier\.1\.weight"):
        weights.load_weights(small_model(hidden=32), "m")
    with pytest.raises(weights.WeightsMismatchError, match="missing: .*unexpected: "):
        weights.load_weights(ArticleCNN(), "m")


def test_unreadable_file_is_a_mismatch_not_a_crash(isolated_book_env):
    path = weights.weights_path("broken")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a safetensors file")
    with pytest.raises(weights.WeightsMismatchError, match="unreadable"):
        weights.load_weights(small_model(), "broken")


def test_missing_file_names_the_cache():
    with pytest.raises(FileNotFoundError, match="train the model"):
        weights.load_weights(small_model(), "absent")


def test_write_is_atomic(monkeypatch):
    original = small_model(0)
    path = weights.save_weights(original, "m")
    before = path.read_bytes()

    def crash(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(weights, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        weights.save_weights(small_model(1), "m")
    assert path.read_bytes() == before, "a failed save must leave the old file untouched"
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.safetensors"], "no temporary file is left"


def test_load_or_train_trains_once_then_loads():
    calls = []

    def train(model):
        calls.append(1)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)

    first = small_model(0)
    assert weights.load_or_train("m", first, lambda: train(first)) is False
    assert len(calls) == 1 and weights.weights_path("m").is_file()
    second = small_model(1)
    assert weights.load_or_train("m", second, lambda: train(second)) is True
    assert len(calls) == 1, "a matching cache must not train again"
    assert_same_state(first, second)


def test_load_or_train_replaces_a_file_that_does_not_fit():
    weights.save_weights(small_model(hidden=16), "m")
    bigger = small_model(hidden=32)
    trained = []
    assert weights.load_or_train("m", bigger, lambda: trained.append(1)) is False
    assert trained == [1]
    weights.load_weights(small_model(2, hidden=32), "m")   # the file now fits the new model
