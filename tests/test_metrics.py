"""utils.training.metrics: accuracy and the confusion matrix, from their definitions."""
from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics
import torch

import utils

from error_facts import raises_naming


def test_accuracy_from_class_ids():
    pred, target = torch.tensor([0, 1, 2, 2, 1]), torch.tensor([0, 1, 1, 2, 0])
    assert utils.accuracy(pred, target) == pytest.approx(0.6)
    assert utils.accuracy(target, target) == 1.0
    assert utils.accuracy((target + 1) % 3, target) == 0.0
    assert isinstance(utils.accuracy(pred, target), float)


def test_accuracy_from_logits():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.1, 0.3, 0.2], [-1.0, -2.0, -0.5], [5.0, 0.0, 4.9]])
    target = torch.tensor([0, 1, 0, 0])  # argmax: 0, 1, 2, 0
    assert utils.accuracy(logits, target) == pytest.approx(0.75)
    assert utils.accuracy(logits.softmax(1), target) == pytest.approx(0.75)


@pytest.mark.parametrize("pred, target", [
    (torch.tensor([0, 1, 2]), torch.tensor([0, 1])),
    (torch.zeros(4, 3), torch.zeros(3, dtype=torch.long)),
    (torch.tensor([0, 1]), torch.tensor([[0, 1]])),
])
def test_accuracy_shape_mismatch(pred, target):
    with raises_naming(ValueError, "predictions", "targets", tuple(target.shape)):
        utils.accuracy(pred, target)


@pytest.mark.parametrize("fn", [lambda p, t: utils.accuracy(p, t), lambda p, t: utils.confusion_matrix(p, t, 3)])
def test_three_dimensional_predictions(fn):
    with raises_naming(ValueError, '(2, 3, 4)'):
        fn(torch.zeros(2, 3, 4), torch.zeros(2, dtype=torch.long))


def test_confusion_matrix_small_example():
    pred, target = torch.tensor([0, 1, 2, 2, 1, 0]), torch.tensor([0, 1, 1, 2, 0, 0])
    cm = utils.confusion_matrix(pred, target, 3)
    # rows: true class, columns: predicted class
    assert cm.tolist() == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_confusion_matrix_matches_a_loop_and_sklearn():
    g = torch.Generator().manual_seed(0)
    num_classes = 7
    target = torch.randint(0, num_classes, (500,), generator=g)
    logits = torch.randn(500, num_classes, generator=g)
    logits[torch.arange(500), target] += 1.0  # better than chance, so the diagonal is not trivial
    pred = logits.argmax(1)
    cm = utils.confusion_matrix(logits, target, num_classes)

    loop = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for t, p in zip(target.tolist(), pred.tolist()):
        loop[t, p] += 1
    assert torch.equal(cm, loop)
    assert np.array_equal(cm.numpy(), sklearn.metrics.confusion_matrix(target, pred, labels=range(num_classes)))
    assert cm.shape == (num_classes, num_classes) and cm.sum().item() == 500
    assert cm.trace().item() / 500 == pytest.approx(utils.accuracy(logits, target))
    assert torch.equal(cm.sum(1), torch.bincount(target, minlength=num_classes))


def test_confusion_matrix_with_absent_classes_and_no_items():
    cm = utils.confusion_matrix(torch.tensor([1, 1]), torch.tensor([1, 3]), 5)
    assert cm.shape == (5, 5) and cm[1, 1] == 1 and cm[3, 1] == 1 and cm.sum() == 2
    empty = torch.tensor([], dtype=torch.long)
    assert torch.equal(utils.confusion_matrix(empty, empty, 3), torch.zeros(3, 3, dtype=torch.long))


@pytest.mark.parametrize("pred, target", [
    (torch.tensor([0, 3]), torch.tensor([0, 1])),
    (torch.tensor([0, 1]), torch.tensor([0, 3])),
    (torch.tensor([-1, 1]), torch.tensor([0, 1])),
    (torch.tensor([0, 1]), torch.tensor([0, -2])),
])
def test_confusion_matrix_out_of_range_ids(pred, target):
    with raises_naming(ValueError, 'ids', '[0, 3)'):
        utils.confusion_matrix(pred, target, 3)


@pytest.mark.parametrize("pred, target", [
    (torch.tensor([0, 1, 2]), torch.tensor([0, 1])),
    (torch.tensor([[0, 1]]), torch.tensor([[0, 1]])),  # (1, 2) "scores" against 2-D targets
])
def test_confusion_matrix_shape_mismatch(pred, target):
    with raises_naming(ValueError, '1'):
        utils.confusion_matrix(pred, target, 3)


@pytest.mark.parametrize("num_classes, error", [(0, ValueError), (-3, ValueError), (2.0, TypeError)])
def test_confusion_matrix_needs_a_positive_int_class_count(num_classes, error):
    with raises_naming(error, 'num_classes', '1'):
        utils.confusion_matrix(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), num_classes)


# --------------------------------------------------------------------------- uncertainty
from utils.training import metrics  # noqa: E402


def test_accuracy_se_is_the_spread_of_simulated_accuracies():
    p, n = 0.8, 400
    g = torch.Generator().manual_seed(0)
    simulated = (torch.rand(20_000, n, generator=g) < p).double().mean(1)   # 20,000 test sets
    assert metrics.accuracy_se(p, n) == pytest.approx(simulated.std().item(), rel=0.02)
    assert metrics.accuracy_se(1.0, 10) == 0.0


@pytest.mark.parametrize("p, n", [(1.5, 10), (-0.1, 10), (0.5, 0)])
def test_accuracy_se_rejects_bad_input(p, n):
    with pytest.raises(ValueError):
        metrics.accuracy_se(p, n)


def test_paired_difference_matches_its_definition_and_is_smaller_than_unpaired():
    g = torch.Generator().manual_seed(1)
    right_a = torch.rand(1000, generator=g) < 0.85
    right_b = right_a.clone()
    flip = torch.rand(1000, generator=g) < 0.05             # B differs from A on ~5 % of examples
    right_b[flip] = ~right_b[flip]
    diff, se = metrics.paired_difference(right_a, right_b)
    assert diff == pytest.approx(right_a.double().mean().item() - right_b.double().mean().item())
    d = (right_a.double() - right_b.double()).numpy()
    assert se == pytest.approx(d.std(ddof=1) / np.sqrt(len(d)))
    unpaired = np.hypot(metrics.accuracy_se(right_a.double().mean().item(), 1000),
                        metrics.accuracy_se(right_b.double().mean().item(), 1000))
    assert se < unpaired / 2
    assert metrics.paired_difference(right_a, right_a) == (0.0, 0.0)


def test_paired_difference_rejects_mismatched_shapes():
    with raises_naming(ValueError, "right_a", "right_b", "(3,)", "(4,)"):
        metrics.paired_difference(torch.ones(3, dtype=torch.bool), torch.ones(4, dtype=torch.bool))


def test_z_score_and_verdict():
    assert metrics.z_score(-0.03, 0.01) == pytest.approx(3.0)
    assert metrics.z_score(0.0, 0.0) == 0.0 and metrics.z_score(0.1, 0.0) == float("inf")
    assert metrics.noise_verdict(0.03, 0.01) == "beyond noise"
    assert metrics.noise_verdict(0.015, 0.01) == "within noise"
    with pytest.raises(ValueError):
        metrics.z_score(1.0, -1.0)


# --------------------------------------------------------------------------- rankings
@pytest.mark.parametrize("seed", range(4))
def test_spearman_matches_scipy_with_and_without_ties(seed):
    import scipy.stats
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(200, generator=g)
    b = a + torch.randn(200, generator=g)
    binary = (torch.rand(200, generator=g) > 0.7).double()        # mostly ties
    rounded = torch.round(b * 2) / 2                               # some ties
    for x, y in [(a, b), (a, binary), (binary, rounded), (rounded, a)]:
        expected = scipy.stats.spearmanr(x.numpy(), y.numpy()).statistic
        assert utils.training.metrics.spearman(x, y) == pytest.approx(expected, abs=1e-12)
    assert utils.training.metrics.spearman(a.view(10, 20), b.view(20, 10)) == pytest.approx(
        scipy.stats.spearmanr(a.numpy(), b.numpy()).statistic, abs=1e-12)


def test_average_ranks_match_scipy_rankdata():
    import scipy.stats
    x = torch.tensor([3.0, 1.0, 3.0, 2.0, 3.0, 1.0])
    np.testing.assert_allclose(utils.training.metrics.average_ranks(x).numpy(),
                               scipy.stats.rankdata(x.numpy(), method="average"))


def test_spearman_edge_cases():
    assert np.isnan(utils.training.metrics.spearman(torch.ones(5), torch.arange(5.0)))
    assert utils.training.metrics.spearman(torch.arange(5.0), -torch.arange(5.0)) == pytest.approx(-1.0)
    with raises_naming(ValueError, "3", "4"):
        utils.training.metrics.spearman(torch.ones(3), torch.ones(4))


def test_precision_at_k_and_its_random_baseline():
    import scipy.stats
    scores = torch.tensor([0.9, 0.1, 0.8, 0.8, 0.2])
    relevant = torch.tensor([True, False, False, True, False])
    assert utils.training.metrics.precision_at_k(scores, relevant, 1) == 1.0
    assert utils.training.metrics.precision_at_k(scores, relevant, 2) == 0.5    # stable tie: index 2 first
    assert utils.training.metrics.precision_at_k(scores, relevant, 3) == pytest.approx(2 / 3)
    n, m, k = 1000, 50, 100
    mean, sd = utils.training.metrics.random_precision_at_k(n, m, k)
    hyper = scipy.stats.hypergeom(n, m, k)
    assert mean == pytest.approx(hyper.mean() / k)
    assert sd == pytest.approx(hyper.std() / k)
    with pytest.raises(ValueError, match="k"):
        utils.training.metrics.precision_at_k(scores, relevant, 6)
    with raises_naming(ValueError, "relevant", "11", "10"):
        utils.training.metrics.random_precision_at_k(10, 11, 3)
