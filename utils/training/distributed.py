"""Data-parallel training of the book's GPT with ``torch.distributed``: a script and its pieces.

Data parallelism copies the whole model onto every process ("rank"), gives each rank a different
slice of every batch, and averages the gradients across ranks before each optimizer step, so that
every copy takes the same step and the copies stay identical. With B windows per global batch,
W ranks and b = B / W windows per rank, rank r computes the mean loss L_r over its b windows and
``DistributedDataParallel`` (DDP) all-reduces the gradients, dividing the sum by W:

    (1/W) Σ_r ∇L_r = (1/W) Σ_r (1/(b·T)) Σ_{windows of r} ∇ℓ = (1/(B·T)) Σ_{all windows} ∇ℓ = ∇L,

the gradient of the mean loss over the whole global batch, which one process would compute. The
middle equality needs every rank to hold the same number b·T of predicted ids; :func:`train`
insists that W divides B (every window has T ids).

Pieces (a notebook calls them in-process, the script runs them under ``torchrun``):

* :func:`train`: trains a :class:`utils.models.gpt.GPT` for ``steps`` steps; in a plain Python process
  it is single-process training (the reference), inside a ``torch.distributed`` process group it
  wraps the model in DDP and trains on this rank's slice. Returns losses, step times and more.
* :func:`launch`: starts ``torchrun`` with N processes on this machine from Python and returns the
  JSON that rank 0 writes; :class:`LaunchError` carries the end of the output when it fails.
* :func:`local_slice`, :func:`check_split`, :func:`flat_grad`, :func:`make_recipe`: the small
  steps, exposed so that a notebook can show and check each one; :func:`seconds_per_step` and
  :func:`allreduce_seconds` for the cost of a step and of its communication.

Running the script (``python -m torch.distributed.run`` is the same as ``torchrun``)::

    # two processes on this machine (the gloo backend on CPUs, NCCL when CUDA is available)
    torchrun --standalone --nproc-per-node=2 -m utils.training.distributed --steps 30 --out ddp.json

    # the same script across two machines, one command on each (node A is 10.0.0.1):
    torchrun --nnodes=2 --nproc-per-node=8 --rdzv-backend=c10d --rdzv-id=gpt1 \\
        --rdzv-endpoint=10.0.0.1:29500 -m utils.training.distributed --steps 2000 --global-batch 512

``torchrun`` gives each process the environment variables ``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``; the script reads them
through ``init_process_group`` and never needs to know how many machines there are.
Every rank reads Tiny Shakespeare through :func:`utils.load_tiny_shakespeare` (``BOOK_DATA_DIR``),
so each machine needs the data (a shared file system or a copy).
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..checks import check_choice, check_int, check_number
from ..data.windows import WindowBatches
from ..models import count_parameters
from ..models.gpt import GPT, GPTConfig
from ..models.lm import lm_loss
from .flops import best_seconds
from .recipes import NANOGPT_RECIPE, LMRecipe

BACKENDS = ("auto", "gloo", "nccl")
REPO_ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- the pieces
def make_recipe(steps: int, global_batch: int, seq_len: int, lr: float, warmup: int | None = None) -> LMRecipe:
    """The GPT chapter's baseline, nanoGPT's recipe (:data:`utils.training.recipes.NANOGPT_RECIPE`: AdamW
    with β = (0.9, 0.99), weight decay 0.1 on matrices only, gradients clipped at norm 1, linear warm-up
    then a cosine down to lr/10) for ``steps`` steps of ``global_batch`` windows of ``seq_len`` ids at a
    peak of ``lr``. ``warmup`` defaults to a twentieth of the steps. Evaluation is not part of this
    script."""
    warmup = steps // 20 if warmup is None else warmup
    return dataclasses.replace(NANOGPT_RECIPE, steps=steps, batch_size=global_batch, seq_len=seq_len, lr=lr,
                               warmup=warmup, eval_every=steps)


def check_split(global_batch: int, world_size: int) -> int:
    """Windows per rank, b = B / W; W must divide B so that every rank predicts as many ids (the
    mean of the ranks' mean losses is the mean over the global batch only then)."""
    check_int("global_batch", global_batch)
    check_int("world_size", world_size)
    if global_batch % world_size:
        lower = global_batch // world_size * world_size
        options = ", ".join(str(b) for b in (lower, lower + world_size) if b > 0)
        raise ValueError(f"global_batch must be divisible by the world size (number of processes) "
                         f"{world_size}, got global_batch={global_batch}; use for example {options}")
    return global_batch // world_size


def local_slice(x: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Rank ``rank``'s contiguous chunk of the global batch (B, ...) → (B/W, ...): windows
    r·b … (r+1)·b − 1. Concatenating the chunks of ranks 0 … W−1 gives the global batch back."""
    b = check_split(len(x), world_size)
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must lie in [0, {world_size}), got {rank}")
    return x[rank * b:(rank + 1) * b]


def flat_grad(model: nn.Module) -> torch.Tensor:
    """Every parameter's gradient, flattened and concatenated in ``model.parameters()`` order, as a
    float32 CPU vector (a tied weight appears once). A parameter without a gradient is an error."""
    model = model.module if isinstance(model, DistributedDataParallel) else model
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    if missing:
        raise ValueError(f"parameters without a gradient (run backward first): {missing[:3]}")
    return torch.cat([p.grad.detach().reshape(-1).float().cpu() for p in model.parameters()])


def _world() -> tuple[int, int, str]:
    """(rank, world size, backend) of the current process group, or (0, 1, "none") without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), str(dist.get_backend())
    return 0, 1, "none"


def _log(rank: int, message: str) -> None:
    if rank == 0:
        print(message, flush=True)


# --------------------------------------------------------------------------- training
def train(config: GPTConfig, *, steps: int = 30, global_batch: int = 24, lr: float = 1e-3, seed: int = 0,
          warmup: int | None = None, ids: torch.Tensor | None = None, device: str | torch.device = "cpu",
          rank: int | None = None, world_size: int | None = None, return_grad: bool = False,
          check_grad: bool = False, log_every: int = 0) -> dict:
    """Train a fresh GPT of shape ``config`` for ``steps`` steps on global batches of ``global_batch``
    windows of T = ``config.block_size`` ids, and return what happened.

    Without a process group (a notebook, a test) this is ordinary single-process training, the
    reference. Inside one (``torchrun``), the model is wrapped in ``DistributedDataParallel`` and each
    of the W ranks trains on its contiguous B/W windows of every global batch; ``rank`` and
    ``world_size`` default to the group's and must agree with it when given.

    Every rank seeds the model's initialisation and the window stream with ``seed``, so all ranks
    start from the same weights (DDP would also broadcast rank 0's) and draw the same global
    batches, which are exactly the batches ``utils.training.recipes.train_lm`` draws with that seed.
    ``ids`` is the training text (default: Tiny Shakespeare's training split).

    Returns a dict (the same on every rank except ``step_times``, which are this rank's):
    ``losses`` (the mean loss over the whole global batch at each step, before its update; in DDP
    the average of the ranks' losses, all-reduced once at the end), ``step_times`` (seconds per
    step: forward, backward with the gradient all-reduce, clipping, update), ``world_size``,
    ``backend`` ("none" without a process group), ``local_batch``, ``num_parameters``, the
    arguments; with ``return_grad`` also ``grad0``: :func:`flat_grad` after step 0's backward (after
    DDP's averaging, before clipping), a tensor; with ``check_grad`` also ``max_grad_diff``: the
    largest |difference| between that gradient and the one a single copy of the model computes on
    the whole global batch (the largest over the ranks). In DDP also
    ``allreduce_seconds``: :func:`allreduce_seconds` for a gradient of this model's size.
    """
    if not isinstance(config, GPTConfig):
        raise TypeError(f"config must be a utils.models.gpt.GPTConfig, got {type(config).__name__}")
    check_int("steps", steps)
    check_number("lr", lr, low=0, low_open=True)
    check_int("seed", seed, minimum=0)
    check_int("log_every", log_every, minimum=0)
    group_rank, group_world, backend = _world()
    rank = group_rank if rank is None else rank
    world_size = group_world if world_size is None else world_size
    if (rank, world_size) != (group_rank, group_world):
        raise ValueError(f"rank={rank}, world_size={world_size} disagree with the process group "
                         f"(rank {group_rank} of {group_world}); leave them out to use the group's, or "
                         "start the processes with torchrun (utils.training.distributed.launch)")
    local_batch = check_split(global_batch, world_size)
    if ids is None:
        from ..data.datasets import load_tiny_shakespeare    # here, not at import time: the model code needs no data
        ids = load_tiny_shakespeare().train
    if int(ids.max()) >= config.vocab_size:
        raise ValueError(f"config.vocab_size={config.vocab_size} is too small for the text's ids "
                         f"(largest {int(ids.max())}); use vocab_size={int(ids.max()) + 1}")
    device = torch.device(device)
    seq_len = config.block_size

    torch.manual_seed(seed)                           # the same initial weights on every rank
    model = GPT(config).to(device)
    recipe = make_recipe(steps, global_batch, seq_len, lr, warmup)
    optimizer = recipe.optimizer(model)
    scheduler = recipe.scheduler(optimizer, steps)
    ddp = backend != "none"                          # inside a process group (world_size > 1 implies one)
    net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if ddp else model
    batches = iter(WindowBatches(ids, global_batch, seq_len, seed=seed))   # same stream on every rank

    losses, times, result = [], [], {}
    for step in range(steps):
        x, y = next(batches)                                # (B, T) each: the same on every rank
        if check_grad and step == 0:
            result["max_grad_diff"] = _reference_grad_diff(model, x, y, net, rank, world_size, device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        xb = local_slice(x, rank, world_size).to(device)                   # (b, T)
        yb = local_slice(y, rank, world_size).to(device)
        assert yb.numel() * world_size == y.numel(), "every rank must predict as many ids"
        loss = lm_loss(net(xb), yb)                                         # mean over this rank's b·T ids
        optimizer.zero_grad(set_to_none=True)
        loss.backward()                                                     # DDP: all-reduce (average) here
        if step == 0 and return_grad:
            result["grad0"] = flat_grad(model)
        nn.utils.clip_grad_norm_(model.parameters(), recipe.clip_grad_norm)
        optimizer.step()
        scheduler.step()
        losses.append(loss.detach())
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
        if log_every and (step + 1) % log_every == 0:
            _log(rank, f"step {step + 1}/{steps}  rank-0 loss {loss.item():.4f}  {times[-1] * 1e3:.1f} ms")

    if ddp:
        result["allreduce_seconds"] = allreduce_seconds(count_parameters(model), device)
    curve = torch.stack(losses).float()                                     # (steps,) this rank's losses
    if ddp:
        dist.all_reduce(curve)                                              # Σ_r L_r, then the mean:
        curve /= world_size                                                 # equal token counts per rank
    result.update(losses=curve.cpu().tolist(), step_times=times, world_size=world_size, backend=backend,
                  device=str(device), threads=torch.get_num_threads(), steps=steps,
                  global_batch=global_batch, local_batch=local_batch, seq_len=seq_len, lr=lr,
                  warmup=recipe.warmup, seed=seed, config=asdict(config),
                  num_parameters=count_parameters(model))
    return result


def seconds_per_step(result: dict, skip: int = 5) -> float:
    """Median of ``result["step_times"]`` after the first ``skip`` steps (the first steps also pay for
    DDP's set-up, memory allocation and caches warming up; the median ignores the odd slow step)."""
    check_int("skip", skip, minimum=0)
    times = sorted(result["step_times"][skip:])
    if not times:
        raise ValueError(f"skip={skip} leaves none of the {len(result['step_times'])} step times")
    return times[len(times) // 2]


def allreduce_seconds(numel: int, device: torch.device, repeats: int = 10) -> float:
    """Median seconds to all-reduce (sum) a float32 vector of ``numel`` entries across the process
    group: the communication DDP adds to every step for a model of ``numel`` parameters (DDP
    overlaps it with the backward pass, bucket by bucket, so a step grows by at most this much)."""
    check_int("numel", numel)
    buffer = torch.ones(numel, device=device)

    def reduce() -> None:
        dist.all_reduce(buffer)
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    # one warm-up (connections, buffers); a barrier before each timing, so that the ranks start
    # together and the wait for the slowest is not timed
    return best_seconds(reduce, repeats=repeats, warmup=1, statistic="median", setup=dist.barrier)


def _reference_grad_diff(model: GPT, x: torch.Tensor, y: torch.Tensor, net: nn.Module, rank: int,
                         world_size: int, device: torch.device) -> float:
    """Max |∇ DDP − ∇ single| for the global batch (x, y), before any update: each rank runs a copy
    of the model on all B windows (one process's gradient), then the DDP model on its own slice (the
    averaged gradient), and compares; the largest difference over the ranks goes to every rank."""
    reference = copy.deepcopy(model)
    lm_loss(reference(x.to(device)), y.to(device)).backward()
    expected = flat_grad(reference)
    model.zero_grad(set_to_none=True)
    lm_loss(net(local_slice(x, rank, world_size).to(device)),
            local_slice(y, rank, world_size).to(device)).backward()
    diff = torch.tensor([(flat_grad(model) - expected).abs().max().item()], device=device)
    model.zero_grad(set_to_none=True)
    if dist.is_initialized():
        dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    return diff.item()


# --------------------------------------------------------------------------- the script
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="torchrun --nproc-per-node=N -m utils.training.distributed",
        description="Data-parallel (DDP) training of the book's GPT on Tiny Shakespeare. Start it with "
                    "torchrun; without torchrun it trains in one process.")
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps (default 30)")
    parser.add_argument("--global-batch", type=int, default=24,
                        help="windows per step over all processes; divisible by the world size (default 24)")
    parser.add_argument("--seq-len", type=int, default=64, help="window length T = context (default 64)")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak AdamW learning rate (default 1e-3)")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up steps (default steps // 20)")
    parser.add_argument("--layers", type=int, default=4, help="Transformer blocks (default 4)")
    parser.add_argument("--heads", type=int, default=4, help="attention heads (default 4)")
    parser.add_argument("--width", type=int, default=128, help="embed_dim D (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the windows (default 0)")
    parser.add_argument("--backend", default="auto", choices=BACKENDS,
                        help="auto: nccl when CUDA is available, else gloo")
    parser.add_argument("--out", type=Path, default=None, help="JSON file rank 0 writes with the results")
    parser.add_argument("--grad-out", type=Path, default=None,
                        help=".pt file for the flattened gradient of step 0 (after averaging)")
    parser.add_argument("--check-grad", action="store_true",
                        help="compare step 0's averaged gradient with one process on the whole batch; "
                             "record max_grad_diff and fail if it exceeds --grad-tol")
    parser.add_argument("--grad-tol", type=float, default=1e-5, help="tolerance of --check-grad (default 1e-5)")
    parser.add_argument("--log-every", type=int, default=10, help="print every N steps (0: never)")
    return parser.parse_args(argv)


def pick_backend(backend: str = "auto") -> str:
    """``auto`` → ``nccl`` when CUDA is available (GPU to GPU, fastest there), else ``gloo`` (CPU)."""
    check_choice("backend", backend, BACKENDS)
    if backend == "auto":
        return "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl" and not (torch.cuda.is_available() and dist.is_nccl_available()):
        raise ValueError("backend='nccl' needs CUDA GPUs and a PyTorch build with NCCL; use 'gloo' on CPUs")
    return backend


def cpu_threads(local_world_size: int) -> int:
    """Intra-op threads per process: this machine's usable cores split between its processes."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // local_world_size)


RENDEZVOUS_TIMEOUT_ENV = "BOOK_DIST_TIMEOUT"      # seconds to wait for the other processes (default 120)


def _init_process_group(backend: str, device: torch.device) -> None:
    """``init_process_group`` from torchrun's variables, with a deadline: variables left over in a
    shell (``RANK=1 WORLD_SIZE=2 ...`` with no rank 0 running) would otherwise wait for the other
    processes in silence for half an hour."""
    missing = [name for name in ("WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if name not in os.environ]
    if missing:
        raise RuntimeError(f"RANK is set but {', '.join(missing)} not: start the script with torchrun "
                           f"(or utils.training.distributed.launch), or unset RANK to run one process")
    try:
        seconds = float(os.environ.get(RENDEZVOUS_TIMEOUT_ENV, "120"))
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{RENDEZVOUS_TIMEOUT_ENV} must be a positive number of seconds, got "
                         f"{os.environ[RENDEZVOUS_TIMEOUT_ENV]!r}")
    try:
        dist.init_process_group(backend=backend, device_id=device if backend == "nccl" else None,
                                timeout=timedelta(seconds=seconds))
    except Exception as exc:      # DistStoreError, RuntimeError: the rendezvous did not complete
        leftover = " ".join(f"{k}={os.environ[k]}" for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))
        raise RuntimeError(f"the other processes did not join within {seconds:g} s ({leftover}): start all "
                           f"of them with torchrun, or unset these variables to run one process "
                           f"({type(exc).__name__}: {exc})") from exc


def _check_output(path: Path | None, flag: str) -> None:
    """Raise now, before any training, when rank 0 could not write ``path`` at the end."""
    if path is None:
        return
    if path.is_dir():
        raise IsADirectoryError(f"{flag}={path} is a directory; give a file path (nothing was trained)")
    for parent in path.parents:                  # the nearest folder that exists must be a writable folder
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(f"{flag}={path}: {parent} is a file, not a folder (nothing was trained)")
            if not os.access(parent, os.W_OK):
                raise PermissionError(f"{flag}={path}: the folder {parent} is not writable (nothing was trained)")
            return


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    _check_output(args.out, "--out")                 # errors that would otherwise come after the training
    _check_output(args.grad_out, "--grad-out")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    check_split(args.global_batch, world_size)       # before any process group: fail fast and clearly
    GPTConfig(block_size=args.seq_len, num_layers=args.layers, num_heads=args.heads,
              embed_dim=args.width)                  # validates the shape before starting anything
    backend = pick_backend(args.backend)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if backend == "nccl":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
        # Each process would otherwise start one thread per core (torchrun sets OMP_NUM_THREADS=1
        # only when it starts several processes, and not on every launcher): 2 processes × 2 threads
        # on 2 cores means 4 busy threads fighting for 2 cores, and PyTorch's threads spin while they
        # wait, so every step gets slower. One machine's cores are shared by its local processes.
        torch.set_num_threads(cpu_threads(int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    started = "RANK" in os.environ                    # torchrun (or any launcher) set the environment
    if started:
        _init_process_group(backend, device)
    try:
        rank, world, _ = _world()
        from ..data.datasets import load_tiny_shakespeare
        corpus = load_tiny_shakespeare()
        config = GPTConfig(vocab_size=corpus.vocab_size, block_size=args.seq_len, num_layers=args.layers,
                           num_heads=args.heads, embed_dim=args.width)
        _log(rank, f"{world} process(es), backend {backend if started else 'none'}, device {device.type}, "
                   f"{torch.get_num_threads()} thread(s) each; global batch {args.global_batch} = "
                   f"{world} × {args.global_batch // world} windows of {args.seq_len}")
        result = train(config, steps=args.steps, global_batch=args.global_batch, lr=args.lr, seed=args.seed,
                       warmup=args.warmup, ids=corpus.train, device=device,
                       return_grad=args.grad_out is not None, check_grad=args.check_grad,
                       log_every=args.log_every)
        grad = result.pop("grad0", None)
        if args.check_grad:
            _log(rank, f"max |grad DDP − grad single process| at step 0: {result['max_grad_diff']:.3g}")
        if rank == 0:
            if grad is not None:
                args.grad_out.parent.mkdir(parents=True, exist_ok=True)
                torch.save(grad, args.grad_out)
                result["grad_out"] = str(args.grad_out)
            if args.out is not None:
                args.out.parent.mkdir(parents=True, exist_ok=True)
                tmp = args.out.with_name(args.out.name + ".part")
                tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
                os.replace(tmp, args.out)               # a reader never sees half a file
        if args.check_grad and not result["max_grad_diff"] <= args.grad_tol:
            raise RuntimeError(f"--check-grad: the averaged gradient differs from the single-process one by "
                               f"{result['max_grad_diff']:.3g} > --grad-tol={args.grad_tol}")
        return result
    finally:
        if started:
            dist.destroy_process_group()


# --------------------------------------------------------------------------- launching from Python
class LaunchError(RuntimeError):
    """torchrun failed or timed out; the message ends with the last lines of its output."""


def free_port() -> int:
    """A TCP port that is free on localhost right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _children(pid: int) -> list[int]:
    """Ids of the processes whose parent is ``pid`` (Linux ``/proc``; empty elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()     # after "pid (name)": state, ppid, ...
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _stop(proc: subprocess.Popen) -> str:
    """Stop a torchrun started by :func:`launch` and return its output. SIGTERM lets torchrun stop its
    workers itself; if it has not exited 10 s later, it and its workers (each in a session of its own,
    torchrun starts them so) are killed."""
    workers = _children(proc.pid)
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.communicate(timeout=10)[0]
    except subprocess.TimeoutExpired:
        for pid in [proc.pid, *workers]:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return proc.communicate()[0]


def launch(config: GPTConfig | None = None, nproc_per_node: int = 2, *, steps: int = 30, global_batch: int = 24,
           lr: float = 1e-3, seed: int = 0, warmup: int | None = None, check_grad: bool = False,
           grad_out: str | Path | None = None, backend: str = "auto", timeout: float = 600.0) -> dict:
    """Run this module's script under ``torchrun`` with ``nproc_per_node`` processes on this machine
    and return the JSON that rank 0 wrote (:func:`train`'s dict, without ``grad0``; with ``grad_out``
    step 0's averaged gradient is saved there, read it with ``torch.load``).

    ``config`` gives the shape (``num_layers``, ``num_heads``, ``embed_dim``; T = ``block_size``);
    the script takes ``vocab_size`` from the data and has no dropout, so ``config`` must match that.
    The rendezvous is c10d on a free localhost port. After ``timeout`` seconds every process is
    stopped and :class:`LaunchError` is raised; a failed run raises it with the end of the output.
    """
    config = config or GPTConfig()
    if not isinstance(config, GPTConfig):
        raise TypeError(f"config must be a utils.models.gpt.GPTConfig, got {type(config).__name__}")
    if config.dropout:
        raise ValueError(f"config.dropout must be 0 (the script trains without dropout), got {config.dropout}")
    check_int("nproc_per_node", nproc_per_node)
    check_split(global_batch, nproc_per_node)
    check_int("steps", steps)
    check_number("timeout", timeout, low=0, low_open=True)
    with tempfile.TemporaryDirectory(prefix="ddp-") as folder:
        out = Path(folder) / "result.json"
        port = free_port()
        command = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1",
                   f"--nproc-per-node={nproc_per_node}", "--rdzv-backend=c10d",
                   f"--rdzv-endpoint=127.0.0.1:{port}", "-m", "utils.training.distributed",
                   f"--steps={steps}", f"--global-batch={global_batch}", f"--seq-len={config.block_size}",
                   f"--lr={lr!r}", f"--layers={config.num_layers}", f"--heads={config.num_heads}",
                   f"--width={config.embed_dim}", f"--seed={seed}", f"--backend={backend}",
                   f"--out={out}", "--log-every=0"]
        if warmup is not None:
            command.append(f"--warmup={warmup}")
        if check_grad:
            command.append("--check-grad")
        if grad_out is not None:
            command.append(f"--grad-out={Path(grad_out).resolve()}")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        # its own process group (session), so that a timeout stops torchrun and all its workers
        proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            output = _stop(proc)
            raise LaunchError(f"torchrun with {nproc_per_node} processes did not finish within {timeout:g} s "
                              f"and was stopped; last lines of its output:\n{_tail(output)}") from None
        if proc.returncode != 0 or not out.exists():
            raise LaunchError(f"torchrun with {nproc_per_node} processes failed (exit code {proc.returncode}); "
                              f"last lines of its output:\n{_tail(output)}")
        result = json.loads(out.read_text(encoding="utf-8"))
    result["output"] = output
    return result


if __name__ == "__main__":
    from torch.distributed.elastic.multiprocessing.errors import record
    record(main)()
