"""utils.data.weights: safetensors round trip, mismatches reported clearly, atomic writes, load_or_train.

The autouse fixture in conftest.py gives every test its own empty BOOK_CACHE_DIR.
"""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from utils.data import weights
from utils.models.cnn import ArticleCNN, ImprovedCNN, ImprovedCNNConfig

from error_facts import raises_naming


def small_model(seed: int = 0, hidden: int = 16) -> nn.Module:
    torch.manual_seed(seed)
    return ImprovedCNN(ImprovedCNNConfig(channels=(4, 8), hidden_size=hidden))


def nudge(model: nn.Module, calls: list | None = None):
    """A train_fn that changes every parameter of ``model`` in place (and counts its calls)."""
    def train():
        if calls is not None:
            calls.append(1)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
    return train


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
    with raises_naming(FileNotFoundError, "'m'"):
        weights.load_weights(small_model(), "m")   # a full run never sees the quick run's weights


@pytest.mark.parametrize("name", ["", "../escape", "a/b", "dot.name", None])
def test_bad_names_are_rejected(name):
    with raises_naming(ValueError, repr(name)):
        weights.weights_path(name)


def test_mismatched_shapes_and_keys_are_reported_clearly():
    weights.save_weights(small_model(hidden=16), "m")
    # the key, its shape in the file and in the model
    with raises_naming(weights.WeightsMismatchError, "'m'", "classifier.1.weight", "(16, 392)", "(32, 392)"):
        weights.load_weights(small_model(hidden=32), "m")
    # a key the model lacks in the file, a key of the file the model lacks
    with raises_naming(weights.WeightsMismatchError, "ArticleCNN", "classifier.1.bias",
                       "classifier.2.num_batches_tracked"):
        weights.load_weights(ArticleCNN(), "m")


def test_unreadable_file_is_a_mismatch_not_a_crash(isolated_book_env):
    path = weights.weights_path("broken")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a safetensors file")
    with raises_naming(weights.WeightsMismatchError, "broken.safetensors"):
        weights.load_weights(small_model(), "broken")


def test_missing_file_names_the_cache():
    with raises_naming(FileNotFoundError, "'absent'", "absent.safetensors", str(weights.weights_dir())):
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


def test_load_or_train_logs_whether_it_loaded_for_the_run_record(monkeypatch, tmp_path):
    # tools.notebooks.execute points BOOK_WEIGHTS_LOG at a file and records the loaded names in
    # the notebook's run record, so that `make bench` can tell a run that trained from one that read
    # cached weights
    log = tmp_path / "uses.jsonl"
    monkeypatch.setenv(weights.USE_LOG_ENV, str(log))
    model = small_model(0)
    weights.load_or_train("m", model, nudge(model))
    weights.load_or_train("m", small_model(1), lambda: pytest.fail("must load"))
    assert [json.loads(line) for line in log.read_text().splitlines()] == [
        {"name": "m", "loaded": False}, {"name": "m", "loaded": True}]
    monkeypatch.delenv(weights.USE_LOG_ENV)
    weights.load_or_train("m", small_model(2), lambda: pytest.fail("must load"))
    assert len(log.read_text().splitlines()) == 2, "without the variable nothing is written"


def test_a_page_that_saves_or_loads_weights_directly_is_recorded(monkeypatch, tmp_path):
    # cnn_article, cnn_improved and gpt train their model in cells and call save_weights (not
    # load_or_train); rebuild 20261208-014048-205a's records left those three out of trained_weights
    log = tmp_path / "uses.jsonl"
    monkeypatch.setenv(weights.USE_LOG_ENV, str(log))
    weights.save_weights(small_model(0), "saved")
    weights.load_weights(small_model(1), "saved")
    assert [json.loads(line) for line in log.read_text().splitlines()] == [
        {"name": "saved", "loaded": False}, {"name": "saved", "loaded": True}]


def test_load_or_train_replaces_a_file_that_does_not_fit():
    weights.save_weights(small_model(hidden=16), "m")
    bigger = small_model(hidden=32)
    trained = []
    assert weights.load_or_train("m", bigger, nudge(bigger, trained)) is False
    assert trained == [1]
    weights.load_weights(small_model(2, hidden=32), "m")   # the file now fits the new model


# --------------------------------------------------------------------------- checksum, config, dtype
class Tiny(nn.Module):
    def __init__(self, dtype=torch.float32):
        super().__init__()
        self.lin = nn.Linear(3, 2, dtype=dtype)


def tensor_data_offset(path) -> int:
    """Where a safetensors file's tensor bytes begin (after the 8-byte length and the JSON header)."""
    raw = path.read_bytes()
    return 8 + int.from_bytes(raw[:8], "little")


def flip(path, index: int, bit: int = 0) -> None:
    raw = bytearray(path.read_bytes())
    raw[index] ^= 1 << bit
    path.write_bytes(bytes(raw))


def test_checksum_and_config_are_stored_in_the_metadata():
    from safetensors import safe_open
    config = weights.config_json(model=ImprovedCNNConfig(channels=(4, 8), hidden_size=16), seed=0)
    path = weights.save_weights(small_model(), "m", metadata={"note": "x"}, config=config)
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    assert len(meta["sha256"]) == 64 and meta["note"] == "x"
    assert meta["training_config"] == config
    assert '"hidden_size":16' in config and '"__class__":"ImprovedCNNConfig"' in config


def test_flipped_tensor_bytes_are_found_not_loaded():
    path = weights.save_weights(small_model(0), "m")
    flip(path, path.stat().st_size - 3)                 # a byte of the last tensor's data
    model = small_model(1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with raises_naming(weights.CorruptWeightsError, 'm.safetensors'):
        weights.load_weights(model, "m")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "the model is untouched"


def test_every_single_bit_flip_is_found_or_harmless():
    """Flip one bit of each byte in turn: the load fails, or (a flip in a metadata value such as the
    torch version) it loads exactly the saved tensors; a flipped tensor byte never loads."""
    path = weights.save_weights(Tiny(), "t")
    good = path.read_bytes()
    saved = weights.read_weights("t")
    data_start = tensor_data_offset(path)
    for i in range(len(good)):
        path.write_bytes(good)
        flip(path, i, bit=i % 8)
        model = Tiny()
        try:
            weights.load_weights(model, "t")
        except weights.WeightsMismatchError:
            continue
        assert i < data_start, f"a flipped tensor byte at {i} loaded silently"
        assert all(torch.equal(model.state_dict()[k], saved[k]) for k in saved), f"byte {i}"


def test_a_file_without_checksum_is_not_trusted(isolated_book_env):
    from safetensors.torch import save_file
    path = weights.weights_path("old")
    path.parent.mkdir(parents=True)
    save_file(weights._state(Tiny()), str(path), metadata={"torch": torch.__version__})  # the old format
    with raises_naming(weights.CorruptWeightsError, "old.safetensors", "checksum"):
        weights.load_weights(Tiny(), "old")


def test_dtype_mismatch_is_reported():
    weights.save_weights(Tiny(torch.float64), "t")
    with raises_naming(weights.WeightsMismatchError, "lin.bias", "torch.float64", "torch.float32"):
        weights.load_weights(Tiny(torch.float32), "t")


def test_config_mismatch_names_the_differences():
    old = weights.config_json(model={"hidden": 16}, lr=0.1)
    weights.save_weights(Tiny(), "t", config=old)
    weights.load_weights(Tiny(), "t", config=old)
    weights.load_weights(Tiny(), "t")                       # no config asked for: not checked
    new = weights.config_json(model={"hidden": 32}, lr=0.1)
    with raises_naming(weights.ConfigMismatchError, "'t'", "model.hidden", "16", "32"):   # the setting, both values
        weights.load_weights(Tiny(), "t", config=new)


def test_a_file_without_config_does_not_match_a_config():
    weights.save_weights(Tiny(), "t")
    with raises_naming(weights.ConfigMismatchError, "'t'", "configuration"):
        weights.load_weights(Tiny(), "t", config="{}")


def test_config_json_is_canonical_and_checked():
    assert weights.config_json(a=1, b=(1, 2)) == weights.config_json(b=[1, 2], a=1) == '{"a":1,"b":[1,2]}'
    with raises_naming(TypeError, 'config.f', 'function'):
        weights.config_json(f=lambda: 0)


@pytest.mark.parametrize("config, error", [(123, TypeError), ({"a": 1}, TypeError), ("not json", ValueError)])
def test_bad_config_arguments(config, error):
    with raises_naming(error, "config", repr(config), "JSON"):
        weights.save_weights(Tiny(), "t", config=config)
    with raises_naming(error, "config", repr(config), "JSON"):
        weights.load_or_train("t", Tiny(), lambda: pytest.fail("must not train"), config=config)


def test_reserved_metadata_keys_are_rejected():
    with raises_naming(ValueError, 'metadata', "'sha256'"):
        weights.save_weights(Tiny(), "t", metadata={"sha256": "0" * 64})
    with raises_naming(TypeError, 'metadata'):
        weights.save_weights(Tiny(), "t", metadata=[("a", "b")])


def test_tied_weights_can_be_saved_and_loaded():
    class TiedLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(5, 3)
            self.head = nn.Linear(3, 5, bias=False)
            self.head.weight = self.embed.weight            # weight tying, as GPT-2 does

    torch.manual_seed(0)
    model = TiedLM()
    weights.save_weights(model, "tied")
    other = weights.load_weights(TiedLM(), "tied")
    assert torch.equal(other.embed.weight, model.embed.weight) and other.head.weight is other.embed.weight


# --------------------------------------------------------------------------- load_or_train says why
def test_load_or_train_says_why_it_trains(capsys):
    config = weights.config_json(lr=0.1)
    trained = []
    m = Tiny()
    assert weights.load_or_train("t", m, nudge(m, trained), config=config) is False
    assert "training 't' now, because no cached weights (t.safetensors is not in the book's cache)" in \
        capsys.readouterr().out
    assert weights.load_or_train("t", Tiny(), lambda: trained.append(1), config=config) is True
    assert capsys.readouterr().out == "" and trained == [1]

    m = Tiny()
    assert weights.load_or_train("t", m, nudge(m, trained), config=weights.config_json(lr=0.2)) \
        is False
    out = capsys.readouterr().out
    assert "because the training configuration changed: " in out and "lr: 0.1 in the file, 0.2 now" in out

    m = Tiny(torch.float64)
    assert weights.load_or_train("t", m, nudge(m, trained),
                                 config=weights.config_json(lr=0.2)) is False
    assert "because the cached weights do not fit the model: " in capsys.readouterr().out

    path = weights.weights_path("t")
    flip(path, path.stat().st_size - 1)
    m = Tiny(torch.float64)
    assert weights.load_or_train("t", m, nudge(m, trained),
                                 config=weights.config_json(lr=0.2)) is False
    out = capsys.readouterr().out
    assert "because the cached file is corrupt or unreadable: cached weights t.safetensors are corrupt" in out
    assert str(isolated_dir := weights.weights_dir()) not in out, isolated_dir   # no machine paths
    assert trained == [1, 1, 1, 1]
    assert weights.load_or_train("t", Tiny(torch.float64), lambda: trained.append(1),
                                 config=weights.config_json(lr=0.2)) is True


def test_load_or_train_with_a_directory_at_the_path_fails_before_training():
    path = weights.weights_path("d")
    path.mkdir(parents=True)
    with raises_naming(IsADirectoryError, 'd.safetensors'):
        weights.load_or_train("d", Tiny(), lambda: pytest.fail("must not train"))
    with raises_naming(IsADirectoryError, str(path)):
        weights.save_weights(Tiny(), "d")
    with raises_naming(IsADirectoryError, str(path)):
        weights.load_weights(Tiny(), "d")


def test_load_or_train_with_a_file_at_the_weights_folder_fails_before_training(isolated_book_env):
    isolated_book_env.mkdir(parents=True)
    weights.weights_dir().write_bytes(b"not a folder")
    with raises_naming(NotADirectoryError, str(weights.weights_dir())):
        weights.load_or_train("m", Tiny(), lambda: pytest.fail("must not train"))


def test_one_atomic_write_helper():
    from utils.data import files
    assert weights.atomic_path is files.atomic_path
    assert not hasattr(weights, "tempfile") and not hasattr(weights, "os")


def test_load_or_train_stores_metadata_from_training():
    model = small_model()
    calls = []

    train = nudge(model, calls)

    def describe():
        return {"history": '{"val_acc": 0.5}', "calls": len(calls)}

    assert not weights.load_or_train("with_meta", model, train, metadata_fn=describe)
    assert weights.load_or_train("with_meta", small_model(1), train, metadata_fn=describe)
    _, meta = weights.read_weights_and_metadata("with_meta")
    assert meta["history"] == '{"val_acc": 0.5}' and meta["calls"] == "1" and len(calls) == 1


def test_load_or_train_refuses_to_cache_an_untrained_model():
    # a train_fn that trains a copy (or nothing) would have cached the untrained weights
    model = Tiny()
    with raises_naming(ValueError, "train_fn", "'lazy'"):
        weights.load_or_train("lazy", model, lambda: None)
    assert not weights.weights_path("lazy").exists()
    with raises_naming(TypeError, "train_fn", "'train'"):
        weights.load_or_train("lazy", model, "train")


def test_user_metadata_is_covered_by_the_checksum():
    weights.save_weights(Tiny(), "meta", metadata={"test_acc": "0.91"})
    path = weights.weights_path("meta")
    raw = path.read_bytes()
    assert raw.count(b"0.91") == 1
    path.write_bytes(raw.replace(b"0.91", b"0.99"))            # same length: a forged header value
    with raises_naming(weights.CorruptWeightsError, "meta.safetensors"):
        weights.read_weights_and_metadata("meta")


@pytest.mark.slow
def test_two_processes_asking_for_the_same_weights_train_once(tmp_path):
    import subprocess
    import sys
    script = tmp_path / "race.py"
    script.write_text(
        "import sys, time, torch\n"
        "from torch import nn\n"
        "from utils.data import weights\n"
        "torch.manual_seed(int(sys.argv[1]))\n"
        "model = nn.Linear(3, 2)\n"
        "def train():\n"
        "    print('trained', flush=True); time.sleep(1.0)\n"
        "    with torch.no_grad(): model.weight.add_(float(sys.argv[1]))\n"
        "weights.load_or_train('race', model, train)\n"
        "print(model.weight.sum().item())\n")
    procs = [subprocess.Popen([sys.executable, str(script), str(seed)], stdout=subprocess.PIPE, text=True)
             for seed in (1, 2)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sum(out.count("trained") for out in outs) == 1, outs
    assert outs[0].split()[-1] == outs[1].split()[-1], "both processes end with the cached weights"
