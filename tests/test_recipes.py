"""utils.training.recipes: augmentation (shape, range, seeding, only shifts and mirrors), the recipes' one
shape (optimizer, scheduler, loss), their validation, and the two entry points, which must train
exactly as the hand-written code they replace."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import utils
from utils.data import weights, windows
from utils.models import lm
from utils.models.cnn import ImprovedCNN, ImprovedCNNConfig
from utils.training import recipes
from utils.training.recipes import (IMPROVED_RECIPE, AugmentedBatches, ClassifierRecipe, LMRecipe, Recipe, augment,
                                    train_classifier, train_lm, warmup_cosine)

from error_facts import raises_naming


# --------------------------------------------------------------------------- augment
def candidates(image: torch.Tensor, padding: int) -> list[torch.Tensor]:
    """Every shift by -P..P pixels (zero fill), mirrored or not, of one image (C, H, W)."""
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


def test_augment_rejects_bad_input():
    with raises_naming(ValueError, '(1, 28, 28)'):
        augment(torch.rand(1, 28, 28), torch.Generator())
    with raises_naming(ValueError, 'padding', '-1', '0'):
        augment(torch.rand(2, 1, 28, 28), torch.Generator(), padding=-1)


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


# --------------------------------------------------------------------------- the recipes' shape
def test_adamw_without_weight_decay_is_adam_step_for_step():
    # the article's recipe used torch.optim.Adam; the one optimizer of the recipes must give its numbers
    torch.manual_seed(0)
    a, b = nn.Linear(5, 3), nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    opt_a, opt_b = torch.optim.Adam(a.parameters(), lr=1e-2), ClassifierRecipe(lr=1e-2).optimizer(b)
    assert isinstance(opt_b, torch.optim.AdamW) and opt_b.param_groups[0]["weight_decay"] == 0.0
    x, y = torch.randn(32, 5), torch.randint(0, 3, (32,))
    for _ in range(20):
        for model, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_optimizer_skips_frozen_parameters():
    model = nn.Sequential(nn.Embedding(4, 3), nn.Linear(3, 2))
    model[0].weight.requires_grad_(False)
    params = Recipe().optimizer(model).param_groups[0]["params"]
    assert len(params) == 2 and all(p.requires_grad for p in params)


def test_schedules():
    opt = Recipe().optimizer(nn.Linear(2, 2))
    assert Recipe().scheduler(opt, 10) is None
    one_cycle = Recipe(lr=3e-3, schedule="one_cycle").learning_rates(100)
    assert max(one_cycle) == pytest.approx(3e-3) and one_cycle[0] < 3e-3 / 20 and one_cycle[-1] < 1e-6
    assert len(one_cycle) == 100 and one_cycle.index(max(one_cycle)) == 29   # OneCycleLR's 30 % warm-up
    assert Recipe(lr=0.5).learning_rates(3) == [0.5, 0.5, 0.5]


def test_warmup_cosine_warms_up_then_decays_to_the_floor():
    factors = [warmup_cosine(s, 100, 10, 0.1) for s in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[9:], factors[10:])), "non-increasing after warm-up"
    assert warmup_cosine(100, 100, 10, 0.1) == pytest.approx(0.1)
    r = LMRecipe(steps=100, warmup=10, min_lr_ratio=0.1)
    assert r.learning_rates(100) == pytest.approx([r.lr * f for f in factors])
    assert r.tokens == 100 * 32 * 128


def test_loss_is_cross_entropy_with_label_smoothing_for_both_shapes():
    torch.manual_seed(0)
    logits, y = torch.randn(8, 5), torch.randint(0, 5, (8,))
    assert torch.equal(Recipe().loss(logits, y), F.cross_entropy(logits, y))
    assert torch.equal(Recipe(label_smoothing=0.1).loss(logits, y), F.cross_entropy(logits, y, label_smoothing=0.1))
    seq_logits, seq_y = torch.randn(3, 4, 6), torch.randint(0, 6, (3, 4))
    assert torch.equal(LMRecipe().loss(seq_logits, seq_y), lm.lm_loss(seq_logits, seq_y))
    with raises_naming(ValueError, "logits", "targets", "(3, 4, 6)", "(3, 2)"):   # both shapes
        Recipe().loss(seq_logits, seq_y[:, :2])


@pytest.mark.parametrize("make, kwargs, error, facts", [      # the field, its value, what is allowed
    (Recipe, {"lr": 0}, ValueError, ["lr", "0"]),
    (Recipe, {"lr": float("nan")}, ValueError, ["lr", "nan", "0"]),
    (Recipe, {"weight_decay": -0.1}, ValueError, ["weight_decay", "-0.1", "0"]),
    (Recipe, {"schedule": "cosine"}, ValueError,
     ["schedule", "'cosine'", "'constant'", "'one_cycle'", "'warmup_cosine'", "'warmup_linear'"]),
    (Recipe, {"batch_size": 0}, ValueError, ["batch_size", "0", "1"]),
    (Recipe, {"clip_grad_norm": -1.0}, ValueError, ["clip_grad_norm", "-1.0", "0"]),
    (Recipe, {"label_smoothing": 1.0}, ValueError, ["label_smoothing", "1.0", "[0, 1)"]),
    (Recipe, {"min_lr_ratio": 1.5}, ValueError, ["min_lr_ratio", "1.5", "[0, 1]"]),
    (ClassifierRecipe, {"epochs": 0}, ValueError, ["epochs", "0", "1"]),
    (ClassifierRecipe, {"epochs": 2.0}, TypeError, ["epochs", "2.0", "int"]),
    (ClassifierRecipe, {"augment": "yes"}, TypeError, ["augment", "'yes'", "True", "False"]),
    (LMRecipe, {"steps": 10, "warmup": 10}, ValueError, ["warmup=10", "steps=10"]),
    (LMRecipe, {"eval_every": 0}, ValueError, ["eval_every", "0", "1"]),
    (LMRecipe, {"seq_len": -1}, ValueError, ["seq_len", "-1", "1"]),
])
def test_recipes_reject_bad_values_naming_field_and_value(make, kwargs, error, facts):
    with raises_naming(error, *facts):
        make(**kwargs)


def test_scheduler_checks_the_total():
    opt = Recipe().optimizer(nn.Linear(2, 2))
    with raises_naming(ValueError, 'total_steps', '0', '1'):
        Recipe().scheduler(opt, 0)
    with raises_naming(ValueError, "warmup", "20", "10"):   # the warm-up and the run it does not fit in
        Recipe(schedule="warmup_cosine", warmup=20).scheduler(opt, 10)


def test_recipes_are_frozen_and_replaceable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        IMPROVED_RECIPE.epochs = 1
    short = dataclasses.replace(IMPROVED_RECIPE, epochs=2)
    assert short.epochs == 2 and IMPROVED_RECIPE.epochs == 15


def test_improved_recipe_is_the_books_recipe():
    assert IMPROVED_RECIPE == ClassifierRecipe(epochs=15, batch_size=128, lr=3e-3, schedule="one_cycle",
                                               weight_decay=0.01, augment=True, label_smoothing=0.1)


# --------------------------------------------------------------------------- train_classifier
def tiny_split(n: int = 96, seed: int = 0):
    """Two easy classes of uint8 images: a bright top half or a bright bottom half (mirroring keeps the class)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randint(0, 60, (n, 28, 28), generator=g, dtype=torch.uint8)
    x[y == 0, :14] += 150
    x[y == 1, 14:] += 150
    return utils.Split(x, y)


def small_cnn(channels=(4, 8), hidden_size=16) -> ImprovedCNN:
    torch.manual_seed(0)
    return ImprovedCNN(ImprovedCNNConfig(channels=channels, hidden_size=hidden_size, num_classes=2))


@pytest.mark.parametrize("schedule, augment, smoothing", [("constant", False, 0.0), ("one_cycle", True, 0.1)])
def test_train_classifier_learns_an_easy_problem(schedule, augment, smoothing):
    model = small_cnn()
    recipe = ClassifierRecipe(epochs=3, batch_size=16, lr=3e-3, schedule=schedule, augment=augment,
                              label_smoothing=smoothing)
    history = train_classifier(model, tiny_split(), tiny_split(64, seed=1), recipe, log=False)
    assert [r["epoch"] for r in history.records] == [1.0, 2.0, 3.0]
    assert history.last("val_acc") > 0.9
    assert model.features[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_train_classifier_trains_exactly_as_the_hand_written_recipe_did():
    # the removed cnn.train_with_recipe, written out: the stored results must not move
    recipe = dataclasses.replace(IMPROVED_RECIPE, epochs=2, batch_size=32)
    train, val = tiny_split(), tiny_split(64, seed=1)
    ours = small_cnn()
    history = train_classifier(ours, train, val, recipe, seed=3, log=False)

    reference = small_cnn().to(memory_format=torch.channels_last)
    loader = utils.make_loader(utils.images_to_float(train.x), train.y, 32, shuffle=True, seed=3)
    optimizer = torch.optim.AdamW(reference.parameters(), lr=3e-3, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=2 * len(loader))
    val_loader = utils.make_loader(utils.images_to_float(val.x), val.y, batch_size=512)
    expected = utils.fit(reference, AugmentedBatches(loader, seed=3),
                         lambda logits, y: F.cross_entropy(logits, y, label_smoothing=0.1), optimizer, epochs=2,
                         scheduler=scheduler, evaluate=lambda m: utils.evaluate_classifier(m, val_loader), log=False)
    assert history["val_loss"] == expected["val_loss"] and history["train_loss"] == expected["train_loss"]
    assert all(torch.equal(p, q) for p, q in zip(ours.state_dict().values(), reference.state_dict().values()))


def test_train_classifier_can_evaluate_only_at_the_end_and_takes_float_inputs():
    model = small_cnn(channels=(4,), hidden_size=8)
    split = tiny_split()
    floats = utils.Split(utils.images_to_float(split.x), split.y)
    recipe = ClassifierRecipe(epochs=2, batch_size=32, lr=1e-2, schedule="one_cycle")
    history = train_classifier(model, floats, None, recipe, eval_each_epoch=False, log=False)
    assert len(history.records) == 1 and "val_acc" not in history.records[0]


def test_train_classifier_rejects_the_wrong_recipe_or_inputs():
    with raises_naming(TypeError, 'recipe', 'LMRecipe'):
        train_classifier(small_cnn(), tiny_split(), None, LMRecipe())
    with raises_naming(TypeError, 'list'):
        train_classifier(small_cnn(), utils.Split(["a", "b"], torch.tensor([0, 1])), None, ClassifierRecipe())


# --------------------------------------------------------------------------- train_lm
def periodic_text(n: int = 400) -> torch.Tensor:
    return torch.arange(n) % 5


def tiny_lstm() -> lm.CharLSTM:
    torch.manual_seed(0)
    return lm.CharLSTM(lm.CharLSTMConfig(vocab_size=5, embed_dim=4, hidden_size=8, num_layers=1))


def test_train_lm_learns_a_periodic_text_and_evaluates_on_fixed_windows():
    recipe = LMRecipe(steps=60, batch_size=8, seq_len=10, lr=3e-2, warmup=5, eval_every=20, eval_windows=4)
    history = train_lm(tiny_lstm(), periodic_text(), periodic_text(100), recipe, log=False)
    assert [r["step"] for r in history.records] == [20, 40, 60]
    assert history.last("val_loss") < 0.5 * math.log(5)


def test_train_lm_trains_exactly_as_the_hand_written_cell_did():
    # the char_lstm notebook's training cell, written out: the stored results must not move
    recipe = LMRecipe(steps=30, batch_size=4, seq_len=8, lr=1e-2, warmup=3, eval_every=10, eval_windows=3)
    ours = tiny_lstm()
    history = train_lm(ours, periodic_text(), periodic_text(100), recipe, seed=2, log=False)

    reference = tiny_lstm()
    val_x, val_y = windows.evaluation_windows(periodic_text(100), 3, 8, seed=0)
    optimizer = torch.optim.AdamW(reference.parameters(), lr=1e-2, weight_decay=0.0)
    factor = lambda step: warmup_cosine(step, 30, 3, 0.1)  # noqa: E731
    expected = utils.fit(reference, windows.WindowBatches(periodic_text(), 4, 8, seed=2), lm.lm_loss, optimizer,
                         steps=30, scheduler=torch.optim.lr_scheduler.LambdaLR(optimizer, factor), clip_grad_norm=1.0,
                         eval_every=10, evaluate=lambda m: {"val_loss": lm.estimate_loss(m, val_x, val_y)}, log=False)
    assert history["val_loss"] == expected["val_loss"] and history["train_loss"] == expected["train_loss"]
    assert all(torch.equal(p, q) for p, q in zip(ours.parameters(), reference.parameters()))


def test_train_lm_rejects_the_wrong_recipe():
    with raises_naming(TypeError, 'recipe', 'ClassifierRecipe'):
        train_lm(tiny_lstm(), periodic_text(), periodic_text(), ClassifierRecipe())


def test_classifier_recipe_shift_and_flip_reach_the_augmentation():
    """train_classifier augments with the recipe's shift and flip: shift=0 without flip is no
    augmentation at all, so it must train exactly like augment=False."""
    import dataclasses

    from utils.data.datasets import Split

    g = torch.Generator().manual_seed(0)
    split = Split(torch.randint(0, 256, (64, 8, 8), generator=g, dtype=torch.uint8),
                  torch.randint(0, 3, (64,), generator=g))
    base = ClassifierRecipe(epochs=1, batch_size=16)
    finals = []
    for recipe in (base, dataclasses.replace(base, augment=True, shift=0, flip=False),
                   dataclasses.replace(base, augment=True)):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
        train_classifier(model, split, None, recipe, log=False)
        finals.append(model[1].weight.detach().clone())
    torch.testing.assert_close(finals[0], finals[1], rtol=0, atol=0)
    assert not torch.equal(finals[0], finals[2])


@pytest.mark.parametrize("field, value, error", [("shift", -1, ValueError), ("flip", 1, TypeError)])
def test_classifier_recipe_rejects_bad_augmentation_fields(field, value, error):
    with pytest.raises(error, match=field):
        ClassifierRecipe(**{field: value})


def test_warmup_linear_rises_then_falls_to_zero():
    rates = recipes.Recipe(lr=1.0, schedule="warmup_linear", warmup=4).learning_rates(20)
    assert rates[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert rates[4:] == pytest.approx([(20 - s) / 16 for s in range(4, 20)])
    assert recipes.warmup_linear(25, 20, 4) == 0.0


def test_text_classifier_recipe_checks_padding():
    with pytest.raises(ValueError, match="padding"):
        recipes.TextClassifierRecipe(padding="none")
    with pytest.raises(TypeError, match="TextClassifierRecipe"):
        recipes.train_text_classifier(None, None, None, recipes.ClassifierRecipe())


# --------------------------------------------------------------------------- honest repr
def test_repr_shows_only_the_fields_that_apply():
    linear = repr(recipes.TextClassifierRecipe(schedule="warmup_linear", warmup=48))
    assert "warmup=48" in linear and "min_lr_ratio" not in linear
    cosine = repr(ClassifierRecipe(schedule="warmup_cosine", warmup=5, min_lr_ratio=0.2))
    assert "min_lr_ratio=0.2" in cosine and "shift" not in cosine and "flip" not in cosine
    constant = repr(Recipe())
    assert "warmup" not in constant and "min_lr_ratio" not in constant
    assert "shift=2, flip=True" in repr(IMPROVED_RECIPE)
    # the cached configuration keeps every field
    assert '"min_lr_ratio":0.1' in weights.config_json(recipe=recipes.TextClassifierRecipe())


@pytest.mark.parametrize("args", [(0, 10, float("nan")), (-1, 10, 2), (0, 0, 0), (0, 10, 2.5)])
def test_warmup_linear_refuses_bad_arguments(args):
    with pytest.raises((TypeError, ValueError)):
        recipes.warmup_linear(*args)


@pytest.mark.parametrize("args, error, facts", [
    ((0, 10, float("nan"), 0.1), TypeError, ["warmup", "nan"]),        # was a NaN rate
    ((5, 10, 0, float("nan")), ValueError, ["min_lr_ratio", "nan"]),    # was a NaN rate
    ((0, 10, -1, 0.0), ValueError, ["warmup", "-1"]),
    ((-5, 10, 2, 0.0), ValueError, ["step", "-5"]),                     # was a negative rate, -2.0
    ((0, 10, 2, 1.5), ValueError, ["min_lr_ratio", "1.5"]),
])
def test_warmup_cosine_refuses_bad_arguments(args, error, facts):
    with raises_naming(error, *facts):
        recipes.warmup_cosine(*args)
