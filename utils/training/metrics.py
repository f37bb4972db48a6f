"""Classification metrics written from their definitions (M classes, as in the notation appendix),
and the standard errors that say how far a measured accuracy or difference can be trusted."""
from __future__ import annotations

import math

import torch

from ..checks import check_int


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


# --------------------------------------------------------------------------- rankings
def average_ranks(x: torch.Tensor) -> torch.Tensor:
    """Ranks 1..n of the entries of ``x`` (flattened), tied entries sharing the mean of the ranks
    they occupy (``scipy.stats.rankdata``'s "average" method), as float64."""
    x = torch.as_tensor(x).flatten()
    if x.numel() == 0:
        raise ValueError("x must have at least one entry")
    values, inverse, counts = torch.unique(x, return_inverse=True, return_counts=True)
    first = torch.cumsum(counts, 0) - counts                # 0-based position of each value's run
    mean_rank = first.double() + (counts.double() + 1) / 2  # mean of first+1 .. first+count
    return mean_rank[inverse]


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Spearman's rank correlation: Pearson's correlation of the average ranks of ``a`` and ``b``
    (flattened, same number of entries). Ties get average ranks, so a binary map is handled
    correctly; NaN when either input is constant (a rank correlation is then undefined)."""
    a, b = torch.as_tensor(a).flatten(), torch.as_tensor(b).flatten()
    if a.numel() != b.numel() or a.numel() < 2:
        raise ValueError(f"a and b need the same number (>= 2) of entries, got {a.numel()} and {b.numel()}")
    ra, rb = average_ranks(a), average_ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = math.sqrt(float((ra * ra).sum()) * float((rb * rb).sum()))
    return float((ra * rb).sum()) / denominator if denominator > 0 else math.nan


def precision_at_k(scores: torch.Tensor, relevant: torch.Tensor, k: int) -> float:
    """The share of relevant items among the ``k`` items with the highest scores (ties broken by
    position, stably)."""
    scores, relevant = torch.as_tensor(scores).flatten(), torch.as_tensor(relevant).flatten().bool()
    if scores.numel() != relevant.numel():
        raise ValueError(f"scores and relevant differ in length: {scores.numel()} and {relevant.numel()}")
    check_int("k", k)
    if k > scores.numel():
        raise ValueError(f"k must be at most the number of items {scores.numel()}, got {k}")
    top = torch.argsort(scores, descending=True, stable=True)[:k]
    return relevant[top].double().mean().item()


def random_precision_at_k(n: int, relevant: int, k: int) -> tuple[float, float]:
    """Mean and standard deviation of precision at k for a uniformly random ranking of ``n`` items
    of which ``relevant`` are relevant: the top k is a sample without replacement, so the count of
    relevant items in it is hypergeometric, mean k·p and variance k·p(1−p)(n−k)/(n−1), p = relevant/n."""
    check_int("n", n)
    check_int("relevant", relevant, minimum=0)
    check_int("k", k)
    if relevant > n or k > n:
        raise ValueError(f"relevant ({relevant}) and k ({k}) must be at most n ({n})")
    p = relevant / n
    variance = k * p * (1 - p) * (n - k) / (n - 1) if n > 1 else 0.0
    return p, math.sqrt(variance) / k
