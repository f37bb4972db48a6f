"""Plotting helpers with one consistent look. Each returns the matplotlib Figure."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .training.loop import History


def plot_history(history: History, metrics: Sequence[str] = ("train_loss", "val_loss"),
                 *, title: str | None = None, x: str = "epoch"):
    """Curves of the given metrics against ``epoch`` or ``step``; accuracies get their own axis."""
    groups = {"loss": [m for m in metrics if "acc" not in m], "accuracy": [m for m in metrics if "acc" in m]}
    groups = {k: v for k, v in groups.items() if v}
    fig, axes = plt.subplots(1, len(groups), figsize=(5.2 * len(groups), 3.6), squeeze=False)
    for ax, (label, names) in zip(axes[0], groups.items()):
        for name in names:
            xs = [r[x] for r in history.records if name in r]
            ax.plot(xs, history[name], marker="o", markersize=3, label=name)
        ax.set_xlabel(x)
        ax.set_ylabel(label)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_images(images: torch.Tensor, titles: Sequence[str] | None = None, *, ncols: int = 8,
                cmap: str = "gray_r", size: float = 1.3):
    """A grid of grey images, (N, H, W) or (N, 1, H, W), with optional titles."""
    images = torch.as_tensor(images).detach().cpu()
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"expected images of shape (N, H, W) or (N, 1, H, W), got {tuple(images.shape)}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"{len(titles)} titles for {len(images)} images")
    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * (1.25 if titles else 1)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i].float().numpy(), cmap=cmap)
            if titles is not None:
                ax.set_title(titles[i], fontsize=7)
    fig.tight_layout()
    return fig


def _annotation_colour(cell) -> str:
    """"black" or "white", whichever contrasts more with the colour ``cell`` (RGB or RGBA in [0, 1]):
    black when the cell's WCAG relative luminance is above 0.179, where the two contrast ratios
    (L + 0.05) / 0.05 and 1.05 / (L + 0.05) are equal. A cell with no colour (NaN, alpha 0) shows the
    white axes behind it: black."""
    r, g, b, *alpha = cell
    if alpha and alpha[0] == 0:
        return "black"
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "black" if luminance > 0.179 else "white"


def heatmap(matrix, *, xlabels: Sequence[str] | None = None, ylabels: Sequence[str] | None = None,
            xlabel: str = "", ylabel: str = "", title: str | None = None, annotate: bool = False,
            fmt: str = "{:.2f}", cmap: str = "viridis", ax=None):
    """A labelled heat map of a 2-D array (attention weights, confusion matrices, ...)."""
    m = np.asarray(torch.as_tensor(matrix).detach().cpu())
    if m.ndim != 2:
        raise ValueError(f"heatmap needs a 2-D matrix, got shape {m.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.5 * m.shape[1] + 2.5, 0.45 * m.shape[0] + 1.5))
    else:
        fig = ax.figure
    im = ax.imshow(m, cmap=cmap, aspect="auto")
    ax.grid(False)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if xlabels is not None:
        ax.set_xticks(range(m.shape[1]), xlabels, rotation=45, ha="right")
    if ylabels is not None:
        ax.set_yticks(range(m.shape[0]), ylabels)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if annotate:
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                cell = im.cmap(im.norm(m[i, j]))          # the cell's colour under the colormap
                ax.text(j, i, fmt.format(m[i, j]), ha="center", va="center", fontsize=7,
                        color=_annotation_colour(cell))
    fig.tight_layout()
    return fig


def plot_confusion_matrix(cm: torch.Tensor, class_names: Sequence[str], *, title: str | None = None):
    """Confusion matrix (rows: true class, columns: predicted), annotated with counts."""
    cm = torch.as_tensor(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(class_names):
        raise ValueError(f"confusion matrix {tuple(cm.shape)} does not match {len(class_names)} class names")
    return heatmap(cm, xlabels=class_names, ylabels=class_names, xlabel="predicted", ylabel="true",
                   title=title, annotate=True, fmt="{:.0f}", cmap="Blues")
