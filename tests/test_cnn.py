"""utils.cnn: the article's CNN (225,034 parameters, Keras' shapes and init), the improved CNN,
and the augmentation (shape, range, seeding, and that it only shifts and mirrors)."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from utils.cnn import (ArticleCNN, ArticleCNNConfig, AugmentedBatches, ImprovedCNN, ImprovedCNNConfig, augment,
                       count_parameters)


# --------------------------------------------------------------------------- ArticleCNN
def test_article_cnn_has_the_keras_parameter_count():
    model = ArticleCNN()
    per_layer = [sum(p.numel() for p in m.parameters()) for m in model.modules()
                 if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert per_layer == [320, 18_496, 204_928, 1_290]
    assert count_parameters(model) == 225_034


def test_article_cnn_shapes_follow_valid_padding():
    model = ArticleCNN()
    x = torch.rand(3, 1, 28, 28)
    shapes = []
    for layer in [*model.features, *model.classifier]:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [(32, 26, 26), (32, 26, 26), (32, 13, 13), (64, 11, 11), (64, 11, 11), (64, 5, 5),
                      (1600,), (128,), (128,), (10,)]
    assert ArticleCNNConfig().feature_size == 5


def test_article_cnn_keras_init_is_glorot_uniform_with_zero_bias():
    torch.manual_seed(0)
    model = ArticleCNN(ArticleCNNConfig(init="keras"))
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            receptive = m.weight[0, 0].numel() if m.weight.ndim == 4 else 1
            fan_in, fan_out = m.weight.shape[1] * receptive, m.weight.shape[0] * receptive
            bound = math.sqrt(6 / (fan_in + fan_out))
            assert m.weight.abs().max() <= bound
            assert m.weight.abs().max() > 0.9 * bound          # the whole interval is used
            assert torch.count_nonzero(m.bias) == 0
    default = ArticleCNN(ArticleCNNConfig(init="pytorch"))
    assert torch.count_nonzero(default.features[0].bias) > 0  # PyTorch's default draws biases too


def test_article_cnn_rejects_bad_input_and_config():
    with pytest.raises(AssertionError, match="init"):
        ArticleCNNConfig(init="he")
    with pytest.raises(AssertionError, match="too small"):
        ArticleCNNConfig(image_size=8)
    with pytest.raises(AssertionError, match="expected images"):
        ArticleCNN()(torch.rand(2, 28, 28))


# --------------------------------------------------------------------------- ImprovedCNN
@pytest.mark.parametrize("config, feature_size", [
    (ImprovedCNNConfig(), 4),
    (ImprovedCNNConfig(channels=(16, 32), convs_per_block=2, batch_norm=False, dropout=0.0), 7),
    (ImprovedCNNConfig(channels=(8, 16, 32), convs_per_block=(1, 2, 1), conv_dropout=0.2), 4),
])
def test_improved_cnn_shapes(config, feature_size):
    assert config.feature_size == feature_size
    model = ImprovedCNN(config)
    features = model.features(torch.rand(5, 1, 28, 28))
    assert features.shape == (5, config.channels[-1], feature_size, feature_size)
    assert model(torch.rand(5, 1, 28, 28)).shape == (5, 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == sum(config.convs_per_block)
    assert all((m.bias is None) == config.batch_norm for m in convs), "a conv before batch norm has no bias"


def test_improved_cnn_switches_change_the_layers():
    plain = ImprovedCNN(ImprovedCNNConfig(batch_norm=False, dropout=0.0, conv_dropout=0.0))
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.Dropout)) for m in plain.modules())
    full = ImprovedCNN(ImprovedCNNConfig(batch_norm=True, dropout=0.5, conv_dropout=0.1))
    kinds = [type(m) for m in full.modules()]
    assert kinds.count(nn.BatchNorm2d) == 3 and kinds.count(nn.BatchNorm1d) == 1 and kinds.count(nn.Dropout) == 4
    # buffers (running statistics) are not parameters
    assert count_parameters(full) == sum(p.numel() for p in full.parameters())
    assert len(full.state_dict()) > len(list(full.parameters()))


def test_improved_cnn_eval_mode_is_deterministic_and_channels_last_agrees():
    torch.manual_seed(0)
    model = ImprovedCNN(ImprovedCNNConfig(channels=(8, 16, 32))).eval()
    x = torch.rand(4, 1, 28, 28)
    out = model(x)
    torch.testing.assert_close(model(x), out)
    fast = ImprovedCNN(ImprovedCNNConfig(channels=(8, 16, 32))).eval()
    fast.load_state_dict(model.state_dict())
    fast = fast.to(memory_format=torch.channels_last)
    torch.testing.assert_close(fast(x), out, atol=1e-5, rtol=1e-4)


def test_improved_cnn_rejects_bad_configs():
    with pytest.raises(AssertionError, match="one count"):
        ImprovedCNNConfig(channels=(8, 16), convs_per_block=(1, 1, 1))
    with pytest.raises(AssertionError, match="dropout"):
        ImprovedCNNConfig(dropout=1.0)
    with pytest.raises(AssertionError, match="too many"):
        ImprovedCNNConfig(channels=(4,) * 7)


# --------------------------------------------------------------------------- augment
def candidates(image: torch.Tensor, padding: int) -> list[torch.Tensor]:
    """Every shift by -p..p pixels (zero fill), mirrored or not, of one image (C, H, W)."""
    c, h, w = image.shape
    padded = nn.functional.pad(image, (padding,) * 4)
    out = []
    for dy in range(2 * padding + 1):
        for dx in range(2 * padding + 1):
            crop = padded[:, dy:dy + h, dx:dx + w]
            out += [crop, crop.flip(-1)]
    return out


def test_augment_keeps_shape_dtype_and_range():
    x = torch.rand(16, 1, 28, 28)
    out = augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= 0 and out.max() <= 1
    assert not torch.equal(out, x)


def test_augment_is_seeded():
    x = torch.rand(16, 1, 28, 28)
    a = augment(x, torch.Generator().manual_seed(1))
    b = augment(x, torch.Generator().manual_seed(1))
    c = augment(x, torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_augment_only_shifts_and_mirrors_each_image_as_a_whole():
    x = torch.rand(12, 2, 9, 7)   # two channels: both must move together
    out = augment(x, torch.Generator().manual_seed(3), padding=2)
    for image, augmented in zip(x, out):
        matches = [torch.equal(augmented, cand) for cand in candidates(image, 2)]
        assert any(matches), "an augmented image is not a shifted/mirrored copy of its input"


def test_augment_without_padding_or_flip_is_the_identity():
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(augment(x, torch.Generator().manual_seed(0), padding=0, flip=False), x)
    flipped = augment(x, torch.Generator().manual_seed(0), padding=0, flip=True)
    assert all(torch.equal(f, i) or torch.equal(f, i.flip(-1)) for f, i in zip(flipped, x))


def test_augment_rejects_unbatched_input():
    with pytest.raises(AssertionError, match="batch"):
        augment(torch.rand(1, 28, 28), torch.Generator())


def test_augmented_batches_has_a_length_and_repeats_with_its_seed():
    x, y = torch.rand(40, 1, 8, 8), torch.arange(40)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)
    first = [b for b, _ in AugmentedBatches(loader, seed=5)]
    second = [b for b, _ in AugmentedBatches(loader, seed=5)]
    assert len(AugmentedBatches(loader)) == len(loader) == 3
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    wrapped = AugmentedBatches(loader, seed=5)
    epoch1, epoch2 = [b for b, _ in wrapped], [b for b, _ in wrapped]
    assert not all(torch.equal(a, b) for a, b in zip(epoch1, epoch2)), "every epoch draws afresh"
    assert [t.tolist() for _, t in wrapped] == [t.tolist() for _, t in loader], "labels pass through"


# --------------------------------------------------------------------------- Recipe / train_with_recipe
def tiny_split(n: int = 96, seed: int = 0):
    """Two easy classes of uint8 images: a bright top half or a bright bottom half (mirroring keeps the class)."""
    from utils import Split
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randint(0, 60, (n, 28, 28), generator=g, dtype=torch.uint8)
    x[y == 0, :14] += 150
    x[y == 1, 14:] += 150
    return Split(x, y)


def test_improved_recipe_defaults_are_the_books_model():
    assert count_parameters(ImprovedCNN()) == 610_874
    from utils.cnn import IMPROVED_RECIPE
    assert IMPROVED_RECIPE.one_cycle and IMPROVED_RECIPE.augment and IMPROVED_RECIPE.label_smoothing > 0


@pytest.mark.parametrize("one_cycle, augment, smoothing", [(False, False, 0.0), (True, True, 0.1)])
def test_train_with_recipe_learns_an_easy_problem(one_cycle, augment, smoothing):
    from utils.cnn import Recipe, train_with_recipe
    torch.manual_seed(0)
    model = ImprovedCNN(ImprovedCNNConfig(channels=(4, 8), hidden_size=16, num_classes=2))
    recipe = Recipe(epochs=3, batch_size=16, lr=3e-3, one_cycle=one_cycle, augment=augment, label_smoothing=smoothing)
    history = train_with_recipe(model, tiny_split(), tiny_split(64, seed=1), recipe, log=False)
    assert [r["epoch"] for r in history.records] == [1.0, 2.0, 3.0]
    assert history.last("val_acc") > 0.9
    assert model.features[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_train_with_recipe_can_evaluate_only_at_the_end():
    from utils.cnn import Recipe, train_with_recipe
    torch.manual_seed(0)
    model = ImprovedCNN(ImprovedCNNConfig(channels=(4,), hidden_size=8, num_classes=2))
    recipe = Recipe(epochs=2, batch_size=32, lr=1e-2, one_cycle=True)
    history = train_with_recipe(model, tiny_split(), None, recipe, eval_each_epoch=False, log=False)
    assert len(history.records) == 1 and "val_acc" not in history.records[0]


def test_recipe_rejects_bad_values():
    from utils.cnn import Recipe
    with pytest.raises(AssertionError, match="label_smoothing"):
        Recipe(label_smoothing=1.0)
    with pytest.raises(AssertionError, match="epochs"):
        Recipe(epochs=0)
