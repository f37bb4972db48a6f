"""Classification metrics written from their definitions (M classes, as in the notation appendix)."""
from __future__ import annotations

import torch

from .nnutils import check_int


def _labels(pred: torch.Tensor) -> torch.Tensor:
    """Accept class ids (N,) or scores/logits (N, M)."""
    if pred.ndim == 2:
        return pred.argmax(1)
    if pred.ndim == 1:
        return pred
    raise ValueError(f"predictions must be class ids (N,) or scores (N, M), got shape {tuple(pred.shape)}")


def accuracy(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Fraction of correct predictions; ``pred`` is (N,) class ids or (N, M) scores."""
    pred = _labels(pred)
    if pred.shape != target.shape:
        raise ValueError(f"predictions {tuple(pred.shape)} and targets {tuple(target.shape)} differ in shape")
    return (pred == target).float().mean().item()


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts (M, M) for M = ``num_classes``: row = true class, column = predicted class."""
    check_int("num_classes", num_classes)
    pred = _labels(pred)
    if pred.shape != target.shape or target.ndim != 1:
        raise ValueError(f"predictions {tuple(pred.shape)} and targets {tuple(target.shape)} must be equal 1-D shapes")
    if len(target) and (min(pred.min(), target.min()) < 0 or max(pred.max(), target.max()) >= num_classes):
        raise ValueError(f"class ids must lie in [0, {num_classes})")
    flat = target.long() * num_classes + pred.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)
