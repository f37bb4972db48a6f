"""utils.nnutils: count_parameters, eval_mode, keras_init_ (by module type) and seeded_loader."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import utils
from utils import rnn
from utils.nnutils import seeded_loader

from error_facts import raises_naming


# --------------------------------------------------------------------------- count_parameters, eval_mode
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


# --------------------------------------------------------------------------- keras_init_
def glorot_bound(weight: torch.Tensor) -> float:
    receptive = weight[0, 0].numel() if weight.ndim > 2 else 1
    return math.sqrt(6 / ((weight.shape[0] + weight.shape[1]) * receptive))


@pytest.mark.parametrize("module", [nn.Linear(30, 20), nn.Conv1d(3, 8, 5), nn.Conv2d(3, 16, 3), nn.Conv3d(2, 4, 3)])
def test_keras_init_glorot_uniform_weights_and_zero_biases(module):
    torch.manual_seed(0)
    utils.keras_init_(module)
    bound = glorot_bound(module.weight)
    assert module.weight.abs().max() <= bound and module.weight.abs().max() > 0.9 * bound
    assert torch.count_nonzero(module.bias) == 0


def test_keras_init_embedding_keeps_the_padding_row_zero():
    torch.manual_seed(0)
    emb = nn.Embedding(50, 8, padding_idx=3)
    utils.keras_init_(emb)
    assert emb.weight.abs().max() <= 0.05 and emb.weight.abs().max() > 0.04
    assert emb.weight[3].eq(0).all() and emb.weight[4].ne(0).all()
    plain = nn.Embedding(5, 2)
    utils.keras_init_(plain)
    assert plain.weight.ne(0).all()


@pytest.mark.parametrize("make", [lambda: nn.LSTM(6, 5, num_layers=2, bidirectional=True), lambda: nn.LSTMCell(6, 5),
                                  lambda: rnn.LSTM(6, 5, num_layers=2)])
def test_keras_init_lstm_glorot_orthogonal_and_unit_forget_bias(make):
    torch.manual_seed(0)
    module = make()
    module.apply(utils.keras_init_)
    d = 5
    for name, p in module.named_parameters():
        if "weight_ih" in name:
            assert p.abs().max() <= glorot_bound(p)
        elif "weight_hh" in name:
            for gate in p.detach().split(d):                       # each (D, D) block is orthogonal
                torch.testing.assert_close(gate @ gate.T, torch.eye(d), atol=1e-5, rtol=0)
        elif "bias_ih" in name:
            assert p[d:2 * d].eq(1).all() and p[:d].eq(0).all() and p[2 * d:].eq(0).all()
        else:
            assert p.eq(0).all(), name


def test_keras_init_leaves_other_modules_alone():
    torch.manual_seed(0)
    model = nn.Sequential(nn.BatchNorm1d(4), nn.GRU(3, 4))
    before = [p.detach().clone() for p in model.parameters()]
    model.apply(utils.keras_init_)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))


def test_keras_init_lstm_without_bias():
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, bias=False)
    utils.keras_init_(lstm)                                        # no biases to set: no error
    assert len(list(lstm.parameters())) == 2


# --------------------------------------------------------------------------- seeded_loader
def test_seeded_loader_repeats_by_its_own_seed():
    data = torch.utils.data.TensorDataset(torch.arange(30))
    order = lambda seed: [b[0].tolist() for b in seeded_loader(data, 7, shuffle=True, seed=seed)]  # noqa: E731
    torch.manual_seed(0)
    first = order(4)
    torch.manual_seed(1)                                           # the global state does not matter
    assert order(4) == first and order(5) != first
    assert sorted(sum(first, [])) == list(range(30)) and [len(b) for b in first] == [7, 7, 7, 7, 2]
    assert [b[0].tolist() for b in seeded_loader(data, 10)] == [list(range(10)), list(range(10, 20)),
                                                                list(range(20, 30))]


def test_seeded_loader_collate_and_batch_size():
    data = torch.utils.data.TensorDataset(torch.arange(4))
    loader = seeded_loader(data, 2, collate_fn=lambda items: sum(int(i[0]) for i in items))
    assert list(loader) == [1, 5]
    with raises_naming(ValueError, "batch_size", 0):
        seeded_loader(data, 0)
