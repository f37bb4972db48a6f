"""utils.plot: each helper returns a Figure with the expected axes; bad shapes are rejected."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import utils

from error_facts import raises_naming


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def history() -> utils.History:
    return utils.History(records=[
        {"step": 10 * e, "epoch": float(e), "train_loss": 1.0 / e, "val_loss": 1.2 / e, "val_acc": 0.5 + 0.1 * e}
        for e in range(1, 5)])


def test_plot_history_losses_only():
    fig = utils.plot_history(history())
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["train_loss", "val_loss"]
    assert list(ax.get_lines()[1].get_xdata()) == [1.0, 2.0, 3.0, 4.0]
    assert list(ax.get_lines()[1].get_ydata()) == pytest.approx([1.2, 0.6, 0.4, 0.3])
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"


def test_plot_history_losses_and_accuracy_against_steps():
    fig = utils.plot_history(history(), ("train_loss", "val_loss", "val_acc"), title="run 1", x="step")
    assert len(fig.axes) == 2
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.get_lines()) == 2 and [l.get_label() for l in acc_ax.get_lines()] == ["val_acc"]
    assert acc_ax.get_ylabel() == "accuracy" and acc_ax.get_xlabel() == "step"
    assert list(acc_ax.get_lines()[0].get_xdata()) == [10, 20, 30, 40]
    assert fig.get_suptitle() == "run 1"


def test_plot_history_unknown_metric():
    with raises_naming(KeyError, "'test_acc'"):
        utils.plot_history(history(), ("test_acc",))


def test_show_images_grid_and_titles():
    images = torch.randint(0, 256, (10, 28, 28), dtype=torch.uint8)
    titles = [f"img {i}" for i in range(10)]
    fig = utils.show_images(images, titles, ncols=4)
    assert isinstance(fig, Figure) and len(fig.axes) == 12  # 3 rows × 4 columns
    assert [ax.get_title() for ax in fig.axes] == titles + ["", ""]
    assert [len(ax.images) for ax in fig.axes] == [1] * 10 + [0, 0]
    assert np.array_equal(fig.axes[3].images[0].get_array(), images[3].float().numpy())


def test_show_images_accepts_channel_dimension_and_few_images():
    fig = utils.show_images(torch.rand(3, 1, 8, 8))  # fewer images than ncols: one row of 3
    assert len(fig.axes) == 3 and all(ax.get_title() == "" for ax in fig.axes)
    assert fig.axes[0].images[0].get_array().shape == (8, 8)


@pytest.mark.parametrize("images", [torch.rand(28, 28), torch.rand(2, 3, 8, 8), torch.rand(1, 2, 3, 4, 5)])
def test_show_images_wrong_shape(images):
    with raises_naming(ValueError, '(N, 1, H, W)'):
        utils.show_images(images)


def test_show_images_titles_count_mismatch():
    with raises_naming(ValueError, '2', '3'):
        utils.show_images(torch.rand(3, 8, 8), ["a", "b"])


def test_heatmap_labels_and_annotations():
    m = torch.arange(6.0).reshape(2, 3) / 5
    fig = utils.heatmap(m, xlabels=["a", "b", "c"], ylabels=["x", "y"], xlabel="key", ylabel="query",
                        title="attention", annotate=True)
    assert isinstance(fig, Figure) and len(fig.axes) == 2  # the map and its colour bar
    ax = fig.axes[0]
    assert ax.get_title() == "attention" and (ax.get_xlabel(), ax.get_ylabel()) == ("key", "query")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y"]
    assert [t.get_text() for t in ax.texts] == ["0.00", "0.20", "0.40", "0.60", "0.80", "1.00"]
    assert np.allclose(ax.images[0].get_array(), m.numpy())


def _luminance(colour) -> float:
    """WCAG relative luminance of an RGB(A) colour: 0 for black, 1 for white."""
    from matplotlib.colors import to_rgb
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(colour)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a, b) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("cmap", ["Blues", "viridis", "Greys", "magma_r"])
def test_heatmap_annotations_contrast_with_their_cells(cmap):
    # the rule was "dark text above the middle value": right for viridis (bright at the top), inverted for
    # Blues, the confusion matrices' map (dark at the top), where the largest counts were black on navy
    m = np.linspace(0, 1, 12).reshape(3, 4)
    ax = utils.heatmap(m, annotate=True, cmap=cmap).axes[0]
    image = ax.images[0]
    for text, value in zip(ax.texts, m.ravel()):
        cell = image.cmap(image.norm(value))
        other = "white" if _contrast(text.get_color(), "black") < 1.5 else "black"
        assert _contrast(text.get_color(), cell) >= _contrast(other, cell), (cmap, value, text.get_color())


def test_confusion_matrix_counts_read_white_on_dark_cells():
    cm = torch.tensor([[90, 10], [5, 95]])
    ax = utils.plot_confusion_matrix(cm, ["a", "b"]).axes[0]
    colours = {t.get_text(): t.get_color() for t in ax.texts}
    assert colours["95"] == colours["90"] == "white" and colours["5"] == colours["10"] == "black"


def test_heatmap_annotates_a_nan_cell_in_black():
    ax = utils.heatmap(np.array([[0.0, np.nan], [1.0, 0.5]]), annotate=True).axes[0]
    assert [(t.get_text(), t.get_color()) for t in ax.texts][1] == ("nan", "black")   # on the white axes


def test_heatmap_into_given_axes():
    fig, ax = plt.subplots()
    assert utils.heatmap(np.eye(3), ax=ax) is fig
    assert len(ax.images) == 1 and len(ax.texts) == 0


@pytest.mark.parametrize("matrix", [torch.rand(2, 3, 4), torch.rand(5), 3.0])
def test_heatmap_needs_a_matrix(matrix):
    with raises_naming(ValueError, '2'):
        utils.heatmap(matrix)


def test_plot_confusion_matrix():
    cm = torch.tensor([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    fig = utils.plot_confusion_matrix(cm, ["cat", "dog", "eel"], title="test set")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    ax = fig.axes[0]
    assert ax.get_title() == "test set" and (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog", "eel"]
    assert [t.get_text() for t in ax.texts] == [str(v) for v in cm.flatten().tolist()]


@pytest.mark.parametrize("cm, names", [(torch.zeros(3, 3), ["a", "b"]), (torch.zeros(2, 3), ["a", "b"]),
                                       (torch.zeros(2, 2, 2), ["a", "b"])])
def test_plot_confusion_matrix_mismatch(cm, names):
    with raises_naming(ValueError, '2'):
        utils.plot_confusion_matrix(cm, names)
