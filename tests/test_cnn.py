"""utils.models.cnn: the article's CNN (225,034 parameters, Keras' shapes and init) and the improved CNN;
their configs and inputs are checked with clear errors. (Augmentation and recipes: test_recipes.py.)"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from utils import count_parameters
from utils.models.cnn import ArticleCNN, ArticleCNNConfig, ImprovedCNN, ImprovedCNNConfig

from error_facts import raises_naming


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
    with raises_naming(ValueError, 'init', "'keras'", "'pytorch'", "'he'"):
        ArticleCNNConfig(init="he")
    with raises_naming(ValueError, 'image_size', '8'):
        ArticleCNNConfig(image_size=8)
    with raises_naming(ValueError, 'conv_channels'):
        ArticleCNNConfig(conv_channels=(8, 16, 32))
    with raises_naming(ValueError, 'hidden_size', '0', '1'):
        ArticleCNNConfig(hidden_size=0)
    with raises_naming(TypeError, 'num_classes'):
        ArticleCNNConfig(num_classes=2.5)
    with raises_naming(ValueError, '(N, 1, 28, 28)'):
        ArticleCNN()(torch.rand(2, 28, 28))


@pytest.mark.parametrize("make", [ArticleCNN, ImprovedCNN])
def test_cnns_name_the_expected_image_size(make):
    # a 32×32 image used to fail deep in a matmul (ArticleCNN) or pass silently (ImprovedCNN: 32 and 28
    # both pool down to 4×4); the error now names the config's 28×28
    with raises_naming(ValueError, '(N, 1, 28, 28)', '28', '(2, 1, 32, 32)'):
        make()(torch.rand(2, 1, 32, 32))
    with raises_naming(ValueError, "(N, 1, 28, 28)", "(2, 3, 28, 28)"):
        make()(torch.rand(2, 3, 28, 28))               # wrong number of channels
    small = ArticleCNNConfig(image_size=16) if make is ArticleCNN else ImprovedCNNConfig(image_size=16)
    assert make(small)(torch.rand(2, 1, 16, 16)).shape == (2, 10)


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
    with raises_naming(ValueError, "convs_per_block", "(1, 1, 1)", "2"):   # the field, its value, the blocks
        ImprovedCNNConfig(channels=(8, 16), convs_per_block=(1, 1, 1))
    with raises_naming(ValueError, 'entry', 'convs_per_block', '0', '1'):
        ImprovedCNNConfig(channels=(8, 16), convs_per_block=(1, 0))
    with raises_naming(ValueError, 'dropout', '[0, 1)', '1.0'):
        ImprovedCNNConfig(dropout=1.0)
    with raises_naming(ValueError, 'conv_dropout', '[0, 1)', 'nan'):
        ImprovedCNNConfig(conv_dropout=float("nan"))
    with raises_naming(ValueError, "7", "image_size=28", "64"):   # poolings, the image, the size they need
        ImprovedCNNConfig(channels=(4,) * 7)
    with raises_naming(ValueError, 'channels'):
        ImprovedCNNConfig(channels=())
    with raises_naming(ValueError, 'entry', '-4', '1'):
        ImprovedCNNConfig(channels=(8, -4))


def test_improved_cnn_has_the_books_parameter_count():
    assert count_parameters(ImprovedCNN()) == 610_874
