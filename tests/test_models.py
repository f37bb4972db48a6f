"""utils.models: the helpers every model shares, count_parameters and eval_mode."""
from __future__ import annotations

import pytest
from torch import nn

import utils

from error_facts import raises_naming


def test_count_parameters_trainable_and_all():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 3), nn.BatchNorm1d(3))
    assert utils.count_parameters(model) == 40 + 15 + 6          # batch-norm buffers are not parameters
    model[0].weight.requires_grad_(False)
    assert utils.count_parameters(model) == 21
    assert utils.count_parameters(model, trainable_only=False) == 61
    with raises_naming(TypeError, "model", "list"):
        utils.count_parameters([nn.Linear(2, 2)])


@pytest.mark.parametrize("training", [True, False])
def test_eval_mode_switches_and_restores_even_on_error(training):
    model = nn.Sequential(nn.Dropout(0.5)).train(training)
    with utils.eval_mode(model) as inside:
        assert inside is model and not model.training and not model[0].training
    assert model.training is training
    with pytest.raises(RuntimeError, match="boom"):
        with utils.eval_mode(model):
            raise RuntimeError("boom")
    assert model.training is training
    with raises_naming(TypeError, "model", "str"):
        with utils.eval_mode("model"):
            pass
