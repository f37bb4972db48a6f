"""Classification metrics written from their definitions (M classes, as in the notation appendix),
and the standard errors that say how far a measured accuracy or difference can be trusted."""
from __future__ import annotations

import math

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


# --------------------------------------------------------------------------- uncertainty
def accuracy_se(p: float, n: int) -> float:
    """Standard error of an accuracy ``p`` measured on ``n`` independent examples: √(p(1−p)/n),
    the standard deviation of the mean of n Bernoulli(p) outcomes."""
    check_int("n", n)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be an accuracy in [0, 1], got {p!r}")
    return math.sqrt(p * (1 - p) / n)


def paired_difference(right_a: torch.Tensor, right_b: torch.Tensor) -> tuple[float, float]:
    """Accuracy of A minus accuracy of B on the same examples, and the standard error of that
    difference: the per-example differences d ∈ {−1, 0, +1} have mean = the difference and
    standard error std(d)/√n. Pairing removes the examples both get right or both get wrong,
    so it is much smaller than the two accuracies' separate standard errors combined.

    right_a, right_b: (n,) booleans, True where A (resp. B) is correct.
    """
    right_a, right_b = torch.as_tensor(right_a), torch.as_tensor(right_b)
    if right_a.shape != right_b.shape or right_a.ndim != 1 or len(right_a) < 2:
        raise ValueError(f"right_a and right_b must be 1-d with the same length >= 2, got "
                         f"{tuple(right_a.shape)} and {tuple(right_b.shape)}")
    d = right_a.double() - right_b.double()                 # (n,) values -1, 0 or +1
    return d.mean().item(), d.std().item() / math.sqrt(len(d))


def z_score(difference: float, se: float) -> float:
    """|difference| in standard errors (0 for no difference with no spread, ∞ for a difference
    with none)."""
    if se < 0:
        raise ValueError(f"a standard error cannot be negative, got {se!r}")
    return abs(difference) / se if se > 0 else (math.inf if difference else 0.0)


def noise_verdict(difference: float, se: float) -> str:
    """'beyond noise' when the difference is more than two standard errors, else 'within noise'."""
    return "beyond noise" if z_score(difference, se) > 2 else "within noise"
