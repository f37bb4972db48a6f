"""utils.models.sequence: the three-mixer sequence classifier of FAQ 6.1 (shapes, parameter counts, errors,
padding never changing a prediction, and each mixer's defining property)."""
from __future__ import annotations

import pytest
import torch

from utils import count_parameters
from utils.layers.rnn import lstm_parameters
from utils.models.sequence import KINDS, ImageRows, SequenceClassifier, SequenceClassifierConfig

from error_facts import raises_naming


def make(kind: str, **kwargs) -> SequenceClassifier:
    torch.manual_seed(0)
    defaults = dict(vocab_size=50, embed_dim=16, channels=8, num_heads=2, dim_feedforward=32,
                    max_len=20)
    return SequenceClassifier(SequenceClassifierConfig(kind, **{**defaults, **kwargs})).eval()


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_for_ids_and_for_real_valued_steps(kind):
    ids = torch.randint(1, 50, (3, 7))
    assert make(kind, num_classes=4)(ids).shape == (3, 4)
    rows = ImageRows()(torch.rand(5, 1, 6, 9))                       # (5, 6, 9): 6 steps of 9 pixels
    assert rows.shape == (5, 6, 9)
    model = make(kind, vocab_size=None, input_size=9, num_classes=10)
    assert model(rows).shape == (5, 10)


@pytest.mark.parametrize("kind", KINDS)
def test_padding_never_changes_a_prediction(kind):
    model = make(kind)
    ids = torch.randint(1, 50, (4, 9))
    lengths = torch.tensor([9, 5, 2, 1])
    junk = ids.clone()
    for i, n in enumerate(lengths):                                   # junk ids after each sentence
        junk[i, n:] = torch.randint(1, 50, (9 - int(n),))
    wide = torch.cat([ids, torch.randint(1, 50, (4, 6))], dim=1)      # 6 more junk columns
    with torch.no_grad():
        alone = torch.cat([model(ids[i:i + 1, :n]) for i, n in enumerate(lengths.tolist())])
        torch.testing.assert_close(model(junk, lengths), alone)
        torch.testing.assert_close(model(wide, lengths), alone)


def test_each_mixer_has_its_property():
    ids = torch.randint(1, 50, (1, 12))
    shifted = torch.roll(ids, 3, dims=1)
    permuted = ids[:, torch.randperm(12, generator=torch.Generator().manual_seed(1))]
    with torch.no_grad():
        # convolution, then the maximum over time: moving the sentence inside a row of padding ids
        # moves every window's output, and the maximum does not change (translation invariance)
        cnn = make("cnn")
        padded = torch.cat([torch.zeros(1, 5, dtype=torch.long), ids, torch.zeros(1, 5, dtype=torch.long)], 1)
        moved = torch.cat([torch.zeros(1, 8, dtype=torch.long), ids, torch.zeros(1, 2, dtype=torch.long)], 1)
        torch.testing.assert_close(cnn(padded), cnn(moved))           # translation: same logits
        # the Transformer without its position embeddings would not see order; with them it does
        tf = make("transformer")
        assert not torch.allclose(tf(ids), tf(permuted))
        tf.position.weight.zero_()
        torch.testing.assert_close(tf(ids), tf(permuted))             # a bag of tokens
        # the LSTM reads order
        lstm = make("lstm")
        assert not torch.allclose(lstm(ids), lstm(shifted))


def test_parameter_counts_by_formula():
    D, C, V, M = 16, 8, 50, 2
    cnn = make("cnn")
    assert count_parameters(cnn) == V * D + sum(C * (D * k + 1) for k in (3, 4, 5)) + M * (3 * C + 1)
    lstm = make("lstm", num_layers=2)
    assert count_parameters(lstm) == V * D + 2 * lstm_parameters(D, D) + M * (D + 1)
    tf = make("transformer", num_layers=2)
    per_block = 4 * (D * D + D) + (D * 32 + 32) + (32 * D + D) + 2 * 2 * D
    assert count_parameters(tf) == V * D + 20 * D + 2 * per_block + 2 * D + M * (D + 1)


def test_bad_configs_and_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="kind"):
        SequenceClassifierConfig("gru", vocab_size=10)
    with raises_naming(ValueError, 'vocab_size'):
        SequenceClassifierConfig("cnn")
    with raises_naming(ValueError, 'vocab_size'):
        SequenceClassifierConfig("cnn", vocab_size=10, input_size=3)
    with pytest.raises(ValueError, match="divisible"):
        SequenceClassifierConfig("transformer", vocab_size=10, embed_dim=10, num_heads=4)
    with pytest.raises(ValueError, match="kernel_sizes"):
        SequenceClassifierConfig("cnn", vocab_size=10, kernel_sizes=())
    with pytest.raises(ValueError, match="max_len"):
        make("transformer")(torch.randint(1, 50, (1, 21)))
    with pytest.raises(ValueError, match="lengths"):
        make("lstm")(torch.randint(1, 50, (2, 5)), torch.tensor([5, 6]))
    with raises_naming(ValueError, '(N, T, 9)'):
        make("cnn", vocab_size=None, input_size=9)(torch.rand(2, 4, 8))
    with raises_naming(ValueError, "(N, 1, H, W)", "(2, 3, 4, 4)"):
        ImageRows()(torch.rand(2, 3, 4, 4))
