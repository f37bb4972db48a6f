"""utils.models.text_classifier: the article's LSTM sentence classifier (shapes, parameter counts,
Keras' initialisation, and that padding never changes a prediction)."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from utils import count_parameters
from utils.data.text import PAD_ID, pad_ids
from utils.layers.rnn import lstm_parameters
from utils.models.text_classifier import SentenceClassifier, SentenceClassifierConfig

from error_facts import raises_naming


@pytest.mark.parametrize("pooling", ["last", "max"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_never_changes_a_prediction(pooling, bidirectional):
    torch.manual_seed(0)
    model = SentenceClassifier(SentenceClassifierConfig(vocab_size=50, embed_dim=8, hidden_size=16,
                                                        bidirectional=bidirectional, pooling=pooling)).eval()
    seqs = [torch.randint(2, 50, (n,)).tolist() for n in (7, 1, 4, 12)]
    outputs = []
    for width in ("longest", 20, 40):
        ids, lengths = pad_ids(seqs, max_len=100, width=width)
        outputs.append(model(ids, lengths))
    alone = torch.cat([model(*pad_ids([s], max_len=100, width="longest")) for s in seqs])
    for out in outputs[1:] + [alone]:
        torch.testing.assert_close(out, outputs[0])
    # and the padded positions really are ignored: garbage there changes nothing
    ids, lengths = pad_ids(seqs, max_len=100, width=20)
    garbage = ids.clone()
    garbage[ids == PAD_ID] = 7
    torch.testing.assert_close(model(garbage, lengths), outputs[0])


def test_classifier_shapes_and_parameter_count():
    cfg = SentenceClassifierConfig()                                   # the article's model, 2 classes
    model = SentenceClassifier(cfg)
    expected = 10_000 * 10 + lstm_parameters(10, 128) + lstm_parameters(128, 128) + (128 + 1) * 2
    assert count_parameters(model) == expected == 304_034
    logits = model(torch.randint(1, 10_000, (3, 100)), torch.tensor([100, 5, 1]))
    assert logits.shape == (3, 2)
    bi = SentenceClassifier(SentenceClassifierConfig(bidirectional=True, pooling="max", hidden_size=8, embed_dim=4,
                                                     vocab_size=20, num_classes=3))
    assert bi(torch.randint(1, 20, (2, 6)), torch.tensor([6, 2])).shape == (2, 3)
    assert count_parameters(bi) == 20 * 4 + 2 * (lstm_parameters(4, 8) + lstm_parameters(16, 8)) + (16 + 1) * 3


def test_keras_init_and_frozen_pretrained_embedding():
    torch.manual_seed(0)
    model = SentenceClassifier(SentenceClassifierConfig(hidden_size=16))
    h = 16
    assert model.lstm.bias_ih_l0[h:2 * h].eq(1).all() and model.lstm.bias_ih_l0[:h].eq(0).all()
    assert model.lstm.bias_hh_l0.eq(0).all()
    w = model.lstm.weight_hh_l0[:h].detach()
    torch.testing.assert_close(w @ w.T, torch.eye(h), atol=1e-5, rtol=0)
    assert model.embedding.weight.abs().max() <= 0.05 and model.embedding.weight[PAD_ID].eq(0).all()
    table = torch.randn(30, 6)
    frozen = SentenceClassifier(SentenceClassifierConfig(vocab_size=30, embed_dim=6, hidden_size=4,
                                                         freeze_embedding=True), embedding_weight=table)
    assert torch.equal(frozen.embedding.weight, table) and not frozen.embedding.weight.requires_grad
    assert count_parameters(frozen) == count_parameters(frozen, trainable_only=False) - 30 * 6


def keras_init_before_the_merge(model: SentenceClassifier) -> None:
    """text.keras_init_ as it was before it became utils.keras_init_: the new one must draw the same numbers."""
    nn = torch.nn
    nn.init.uniform_(model.embedding.weight, -0.05, 0.05)
    h = model.config.hidden_size
    for name, p in model.lstm.named_parameters():
        if name.startswith("weight_ih"):
            nn.init.xavier_uniform_(p)
        elif name.startswith("weight_hh"):
            for gate in p.data.split(h):
                nn.init.orthogonal_(gate)
        else:
            nn.init.zeros_(p)
            if name.startswith("bias_ih"):
                nn.init.ones_(p.data[h: 2 * h])
    nn.init.xavier_uniform_(model.classifier.weight)
    nn.init.zeros_(model.classifier.bias)
    with torch.no_grad():
        model.embedding.weight[model.embedding.padding_idx].zero_()


@pytest.mark.parametrize("bidirectional", [False, True])
def test_keras_init_draws_the_same_numbers_as_before(bidirectional):
    config = SentenceClassifierConfig(vocab_size=50, embed_dim=6, hidden_size=5, bidirectional=bidirectional)
    torch.manual_seed(0)
    new = SentenceClassifier(config)
    torch.manual_seed(0)                     # the old constructor: PyTorch's init, then Keras' on top
    old = SentenceClassifier(dataclasses.replace(config, init="pytorch"))
    keras_init_before_the_merge(old)
    for (name, a), b in zip(new.state_dict().items(), old.state_dict().values()):
        assert torch.equal(a, b), name


def test_classifier_rejects_bad_input_and_config():
    with raises_naming(ValueError, 'pooling', "'last'", "'max'", "'mean'"):
        SentenceClassifierConfig(pooling="mean")
    with raises_naming(ValueError, 'dropout', '[0, 1)', '1.0'):
        SentenceClassifierConfig(dropout=1.0)
    with raises_naming(ValueError, 'num_classes', '1', '2'):
        SentenceClassifierConfig(num_classes=1)
    with raises_naming(ValueError, 'padding_idx', 'vocab_size=10', '10'):
        SentenceClassifierConfig(vocab_size=10, padding_idx=10)
    with raises_naming(ValueError, 'init', "'keras'", "'pytorch'"):
        SentenceClassifierConfig(init="glorot")
    with raises_naming(ValueError, "embedding_weight", "(30, 5)", "(30, 6)"):
        SentenceClassifier(SentenceClassifierConfig(vocab_size=30, embed_dim=6), embedding_weight=torch.zeros(30, 5))
    model = SentenceClassifier(SentenceClassifierConfig(vocab_size=30, embed_dim=6, hidden_size=4))
    # user input: clear errors (they were asserts, which python -O removes), checked before the embedding
    with raises_naming(ValueError, "ids", "(5,)"):
        model(torch.ones(5, dtype=torch.long), torch.tensor([5]))
    with raises_naming(ValueError, "lengths", "0", "[1, 5]"):
        model(torch.ones(2, 5, dtype=torch.long), torch.tensor([5, 0]))
    with raises_naming(ValueError, "ids", "31", "vocab_size"):           # was "index out of range in self"
        model(torch.tensor([[1, 31]]), torch.tensor([2]))
    with raises_naming(TypeError, "lengths", "float32"):                  # was accepted and truncated
        model(torch.tensor([[1, 2]]), torch.tensor([1.5]))
