"""Training recipes: how a model is trained, kept apart from what it is (the models) and from the
loop that trains it (:func:`utils.fit`).

A recipe is a frozen dataclass of choices with one shape for every model of the book:

* ``recipe.optimizer(model)``: AdamW over the trainable parameters (an ``LMRecipe`` with
  ``muon_lr`` uses Muon for the hidden weight matrices);
* ``recipe.scheduler(optimizer, total_steps)``: the learning-rate schedule (or None);
* ``recipe.loss(logits, targets)``: cross-entropy, with label smoothing if the recipe asks;
* ``recipe.clip_grad_norm``: passed on to ``fit``.

:class:`ClassifierRecipe` adds a budget in epochs and image augmentation (:func:`augment`,
:class:`AugmentedBatches`) and is run by :func:`train_classifier`; :class:`LMRecipe` adds a budget in
steps of random windows and is run by :func:`train_lm`; :class:`TextClassifierRecipe` adds epochs over
padded sentences and a padding strategy and is run by :func:`train_text_classifier`. The entry points
build the batches and call
``fit``, so that an ablation, a final run and a later chapter that retrains a cached model all train
the same way. ``IMPROVED_RECIPE`` with ``cnn.ImprovedCNNConfig()`` is the book's stronger CNN;
``NANOGPT_RECIPE`` is nanoGPT's CPU recipe, the GPT chapter's baseline.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_choice, check_int, check_number
from ..data.datasets import EVAL_BATCH_SIZE, Split, images_to_float, make_loader
from ..data.text import PADDINGS, TextBatches, make_text_loader
from ..data.windows import WindowBatches, evaluation_windows
from ..models.lm import estimate_loss, split_loss
from .loop import History, evaluate_classifier, fit
from .optim import muon_with_adamw

SCHEDULES = ("constant", "one_cycle", "warmup_cosine", "warmup_linear")


# --------------------------------------------------------------------------- schedules
def warmup_cosine(step: int, total_steps: int, warmup: int, min_lr_ratio: float) -> float:
    """Multiplier of the peak learning rate after ``step`` optimizer steps (0-based): linear
    warm-up over ``warmup`` steps, then a half cosine down to ``min_lr_ratio`` at ``total_steps``."""
    check_int("step", step, minimum=0)
    check_int("total_steps", total_steps)
    check_int("warmup", warmup, minimum=0)
    check_number("min_lr_ratio", min_lr_ratio, low=0, high=1)
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def warmup_linear(step: int, total_steps: int, warmup: int) -> float:
    """Multiplier of the peak learning rate after ``step`` optimizer steps (0-based): linear
    warm-up over ``warmup`` steps, then a straight line down to 0 at ``total_steps`` (BERT's)."""
    check_int("step", step, minimum=0)
    check_int("total_steps", total_steps)
    check_int("warmup", warmup, minimum=0)
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup))


# --------------------------------------------------------------------------- recipes
@dataclass(frozen=True, kw_only=True)
class Recipe:
    """What every recipe fixes: batch size, AdamW's ``lr`` and ``weight_decay``, the schedule,
    gradient clipping and label smoothing.

    ``betas`` are AdamW's (β1, β2); ``decay_vectors`` says whether weight decay also applies to
    1-D parameters (biases, LayerNorm weights).
    ``schedule``: ``"constant"`` (``lr`` throughout), ``"one_cycle"`` (PyTorch's ``OneCycleLR``
    peaking at ``lr``; it also cycles Adam's β1), ``"warmup_cosine"`` (:func:`warmup_cosine` with
    ``warmup`` steps and floor ``min_lr_ratio`` · lr) or ``"warmup_linear"`` (:func:`warmup_linear`:
    ``warmup`` steps up, then linearly down to 0).
    """

    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup: int = 0
    min_lr_ratio: float = 0.1
    clip_grad_norm: float | None = None
    label_smoothing: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    decay_vectors: bool = True

    def __post_init__(self) -> None:
        check_int("batch_size", self.batch_size)
        if len(self.betas) != 2:
            raise ValueError(f"betas must be two numbers (β1, β2), got {self.betas!r}")
        for beta in self.betas:
            check_number("betas", beta, low=0, high=1, high_open=True)
        if not isinstance(self.decay_vectors, bool):
            raise TypeError(f"decay_vectors must be True or False, got {self.decay_vectors!r}")
        check_number("lr", self.lr, low=0, low_open=True)
        check_number("weight_decay", self.weight_decay, low=0)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_int("warmup", self.warmup, minimum=0)
        check_number("min_lr_ratio", self.min_lr_ratio, low=0, high=1)
        if self.clip_grad_norm is not None:
            check_number("clip_grad_norm", self.clip_grad_norm, low=0, low_open=True)
        check_number("label_smoothing", self.label_smoothing, low=0, high=1, high_open=True)

    def inactive(self) -> frozenset[str]:
        """The fields that change nothing with this recipe's other settings: ``min_lr_ratio`` unless
        the schedule is ``"warmup_cosine"``, ``warmup`` unless it is a warm-up schedule."""
        unused = set()
        if self.schedule != "warmup_cosine":
            unused.add("min_lr_ratio")
        if self.schedule not in ("warmup_cosine", "warmup_linear"):
            unused.add("warmup")
        return frozenset(unused)

    def __repr__(self) -> str:
        """The fields that apply (see :meth:`inactive`); the configuration the weights cache stores
        keeps every field."""
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self)
                          if f.repr and f.name not in self.inactive())
        return f"{type(self).__name__}({shown})"

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        """AdamW over the trainable parameters, with decay rates ``betas``. Its weight decay is
        decoupled from the gradient, so with ``weight_decay=0`` it is Adam, step for step (the
        article's optimiser). ``decay_vectors=False`` decays only matrices and embedding tables, not
        biases and LayerNorm weights (GPT-2's and nanoGPT's choice)."""
        params = [p for p in model.parameters() if p.requires_grad]
        if not self.decay_vectors:
            params = [{"params": [p for p in params if p.ndim >= 2]},
                      {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
        return torch.optim.AdamW(params, lr=self.lr, betas=self.betas, weight_decay=self.weight_decay)

    def scheduler(self, optimizer: torch.optim.Optimizer, total_steps: int):
        """The schedule over ``total_steps`` optimizer steps, to be stepped once per step; None for
        a constant rate."""
        check_int("total_steps", total_steps)
        if self.schedule == "one_cycle":
            return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.lr, total_steps=total_steps)
        if self.schedule in ("warmup_cosine", "warmup_linear"):
            if self.warmup >= total_steps > 1:
                raise ValueError(f"warmup ({self.warmup} steps) must be shorter than the {total_steps} steps")
            if self.schedule == "warmup_cosine":
                factor = functools.partial(warmup_cosine, total_steps=total_steps, warmup=self.warmup,
                                           min_lr_ratio=self.min_lr_ratio)
            else:
                factor = functools.partial(warmup_linear, total_steps=total_steps, warmup=self.warmup)
            return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return None

    def learning_rates(self, total_steps: int) -> list[float]:
        """The learning rate of each of ``total_steps`` steps, as :meth:`scheduler` sets it (for plots)."""
        dummy = nn.Module()                                 # a throwaway parameter: only the rates matter,
        dummy.weight = nn.Parameter(torch.zeros(1))         # and zeros draw nothing from the global generator
        optimizer = self.optimizer(dummy)
        scheduler = self.scheduler(optimizer, total_steps)
        rates = []
        for _ in range(total_steps):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()                                # no gradients: changes nothing, keeps the order
            if scheduler is not None:
                scheduler.step()
        return rates

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over the last dimension of ``logits``, with label smoothing: logits
        (N, M) against class ids (N,) for a classifier, (N, T, V) against (N, T) for a language model."""
        if logits.shape[:-1] != targets.shape:
            raise ValueError(f"expected logits (..., M) and targets (...), got {tuple(logits.shape)} "
                             f"and {tuple(targets.shape)}")
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                               label_smoothing=self.label_smoothing)


@dataclass(frozen=True, kw_only=True, repr=False)
class ClassifierRecipe(Recipe):
    """A classifier trained for ``epochs`` passes over the training split, optionally on augmented
    images (:func:`augment` on every batch: shifts by up to ``shift`` pixels and, with ``flip``,
    mirrors; both only matter when ``augment`` is on). The defaults are the article's recipe: Adam
    at 10⁻³, batches of 128, 10 epochs."""

    epochs: int = 10
    augment: bool = False
    shift: int = 2
    flip: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("epochs", self.epochs)
        check_int("shift", self.shift, minimum=0)
        for name in ("augment", "flip"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def inactive(self) -> frozenset[str]:
        """As :meth:`Recipe.inactive`, and ``shift`` and ``flip`` when ``augment`` is off."""
        return super().inactive() | (frozenset() if self.augment else frozenset({"shift", "flip"}))


@dataclass(frozen=True, kw_only=True, repr=False)
class TextClassifierRecipe(Recipe):
    """A sentence classifier trained for ``epochs`` passes over padded id matrices, batched as
    ``padding`` says (:class:`utils.data.text.TextBatches`: ``"fixed"``, ``"batch"`` or ``"bucket"``) and
    run by :func:`train_text_classifier`. The defaults are the fine-tuning recipe of BERT's paper
    in shape: batches of 32, AdamW with weight decay 0.01, 3 epochs, warm-up then linear decay
    (``warmup`` steps to set per data size; :func:`bert_mr_recipe` is the book's)."""

    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.01
    schedule: str = "warmup_linear"
    epochs: int = 3
    padding: str = "bucket"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("epochs", self.epochs)
        check_choice("padding", self.padding, PADDINGS)


IMPROVED_RECIPE = ClassifierRecipe(epochs=15, lr=3e-3, schedule="one_cycle", weight_decay=0.01, augment=True,
                                   label_smoothing=0.1)


@dataclass(frozen=True, kw_only=True, repr=False)
class LMRecipe(Recipe):
    """A language model trained for ``steps`` optimizer steps on batches of ``batch_size`` random
    windows of ``seq_len`` ids, evaluated every ``eval_every`` steps on ``eval_windows`` fixed
    validation windows (:func:`utils.data.windows.evaluation_windows` with ``eval_seed``), or on the whole
    validation split when ``eval_windows`` is None (:func:`utils.models.lm.split_loss`). The defaults: AdamW
    at 2·10⁻³ with 50 warm-up steps, cosine decay to a tenth, gradients clipped at norm 1. With
    ``muon_lr`` set, Muon trains the hidden weight matrices at that rate and AdamW the rest at ``lr``
    (:func:`utils.training.optim.muon_with_adamw`; the schedule scales both)."""

    batch_size: int = 32
    lr: float = 2e-3
    schedule: str = "warmup_cosine"
    warmup: int = 50
    clip_grad_norm: float | None = 1.0
    steps: int = 1000
    seq_len: int = 128
    eval_every: int = 100
    eval_windows: int | None = 128
    eval_seed: int = 0
    muon_lr: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("steps", "seq_len", "eval_every"):
            check_int(name, getattr(self, name))
        if self.muon_lr is not None:
            check_number("muon_lr", self.muon_lr, low=0, low_open=True)
        if self.eval_windows is not None:
            check_int("eval_windows", self.eval_windows)
        check_int("eval_seed", self.eval_seed, minimum=0)
        if self.schedule == "warmup_cosine" and self.warmup >= self.steps > 1:
            raise ValueError(f"warmup must be shorter than steps={self.steps}, got warmup={self.warmup}")

    @property
    def tokens(self) -> int:
        """Ids predicted in training: steps · batch_size · seq_len."""
        return self.steps * self.batch_size * self.seq_len

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        """:meth:`Recipe.optimizer`, or with ``muon_lr`` set Muon for the hidden matrices and AdamW
        (with the same betas, weight decay and ``decay_vectors``) for the other parameters."""
        if self.muon_lr is None:
            return super().optimizer(model)
        return muon_with_adamw(model, lr=self.lr, muon_lr=self.muon_lr, betas=self.betas,
                               weight_decay=self.weight_decay, decay_vectors=self.decay_vectors)


# nanoGPT's CPU recipe for Shakespeare characters (its README: --block_size=64 --batch_size=12 --n_layer=4
# --n_head=4 --n_embd=128 --max_iters=2000 --lr_decay_iters=2000 on config/train_shakespeare_char.py):
# AdamW with beta2 = 0.99, weight decay 0.1 on matrices and embeddings only, peak 1e-3 after 100 warm-up
# steps, cosine decay to 1e-4, gradients clipped at norm 1. The book evaluates it on the whole validation
# split every 500 steps. The GPT chapter's baseline, the base of its final recipe (utils.trained.GPT_RECIPE)
# and of the data-parallel script's (utils.training.distributed.make_recipe).
NANOGPT_RECIPE = LMRecipe(steps=2000, batch_size=12, seq_len=64, lr=1e-3, warmup=100, min_lr_ratio=0.1,
                          betas=(0.9, 0.99), weight_decay=0.1, decay_vectors=False, clip_grad_norm=1.0,
                          eval_every=500, eval_windows=None)


# --------------------------------------------------------------------------- augmentation
def augment(x: torch.Tensor, generator: torch.Generator, *, padding: int = 2, flip: bool = True) -> torch.Tensor:
    """Random shift and mirror of a batch of images, the same for all channels of an image.

    Each image (C, H, W) is zero-padded by ``padding`` pixels on every side and a random H×W window
    is cut out of the result (a shift by −padding … +padding pixels in each direction); with
    ``flip`` it is then mirrored left ↔ right with probability 1/2. Draws come from ``generator``
    only, so the same generator state gives the same batch. Input and output: (N, C, H, W), same
    dtype; values stay in the input's range when it includes 0 (the padding value).
    """
    if x.ndim != 4:
        raise ValueError(f"augment expects a batch of images (N, C, H, W), got shape {tuple(x.shape)}")
    check_int("padding", padding, minimum=0)
    n, c, h, w = x.shape
    g = generator
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=g, device=g.device).to(x.device)  # (N,) window top
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=g, device=g.device).to(x.device)  # (N,) window left
    padded = F.pad(x, (padding, padding, padding, padding))                   # (N, C, H+2P, W+2P)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, :, None]       # (N, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, :]       # (N, 1, W)
    batch = torch.arange(n, device=x.device)[:, None, None]                   # (N, 1, 1)
    out = padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)  # (N, C, H, W)
    if flip:
        mirror = (torch.rand(n, generator=g, device=g.device) < 0.5).to(x.device)  # (N,)
        out = torch.where(mirror[:, None, None, None], out.flip(-1), out)
    return out.contiguous()


@dataclass
class AugmentedBatches:
    """Wrap a loader of ``(images, labels)`` batches so that every batch is passed through
    :func:`augment` (a fresh random draw per batch). Has a length, so ``utils.fit(epochs=...)`` works."""

    batches: Iterable
    seed: int = 0
    padding: int = 2
    flip: bool = True
    generator: torch.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.generator = torch.Generator().manual_seed(self.seed)

    def __len__(self) -> int:
        return len(self.batches)  # type: ignore[arg-type]

    def __iter__(self):
        for x, y in self.batches:
            yield augment(x, self.generator, padding=self.padding, flip=self.flip), y


# --------------------------------------------------------------------------- entry points
def _inputs(x) -> torch.Tensor:
    """uint8 images (N, H, W) → float (N, 1, H, W) in [0, 1]; other tensors as they are."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"train_classifier needs tensor inputs, got {type(x).__name__}")
    return images_to_float(x) if x.dtype == torch.uint8 else x


def train_classifier(model: nn.Module, train: Split, val: Split | None, recipe: ClassifierRecipe, *,
                     seed: int = 0, eval_each_epoch: bool = True, log: bool = True) -> History:
    """Train ``model`` in place on ``train`` with ``recipe`` through ``utils.fit``, evaluating on
    ``val`` each epoch (or only at the end). uint8 images (N, H, W) are scaled to [0, 1] first.

    ``seed`` fixes the batch order and the augmentation; seed the global generator before building
    the model to fix its initialisation and dropout masks. The model is switched to the channels-last
    memory layout, which makes convolutions and pooling on the CPU faster and changes no result.
    """
    if not isinstance(recipe, ClassifierRecipe):
        raise TypeError(f"recipe must be a ClassifierRecipe, got {type(recipe).__name__}")
    loader = make_loader(_inputs(train.x), train.y, recipe.batch_size, shuffle=True, seed=seed)
    batches = (AugmentedBatches(loader, seed=seed, padding=recipe.shift, flip=recipe.flip)
               if recipe.augment else loader)
    model.to(memory_format=torch.channels_last)
    optimizer = recipe.optimizer(model)
    total_steps = recipe.epochs * len(loader)
    evaluate = None
    if val is not None:
        val_loader = make_loader(_inputs(val.x), val.y, EVAL_BATCH_SIZE)
        evaluate = lambda m: evaluate_classifier(m, val_loader)  # noqa: E731
    return fit(model, batches, recipe.loss, optimizer, epochs=recipe.epochs,
               scheduler=recipe.scheduler(optimizer, total_steps), clip_grad_norm=recipe.clip_grad_norm,
               evaluate=evaluate, eval_every=None if eval_each_epoch else total_steps, log=log)


def train_text_classifier(model: nn.Module, train: tuple, val: tuple | None, recipe: TextClassifierRecipe, *,
                          seed: int = 0, eval_each_epoch: bool = True, log: bool = True) -> History:
    """Train a sentence classifier (``model(ids, lengths)`` → logits (N, M)) in place with ``recipe``
    through ``utils.fit``. ``train`` and ``val`` are ``(ids (N, T), lengths (N,), labels (N,))`` as
    :func:`utils.data.text.encode_batch` and the labels give them; ``val`` is evaluated each epoch (or
    only at the end). ``seed`` fixes the batch order; seed the global generator before building the
    model to fix its head's initialisation and the dropout masks."""
    if not isinstance(recipe, TextClassifierRecipe):
        raise TypeError(f"recipe must be a TextClassifierRecipe, got {type(recipe).__name__}")
    batches = TextBatches(*train, recipe.batch_size, padding=recipe.padding, seed=seed)
    optimizer = recipe.optimizer(model)
    total_steps = recipe.epochs * len(batches)
    evaluate = None
    if val is not None:
        val_loader = make_text_loader(*val, batch_size=EVAL_BATCH_SIZE)
        evaluate = lambda m: evaluate_classifier(m, val_loader)  # noqa: E731
    return fit(model, batches, recipe.loss, optimizer, epochs=recipe.epochs,
               scheduler=recipe.scheduler(optimizer, total_steps), clip_grad_norm=recipe.clip_grad_norm,
               evaluate=evaluate, eval_every=None if eval_each_epoch else total_steps, log=log)


def train_lm(model: nn.Module, train_ids: torch.Tensor, val_ids: torch.Tensor, recipe: LMRecipe, *,
             seed: int = 0, log: bool = True, callbacks: Iterable = ()) -> History:
    """Train a language model (ids (N, T) → logits (N, T, V)) in place on the 1-D id tensor
    ``train_ids`` with ``recipe`` through ``utils.fit``; every ``recipe.eval_every`` steps the record
    gets ``val_loss``, the mean loss on the recipe's fixed windows of ``val_ids``.

    ``seed`` fixes the training windows; seed the global generator before building the model.
    """
    if not isinstance(recipe, LMRecipe):
        raise TypeError(f"recipe must be an LMRecipe, got {type(recipe).__name__}")
    if recipe.eval_windows is None:
        evaluate = lambda m: {"val_loss": split_loss(m, val_ids, recipe.seq_len)}  # noqa: E731
    else:
        val_x, val_y = evaluation_windows(val_ids, recipe.eval_windows, recipe.seq_len, seed=recipe.eval_seed)
        evaluate = lambda m: {"val_loss": estimate_loss(m, val_x, val_y)}  # noqa: E731
    batches = WindowBatches(train_ids, recipe.batch_size, recipe.seq_len, seed=seed)
    optimizer = recipe.optimizer(model)
    return fit(model, batches, recipe.loss, optimizer, steps=recipe.steps,
               scheduler=recipe.scheduler(optimizer, recipe.steps), clip_grad_norm=recipe.clip_grad_norm,
               eval_every=recipe.eval_every, evaluate=evaluate, callbacks=callbacks, log=log)
