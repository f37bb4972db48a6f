"""utils.layers.init: keras_init_, Keras' default initialisation chosen by module type."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import utils
from utils.layers import rnn


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
