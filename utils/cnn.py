"""The CNNs of the code-example chapter (article §4.1) and the data augmentation they train with.

* :class:`ArticleCNN` is the article's Keras model, layer for layer: Conv 32@3×3 ReLU → MaxPool 2 →
  Conv 64@3×3 ReLU → MaxPool 2 → Flatten → Dense 128 ReLU → Dense 10, with Keras' ``'valid'``
  padding; 225,034 parameters. It returns logits: the softmax is folded into the loss.
* :class:`ImprovedCNN` is a configurable stronger CNN: padded 3×3 convolutions, optional batch
  norm and dropout, a small classifier head.
* :func:`augment` randomly shifts (pad + crop) and mirrors a batch of images with tensor ops;
  :class:`AugmentedBatches` applies it to every batch a loader yields, so ``utils.fit`` can train on it.
* :class:`Recipe` and :func:`train_with_recipe`: how a CNN is trained (optimizer, schedule, augmentation,
  label smoothing), so that the ablation, the final run and later chapters that need to retrain a
  cached model all train the same way. ``IMPROVED_RECIPE`` with ``ImprovedCNNConfig()`` is the book's
  stronger CNN.

Shapes follow the notation appendix: images (N, C, H, W), logits (N, num_classes).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from .data import Split, images_to_float, make_loader
from .train import History, evaluate_classifier, fit


# --------------------------------------------------------------------------- the article's model
@dataclass
class ArticleCNNConfig:
    """The article's model. ``init="keras"`` reproduces Keras' defaults (Glorot-uniform kernels,
    zero biases); ``init="pytorch"`` keeps PyTorch's (Kaiming-uniform with a = √5, uniform biases)."""

    in_channels: int = 1
    num_classes: int = 10
    image_size: int = 28
    conv_channels: tuple[int, int] = (32, 64)
    kernel_size: int = 3
    hidden_size: int = 128
    init: str = "keras"

    def __post_init__(self) -> None:
        assert self.init in ("keras", "pytorch"), f"init must be 'keras' or 'pytorch', got {self.init!r}"
        assert len(self.conv_channels) == 2, f"the article's model has two conv layers, got {self.conv_channels}"
        assert self.feature_size >= 1, f"image_size {self.image_size} is too small for two valid convs and pools"

    @property
    def feature_size(self) -> int:
        """Height (= width) of the last feature map: 28 → 26 → 13 → 11 → 5 for the defaults."""
        n = self.image_size
        for _ in range(2):
            n = (n - self.kernel_size + 1) // 2  # 'valid' conv (stride 1), then max-pool 2 (floor)
        return n


class ArticleCNN(nn.Module):
    """The article's Keras CNN in PyTorch. Input (N, in_channels, H, W), output logits (N, num_classes)."""

    def __init__(self, config: ArticleCNNConfig | None = None):
        super().__init__()
        self.config = config = config or ArticleCNNConfig()
        c1, c2 = config.conv_channels
        k = config.kernel_size
        self.features = nn.Sequential(
            nn.Conv2d(config.in_channels, c1, k),  # (N, 32, 26, 26)  'valid': no padding
            nn.ReLU(),
            nn.MaxPool2d(2),                       # (N, 32, 13, 13)
            nn.Conv2d(c1, c2, k),                  # (N, 64, 11, 11)
            nn.ReLU(),
            nn.MaxPool2d(2),                       # (N, 64, 5, 5)   floor(11 / 2) = 5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                           # (N, 1600)
            nn.Linear(c2 * config.feature_size ** 2, config.hidden_size),  # (N, 128)
            nn.ReLU(),
            nn.Linear(config.hidden_size, config.num_classes),      # (N, 10) logits; softmax is in the loss
        )
        if config.init == "keras":
            self.apply(keras_init_)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4 and x.shape[1] == self.config.in_channels, \
            f"expected images (N, {self.config.in_channels}, H, W), got {tuple(x.shape)}"
        return self.classifier(self.features(x))


@torch.no_grad()
def keras_init_(module: nn.Module) -> None:
    """Keras' default initialisation for ``Conv2D``/``Dense``: Glorot-uniform kernel, zero bias.

    Glorot-uniform draws from U(−a, a) with a = √(6 / (fan_in + fan_out)); for a convolution
    fan_in = C_in·K_h·K_w and fan_out = C_out·K_h·K_w, which is what ``nn.init.xavier_uniform_`` uses.
    """
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


# --------------------------------------------------------------------------- the improved model
@dataclass
class ImprovedCNNConfig:
    """The defaults are the book's stronger CNN (610,874 parameters).

    A VGG-style CNN: one block per entry of ``channels``, each ``convs_per_block`` × (3×3 conv with
    padding 1 [→ batch norm] → ReLU), then max-pool 2 [→ dropout ``conv_dropout``]; then
    Flatten → Linear(hidden_size) [→ batch norm] → ReLU [→ dropout ``dropout``] → Linear(num_classes)."""

    in_channels: int = 1
    num_classes: int = 10
    image_size: int = 28
    channels: tuple[int, ...] = (16, 64, 128)
    convs_per_block: int | tuple[int, ...] = 1   # one number for all blocks, or one per block
    hidden_size: int = 256
    batch_norm: bool = True
    conv_dropout: float = 0.0
    dropout: float = 0.3

    def __post_init__(self) -> None:
        self.channels = tuple(self.channels)
        assert self.channels and all(c >= 1 for c in self.channels), f"channels must be positive, got {self.channels}"
        if isinstance(self.convs_per_block, int):
            self.convs_per_block = (self.convs_per_block,) * len(self.channels)
        self.convs_per_block = tuple(self.convs_per_block)
        assert len(self.convs_per_block) == len(self.channels) and min(self.convs_per_block) >= 1, \
            f"convs_per_block must be one count >= 1 per block, got {self.convs_per_block} for {len(self.channels)} blocks"
        assert 0 <= self.conv_dropout < 1 and 0 <= self.dropout < 1, \
            f"dropout probabilities must lie in [0, 1), got {self.conv_dropout}, {self.dropout}"
        assert self.image_size >= 2 ** (len(self.channels) - 1), \
            f"{len(self.channels)} poolings are too many for a {self.image_size}-pixel image"

    @property
    def feature_size(self) -> int:
        """Height (= width) of the last feature map: padded convs keep the size, each pool halves it,
        rounding up (``ceil_mode``), so that no border row is dropped: 28 → 14 → 7 → 4."""
        n = self.image_size
        for _ in self.channels:
            n = -(-n // 2)
        return n


class ImprovedCNN(nn.Module):
    """Input (N, in_channels, H, W), output logits (N, num_classes)."""

    def __init__(self, config: ImprovedCNNConfig | None = None):
        super().__init__()
        self.config = config = config or ImprovedCNNConfig()
        layers: list[nn.Module] = []
        c_in = config.in_channels
        for c_out, n_convs in zip(config.channels, config.convs_per_block):
            for _ in range(n_convs):
                # a conv followed by batch norm needs no bias: BN subtracts the mean and adds its own shift
                layers.append(nn.Conv2d(c_in, c_out, 3, padding=1, bias=not config.batch_norm))
                if config.batch_norm:
                    layers.append(nn.BatchNorm2d(c_out))
                layers.append(nn.ReLU())
                c_in = c_out
            layers.append(nn.MaxPool2d(2, ceil_mode=True))  # (N, c_out, ⌈H/2⌉, ⌈W/2⌉): 28 → 14 → 7 → 4
            if config.conv_dropout > 0:
                layers.append(nn.Dropout(config.conv_dropout))
        self.features = nn.Sequential(*layers)
        head: list[nn.Module] = [nn.Flatten(),
                                 nn.Linear(c_in * config.feature_size ** 2, config.hidden_size,
                                           bias=not config.batch_norm)]
        if config.batch_norm:
            head.append(nn.BatchNorm1d(config.hidden_size))
        head.append(nn.ReLU())
        if config.dropout > 0:
            head.append(nn.Dropout(config.dropout))
        head.append(nn.Linear(config.hidden_size, config.num_classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4 and x.shape[1] == self.config.in_channels, \
            f"expected images (N, {self.config.in_channels}, H, W), got {tuple(x.shape)}"
        return self.classifier(self.features(x))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (buffers such as batch-norm statistics are not counted)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --------------------------------------------------------------------------- augmentation
def augment(x: torch.Tensor, generator: torch.Generator, *, padding: int = 2, flip: bool = True) -> torch.Tensor:
    """Random shift and mirror of a batch of images, the same for all channels of an image.

    Each image (C, H, W) is zero-padded by ``padding`` pixels on every side and a random H×W window
    is cut out of the result (a shift by −padding … +padding pixels in each direction); with
    ``flip`` it is then mirrored left ↔ right with probability 1/2. Draws come from ``generator``
    only, so the same generator state gives the same batch. Input and output: (N, C, H, W), same
    dtype; values stay in the input's range when it includes 0 (the padding value).
    """
    assert x.ndim == 4, f"augment expects a batch (N, C, H, W), got shape {tuple(x.shape)}"
    assert padding >= 0, f"padding must be non-negative, got {padding}"
    n, c, h, w = x.shape
    g = generator
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=g, device=g.device).to(x.device)  # (N,) window top
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=g, device=g.device).to(x.device)  # (N,) window left
    padded = nn.functional.pad(x, (padding, padding, padding, padding))       # (N, C, H+2p, W+2p)
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


# --------------------------------------------------------------------------- training recipe
@dataclass
class Recipe:
    """How to train: constant-rate Adam (the article's recipe, the default) or, with ``one_cycle``,
    AdamW with weight decay and a one-cycle schedule peaking at ``lr``; optional augmentation
    (:func:`augment` on every batch) and label smoothing."""

    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    one_cycle: bool = False
    weight_decay: float = 0.01      # used with one_cycle (AdamW's decoupled decay)
    augment: bool = False
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        assert self.epochs >= 1 and self.batch_size >= 1, f"epochs and batch_size must be positive: {self}"
        assert self.lr > 0 and self.weight_decay >= 0, f"lr must be positive, weight_decay non-negative: {self}"
        assert 0 <= self.label_smoothing < 1, f"label_smoothing must lie in [0, 1), got {self.label_smoothing}"


IMPROVED_RECIPE = Recipe(epochs=15, lr=3e-3, one_cycle=True, weight_decay=0.01, augment=True, label_smoothing=0.1)


def train_with_recipe(model: nn.Module, train: Split, val: Split | None, recipe: Recipe, *, seed: int = 0,
                      eval_each_epoch: bool = True, log: bool = True) -> History:
    """Train ``model`` in place on ``train`` (uint8 images (N, H, W), labels (N,)) with ``recipe``
    through ``utils.fit``, evaluating on ``val`` each epoch (or only at the end).

    ``seed`` fixes the batch order and the augmentation; seed the global generator before building
    the model to fix its initialisation and dropout masks. The model is switched to the channels-last
    memory layout, which makes convolutions and pooling on the CPU faster and changes no result.
    """
    loader = make_loader(images_to_float(train.x), train.y, recipe.batch_size, shuffle=True, seed=seed)
    batches = AugmentedBatches(loader, seed=seed) if recipe.augment else loader
    model.to(memory_format=torch.channels_last)
    if recipe.one_cycle:
        optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe.lr,
                                                        total_steps=recipe.epochs * len(loader))
    else:
        optimizer, scheduler = torch.optim.Adam(model.parameters(), lr=recipe.lr), None
    evaluate = None
    if val is not None:
        val_loader = make_loader(images_to_float(val.x), val.y, batch_size=512)
        evaluate = lambda m: evaluate_classifier(m, val_loader)  # noqa: E731
    return fit(model, batches, lambda logits, y: F.cross_entropy(logits, y, label_smoothing=recipe.label_smoothing),
               optimizer, epochs=recipe.epochs, scheduler=scheduler, evaluate=evaluate,
               eval_every=None if eval_each_epoch else recipe.epochs * len(loader), log=log)
