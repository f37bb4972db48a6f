"""utils.training.optim: the Newton-Schulz iteration written out (against the SVD and against PyTorch's Muon
step), which parameters Muon trains, and the combined optimizer under one scheduler."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from utils.models import gpt
from utils.training.optim import CombinedOptimizer, Muon, hidden_matrices, muon_with_adamw, newton_schulz
from utils.training.recipes import LMRecipe

from error_facts import raises_naming


@pytest.mark.parametrize("shape", [(32, 32), (16, 48), (48, 16)])
def test_newton_schulz_keeps_singular_vectors_and_flattens_singular_values(shape):
    g = torch.randn(*shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    u, s, vh = torch.linalg.svd(g, full_matrices=False)
    x = newton_schulz(g, dtype=torch.float64)
    assert x.shape == g.shape and x.dtype == g.dtype
    # U^T X V is diagonal: the iteration acts on the singular values only
    core = u.T @ x @ vh.T
    off = core - torch.diag(torch.diagonal(core))
    assert off.abs().max() < 1e-10
    new = torch.diagonal(core)
    # each new singular value is the scalar quintic applied five times to s / ||g||_F
    t = s / g.norm()
    for _ in range(5):
        t = 3.4445 * t - 4.7750 * t**3 + 2.0315 * t**5
    torch.testing.assert_close(new, t)
    # ... which lands every one of them near 1 (Jordan et al.: about 0.7 to 1.2)
    assert new.min() > 0.6 and new.max() < 1.25, (new.min(), new.max())


def test_newton_schulz_matches_one_step_of_pytorchs_muon():
    torch.manual_seed(0)
    layer = nn.Linear(16, 64, bias=False)
    before = layer.weight.detach().clone()
    grad = torch.randn_like(layer.weight)
    layer.weight.grad = grad.clone()
    lr = 0.05
    opt = torch.optim.Muon([layer.weight], lr=lr, weight_decay=0.0, adjust_lr_fn="match_rms_adamw")
    opt.step()
    # first step: momentum with Nesterov scales the gradient, which the normalisation undoes;
    # the step is 0.2·sqrt(max(64, 16)) = 1.6 times lr times the orthogonalised gradient
    step = (before - layer.weight.detach()) / lr
    exact = 0.2 * math.sqrt(64) * newton_schulz(grad, dtype=torch.float64)
    error = (step - exact).norm() / exact.norm()
    assert error < 0.03, f"PyTorch's bfloat16 step is {error:.1%} from the iteration"
    # a check that could fail: the wrong scale (PyTorch's "original", sqrt(64/16) = 2) is 25 % off
    assert (step - exact * 2 / 1.6).norm() / exact.norm() > 0.2


def test_book_muon_is_pytorchs_step_with_the_iteration_in_float32():
    torch.manual_seed(0)
    w0, grads = torch.randn(64, 16), [torch.randn(64, 16) for _ in range(3)]

    def run(make):
        w = nn.Parameter(w0.clone())
        opt = make([w])
        for g in grads:
            w.grad = g.clone()
            opt.step()
        return w.detach(), opt.state[w]["momentum_buffer"]

    kwargs = dict(lr=0.02, weight_decay=0.1, adjust_lr_fn="match_rms_adamw")
    theirs, buffer_theirs = run(lambda p: torch.optim.Muon(p, **kwargs))
    ours_bf16, buffer_ours = run(lambda p: Muon(p, ns_dtype=torch.bfloat16, **kwargs))
    ours, _ = run(lambda p: Muon(p, **kwargs))
    torch.testing.assert_close(buffer_ours, buffer_theirs, rtol=0, atol=0)   # the same momentum
    # three steps by hand in float64: Nesterov momentum, decoupled decay, eq-ch4-muon's scale
    w, b = w0.double(), torch.zeros(64, 16, dtype=torch.float64)
    for g in grads:
        g = g.double()
        b = 0.95 * b + 0.05 * g
        w = w * (1 - 0.02 * 0.1) - 0.02 * 0.2 * math.sqrt(64) * newton_schulz(
            g + 0.95 * (b - g), dtype=torch.float64)

    def off(x):
        return ((x.double() - w).norm() / (w - w0.double()).norm()).item()
    assert off(ours) < 1e-4, off(ours)                  # float32: the formula to rounding
    assert 1e-3 < off(theirs) < 0.03, off(theirs)       # PyTorch's bfloat16 iteration
    assert off(ours_bf16) < 0.03, off(ours_bf16)        # ours in bfloat16: as close as PyTorch's


def test_newton_schulz_of_a_stack_is_each_matrix_on_its_own():
    torch.manual_seed(0)
    stack = torch.randn(3, 48, 16)
    each = torch.stack([newton_schulz(m, dtype=torch.float32) for m in stack])
    torch.testing.assert_close(newton_schulz(stack, dtype=torch.float32), each)
    # each matrix is scaled by its own norm: scaling one must not change the others
    scaled = stack.clone()
    scaled[0] *= 100
    torch.testing.assert_close(newton_schulz(scaled, dtype=torch.float32)[1:], each[1:])


def test_newton_schulz_rejects_a_vector():
    with raises_naming(ValueError, "(3,)"):
        newton_schulz(torch.ones(3))
    with raises_naming(TypeError, "steps", "2.5"):      # was "'float' object cannot be interpreted as an integer"
        newton_schulz(torch.ones(3, 3), steps=2.5)
    with raises_naming(ValueError, "coefficients"):
        newton_schulz(torch.ones(3, 3), coefficients=(1.0, 2.0))


def test_hidden_matrices_of_the_gpt_leave_out_tables_the_tied_head_and_vectors():
    model = gpt.GPT(gpt.GPTConfig(vocab_size=11, block_size=8, num_layers=2, num_heads=2, embed_dim=8))
    hidden = hidden_matrices(model)
    names = {id(p): n for n, p in model.named_parameters()}
    chosen = sorted(names[id(p)] for p in hidden)
    assert len(chosen) == 2 * 6                 # q, k, v, out and the two feed-forward layers
    assert all(n.startswith("blocks.") and n.endswith(".weight") for n in chosen)
    assert id(model.tok.weight) not in {id(p) for p in hidden}


def test_muon_with_adamw_covers_every_parameter_once_and_one_scheduler_drives_both():
    model = gpt.GPT(gpt.GPTConfig(vocab_size=11, block_size=8, num_layers=1, num_heads=2, embed_dim=8))
    opt = muon_with_adamw(model, lr=1e-3, muon_lr=2e-2, betas=(0.9, 0.99), weight_decay=0.1,
                          decay_vectors=False)
    grouped = [id(p) for g in opt.param_groups for p in g["params"]]
    assert sorted(grouped) == sorted(id(p) for p in model.parameters())
    vectors = [g for g in opt.param_groups if all(p.ndim < 2 for p in g["params"])]
    assert vectors and all(g["weight_decay"] == 0.0 for g in vectors)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5)
    assert sorted(g["lr"] for g in opt.param_groups) == [5e-4, 5e-4, 1e-2]
    before = [p.detach().clone() for p in model.parameters()]
    model(torch.randint(0, 11, (2, 8))).sum().backward()
    opt.step()
    sched.step()
    assert all(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_combined_optimizer_refuses_a_parameter_in_two_optimizers():
    p = nn.Parameter(torch.ones(2, 2))
    with raises_naming(ValueError, "(2, 2)", "0", "1"):       # the parameter's shape, both optimizers
        CombinedOptimizer([torch.optim.SGD([p], lr=1.0), torch.optim.SGD([p], lr=1.0)])


def test_lm_recipe_with_muon_lr_builds_the_combined_optimizer_and_checks_the_rate():
    model = gpt.GPT(gpt.GPTConfig(vocab_size=11, block_size=8, num_layers=1, num_heads=2, embed_dim=8))
    assert isinstance(LMRecipe().optimizer(model), torch.optim.AdamW)
    opt = LMRecipe(muon_lr=1e-2).optimizer(model)
    assert isinstance(opt, CombinedOptimizer)
    assert [type(o).__name__ for o in opt.optimizers] == ["AdamW", "Muon"]
    with pytest.raises(ValueError, match="muon_lr"):
        LMRecipe(muon_lr=0.0)


def test_combined_optimizer_load_state_dict_names_a_wrong_state():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    combined = CombinedOptimizer([torch.optim.SGD([a], lr=0.1), torch.optim.SGD([b], lr=0.1)])
    with raises_naming(ValueError, "2 optimizers", "1 optimizer state"):   # was "zip() argument 2 is shorter"
        combined.load_state_dict({"optimizers": [combined.optimizers[0].state_dict()]})
    with raises_naming(ValueError, "2 optimizers"):
        combined.load_state_dict(combined.optimizers[0].state_dict())


def test_combined_optimizer_refuses_groups_it_would_never_step():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    combined = CombinedOptimizer([torch.optim.SGD([a], lr=0.1)])
    with pytest.raises(NotImplementedError, match="add_param_group"):
        combined.add_param_group({"params": [b]})
