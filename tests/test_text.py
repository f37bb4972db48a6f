"""utils.text: the vocabulary, padding, WordPiece, and the LSTM sentence classifier (shapes,
parameter counts, and that padding never changes a prediction)."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from utils import count_parameters, text
from utils.rnn import lstm_parameters
from utils.text import (PAD_ID, UNK_ID, SentenceClassifier, SentenceClassifierConfig, Vocabulary, WordPiece,
                        encode_batch, load_word_embeddings, make_text_loader, pad_ids)

from error_facts import raises_naming

SENTENCES = ["a good film", "a bad film", "a very good , very funny film", "bad"]


# --------------------------------------------------------------------------- vocabulary
def test_vocabulary_orders_by_frequency_and_reserves_pad_and_unk():
    vocab = Vocabulary.build(SENTENCES, max_size=6)
    assert vocab.itos[:2] == ["<pad>", "<unk>"] and len(vocab) == 6
    assert vocab.itos[2:] == ["a", "film", "bad", "good"]          # 3, 3, 2, 2: ties alphabetical
    assert vocab.encode("a good movie") == [2, 5, UNK_ID]
    assert vocab.decode([2, 5, UNK_ID, PAD_ID, PAD_ID]) == "a good <unk>"
    assert len(Vocabulary.build(SENTENCES, max_size=100)) == 2 + 7    # all 7 distinct words fit


def test_vocabulary_counts_exist_from_the_start():
    # counts used to be set only by build(), so a vocabulary made from a list had none
    assert Vocabulary(["<pad>", "<unk>", "a"]).counts == {}
    vocab = Vocabulary.build(SENTENCES, max_size=4)
    assert vocab.counts["film"] == 3 and vocab.counts["funny"] == 1      # also words left out of the ids
    assert "funny" not in vocab.stoi


def test_vocabulary_errors_are_clear():
    with raises_naming(ValueError, "max_size", "2", "3"):
        Vocabulary.build(SENTENCES, max_size=2)
    with raises_naming(TypeError, "max_size", "3.5"):                     # was a bare slicing TypeError
        Vocabulary.build(SENTENCES, max_size=3.5)
    with raises_naming(TypeError, "min_freq", "nan"):                     # was accepted: every word dropped
        Vocabulary.build(SENTENCES, min_freq=float("nan"))
    with raises_naming(TypeError, "sentences", "string"):                 # was a vocabulary of letters
        Vocabulary.build("the cat sat")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        Vocabulary.build(SENTENCES, max_size=6).decode([99])
    with pytest.raises(ValueError, match="starts with"):
        Vocabulary(["a", "b"])


# --------------------------------------------------------------------------- padding
def test_encode_batch_cuts_and_pads_at_the_end():
    vocab = Vocabulary.build(SENTENCES)
    ids, lengths = encode_batch(SENTENCES, vocab, max_len=5)
    assert ids.shape == (4, 5) and ids.dtype == torch.long
    assert lengths.tolist() == [3, 3, 5, 1]                            # the long sentence is cut to 5
    assert ids[3, 1:].eq(PAD_ID).all() and ids[2].ne(PAD_ID).all()
    assert vocab.decode(ids[2]) == "a very good , very"
    assert encode_batch(SENTENCES, vocab, max_len=5, width="longest")[0].shape == (4, 5)
    assert encode_batch(SENTENCES[:2], vocab, max_len=5, width="longest")[0].shape == (2, 3)
    assert encode_batch(SENTENCES, vocab, max_len=5, width=9)[0].shape == (4, 9)


def test_padding_errors_are_clear():
    vocab = Vocabulary.build(SENTENCES)
    with pytest.raises(ValueError, match="no tokens"):
        encode_batch(["good", "   "], vocab)
    with pytest.raises(ValueError, match="shorter than the longest"):
        pad_ids([[1, 2, 3]], max_len=10, width=2)
    with pytest.raises(TypeError, match="list of sentences"):
        encode_batch("a good film", vocab)


# --------------------------------------------------------------------------- model
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
    with pytest.raises(ValueError, match="embedding_weight has shape"):
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


def test_text_loader_trims_each_batch_to_its_longest_sentence():
    ids, lengths = pad_ids([[2] * 3, [3] * 9, [4] * 2, [5] * 4], max_len=100)
    loader = make_text_loader(ids, lengths, torch.tensor([0, 1, 0, 1]), batch_size=2)
    shapes = [(tuple(x.shape), l.tolist(), y.tolist()) for (x, l), y in loader]
    assert shapes == [((2, 9), [3, 9], [0, 1]), ((2, 4), [2, 4], [0, 1])]
    with raises_naming(ValueError, 'batch_size', '0', '1'):
        make_text_loader(ids, lengths, torch.tensor([0, 1, 0, 1]), batch_size=0)


def test_text_loader_shuffles_by_its_seed_only():
    ids, lengths = pad_ids([[i + 2] for i in range(20)], max_len=5)
    y = torch.arange(20)
    def order(seed):
        return [t.tolist() for _, t in make_text_loader(ids, lengths, y, 5, shuffle=True, seed=seed)]

    torch.manual_seed(1)
    first = order(0)
    torch.manual_seed(2)                     # the global seed does not matter
    assert order(0) == first and order(1) != first
    assert sorted(sum(first, [])) == list(range(20))


# --------------------------------------------------------------------------- MiniLM WordPiece
def test_minilm_wordpiece_and_embeddings():
    import utils

    try:
        files = utils.minilm_files()
    except Exception as err:  # noqa: BLE001 - no local copy and offline
        pytest.skip(f"MiniLM files are not available offline: {err}")
    wp = WordPiece(files["tokenizer.json"])
    assert wp.pad_id == PAD_ID and len(wp) == 30_522
    assert wp.tokens("an unwatchable film") == ["an", "un", "##watch", "##able", "film"]
    ids, lengths = encode_batch(["an unwatchable film", "good"], wp, max_len=4)
    assert lengths.tolist() == [4, 1] and ids.shape == (2, 4)
    assert WordPiece(files["tokenizer.json"], add_special_tokens=True).tokens("good") == ["[CLS]", "good", "[SEP]"]
    table = load_word_embeddings(files["model.safetensors"])
    assert table.shape == (30_522, 384) and table.dtype == torch.float32


def test_truncation_keeps_cls_and_sep_as_hugging_face_does():
    """A long sentence cut to max_len ids keeps [CLS] + the first max_len - 2 pieces + [SEP]: the ids of
    Hugging Face's tokenizer with truncation=True (and without special tokens, the first max_len)."""
    import utils

    try:
        files = utils.minilm_files()
    except Exception as err:  # noqa: BLE001 - no local copy and offline
        pytest.skip(f"MiniLM files are not available offline: {err}")
    transformers = pytest.importorskip("transformers")
    reference = transformers.PreTrainedTokenizerFast(tokenizer_file=str(files["tokenizer.json"]))
    sentences = ["an unwatchable film that goes on and on about nothing in particular", "good", "a fine film"]
    with_special = WordPiece(files["tokenizer.json"], add_special_tokens=True)
    plain = WordPiece(files["tokenizer.json"])
    for max_len in (3, 5, 8, 100):
        ids, lengths = encode_batch(sentences, with_special, max_len=max_len)
        for i, sentence in enumerate(sentences):
            expected = reference(sentence, truncation=True, max_length=max_len)["input_ids"]
            assert ids[i, : lengths[i]].tolist() == expected, (max_len, sentence)
            assert with_special.encode(sentence, max_len) == expected
        ids, lengths = encode_batch(sentences, plain, max_len=max_len)
        for i, sentence in enumerate(sentences):
            expected = reference(sentence, add_special_tokens=False, truncation=True, max_length=max_len)["input_ids"]
            assert ids[i, : lengths[i]].tolist() == expected, (max_len, sentence)
    assert with_special.tokens(sentences[0], max_len=4) == ["[CLS]", "an", "un", "[SEP]"]
    with pytest.raises(ValueError, match="special token"):
        encode_batch(sentences, with_special, max_len=2)


# --------------------------------------------------------------------------- TextBatches
@pytest.mark.parametrize("padding", ["fixed", "batch", "bucket"])
def test_text_batches_cover_every_sentence_once_per_pass(padding):
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 40, (203,), generator=g)
    ids = (torch.arange(40) < lengths[:, None]).long() * torch.arange(203)[:, None].add(1)  # row id + 1
    y = torch.arange(203)
    batches = text.TextBatches(ids, lengths, y, batch_size=16, padding=padding, seed=3, pool_batches=4)
    assert len(batches) == 13
    passes = [list(batches) for _ in range(2)]
    for batch_list in passes:
        seen = torch.cat([b[1] for b in batch_list])
        assert sorted(seen.tolist()) == list(range(203))
        for (x, n), labels in batch_list:
            assert x.size(1) == (40 if padding == "fixed" else int(n.max()))
            assert torch.equal(x[:, 0] - 1, labels) and torch.equal(n, lengths[labels])
    assert [b[1].tolist() for b in passes[0]] != [b[1].tolist() for b in passes[1]]   # reshuffled
    if padding == "bucket":      # within a batch the lengths are close: much less padding
        pad = sum(x.numel() - n.sum().item() for (x, n), _ in passes[0])
        random_pad = sum(int(n.max()) * len(n) - n.sum().item()
                         for (_, n), _ in text.TextBatches(ids, lengths, y, 16, padding="batch"))
        assert pad < random_pad / 3


def test_text_batches_reject_bad_arguments():
    ids, lengths, y = torch.zeros(4, 3, dtype=torch.long), torch.ones(4, dtype=torch.long), torch.zeros(4)
    with pytest.raises(ValueError, match="padding"):
        text.TextBatches(ids, lengths, y, padding="sorted")
    with raises_naming(ValueError, "4", "3"):
        text.TextBatches(ids, lengths[:3], y)
    with raises_naming(ValueError, "lengths", "5", "[1, 3]"):            # was a batch wider than the ids
        text.TextBatches(ids, torch.tensor([1, 5, 2, 1]), y, padding="batch")
    with raises_naming(ValueError, "lengths", "5", "[1, 3]"):
        make_text_loader(ids, torch.tensor([1, 5, 2, 1]), y)


@pytest.mark.parametrize("kwargs, error, facts", [
    (dict(max_len=2.5), TypeError, ["max_len", "2.5"]),                  # was a bare slicing TypeError
    (dict(max_len=5, width=2.0), TypeError, ["width", "2.0", "float"]),
    (dict(max_len=5, width=True), TypeError, ["width", "True"]),
    (dict(max_len=5, width=2), ValueError, ["width", "2", "3"]),
])
def test_encode_batch_names_bad_sizes(kwargs, error, facts):
    vocab = Vocabulary.build(["the cat sat"])
    with raises_naming(error, *facts):
        encode_batch(["the cat sat"], vocab, **kwargs)


def test_word_piece_and_embeddings_name_a_missing_or_broken_file(tmp_path):
    with raises_naming(FileNotFoundError, str(tmp_path / "absent.json")):    # was "os error 2", no name
        WordPiece(tmp_path / "absent.json")
    (tmp_path / "broken.json").write_text("{}")
    with raises_naming(ValueError, str(tmp_path / "broken.json")):
        WordPiece(tmp_path / "broken.json")
    (tmp_path / "cut.safetensors").write_bytes(b"\x10\x00\x00")
    with raises_naming(ValueError, str(tmp_path / "cut.safetensors")):       # was "invalid header length"
        load_word_embeddings(tmp_path / "cut.safetensors")
