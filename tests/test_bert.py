"""utils.models.bert: a BERT encoder from the book's blocks, loaded through an explicit name map and
matched to Hugging Face's BertModel (a small random one here; the notebook checks MiniLM)."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from utils.models import bert
from utils.training import recipes

from error_facts import raises_naming

TINY = dict(vocab_size=50, embed_dim=16, num_heads=4, num_layers=2, dim_feedforward=32, max_len=24)


def hf_checkpoint(tmp_path, **overrides):
    """A random Hugging Face BertModel of the TINY shape, saved as safetensors + config.json."""
    transformers = pytest.importorskip("transformers")
    hf_config = transformers.BertConfig(
        vocab_size=TINY["vocab_size"], hidden_size=TINY["embed_dim"], num_attention_heads=TINY["num_heads"],
        num_hidden_layers=TINY["num_layers"], intermediate_size=TINY["dim_feedforward"],
        max_position_embeddings=TINY["max_len"], layer_norm_eps=1e-12, **overrides)
    torch.manual_seed(0)
    model = transformers.BertModel(hf_config).eval()
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    state["embeddings.position_ids"] = torch.arange(TINY["max_len"])[None]   # as old checkpoints store it
    save_file(state, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps(hf_config.to_dict()))
    return model, tmp_path


def batch():
    g = torch.Generator().manual_seed(1)
    lengths = torch.tensor([7, 3, 5])
    ids = torch.randint(1, TINY["vocab_size"], (3, 7), generator=g)
    ids[torch.arange(7) >= lengths[:, None]] = 0                              # padding at the end
    return ids, lengths


@pytest.mark.parametrize("fused", [True, False])
def test_matches_hugging_face_bert(tmp_path, fused):
    reference, folder = hf_checkpoint(tmp_path)
    config = bert.BertConfig.from_json(folder / "config.json", fused=fused)
    assert (config.embed_dim, config.num_layers, config.layer_norm_eps) == (16, 2, 1e-12)
    ours = bert.load_pretrained(folder / "model.safetensors", config).eval()
    ids, lengths = batch()
    with torch.no_grad():
        hidden = ours(ids, lengths)
        expected = reference(input_ids=ids, attention_mask=(ids != 0).long())
    real = torch.arange(7) < lengths[:, None]                                  # (N, T)
    torch.testing.assert_close(hidden[real], expected.last_hidden_state[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.pool(hidden), expected.pooler_output, atol=1e-5, rtol=1e-5)


def test_padding_never_changes_real_tokens(tmp_path):
    _, folder = hf_checkpoint(tmp_path)
    ours = bert.load_pretrained(folder / "model.safetensors", bert.BertConfig(**TINY)).eval()
    ids, lengths = batch()
    wider = torch.cat([ids, torch.full((3, 4), 9)], 1)                     # junk where padding was
    with torch.no_grad():
        a, b = ours(ids, lengths), ours(wider, lengths)
    for n, t in enumerate(lengths.tolist()):
        torch.testing.assert_close(a[n, :t], b[n, :t])
        alone = ours(ids[n:n + 1, :t])
        torch.testing.assert_close(alone[0], a[n, :t], atol=1e-5, rtol=1e-5)


def test_attention_weights_rows_sum_to_one_over_real_tokens(tmp_path):
    _, folder = hf_checkpoint(tmp_path)
    ours = bert.load_pretrained(folder / "model.safetensors", bert.BertConfig(**TINY)).eval()
    ids, lengths = batch()
    maps = ours.attention_weights(ids, lengths)                                # (n_layers, N, h, T, T)
    assert maps.shape == (2, 3, 4, 7, 7)
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 3, 4, 7))
    assert maps[:, 1, :, :, 3:].abs().max() == 0                              # sentence 1 has 3 tokens


def test_attention_weights_honour_token_types(tmp_path):
    """With token types (a sentence pair), the maps equal Hugging Face's attentions for the same input
    and the attention each layer computes inside ``forward`` (recomputed from its hooked input)."""
    reference, folder = hf_checkpoint(tmp_path, attn_implementation="eager")
    ours = bert.load_pretrained(folder / "model.safetensors", bert.BertConfig(**TINY)).eval()
    ids, lengths = batch()
    types = (torch.arange(7) >= 2).long().expand(3, 7).contiguous()          # segment B from position 2
    maps = ours.attention_weights(ids, lengths, token_type_ids=types)       # (n_layers, N, h, T, T)
    inside = []
    hooks = [layer.register_forward_pre_hook(      # post-norm: a layer's attention reads its input
        lambda module, args, kwargs: inside.append(
            module.self_attn(args[0], mask=kwargs["mask"], need_weights=True)[1]), with_kwargs=True)
        for layer in ours.layers]
    with torch.no_grad():
        ours(ids, lengths, token_type_ids=types)
        expected = reference(input_ids=ids, attention_mask=(ids != 0).long(), token_type_ids=types,
                             output_attentions=True).attentions
    for hook in hooks:
        hook.remove()
    torch.testing.assert_close(maps, torch.stack(inside))
    real = (torch.arange(7) < lengths[:, None])[None, :, None, :, None]      # query rows of real tokens
    torch.testing.assert_close(maps * real, torch.stack(expected) * real, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(maps, ours.attention_weights(ids, lengths)), "token types changed nothing"


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.pop("encoder.layer.1.output.dense.bias"), "missing encoder.layer.1.output.dense.bias"),
    (lambda s: s.__setitem__("encoder.layer.0.extra.weight", torch.zeros(2)), "unexpected encoder.layer.0.extra"),
    (lambda s: s.__setitem__("embeddings.word_embeddings.weight", torch.zeros(49, 16)), "has shape (49, 16)"),
    (lambda s: s.__setitem__("embeddings.position_ids", torch.arange(24).flip(0)[None]), "position_ids"),
])
def test_checkpoint_problems_fail_loudly(tmp_path, edit, message):
    _, folder = hf_checkpoint(tmp_path)
    from safetensors.torch import load_file
    state = load_file(folder / "model.safetensors")
    edit(state)
    save_file(state, folder / "bad.safetensors")
    with pytest.raises(bert.CheckpointError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bert.load_pretrained(folder / "bad.safetensors", bert.BertConfig(**TINY))


def test_name_map_covers_every_parameter():
    for pooler in (True, False):
        config = bert.BertConfig(**TINY, pooler=pooler)
        names = bert.checkpoint_names(config)
        assert set(names) == {k for k, _ in bert.BertEncoder(config).named_parameters()}
        assert len(set(names.values())) == len(names)


@pytest.mark.parametrize("content, facts", [
    ("{}", ["hidden_size", "vocab_size", "num_hidden_layers"]),   # was MiniLM's defaults, silently
    ('{"hidden_size": 64, "num_attention_heads": 4}', ["vocab_size", "intermediate_size"]),
    ("[1, 2]", ["list"]),
    ("{not json", ["JSON"]),
])
def test_from_json_refuses_an_incomplete_config(tmp_path, content, facts):
    path = tmp_path / "config.json"
    path.write_text(content)
    with raises_naming(ValueError, *facts):
        bert.BertConfig.from_json(path)


def test_from_json_takes_an_absent_key_from_the_overrides(tmp_path):
    _, folder = hf_checkpoint(tmp_path)
    hf = json.loads((folder / "config.json").read_text())
    del hf["layer_norm_eps"]
    (folder / "config.json").write_text(json.dumps(hf))
    assert bert.BertConfig.from_json(folder / "config.json", layer_norm_eps=1e-6).layer_norm_eps == 1e-6


def test_load_pretrained_refuses_non_finite_weights(tmp_path):
    config = bert.BertConfig(**TINY)
    _, folder = hf_checkpoint(tmp_path)
    tensors = load_file(str(folder / "model.safetensors"))
    tensors["encoder.layer.0.intermediate.dense.weight"][0, 0] = float("nan")
    save_file(tensors, str(folder / "nan.safetensors"))
    with raises_naming(bert.CheckpointError, "encoder.layer.0.intermediate.dense.weight", "NaN"):
        bert.load_pretrained(folder / "nan.safetensors", config)


def test_load_pretrained_names_a_missing_or_truncated_file(tmp_path):
    config = bert.BertConfig(**TINY)
    _, folder = hf_checkpoint(tmp_path)
    with raises_naming(FileNotFoundError, str(folder / "absent.safetensors")):
        bert.load_pretrained(folder / "absent.safetensors", config)
    truncated = folder / "truncated.safetensors"
    truncated.write_bytes((folder / "model.safetensors").read_bytes()[:100])
    with raises_naming(ValueError, str(truncated), "truncated"):
        bert.load_pretrained(truncated, config)


def test_from_json_refuses_what_is_not_implemented(tmp_path):
    _, folder = hf_checkpoint(tmp_path, hidden_act="relu")
    with pytest.raises(ValueError, match="hidden_act"):
        bert.BertConfig.from_json(folder / "config.json")


@pytest.mark.parametrize("kwargs, name", [
    (dict(embed_dim=30, num_heads=4), "divisible"), (dict(dropout=1.0), "dropout"),
    (dict(pad_id=60, vocab_size=50), "pad_id"), (dict(num_layers=0), "num_layers")])
def test_config_rejects_bad_values(kwargs, name):
    with pytest.raises(ValueError, match=name):
        bert.BertConfig(**(TINY | kwargs))


def test_encoder_rejects_bad_inputs():
    model = bert.BertEncoder(bert.BertConfig(**TINY))
    with raises_naming(ValueError, "30", "24"):
        model(torch.zeros(1, 30, dtype=torch.long))
    with raises_naming(ValueError, "lengths", "6", "[1, 5]"):
        model(torch.ones(2, 5, dtype=torch.long), torch.tensor([6, 1]))
    with raises_naming(TypeError, "ids", "int64", "float32"):
        model(torch.ones(2, 5))


@pytest.mark.parametrize("kwargs, error, facts", [
    # each reached nn.Embedding and failed there with "index out of range in self", or passed silently
    (dict(ids=torch.tensor([[1, 50, 3]])), ValueError, ["ids", "50", "vocab_size"]),
    (dict(ids=torch.tensor([[1, -1, 3]])), ValueError, ["ids", "-1"]),
    (dict(ids=torch.tensor([[1, 2, 3]]), token_type_ids=torch.tensor([[0, 5, 0]])), ValueError,
     ["token_type_ids", "5", "type_vocab_size"]),
    (dict(ids=torch.tensor([[1, 2, 3]]), token_type_ids=torch.tensor([[0, 0]])), ValueError,
     ["token_type_ids", "(1, 3)", "(1, 2)"]),
    (dict(ids=torch.tensor([[1, 2, 3]]), lengths=torch.tensor([2.5])), TypeError, ["lengths", "float32"]),
])
def test_encoder_names_bad_ids_token_types_and_lengths(kwargs, error, facts):
    model = bert.BertEncoder(bert.BertConfig(**TINY))
    with raises_naming(error, *facts):
        model(**kwargs)


@pytest.mark.parametrize("lengths, error, facts", [
    ([-1, 2], ValueError, ["lengths", "-1"]),          # was a row of zeros
    ([5, 2], ValueError, ["lengths", "5", "[1, 4]"]),  # was the mean over 4 tokens divided by 5
    ([0, 2], ValueError, ["lengths", "0"]),            # was NaN
    ([1.5, 2.0], TypeError, ["lengths", "float32"]),   # was the mean of 2 tokens divided by 1.5
])
def test_mean_pool_refuses_lengths_that_are_not_token_counts(lengths, error, facts):
    with raises_naming(error, *facts):
        bert.mean_pool(torch.randn(2, 4, 3), torch.tensor(lengths))


def test_mean_pool_averages_real_tokens_only():
    hidden = torch.arange(24.0).reshape(2, 3, 4)
    pooled = bert.mean_pool(hidden, torch.tensor([1, 3]))
    torch.testing.assert_close(pooled, torch.stack([hidden[0, 0], hidden[1].mean(0)]))


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_classifier_trains_with_the_text_recipe(pooling):
    torch.manual_seed(0)
    model = bert.BertClassifier(bert.BertEncoder(bert.BertConfig(**TINY, dropout=0.0)), 2, pooling)
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(2, 9, (64,), generator=g)
    ids = torch.randint(3, 50, (64, 8), generator=g) * (torch.arange(8) < lengths[:, None])
    y = (ids[:, 0] < 26).long()                          # "the first token is from the lower half"
    recipe = recipes.TextClassifierRecipe(epochs=15, batch_size=16, lr=3e-3, warmup=5, weight_decay=0.0)
    history = recipes.train_text_classifier(model, (ids, lengths, y), (ids, lengths, y), recipe, log=False)
    assert history.records[0]["val_acc"] < 0.6 < 0.8 < history.last("val_acc")   # chance ~ 0.5


def test_classifier_rejects_cls_without_pooler():
    with pytest.raises(ValueError, match="pooler"):
        bert.BertClassifier(bert.BertEncoder(bert.BertConfig(**TINY, pooler=False)), pooling="cls")
