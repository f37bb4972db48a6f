"""utils.training.loop: the training loop, its history, early stopping, predict and evaluate_classifier."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import utils
from utils.training.loop import progress_line

from error_facts import raises_naming

EXPECTED_KEYS = {"step", "epoch", "train_loss", "val_loss", "val_acc", "seconds"}


def separable_problem(n: int = 256, seed: int = 0):
    """Two classes split by a line through the origin, with a margin."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, generator=g)
    w = torch.tensor([1.5, -1.0])
    x = x[(x @ w).abs() > 0.3]
    y = (x @ w > 0).long()
    return x, y


@pytest.fixture
def problem():
    torch.manual_seed(0)
    x, y = separable_problem()
    train = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=False)
    val = DataLoader(TensorDataset(x, y), batch_size=64)
    return train, val, x, y


def test_fit_learns_a_separable_problem(problem, capsys):
    train, val, x, y = problem
    model = nn.Linear(2, 2)
    before = utils.evaluate_classifier(model, val)
    history = utils.fit(model, train, nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.5),
                        epochs=5, evaluate=lambda m: utils.evaluate_classifier(m, val))
    assert history.last("val_acc") >= 0.97 > before["val_acc"]
    assert utils.accuracy(model(x), y) >= 0.97

    assert len(history.records) == 5
    assert all(set(r) == EXPECTED_KEYS for r in history.records)
    assert history["epoch"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert history["step"] == [len(train) * e for e in range(1, 6)]
    losses = history["train_loss"]
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < losses[0] / 2
    assert history.seconds > 0 and 0 < history.train_seconds <= history.seconds
    assert history["seconds"] == sorted(history["seconds"])
    assert history.stopped_early is False
    assert not model.training  # fit ends in eval mode

    lines = capsys.readouterr().out.strip().split("\n")
    assert len(lines) == 5
    assert lines[0].startswith("[") and "epoch 1/5" in lines[0] and "val_acc" in lines[0]
    assert lines[-1].startswith("[####################] 100%") and "epoch 5/5" in lines[-1]


def test_fit_log_false_prints_nothing(problem, capsys):
    train, *_ = problem
    model = nn.Linear(2, 2)
    utils.fit(model, train, nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
              epochs=1, log=False)
    assert capsys.readouterr().out == ""


def test_fit_steps_with_eval_every(problem, capsys):
    train, val, *_ = problem
    model = nn.Linear(2, 2)
    calls = []
    history = utils.fit(model, train, nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
                        steps=10, eval_every=3, evaluate=lambda m: calls.append(m.training) or {"val_x": 1.0})
    assert history["step"] == [3, 6, 9, 10]  # and once at the end
    assert all(math.isnan(e) for e in history["epoch"])
    assert calls == [False] * 4  # evaluated in eval mode
    out = capsys.readouterr().out
    assert "step 3/10" in out and "step 10/10" in out and "epoch" not in out


def test_fit_steps_default_eval_every(problem):
    train, *_ = problem
    model = nn.Linear(2, 2)
    history = utils.fit(model, train, nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
                        steps=20, log=False)
    assert history["step"] == list(range(2, 21, 2))
    assert set(history.records[0]) == {"step", "epoch", "train_loss", "seconds"}


def test_train_loss_is_the_mean_since_the_last_record():
    values = iter([1.0, 2.0, 3.0, 4.0, 10.0])

    def scripted_loss(out, y):  # differentiable, with a value fixed by the script
        return out.sum() * 0 + next(values)

    model = nn.Linear(2, 2)
    history = utils.fit(model, [(torch.ones(1, 2), torch.zeros(1, dtype=torch.long))], scripted_loss,
                        torch.optim.SGD(model.parameters(), lr=0.1), steps=5, eval_every=2, log=False)
    assert history["step"] == [2, 4, 5]
    assert history["train_loss"] == [1.5, 3.5, 10.0]


class Recorder(nn.Module):
    """A linear model that records the inputs it saw in training mode."""

    def __init__(self, in_features: int = 1):
        super().__init__()
        self.linear = nn.Linear(in_features, 2)
        self.seen: list[list[float]] = []

    def forward(self, x):
        if self.training:
            self.seen.append(x[:, 0].tolist())
        return self.linear(x)


def test_fit_steps_cycles_a_loader_and_reshuffles_each_pass():
    data = TensorDataset(torch.arange(8.0).unsqueeze(1), torch.zeros(8, dtype=torch.long))
    torch.manual_seed(0)
    loader = DataLoader(data, batch_size=4, shuffle=True)
    model = Recorder()
    utils.fit(model, loader, nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.0),
              steps=6, log=False)
    passes = [model.seen[0] + model.seen[1], model.seen[2] + model.seen[3], model.seen[4] + model.seen[5]]
    assert all(sorted(p) == [float(i) for i in range(8)] for p in passes)  # each pass sees every example once
    assert passes[0] != passes[1] or passes[1] != passes[2]  # and a shuffling loader reshuffles


def test_fit_steps_with_a_generator(problem):
    train, *_ = problem
    model = nn.Linear(2, 2)
    history = utils.fit(model, (b for b in train), nn.functional.cross_entropy,
                        torch.optim.SGD(model.parameters(), lr=0.1), steps=4, eval_every=2, log=False)
    assert history["step"] == [2, 4]


@pytest.mark.parametrize("kwargs, facts", [
    ({"epochs": 1, "steps": 1}, ["epochs", "steps"]),
    ({}, ["epochs", "steps"]),
    ({"epochs": 0}, ["epochs", "0", "1"]),                    # the argument, its value, the minimum
    ({"steps": 0}, ["steps", "0", "1"]),
    ({"steps": 5, "eval_every": 0}, ["eval_every", "0", "1"]),
    ({"steps": 5, "eval_every": -2}, ["eval_every", "-2", "1"]),
    ({"steps": 5, "clip_grad_norm": -1.0}, ["clip_grad_norm", "-1.0", "0"]),
    ({"steps": 5, "clip_grad_norm": 0.0}, ["clip_grad_norm", "0.0"]),
    ({"steps": 5, "clip_grad_norm": float("nan")}, ["clip_grad_norm", "nan"]),
    ({"steps": 5, "clip_grad_norm": float("inf")}, ["clip_grad_norm", "inf"]),
])
def test_fit_rejects_bad_arguments_before_training(problem, kwargs, facts):
    # eval_every=0 used to mean the default; a negative clip_grad_norm flipped the gradient
    train, *_ = problem
    model = nn.Linear(2, 2)
    before = [p.detach().clone() for p in model.parameters()]
    with raises_naming(ValueError, *facts):
        utils.fit(model, train, nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1), **kwargs)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before)), "no step was taken"


def test_fit_rejects_non_integer_lengths(problem):
    train, *_ = problem
    model = nn.Linear(2, 2)
    with raises_naming(TypeError, 'eval_every'):
        utils.fit(model, train, nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
                  steps=4, eval_every=1.5)


@pytest.mark.parametrize("kwargs", [{"epochs": 1}, {"steps": 3}])
def test_fit_rejects_empty_batches(kwargs):
    model = nn.Linear(2, 2)
    with raises_naming(ValueError, "train_batches"):
        utils.fit(model, [], nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1), **kwargs)


def test_fit_epochs_needs_a_length(problem):
    train, *_ = problem
    model = nn.Linear(2, 2)
    with raises_naming(TypeError, 'train_batches'):
        utils.fit(model, (b for b in train), nn.functional.cross_entropy,
                  torch.optim.SGD(model.parameters(), lr=0.1), epochs=1)


def test_fit_nan_loss(problem):
    train, *_ = problem
    model = nn.Linear(2, 2)
    weights = model.weight.detach().clone()

    def nan_on_step_3(out, y, calls=[]):
        calls.append(1)
        loss = nn.functional.cross_entropy(out, y)
        return loss * float("nan") if len(calls) == 3 else loss

    with raises_naming(FloatingPointError, '3'):
        utils.fit(model, train, nan_on_step_3, torch.optim.SGD(model.parameters(), lr=0.1), epochs=1, log=False)
    assert torch.isfinite(model.weight).all() and not torch.equal(model.weight, weights)


def test_fit_calls_the_scheduler_every_step(problem):
    train, *_ = problem
    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5 ** step)
    utils.fit(model, train, nn.functional.cross_entropy, opt, steps=5, scheduler=sched, log=False)
    assert sched.last_epoch == 5 and opt.param_groups[0]["lr"] == pytest.approx(0.5 ** 5)


# --------------------------------------------------------------------------- early stopping
@pytest.mark.parametrize("mode, values", [("min", [3.0, 2.0, 1.0, 5.0, 6.0, 0.5, 0.1]),
                                          ("max", [1.0, 2.0, 3.0, 2.5, 2.9, 9.0, 9.5])])
def test_early_stopping_stops_and_restores_the_best_weights(problem, capsys, mode, values):
    train, *_ = problem
    model = nn.Linear(2, 2)
    snapshots = []

    def evaluate(m):  # the metric follows a fixed script; the weights at each evaluation are kept
        snapshots.append({k: v.clone() for k, v in m.state_dict().items()})
        return {"score": values[len(snapshots) - 1]}

    stopper = utils.EarlyStopping("score", mode=mode, patience=2)
    history = utils.fit(model, train, nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.5),
                        steps=7, eval_every=1, evaluate=evaluate, callbacks=[stopper])
    assert history["score"] == values[:5]  # best at the 3rd evaluation, two bad ones, stop
    assert history.stopped_early is True and "stopped early at step 5" in capsys.readouterr().out
    assert stopper.best == values[2] and stopper.best_step == 3
    assert not torch.equal(snapshots[2]["weight"], snapshots[4]["weight"])  # training moved on
    for key, value in model.state_dict().items():
        assert torch.equal(value, snapshots[2][key]), key  # and the best weights came back


def test_early_stopping_without_a_stop_still_restores(problem):
    train, *_ = problem
    model = nn.Linear(2, 2)
    snapshots = []
    values = [1.0, 0.5, 0.7]

    def evaluate(m):
        snapshots.append(m.weight.detach().clone())
        return {"val_loss": values[len(snapshots) - 1]}

    history = utils.fit(model, train, nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.5),
                        steps=3, eval_every=1, evaluate=evaluate, callbacks=[utils.EarlyStopping(patience=3)],
                        log=False)
    assert history.stopped_early is False and len(history.records) == 3
    assert torch.equal(model.weight, snapshots[1])


class StopAt(utils.Callback):
    """Stops at a given step; records what fit told it."""

    def __init__(self, step: int | None):
        self.step, self.seen, self.ended = step, [], 0

    def on_evaluation(self, model, record):
        self.seen.append(record["step"])
        return record["step"] == self.step

    def on_train_end(self, model):
        self.ended += 1
        assert not model.training, "on_train_end sees the model in eval mode"


def test_a_callback_ends_training_through_on_evaluation(problem):
    train, *_ = problem
    model = nn.Linear(2, 2)
    stopper, watcher = StopAt(4), StopAt(None)
    history = utils.fit(model, train, nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
                        steps=10, eval_every=1, callbacks=[stopper, watcher], log=False)
    assert history["step"] == [1, 2, 3, 4] and history.stopped_early
    assert stopper.seen == watcher.seen == [1, 2, 3, 4], "every callback hears every evaluation"
    assert stopper.ended == watcher.ended == 1


def test_the_base_callback_does_nothing(problem):
    train, *_ = problem
    model = nn.Linear(2, 2)
    history = utils.fit(model, train, nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
                        steps=3, eval_every=1, callbacks=[utils.Callback()], log=False)
    assert len(history.records) == 3 and not history.stopped_early


def test_a_plain_function_is_not_a_callback(problem):
    train, *_ = problem
    model = nn.Linear(2, 2)
    with raises_naming(TypeError, 'callbacks'):
        utils.fit(model, train, nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
                  steps=3, callbacks=[lambda m, r: True], log=False)


@pytest.mark.parametrize("kwargs, facts", [({"mode": "avg"}, ["mode", "'avg'", "'min'", "'max'"]),
                                           ({"patience": 0}, ["patience", "0", "1"]),
                                           ({"patience": -2}, ["patience", "-2", "1"])])
def test_early_stopping_bad_arguments(kwargs, facts):
    with raises_naming(ValueError, *facts):
        utils.EarlyStopping(**kwargs)


def test_early_stopping_missing_metric(problem):
    train, *_ = problem
    model = nn.Linear(2, 2)
    with raises_naming(KeyError, "EarlyStopping", "'val_loss'", "'train_loss'"):   # what it watches, what there is
        utils.fit(model, train, nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
                  steps=2, callbacks=[utils.EarlyStopping()], log=False)


# --------------------------------------------------------------------------- gradient clipping, inputs
def test_clip_grad_norm_is_applied():
    torch.manual_seed(0)
    x, y = torch.randn(16, 4) * 50, torch.randint(0, 3, (16,))
    model = nn.Linear(4, 3)
    manual = nn.Linear(4, 3)
    manual.load_state_dict(model.state_dict())
    start = [p.detach().clone() for p in model.parameters()]

    utils.fit(model, [(x, y)], nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=1.0),
              steps=1, clip_grad_norm=0.1, log=False)

    opt = torch.optim.SGD(manual.parameters(), lr=1.0)
    loss = nn.functional.cross_entropy(manual(x), y)
    loss.backward()
    raw_norm = torch.cat([p.grad.flatten() for p in manual.parameters()]).norm().item()
    nn.utils.clip_grad_norm_(manual.parameters(), 0.1)
    opt.step()

    assert raw_norm > 1.0  # so that clipping matters
    for p, q in zip(model.parameters(), manual.parameters()):
        torch.testing.assert_close(p, q)
    step = torch.cat([(p.detach() - s).flatten() for p, s in zip(model.parameters(), start)])
    assert step.norm().item() == pytest.approx(0.1, rel=1e-4)  # lr 1 × the clipped gradient norm


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(2, 2), nn.Linear(3, 2)
        self.calls = 0

    def forward(self, a, b):
        self.calls += 1
        return self.a(a) + self.b(b)


def test_tuple_inputs_are_unpacked():
    torch.manual_seed(0)
    a, b, y = torch.randn(8, 2), torch.randn(8, 3), torch.randint(0, 2, (8,))
    model = TwoInputs()
    batches = [((a, b), y)]
    history = utils.fit(model, batches, nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
                        epochs=3, log=False)
    assert model.calls == 3 and len(history.records) == 3
    out, targets = utils.predict(model, batches)
    torch.testing.assert_close(out, model(a, b).detach())
    assert torch.equal(targets, y)


# --------------------------------------------------------------------------- History
def test_history_getitem_and_last():
    h = utils.History(records=[{"step": 1, "train_loss": 2.0}, {"step": 2, "train_loss": 1.5}])
    assert h["train_loss"] == [2.0, 1.5] and h.last("train_loss") == 1.5
    with raises_naming(KeyError, "'val_acc'", "['step', 'train_loss']"):   # the key asked for, the keys there are
        h["val_acc"]
    with raises_naming(KeyError, "'train_loss'", "[]"):
        utils.History()["train_loss"]


def test_progress_line():
    assert progress_line(0.0) == "[--------------------]   0%"
    assert progress_line(0.5) == "[##########----------]  50%"
    assert progress_line(2.0) == "[####################] 100%"


# --------------------------------------------------------------------------- predict, evaluate_classifier
class ModeSpy(nn.Module):
    """Logits = the input itself (2 classes), through a no-op layer; records mode and grad state."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.modes: list[tuple[bool, bool]] = []

    def forward(self, x):
        self.modes.append((self.training, torch.is_grad_enabled()))
        return x * self.scale


def labelled_logits():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.5, 0.0], [0.0, 4.0], [1.0, 0.0], [0.0, 2.0], [1.0, 2.0]])
    y = torch.tensor([0, 1, 0, 1, 1, 1, 1, 1])  # argmax is right for 6 of the 8
    return logits, y


@pytest.mark.parametrize("training", [True, False])
def test_predict_restores_mode_and_concatenates(training):
    logits, y = labelled_logits()
    model = ModeSpy().train(training)
    batches = [(logits[:3], y[:3]), (logits[3:], y[3:])]
    out, targets = utils.predict(model, batches)
    assert model.training is training
    assert model.modes == [(False, False), (False, False)]  # eval mode, no gradients
    assert torch.equal(out, logits) and torch.equal(targets, y) and not out.requires_grad


@pytest.mark.parametrize("training", [True, False])
def test_evaluate_classifier(training):
    logits, y = labelled_logits()
    model = ModeSpy().train(training)
    batches = [(logits[:5], y[:5]), (logits[5:], y[5:])]
    result = utils.evaluate_classifier(model, batches)
    assert model.training is training
    assert set(result) == {"val_loss", "val_acc"}
    assert result["val_acc"] == pytest.approx(0.75)
    assert result["val_loss"] == pytest.approx(nn.functional.cross_entropy(logits, y).item())
    assert set(utils.evaluate_classifier(model, batches, prefix="test")) == {"test_loss", "test_acc"}


def test_fit_trains_in_train_mode_and_evaluates_in_eval_mode_without_gradients():
    model = ModeSpy()
    logits, y = labelled_logits()
    utils.fit(model, [(logits, y)], nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.0),
              steps=2, eval_every=1, evaluate=lambda m: {"out": float(m(logits).sum())}, log=False)
    # step 1 (train, grad), evaluation (eval, no grad), step 2, evaluation
    assert model.modes == [(True, True), (False, False), (True, True), (False, False)]


def test_predict_restores_the_mode_when_the_model_raises():
    class Broken(ModeSpy):
        def forward(self, x):
            raise RuntimeError("boom")

    model = Broken().train()
    with pytest.raises(RuntimeError, match="boom"):
        utils.predict(model, [labelled_logits()])
    assert model.training


def test_time_budget_stops_at_the_first_evaluation_past_the_budget():
    budget = utils.TimeBudget(2.0)
    assert not budget.on_evaluation(None, {"seconds": 1.9})
    assert budget.on_evaluation(None, {"seconds": 2.0})
    with pytest.raises(ValueError):
        utils.TimeBudget(0)
