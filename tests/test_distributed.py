"""utils.training.distributed: data-parallel training with torchrun equals single-process training.

One torchrun launch with 2 processes (gloo, CPU) is shared by the module; its step-0 gradient and
its loss curve are compared with :func:`utils.training.distributed.train` in this process on the same global
batches. Nothing here is timed: the tests check results, not speed.
"""
from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import torch

from utils.data.windows import WindowBatches
from utils.models.gpt import GPTConfig
from utils.training import distributed

from error_facts import raises_naming

TINY = GPTConfig(block_size=16, num_layers=2, num_heads=2, embed_dim=32)
STEPS, GLOBAL_BATCH = 5, 4


@pytest.fixture(scope="module")
def reference(shared_data_module):
    """Single-process training, in this process: the reference."""
    return distributed.train(TINY, steps=STEPS, global_batch=GLOBAL_BATCH, seed=0, return_grad=True)


@pytest.fixture(scope="module")
def ddp_run(shared_data_module, tmp_path_factory):
    """The same training with 2 processes under torchrun (one launch for the whole module)."""
    grad_file = tmp_path_factory.mktemp("ddp") / "grad0.pt"
    result = distributed.launch(TINY, 2, steps=STEPS, global_batch=GLOBAL_BATCH, seed=0, check_grad=True,
                                grad_out=grad_file, timeout=120)
    result["grad0"] = torch.load(grad_file)
    return result


# --------------------------------------------------------------------------- DDP = one process
@pytest.mark.slow
def test_ddp_gradient_equals_single_process_gradient_on_the_whole_batch(reference, ddp_run):
    assert ddp_run["world_size"] == 2 and ddp_run["backend"] == "gloo" and ddp_run["local_batch"] == 2
    assert ddp_run["grad0"].shape == reference["grad0"].shape == (reference["num_parameters"],)
    assert reference["grad0"].abs().max() > 1e-3, "a gradient that is not zero"
    torch.testing.assert_close(ddp_run["grad0"], reference["grad0"], rtol=0, atol=1e-6)
    assert ddp_run["max_grad_diff"] < 1e-6, "the script's own --check-grad agrees"


def test_ddp_loss_curve_equals_single_process_curve(reference, ddp_run):
    assert len(ddp_run["losses"]) == len(reference["losses"]) == STEPS
    torch.testing.assert_close(torch.tensor(ddp_run["losses"]), torch.tensor(reference["losses"]),
                               rtol=0, atol=1e-5)
    assert len(ddp_run["step_times"]) == STEPS and min(ddp_run["step_times"]) > 0
    assert ddp_run["allreduce_seconds"] > 0 and "allreduce_seconds" not in reference, "DDP only"
    assert distributed.seconds_per_step(ddp_run, skip=1) in ddp_run["step_times"][1:]
    with raises_naming(ValueError, f"skip={STEPS}", STEPS):          # the argument and the number of steps
        distributed.seconds_per_step(ddp_run, skip=STEPS)


def test_train_is_repeatable_in_process(reference, shared_data_module):
    again = distributed.train(TINY, steps=2, global_batch=GLOBAL_BATCH, seed=0)
    assert again["losses"] == reference["losses"][:2]
    assert again["world_size"] == 1 and again["backend"] == "none"


# --------------------------------------------------------------------------- the pieces
def test_rank_slices_make_up_the_global_batch_that_train_lm_draws():
    ids = torch.arange(1000)
    x, _ = next(iter(WindowBatches(ids, 6, 8, seed=3)))                     # what train_lm draws
    parts = [distributed.local_slice(x, r, 3) for r in range(3)]
    assert all(p.shape == (2, 8) for p in parts)
    assert torch.equal(torch.cat(parts), x)


def test_flat_grad_has_every_parameter_once():
    model = torch.nn.Linear(3, 2)
    with pytest.raises(ValueError, match="backward"):
        distributed.flat_grad(model)
    model(torch.ones(1, 3)).sum().backward()
    assert distributed.flat_grad(model).shape == (8,)


def test_make_recipe_is_the_gpt_chapters_adamw():
    recipe = distributed.make_recipe(steps=40, global_batch=12, seq_len=64, lr=1e-3)
    assert recipe.warmup == 2 and recipe.clip_grad_norm == 1.0 and recipe.weight_decay == 0.1
    optimizer = recipe.optimizer(torch.nn.Linear(2, 2))
    assert isinstance(optimizer, torch.optim.AdamW)


# --------------------------------------------------------------------------- argument errors
def test_global_batch_must_divide_among_processes():
    with raises_naming(ValueError, 'global_batch', 'global_batch=3', '2', '3', '4'):
        distributed.check_split(3, 2)
    with pytest.raises(ValueError, match="global_batch=5"):
        distributed.launch(TINY, 2, global_batch=5)                        # before starting anything
    with raises_naming(ValueError, 'rank'):
        distributed.local_slice(torch.zeros(4), 2, 2)


def test_cli_rejects_a_global_batch_that_does_not_divide(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="global_batch=7"):
        distributed.main(["--global-batch", "7"])


@pytest.mark.parametrize("flag", ["--out", "--grad-out"])
def test_cli_refuses_an_unwritable_output_before_training(tmp_path, monkeypatch, flag):
    # before: the error came from the final write, after the whole training
    monkeypatch.setattr(distributed, "train", lambda *a, **k: pytest.fail("trained before checking the output"))
    with raises_naming(IsADirectoryError, flag, str(tmp_path)):
        distributed.main([flag, str(tmp_path)])
    (tmp_path / "file").write_text("")
    with raises_naming(NotADirectoryError, flag, str(tmp_path / "file")):
        distributed.main([flag, str(tmp_path / "file" / "result.json")])


def test_train_without_a_process_group_is_one_process():
    with pytest.raises(ValueError, match="torchrun"):
        distributed.train(TINY, world_size=2, ids=torch.arange(65).repeat(10))
    with pytest.raises(ValueError, match="vocab_size"):
        distributed.train(GPTConfig(vocab_size=10, block_size=8), ids=torch.arange(65).repeat(10))
    with raises_naming(ValueError, 'backend'):
        distributed.pick_backend("mpi")
    with pytest.raises(ValueError, match="dropout"):
        distributed.launch(GPTConfig(dropout=0.1))


def test_threads_split_the_cores_between_local_processes():
    cores = distributed.cpu_threads(1)
    assert cores >= 1 and distributed.cpu_threads(2) == max(1, cores // 2)
    assert distributed.cpu_threads(10_000) == 1


def test_launch_timeout_stops_torchrun_and_says_so():
    with raises_naming(distributed.LaunchError, "torchrun", "0.5"):     # what was stopped, after how long
        distributed.launch(TINY, 1, steps=1, global_batch=2, timeout=0.5)


def test_cli_help():
    done = subprocess.run([sys.executable, "-m", "utils.training.distributed", "--help"], capture_output=True, text=True,
                          timeout=60, cwd=distributed.REPO_ROOT)
    assert done.returncode == 0, done.stderr
    for option in ("--steps", "--global-batch", "--seq-len", "--check-grad", "--grad-out", "--backend"):
        assert option in done.stdout


@pytest.mark.slow
def test_leftover_torchrun_variables_stop_with_a_message_instead_of_hanging(monkeypatch):
    with socket.socket() as s:                       # a free port where no rank 0 is listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for name, value in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": str(port), distributed.RENDEZVOUS_TIMEOUT_ENV: "2"}.items():
        monkeypatch.setenv(name, value)
    with raises_naming(RuntimeError, '2', 'RANK=1', 'WORLD_SIZE=2', '1'):
        distributed.main(["--global-batch", "4", "--steps", "1"])
    monkeypatch.delenv("MASTER_PORT")
    with pytest.raises(RuntimeError, match="MASTER_PORT"):
        distributed.main(["--global-batch", "4", "--steps", "1"])
