"""utils.trained: the models the book trains once and reuses (their configuration, what they refuse,
and that two pages calling one get the same cached weights)."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

import utils
from error_facts import raises_naming
from utils import trained
from utils.models import gpt
from utils.training import recipes


def test_improved_cnn_names_what_it_needs():
    with pytest.raises(TypeError, match="utils.load_fashion_mnist"):
        trained.improved_cnn("fashion-mnist")


def test_bert_mr_recipe_warms_up_over_six_percent_of_the_steps(monkeypatch):
    recipe = trained.bert_mr_recipe(8529)
    assert (recipe.epochs, recipe.batch_size, recipe.lr, recipe.schedule) == (3, 32, 1e-4, "warmup_linear")
    assert recipe.warmup == round(0.06 * 3 * math.ceil(8529 / 32)) == 48
    monkeypatch.setenv("BOOK_QUICK", "1")
    assert trained.bert_mr_recipe(512).epochs == 1 and trained.bert_mr_recipe(512).warmup == 1


def test_quick_mode_sizes_are_named_in_one_place(monkeypatch):
    # what BOOK_QUICK=1 changes in the reused models, unchanged by naming it
    assert (trained.QUICK_CNN_TRAIN_IMAGES, trained.QUICK_CNN_VAL_IMAGES, trained.QUICK_CNN_EPOCHS) == (3000, 1000, 2)
    assert trained.QUICK_MINILM_SENTENCES == {"train": 512, "val": 256, "test": 256}
    assert (trained.QUICK_BERT_MR_EPOCHS, trained.BERT_MR_EPOCHS) == (1, 3)
    assert (trained.QUICK_LM_STEP_DIVISOR, trained.QUICK_LM_MIN_STEPS, trained.QUICK_LM_MAX_WARMUP) == (50, 8, 4)
    monkeypatch.setenv("BOOK_QUICK", "1")               # and the functions read them, not copies
    monkeypatch.setattr(trained, "QUICK_BERT_MR_EPOCHS", 2)
    monkeypatch.setattr(trained, "QUICK_LM_MIN_STEPS", 20)
    monkeypatch.setattr(trained, "QUICK_LM_MAX_WARMUP", 3)
    assert trained.bert_mr_recipe(512).epochs == 2
    assert (trained.lm_budget(trained.GPT_RECIPE).steps, trained.lm_budget(trained.GPT_RECIPE).warmup) == (20, 3)


def test_bert_mr_names_what_it_needs():
    for fn in (trained.bert_mr, trained.minilm_inputs):
        with pytest.raises(TypeError, match="utils.load_mr"):
            fn("mr")


@pytest.mark.slow
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


# --------------------------------------------------------------------------- the GPT (4.3.2)
def test_the_final_gpt_recipe_is_nanogpts_with_the_chapters_changes():
    base = recipes.NANOGPT_RECIPE
    assert (base.steps, base.batch_size, base.seq_len, base.lr, base.warmup, base.min_lr_ratio) == (
        2000, 12, 64, 1e-3, 100, 0.1)
    assert base.betas == (0.9, 0.99) and base.weight_decay == 0.1 and not base.decay_vectors
    changed = {f.name for f in dataclasses.fields(base) if getattr(base, f.name) != getattr(trained.GPT_RECIPE, f.name)}
    assert changed == {"steps", "batch_size", "lr", "warmup", "min_lr_ratio", "muon_lr", "eval_every"}
    assert trained.GPT_RECIPE.muon_lr == 2e-2 and trained.GPT_RECIPE.batch_size == 24
    assert trained.GPT_CONFIG == gpt.GPTConfig(vocab_size=65, block_size=64, num_layers=4, num_heads=4, embed_dim=128)


def test_the_data_parallel_script_uses_nanogpts_recipe():
    from utils.training import distributed
    recipe = distributed.make_recipe(steps=40, global_batch=12, seq_len=64, lr=1e-3)
    assert recipe == dataclasses.replace(recipes.NANOGPT_RECIPE, steps=40, warmup=2, eval_every=40)


def test_lm_budget_sizes_a_recipe_for_quick_mode(monkeypatch):
    full = trained.lm_budget(trained.GPT_RECIPE)
    assert (full.steps, full.warmup, full.eval_every) == (720, 50, 180)
    assert trained.lm_budget(trained.GPT_RECIPE, evaluations=1).eval_every == 720
    monkeypatch.setenv("BOOK_QUICK", "1")
    quick = trained.lm_budget(trained.GPT_RECIPE)
    assert (quick.steps, quick.warmup, quick.eval_every) == (14, 4, 4)
    assert trained.lm_budget(dataclasses.replace(trained.GPT_RECIPE, steps=100)).steps == 8
    with raises_naming(TypeError, "recipe", "ClassifierRecipe"):
        trained.lm_budget(recipes.IMPROVED_RECIPE)


def test_gpt_tokens_per_second_times_the_recipes_step():
    small = gpt.GPTConfig(vocab_size=11, block_size=8, num_layers=1, num_heads=2, embed_dim=16)
    recipe = dataclasses.replace(trained.GPT_RECIPE, batch_size=4, seq_len=8)
    assert trained.gpt_tokens_per_second(recipe, steps=2, warmup=1, config=small) > 0
    with raises_naming(ValueError, "seq_len", 64, "block_size", 8):
        trained.gpt_tokens_per_second(steps=2, config=small)
