"""utils.models.lm: the loss, sampling and CharLSTM. (The windows: test_windows.py; LMRecipe and
train_lm: test_recipes.py.)"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils.data import windows
from utils.models import lm

from error_facts import raises_naming


# --------------------------------------------------------------------------- loss
def test_lm_loss_equals_cross_entropy_on_flattened_logits():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 7, 11, generator=g, dtype=torch.float64)
    targets = torch.randint(0, 11, (3, 7), generator=g)
    expected = F.cross_entropy(logits.reshape(21, 11), targets.reshape(21))
    torch.testing.assert_close(lm.lm_loss(logits, targets), expected)
    by_hand = -torch.log_softmax(logits, -1).gather(-1, targets[..., None]).mean()
    torch.testing.assert_close(lm.lm_loss(logits, targets), by_hand)
    assert math.isclose(lm.lm_loss(torch.zeros(2, 4, 65), torch.zeros(2, 4, dtype=torch.long)).item(), math.log(65),
                        rel_tol=1e-6), "uniform logits give log V"


def test_lm_loss_rejects_mismatched_shapes():
    with raises_naming(ValueError, "logits", "targets", "(2, 4, 5)", "(2, 3)"):
        lm.lm_loss(torch.zeros(2, 4, 5), torch.zeros(2, 3, dtype=torch.long))
    with raises_naming(ValueError, "logits", "targets", "(8, 5)", "(8,)"):
        lm.lm_loss(torch.zeros(8, 5), torch.zeros(8, dtype=torch.long))


@pytest.mark.parametrize("bad", [7, 5, -1])
def test_lm_loss_names_a_target_outside_the_vocabulary(bad):
    # was PyTorch's bare "IndexError: Target 7 is out of bounds" from inside cross_entropy (and -1 an
    # IndexError too); now the targets, the bad id and V = 5, the logits' last dimension, before any work
    targets = torch.tensor([[0, 1, bad, 2]])
    with raises_naming(ValueError, "targets", bad, "5"):
        lm.lm_loss(torch.zeros(1, 4, 5), targets)
    with raises_naming(TypeError, "targets", "torch.float32"):     # class ids, not probabilities
        lm.lm_loss(torch.zeros(1, 4, 5), targets.float())


class Bigram(nn.Module):
    """A stateless model: the logits at a position depend on that position's id only."""

    def __init__(self, vocab_size: int = 6):
        super().__init__()
        self.table = nn.Embedding(vocab_size, vocab_size)

    def forward(self, x):
        return self.table(x)


def test_estimate_loss_is_the_mean_over_windows_and_restores_the_mode():
    torch.manual_seed(0)
    model = Bigram().train()
    x, y = windows.evaluation_windows(torch.randint(0, 6, (200,)), 10, 7, seed=0)
    with torch.no_grad():
        expected = lm.lm_loss(model(x), y).item()
    assert math.isclose(lm.estimate_loss(model, x, y, batch_size=3), expected, rel_tol=1e-6)
    assert model.training


# --------------------------------------------------------------------------- sampling
def test_temperature_probs_limits():
    z = torch.tensor([[1.0, 3.0, 2.0, -1.0]])
    torch.testing.assert_close(lm.temperature_probs(z, 1.0), torch.softmax(z, -1))
    torch.testing.assert_close(lm.temperature_probs(z, 0.5), torch.softmax(2 * z, -1))
    assert torch.equal(lm.temperature_probs(z, 0), torch.tensor([[0.0, 1.0, 0.0, 0.0]]))
    torch.testing.assert_close(lm.temperature_probs(z, 1e-3), lm.temperature_probs(z, 0))
    torch.testing.assert_close(lm.temperature_probs(z, 1e6), torch.full((1, 4), 0.25), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="temperature"):
        lm.temperature_probs(z, -1.0)


def test_sample_next_matches_the_distribution_and_greedy():
    z = torch.tensor([0.5, 2.0, -1.0, 1.0])
    draws = lm.sample_next(z.expand(100_000, 4), 1.0, torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=4).float() / len(draws)
    torch.testing.assert_close(freq, torch.softmax(z, -1), atol=0.01, rtol=0)
    assert torch.equal(lm.sample_next(z.expand(5, 4), 0.0), torch.ones(5, dtype=torch.long))
    with raises_naming(ValueError, "logits", "(N, V)", "(4,)"):
        lm.sample_next(z, 1.0)


@pytest.mark.parametrize("make", [
    lambda: Bigram(),
    lambda: lm.CharLSTM(lm.CharLSTMConfig(vocab_size=6, embed_dim=3, hidden_size=5, num_layers=2)),
])
def test_sample_length_seeding_and_greedy(make):
    torch.manual_seed(0)
    model = make().train()
    prompt = torch.tensor([1, 2, 3])
    out = lm.sample(model, prompt, 20, 1.0, torch.Generator().manual_seed(0))
    assert out.shape == (23,) and out.dtype == torch.long and torch.equal(out[:3], prompt)
    assert out.min() >= 0 and out.max() < 6
    assert torch.equal(out, lm.sample(model, prompt, 20, 1.0, torch.Generator().manual_seed(0)))
    assert torch.equal(lm.sample(model, prompt, 0), prompt)
    greedy = lm.sample(model, prompt, 10, 0.0)
    assert torch.equal(greedy, lm.sample(model, prompt, 10, 0.0, torch.Generator().manual_seed(9)))
    assert model.training, "sample restores the training mode"


def test_sample_with_state_equals_rerunning_the_whole_context():
    torch.manual_seed(0)
    model = lm.CharLSTM(lm.CharLSTMConfig(vocab_size=6, embed_dim=3, hidden_size=5, num_layers=2))
    stateless = nn.Module()
    stateless.inner = model
    stateless.forward = lambda x: model(x)      # hides forward_with_state: sample re-runs the context
    prompt = torch.tensor([0, 4, 2])
    a = lm.sample(model, prompt, 15, 0.8, torch.Generator().manual_seed(5))
    b = lm.sample(stateless, prompt, 15, 0.8, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_sample_context_crops_the_input():
    seen = []

    class Spy(Bigram):
        def forward(self, x):
            seen.append(x.shape[1])
            return super().forward(x)

    lm.sample(Spy(), torch.tensor([1, 2, 3, 4]), 5, 1.0, torch.Generator().manual_seed(0), context=2)
    assert seen == [2] * 5


@pytest.mark.parametrize("kwargs, facts", [                     # the argument, its value
    (dict(prompt_ids=torch.tensor([], dtype=torch.long), n=3), ["prompt_ids", "(0,)"]),
    (dict(prompt_ids=torch.tensor([[1, 2]]), n=3), ["prompt_ids", "(1, 2)"]),
    (dict(prompt_ids=torch.tensor([1]), n=-1), ["n", "-1"]),
    (dict(prompt_ids=torch.tensor([1]), n=3, temperature=-0.5), ["temperature", "-0.5"]),
    (dict(prompt_ids=torch.tensor([1]), n=3, context=0), ["context", "0"]),
])
def test_sample_rejects_bad_arguments(kwargs, facts):
    with raises_naming(ValueError, *facts):
        lm.sample(Bigram(), **kwargs)


# --------------------------------------------------------------------------- CharLSTM
@pytest.mark.parametrize("config", [
    lm.CharLSTMConfig(),
    lm.CharLSTMConfig(vocab_size=10, embed_dim=7, hidden_size=9, num_layers=3, dropout=0.1),
    lm.CharLSTMConfig(vocab_size=4, embed_dim=2, hidden_size=3, num_layers=1),
])
def test_char_lstm_parameter_count_and_shapes(config):
    model = lm.CharLSTM(config)
    assert sum(p.numel() for p in model.parameters()) == config.num_parameters
    assert model(torch.zeros(2, 5, dtype=torch.long)).shape == (2, 5, config.vocab_size)


def test_char_lstm_state_carries_across_pieces():
    torch.manual_seed(0)
    model = lm.CharLSTM(lm.CharLSTMConfig(vocab_size=7, embed_dim=4, hidden_size=6, num_layers=2)).eval()
    x = torch.randint(0, 7, (3, 12))
    whole, (h, c) = model.forward_with_state(x)
    first, state = model.forward_with_state(x[:, :5])
    second, (h2, c2) = model.forward_with_state(x[:, 5:], state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole)
    torch.testing.assert_close(h2, h)
    torch.testing.assert_close(c2, c)
    assert h.shape == c.shape == (2, 3, 6)


def test_char_lstm_rejects_bad_input_and_config():
    with raises_naming(TypeError, "ids", "float32"):                 # user input: a clear error
        lm.CharLSTM(lm.CharLSTMConfig(vocab_size=5, hidden_size=4))(torch.zeros(2, 3, 5))
    with raises_naming(ValueError, "ids", "(2, 3, 5)"):
        lm.CharLSTM(lm.CharLSTMConfig(vocab_size=5, hidden_size=4))(torch.zeros(2, 3, 5, dtype=torch.long))
    with raises_naming(ValueError, 'dropout', '[0, 1)', '1.0'):
        lm.CharLSTMConfig(dropout=1.0)
    with raises_naming(ValueError, 'vocab_size', '1', '2'):
        lm.CharLSTMConfig(vocab_size=1)
    with raises_naming(ValueError, 'num_layers', '0', '1'):
        lm.CharLSTMConfig(num_layers=0)
    with raises_naming(TypeError, 'hidden_size'):
        lm.CharLSTMConfig(hidden_size=64.0)


class Exploding(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        raise RuntimeError("boom")


@pytest.mark.parametrize("call", [lambda m: lm.estimate_loss(m, torch.zeros(2, 3, dtype=torch.long),
                                                             torch.zeros(2, 3, dtype=torch.long)),
                                  lambda m: lm.sample(m, torch.tensor([0]), 2)])
def test_evaluation_restores_training_mode_even_when_the_model_raises(call):
    model = Exploding().train()
    with pytest.raises(RuntimeError, match="boom"):
        call(model)
    assert model.training


def test_sample_next_top_k_draws_only_the_k_most_likely():
    z = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    draws = lm.sample_next(z.expand(20_000, 4), 1.0, torch.Generator().manual_seed(0), top_k=2)
    assert set(draws.tolist()) == {1, 3}
    share = (draws == 1).float().mean().item()
    assert abs(share - torch.softmax(torch.tensor([3.0, 2.0]), 0)[0].item()) < 0.02
    with pytest.raises(ValueError, match="top_k"):
        lm.sample_next(z, 1.0, top_k=0)


def test_sample_with_state_and_a_short_context_equals_rerunning_the_window():
    torch.manual_seed(2)
    model = lm.CharLSTM(lm.CharLSTMConfig(vocab_size=11, embed_dim=4, hidden_size=8, num_layers=1)).double()
    prompt = torch.tensor([1, 2, 3])
    a = lm.sample(model, prompt, 20, 0.0, context=5)
    b = lm.sample(model, prompt, 20, 0.0, context=5, use_state=False)
    assert torch.equal(a, b)


def test_split_loss_refuses_a_bad_batch_size():
    model = lm.CharLSTM(lm.CharLSTMConfig(vocab_size=11, embed_dim=4, hidden_size=8, num_layers=1))
    ids = torch.randint(0, 11, (50,))
    for bad in (-1, 0):
        with pytest.raises(ValueError, match="batch_size"):
            lm.split_loss(model, ids, 8, batch_size=bad)


def test_char_lstm_names_bad_ids():
    model = lm.CharLSTM(lm.CharLSTMConfig(vocab_size=11, embed_dim=4, hidden_size=8, num_layers=1))
    with raises_naming(ValueError, "ids", "11", "vocab_size"):
        model(torch.tensor([[3, 11]]))
    with raises_naming(TypeError, "ids", "int64", "float32"):
        model(torch.tensor([[3.0, 1.0]]))


@pytest.mark.parametrize("call, error, facts", [
    # before: a bare TypeError from torch.randint, or an object that failed on first use
    (lambda ids: windows.random_windows(ids, 2.5, 4), TypeError, ["batch_size", "2.5"]),
    (lambda ids: windows.random_windows(ids, 2, 2.5), TypeError, ["seq_len", "2.5"]),
    (lambda ids: windows.WindowBatches(ids, 2.5, 4), TypeError, ["batch_size", "2.5"]),
    # before: "range() arg 3 must not be zero", and with -1 a loss of 0.0 over no window at all
    (lambda ids: lm.estimate_loss(TINY_LSTM, *windows.evaluation_windows(ids, 3, 4), batch_size=0),
     ValueError, ["batch_size", "0"]),
    (lambda ids: lm.estimate_loss(TINY_LSTM, *windows.evaluation_windows(ids, 3, 4), batch_size=-1),
     ValueError, ["batch_size", "-1"]),
    # before: τ = inf gave the uniform distribution
    (lambda ids: lm.temperature_probs(torch.zeros(3), float("inf")), ValueError, ["temperature", "inf"]),
    (lambda ids: lm.split_loss(TINY_LSTM, ids, 8, batch_size=-1), ValueError, ["batch_size", "-1"]),
])
def test_language_model_helpers_name_bad_arguments(call, error, facts):
    ids = torch.randint(0, 10, (50,), generator=torch.Generator().manual_seed(0))
    with raises_naming(error, *facts):
        call(ids)


TINY_LSTM = lm.CharLSTM(lm.CharLSTMConfig(vocab_size=10, embed_dim=4, hidden_size=8, num_layers=1))
