"""utils.models.gpt and the causal / cached attention it uses: shapes, causality, the KV cache reproducing
full recomputation, weight tying, errors, and a short training run that learns."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from utils.layers import transformer
from utils.models import gpt, lm
from utils.training import recipes

from error_facts import raises_naming

SMALL = gpt.GPTConfig(vocab_size=11, block_size=16, num_layers=2, num_heads=2, embed_dim=16)


def test_is_causal_equals_an_explicit_causal_mask():
    torch.manual_seed(0)
    for fused in (True, False):
        attn = transformer.MultiHeadAttention(16, 4, fused=fused).double()
        x = torch.randn(3, 7, 16, dtype=torch.float64)
        torch.testing.assert_close(attn(x, is_causal=True), attn(x, mask=transformer.causal_mask(7)))
    with raises_naming(ValueError, "mask", "is_causal"):
        attn(x, mask=transformer.causal_mask(7), is_causal=True)


@pytest.mark.parametrize("fused", [True, False])
def test_kv_cache_one_token_at_a_time_equals_the_whole_sequence(fused):
    torch.manual_seed(1)
    block = transformer.TransformerBlock(16, 4, 32, norm_first=True, activation="gelu", fused=fused).double()
    x = torch.randn(2, 9, 16, dtype=torch.float64)
    whole = block(x, is_causal=True)
    cache = transformer.KVCache()
    first = block(x[:, :4], is_causal=True, cache=cache)                     # a prompt of 4
    steps = [block(x[:, t:t + 1], is_causal=True, cache=cache) for t in range(4, 9)]
    torch.testing.assert_close(torch.cat([first, *steps], 1), whole)
    assert len(cache) == 9


def test_gpt_shapes_tying_and_parameter_count():
    model = gpt.GPT(SMALL)
    logits = model(torch.randint(0, 11, (3, 16)))
    assert logits.shape == (3, 16, 11)
    assert model.head.weight is model.tok.weight
    D, V, L = 16, 11, 2
    block = 4 * (D * D + D) + (D * 4 * D + 4 * D) + (4 * D * D + D) + 4 * D
    assert sum(p.numel() for p in model.parameters()) == V * D + 16 * D + L * block + 2 * D


def test_gpt_is_causal():
    torch.manual_seed(2)
    model = gpt.GPT(SMALL).eval()
    ids = torch.randint(0, 11, (2, 12))
    changed = ids.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % 11
    with torch.no_grad():
        a, b = model(ids), model(changed)
    torch.testing.assert_close(a[:, :7], b[:, :7])
    assert (a[:, 7:] - b[:, 7:]).abs().max() > 1e-4


def test_generate_with_cache_equals_recomputation():
    torch.manual_seed(3)
    model = gpt.GPT(SMALL).double()        # float64: rounding cannot flip a near-tie
    prompt = torch.tensor([1, 2, 3])
    n = 5 * SMALL.block_size                # well past the context: the window slides 64 times
    cached = model.generate(prompt, n, temperature=0, use_cache=True)
    recomputed = model.generate(prompt, n, temperature=0, use_cache=False)
    assert torch.equal(cached, recomputed) and len(cached) == 3 + n
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    a = model.generate(prompt, n, temperature=1.0, top_k=3, generator=g1)
    b = model.generate(prompt, n, temperature=1.0, top_k=3, generator=g2, use_cache=False)
    assert torch.equal(a, b)


def test_generate_predicts_each_token_from_exactly_the_last_block_size_tokens():
    # the review's example: past block_size the old cache was rebuilt from block_size - 1 tokens
    config = gpt.GPTConfig(vocab_size=65, block_size=8, num_layers=1, num_heads=1, embed_dim=8)
    torch.manual_seed(1)
    model = gpt.GPT(config).double().eval()
    out = model.generate(torch.arange(8), 12, temperature=0)
    with torch.no_grad():
        for t in range(8, len(out)):
            expected = model(out[t - 8:t][None])[0, -1].argmax()
            assert out[t] == expected, f"token {t} is not the argmax given the last 8 tokens"
    assert torch.equal(out, model.generate(torch.arange(8), 12, temperature=0, use_cache=False))


def test_lm_sample_of_a_gpt_uses_its_context_past_block_size():
    torch.manual_seed(5)
    model = gpt.GPT(SMALL).double()
    prompt = torch.tensor([4, 5])
    out = lm.sample(model, prompt, 3 * SMALL.block_size, 0.0)
    assert torch.equal(out, model.generate(prompt, 3 * SMALL.block_size, temperature=0))
    assert torch.equal(out, lm.sample(model, prompt, 3 * SMALL.block_size, 0.0, use_state=False))
    with pytest.raises(ValueError, match="max_context"):
        lm.sample(model, prompt, 2, context=SMALL.block_size + 1)


def test_forward_with_state_needs_one_cache_per_layer():
    model = gpt.GPT(SMALL).eval()
    _, caches = model.forward_with_state(torch.tensor([[1, 2]]))
    with raises_naming(ValueError, len(caches) - 1, SMALL.num_layers):   # caches given, layers
        model.forward_with_state(torch.tensor([[3]]), caches[:-1])


def test_forward_with_state_matches_forward():
    torch.manual_seed(4)
    model = gpt.GPT(SMALL).eval()
    ids = torch.randint(0, 11, (2, 10))
    with torch.no_grad():
        first, caches = model.forward_with_state(ids[:, :6])
        rest, caches = model.forward_with_state(ids[:, 6:], caches)
        torch.testing.assert_close(torch.cat([first, rest], 1), model(ids), atol=1e-5, rtol=1e-5)


def test_gpt_rejects_bad_input():
    model = gpt.GPT(SMALL)
    with raises_naming(ValueError, "block_size", "17"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with raises_naming(TypeError, "ids", "int64", "float32"):
        model(torch.zeros(1, 4))
    with raises_naming(ValueError, "embed_dim", "30", "num_heads", "4"):
        gpt.GPTConfig(embed_dim=30, num_heads=4)


@pytest.mark.slow
def test_gpt_learns_a_repeating_pattern():
    torch.manual_seed(5)
    ids = torch.arange(3000) % 7                                              # 0 1 2 ... 6 0 1 ...
    model = gpt.GPT(SMALL)
    recipe = recipes.LMRecipe(steps=150, batch_size=16, seq_len=16, lr=1e-2, warmup=10, eval_every=150,
                              eval_windows=8, betas=(0.9, 0.99), weight_decay=0.1, decay_vectors=False)
    history = recipes.train_lm(model, ids, ids, recipe, log=False)
    # only the first position of a window cannot know its place in the cycle: about ln(7) / 16 = 0.12
    assert history.last("val_loss") < 0.3 < F.cross_entropy(torch.zeros(1, 11), torch.tensor([0])).item()


def test_split_loss_covers_every_position_once():
    class Uniform(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            logits = torch.zeros(*x.shape, 5)
            return logits.scatter(-1, ((x + 1) % 5)[..., None], 3.0)            # favours "next = x + 1"

    ids = torch.arange(103) % 5
    loss = lm.split_loss(Uniform(), ids, seq_len=10)
    expected = F.cross_entropy(torch.tensor([[3.0, 0, 0, 0, 0]]), torch.tensor([0])).item()
    assert loss == pytest.approx(expected)                                      # 102 predictions, all right


def test_recipe_decays_only_matrices_when_asked():
    model = gpt.GPT(SMALL)
    groups = recipes.Recipe(weight_decay=0.1, decay_vectors=False, betas=(0.9, 0.99)).optimizer(model).param_groups
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0] and groups[0]["betas"] == (0.9, 0.99)
    assert all(p.ndim >= 2 for p in groups[0]["params"]) and all(p.ndim == 1 for p in groups[1]["params"])
    with pytest.raises(ValueError, match="betas"):
        recipes.Recipe(betas=(0.9, 1.0))


def test_fused_layer_norm_equals_the_formula():
    torch.manual_seed(6)
    plain, fused = transformer.LayerNorm(8).double(), transformer.LayerNorm(8, fused=True).double()
    with torch.no_grad():
        for ln in (plain, fused):
            ln.weight.copy_(torch.linspace(0.5, 2, 8))
            ln.bias.copy_(torch.linspace(-1, 1, 8))
    x = torch.randn(3, 5, 8, dtype=torch.float64, requires_grad=True)
    outs = [ln(x) for ln in (plain, fused)]
    torch.testing.assert_close(outs[0], outs[1])
    grads = [torch.autograd.grad(o.pow(2).sum(), (x, ln.weight, ln.bias)) for o, ln in zip(outs, (plain, fused))]
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


def test_out_of_range_ids_name_the_vocabulary():
    model = gpt.GPT(SMALL)
    with pytest.raises(ValueError, match="vocab_size"):
        model(torch.tensor([[0, SMALL.vocab_size]]))
    with pytest.raises(ValueError, match="vocab_size"):
        model(torch.tensor([[-1, 0]]))
