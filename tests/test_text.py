"""utils.data.text: the vocabulary, padding, WordPiece, the text loaders and batches. (The LSTM
sentence classifier that reads them: test_text_classifier.py.)"""
from __future__ import annotations

import pytest
import torch

from utils.data import text
from utils.data.text import (PAD_ID, UNK_ID, Vocabulary, WordPiece, encode_batch, load_word_embeddings,
                             make_text_loader, pad_ids)

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
    with raises_naming(ValueError, "[99]", "6"):                        # the ids, the vocabulary's size
        Vocabulary.build(SENTENCES, max_size=6).decode([99])
    with raises_naming(ValueError, "['<pad>', '<unk>']", "['a', 'b']"):
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
    with raises_naming(ValueError, "sentences", "[1]"):
        encode_batch(["good", "   "], vocab)
    with raises_naming(ValueError, "width", "2", "3"):
        pad_ids([[1, 2, 3]], max_len=10, width=2)
    with raises_naming(TypeError, "sentences", "string"):
        encode_batch("a good film", vocab)


# --------------------------------------------------------------------------- loaders
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
    with raises_naming(ValueError, "max_len", "2"):
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
    with raises_naming(ValueError, "padding", "'sorted'", "'fixed'", "'batch'", "'bucket'"):
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
