"""The book's one training loop, with evaluation, callbacks and a text progress log.

``fit`` trains any model on batches ``(inputs, targets)``; ``inputs`` may be a tuple, which
is unpacked into ``model(*inputs)``. Progress is one line per evaluation, so that it reads
the same in a live notebook, a stored output and the HTML book (no widgets, no ``\\r``).
"""
from __future__ import annotations

import itertools
import math
import time
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import torch
from torch import nn

from ..checks import check_choice, check_int, check_number
from .metrics import accuracy
from ..models import eval_mode


@dataclass
class History:
    """What ``fit`` measured: one record per evaluation, and the wall time.

    ``records`` are dicts with ``step``, ``epoch`` (fractional), ``train_loss`` (mean over the
    steps since the last record) and whatever the evaluation returned, e.g. ``val_acc``.
    ``train_seconds`` excludes time spent evaluating; ``seconds`` is the whole call.
    """

    records: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    train_seconds: float = 0.0
    stopped_early: bool = False

    def __getitem__(self, key: str) -> list[float]:
        if not self.records or key not in self.records[-1]:
            known = sorted(self.records[-1]) if self.records else []
            raise KeyError(f"no metric {key!r} in the history; it has {known}")
        return [r[key] for r in self.records if key in r]

    def last(self, key: str) -> float:
        return self[key][-1]


def to_device(obj, device):
    """Move a tensor, or a tuple/list of tensors, to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, (tuple, list)):
        return type(obj)(to_device(o, device) for o in obj)
    return obj


def call_model(model: nn.Module, inputs):
    """``model(*inputs)`` for a tuple or list of inputs (e.g. ids and lengths), else ``model(inputs)``."""
    return model(*inputs) if isinstance(inputs, (tuple, list)) else model(inputs)


def progress_line(fraction: float, width: int = 20) -> str:
    """``[#######-------------]  35%``: a bar that reads well as plain text."""
    fraction = min(max(fraction, 0.0), 1.0)
    filled = int(round(fraction * width))
    return f"[{'#' * filled}{'-' * (width - filled)}] {fraction:4.0%}"


class Callback:
    """Something ``fit`` tells about training; subclass it and override either method.

    ``on_evaluation(model, record)`` runs after every evaluation with the new record (a dict as in
    :class:`History`); returning True ends training. ``on_train_end(model)`` runs once, after the
    last step, with the model in eval mode.
    """

    def on_evaluation(self, model: nn.Module, record: dict) -> bool:
        return False

    def on_train_end(self, model: nn.Module) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when ``metric`` has not improved for ``patience`` evaluations; keep a copy of the best
    weights and load them back into the model when training ends."""

    def __init__(self, metric: str = "val_loss", mode: str = "min", patience: int = 3):
        check_choice("mode", mode, ("min", "max"))
        check_int("patience", patience)
        self.metric, self.mode, self.patience = metric, mode, patience
        self.best: float | None = None
        self.best_step: int | None = None
        self.best_state: dict | None = None
        self.bad_evals = 0

    def on_evaluation(self, model: nn.Module, record: dict) -> bool:
        if self.metric not in record:
            raise KeyError(f"EarlyStopping watches {self.metric!r}, but the evaluation returned {sorted(record)}")
        value = record[self.metric]
        better = self.best is None or (value < self.best if self.mode == "min" else value > self.best)
        if better:
            self.best, self.best_step, self.bad_evals = value, record["step"], 0
            self.best_state = deepcopy(model.state_dict())
        else:
            self.bad_evals += 1
        return self.bad_evals >= self.patience

    def on_train_end(self, model: nn.Module) -> None:
        if self.best_state is not None:
            model.load_state_dict(self.best_state)


def _batch_stream(train_batches: Iterable, epochs: int | None, steps: int | None) -> tuple[Iterator, int, int | None]:
    """The batches ``fit`` draws, the number of optimizer steps, and the steps per epoch (None in a
    steps run). See :func:`fit` for ``epochs`` and ``steps``."""
    if (epochs is None) == (steps is None):
        raise ValueError("give exactly one of epochs= or steps=")
    if epochs is not None:
        check_int("epochs", epochs)
        try:
            per_epoch = len(train_batches)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError("epochs= needs train_batches with a length (a DataLoader); use steps= instead") from None
        if per_epoch == 0:
            raise ValueError("train_batches is empty")
        return itertools.chain.from_iterable(train_batches for _ in range(epochs)), epochs * per_epoch, per_epoch
    check_int("steps", steps)
    if not hasattr(train_batches, "__len__"):
        return iter(train_batches), steps, None            # a generator or an endless stream
    if len(train_batches) == 0:
        raise ValueError("train_batches is empty")
    # iterate it afresh on every pass, so that a shuffling DataLoader reshuffles
    # (itertools.cycle would replay the first pass, holding every batch in memory)
    return itertools.chain.from_iterable(itertools.repeat(train_batches)), steps, None


def fit(
    model: nn.Module,
    train_batches: Iterable,
    loss_fn: Callable,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int | None = None,
    steps: int | None = None,
    evaluate: Callable[[nn.Module], dict] | None = None,
    eval_every: int | None = None,
    scheduler=None,
    clip_grad_norm: float | None = None,
    callbacks: Iterable[Callback] = (),
    device: torch.device | str | None = None,
    log: bool = True,
) -> History:
    """Train ``model`` on batches ``(inputs, targets)`` and return its :class:`History`.

    Give exactly one of ``epochs`` (passes over a re-iterable ``train_batches``, e.g. a
    DataLoader) or ``steps`` (optimizer steps; the batches are cycled as needed).
    ``evaluate(model)`` runs in eval mode under ``torch.no_grad`` every ``eval_every`` steps
    (default: once per epoch, or 10 times in a steps run) and at the end. ``scheduler.step()``
    is called after every optimizer step. ``clip_grad_norm`` (> 0) rescales the gradient to at
    most that norm. Each :class:`Callback` hears of every evaluation (and may end training) and
    of the end of training.
    """
    batches, total, per_epoch = _batch_stream(train_batches, epochs, steps)
    if eval_every is None:
        eval_every = per_epoch or max(1, total // 10)
    check_int("eval_every", eval_every)
    if clip_grad_norm is not None:  # a negative norm would flip the gradient, 0 would erase it
        check_number("clip_grad_norm", clip_grad_norm, low=0, low_open=True)
    callbacks = list(callbacks)
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be utils.Callback objects (override on_evaluation / "
                            f"on_train_end), got {cb!r}")
    device = torch.device(device) if device is not None else next(model.parameters()).device

    history = History()
    start = time.perf_counter()
    eval_seconds = 0.0
    running, count = 0.0, 0
    model.train()
    for step in range(1, total + 1):
        try:
            inputs, targets = to_device(next(batches), device)
        except StopIteration:
            raise ValueError(f"train_batches ran out after {step - 1} of {total} steps; "
                             "pass a re-iterable (a DataLoader) or fewer steps") from None
        loss = loss_fn(call_model(model, inputs), targets)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at step {step}; lower the learning rate or clip gradients")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        running += loss.item()
        count += 1

        if step % eval_every == 0 or step == total:
            t_eval = time.perf_counter()
            record = {"step": step, "epoch": step / per_epoch if per_epoch else math.nan,
                      "train_loss": running / count}
            running, count = 0.0, 0
            if evaluate is not None:
                with eval_mode(model), torch.no_grad():
                    record.update(evaluate(model))
            eval_seconds += time.perf_counter() - t_eval
            record["seconds"] = time.perf_counter() - start
            history.records.append(record)
            if log:
                print(_format(record, step, total, epochs))
            # a list, not a generator: every callback hears every evaluation, even after one says stop
            if any([bool(cb.on_evaluation(model, record)) for cb in callbacks]):
                history.stopped_early = step < total
                if log and history.stopped_early:
                    print(f"stopped early at step {step}")
                break
    model.eval()
    for cb in callbacks:
        cb.on_train_end(model)
    history.seconds = time.perf_counter() - start
    history.train_seconds = history.seconds - eval_seconds
    return history


def _format(record: dict, step: int, total: int, epochs: int | None) -> str:
    epoch = record["epoch"]
    where = (f"epoch {epoch:.0f}/{epochs}" if epoch == int(epoch) else f"epoch {epoch:.2f}/{epochs}") if epochs \
        else f"step {step}/{total}"
    metrics = " ".join(f"{k} {v:.4f}" for k, v in record.items() if k not in ("step", "epoch", "seconds"))
    return f"{progress_line(step / total)} {where} | {metrics} | {record['seconds']:.0f}s"


class TimeBudget(Callback):
    """Stop at the first evaluation at which ``seconds`` of wall time (training and evaluation) have
    passed: for comparing models at equal time. Evaluate often enough (``eval_every``) that the
    overshoot is small; ``fit`` records the time of every evaluation."""

    def __init__(self, seconds: float):
        self.seconds = check_number("seconds", seconds, low=0, low_open=True)

    def on_evaluation(self, model: nn.Module, record: dict) -> bool:
        return record["seconds"] >= self.seconds


@torch.no_grad()
def predict(model: nn.Module, batches: Iterable, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenated model outputs and targets over ``batches`` of ``(inputs, targets)``, in eval mode."""
    device = device if device is not None else next(model.parameters()).device
    outputs, targets = [], []
    with eval_mode(model):
        for inputs, y in batches:
            outputs.append(call_model(model, to_device(inputs, device)).cpu())
            targets.append(y.cpu())
    return torch.cat(outputs), torch.cat(targets)


def evaluate_classifier(model: nn.Module, batches: Iterable, prefix: str = "val") -> dict:
    """Mean cross-entropy and accuracy of a classifier returning logits (N, M)."""
    logits, y = predict(model, batches)
    return {f"{prefix}_loss": nn.functional.cross_entropy(logits, y).item(),
            f"{prefix}_acc": accuracy(logits, y)}
