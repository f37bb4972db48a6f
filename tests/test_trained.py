"""utils.trained: the models the book trains once and reuses (their configuration, what they refuse,
and that two pages calling one get the same cached weights)."""
from __future__ import annotations

import math

import pytest
import torch

import utils
from utils import trained


def test_improved_cnn_names_what_it_needs():
    with pytest.raises(TypeError, match="utils.load_fashion_mnist"):
        trained.improved_cnn("fashion-mnist")


def test_bert_mr_recipe_warms_up_over_six_percent_of_the_steps(monkeypatch):
    recipe = trained.bert_mr_recipe(8529)
    assert (recipe.epochs, recipe.batch_size, recipe.lr, recipe.schedule) == (3, 32, 1e-4, "warmup_linear")
    assert recipe.warmup == round(0.06 * 3 * math.ceil(8529 / 32)) == 48
    monkeypatch.setenv("BOOK_QUICK", "1")
    assert trained.bert_mr_recipe(512).epochs == 1 and trained.bert_mr_recipe(512).warmup == 1


def test_bert_mr_names_what_it_needs():
    for fn in (trained.bert_mr, trained.minilm_inputs):
        with pytest.raises(TypeError, match="utils.load_mr"):
            fn("mr")


def test_bert_mr_is_one_cached_model_with_its_history(shared_data):
    """Two calls (two pages) build the same configuration: the second loads what the first trained,
    with the same history, instead of training again."""
    mr = utils.load_mr()
    tiny = utils.Dataset(mr.train.head(40), mr.val.head(8), mr.test.head(8), mr.classes)
    first = trained.bert_mr(tiny)
    assert not first.loaded and not first.model.training
    assert len(first.history.records) == 3
    second = trained.bert_mr(tiny)
    assert second.loaded and second.history == first.history
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)
    inputs = trained.minilm_inputs(tiny)
    assert [len(v[2]) for v in inputs.values()] == [40, 8, 8]
    assert (inputs["train"][0][:, 0] == 101).all()                     # [CLS] first
