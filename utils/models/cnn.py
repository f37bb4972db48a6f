"""The CNNs of the code-example chapter (article §4.1) and the data augmentation they train with.

* :class:`ArticleCNN` is the article's Keras model, layer for layer: Conv 32@3×3 ReLU → MaxPool 2 →
  Conv 64@3×3 ReLU → MaxPool 2 → Flatten → Dense 128 ReLU → Dense 10, with Keras' ``'valid'``
  padding; 225,034 parameters. It returns logits: the softmax is folded into the loss.
* :class:`ImprovedCNN` is a configurable stronger CNN: padded 3×3 convolutions, optional batch
  norm and dropout, a small classifier head.

How they are trained (augmentation, optimiser, schedule) lives in :mod:`utils.training.recipes`.
Shapes follow the notation appendix: images (N, C, H, W), logits (N, M) for M = ``num_classes``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..checks import check_choice, check_int, check_number
from ..layers.init import keras_init_


def _check_images(x: torch.Tensor, channels: int, size: int) -> None:
    """A user-facing check (not an assert, which ``python -O`` drops): the classifier head is sized
    for ``size``×``size`` images, so any other size would fail deep inside a matrix product."""
    if x.ndim != 4 or x.shape[1] != channels or x.shape[2:] != (size, size):
        raise ValueError(f"expected images (N, {channels}, {size}, {size}), i.e. {size}×{size} pixels "
                         f"(the config's image_size), got shape {tuple(x.shape)}")


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
        check_choice("init", self.init, ("keras", "pytorch"))
        for name in ("in_channels", "num_classes", "image_size", "kernel_size", "hidden_size"):
            check_int(name, getattr(self, name))
        self.conv_channels = tuple(self.conv_channels)
        if len(self.conv_channels) != 2:
            raise ValueError(f"conv_channels must be two counts (the article's model has two conv layers), "
                             f"got {self.conv_channels}")
        for c in self.conv_channels:
            check_int("conv_channels entry", c)
        if self.feature_size < 1:
            raise ValueError(f"image_size {self.image_size} is too small for two valid {self.kernel_size}×"
                             f"{self.kernel_size} convs and pools; it must leave a feature map of at least 1×1")

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
        _check_images(x, self.config.in_channels, self.config.image_size)
        return self.classifier(self.features(x))


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
        for name in ("in_channels", "num_classes", "image_size", "hidden_size"):
            check_int(name, getattr(self, name))
        self.channels = tuple(self.channels)
        if not self.channels:
            raise ValueError("channels must list at least one block, got ()")
        for c in self.channels:
            check_int("channels entry", c)
        if isinstance(self.convs_per_block, int):
            self.convs_per_block = (self.convs_per_block,) * len(self.channels)
        self.convs_per_block = tuple(self.convs_per_block)
        if len(self.convs_per_block) != len(self.channels):
            raise ValueError(f"convs_per_block must be one count >= 1 per block, got {self.convs_per_block} "
                             f"for {len(self.channels)} blocks")
        for n in self.convs_per_block:
            check_int("convs_per_block entry", n)
        check_number("conv_dropout", self.conv_dropout, low=0, high=1, high_open=True)
        check_number("dropout", self.dropout, low=0, high=1, high_open=True)
        if self.image_size < 2 ** (len(self.channels) - 1):
            raise ValueError(f"{len(self.channels)} poolings are too many for image_size={self.image_size}: "
                             f"it must be at least {2 ** (len(self.channels) - 1)}")

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
        _check_images(x, self.config.in_channels, self.config.image_size)
        return self.classifier(self.features(x))

