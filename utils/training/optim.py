"""Muon for a network's hidden weight matrices, AdamW for everything else.

Muon (Jordan et al., 2024) replaces a weight matrix's momentum-averaged gradient M by the nearest
semi-orthogonal matrix U V^T (M = U S V^T its singular value decomposition), computed approximately
by a few steps of a Newton-Schulz iteration: every direction of the update gets the same size, so
directions that the gradient barely touches are not starved by a few dominant ones. It applies to
matrices that multiply activations; embedding tables, the output layer tied to them, biases and
LayerNorm weights keep AdamW (Liu et al., 2025).

:func:`newton_schulz` is the iteration written out, so that the book can check PyTorch's
``torch.optim.Muon`` against it. Training uses :class:`Muon`, PyTorch's step with the iteration in
float32: PyTorch runs it in bfloat16, which is fast only on CPUs that multiply bfloat16 matrices in
hardware (AMX, AVX512-BF16). Elsewhere the products are emulated and much slower than float32; the
GPT page times the iteration in both dtypes on the machine that runs it (its stored outputs say by
how much), instead of a figure typed here.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..checks import check_int

#: The quintic's coefficients (a, b, c) of Jordan et al., PyTorch's defaults.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def newton_schulz(g: torch.Tensor, steps: int = 5, coefficients: Sequence[float] = NS_COEFFICIENTS,
                  *, dtype: torch.dtype = torch.bfloat16, eps: float = 1e-7) -> torch.Tensor:
    """Approximately U V^T for the matrix g = U S V^T, returned in g's dtype; for a stack of
    matrices (..., rows, columns), for each one on its own.

    g is divided by its Frobenius norm (so every singular value is at most 1), then ``steps`` times
    X ← a X + b (X X^T) X + c (X X^T)^2 X, which maps each singular value s to
    a s + b s^3 + c s^5 and leaves U and V alone. The iteration runs in ``dtype`` (bfloat16, as
    PyTorch's Muon does) on the wide orientation of g, where X X^T is the smaller product.
    """
    if g.ndim < 2:
        raise ValueError(f"newton_schulz needs a matrix, got a tensor of shape {tuple(g.shape)}")
    check_int("steps", steps)
    if len(coefficients) != 3:
        raise ValueError(f"coefficients must be the quintic's three numbers (a, b, c), got {coefficients!r}")
    a, b, c = coefficients
    tall = g.shape[-2] > g.shape[-1]
    x = (g.mT if tall else g).to(dtype)
    x = x / x.norm(dim=(-2, -1), keepdim=True).clamp(min=eps)
    for _ in range(steps):
        gram = x @ x.mT
        x = a * x + (b * gram + c * gram @ gram) @ x
    return (x.mT if tall else x).to(g.dtype)


class Muon(torch.optim.Muon):
    """``torch.optim.Muon`` with the Newton-Schulz iteration in ``ns_dtype`` (float32 by default
    instead of PyTorch's bfloat16); everything else is PyTorch's step: the momentum buffer
    B ← μB + (1 − μ)G, the update G + μ(B − G) (Nesterov) or B, :func:`newton_schulz` of it, decoupled
    weight decay W ← (1 − ηλ)W, and the step scaled as ``adjust_lr_fn`` says. Matrices of one shape
    go through the iteration as one stack (one batched product per shape instead of one per matrix)."""

    def __init__(self, params, *, ns_dtype: torch.dtype = torch.float32, **kwargs):
        super().__init__(params, **kwargs)
        self.ns_dtype = ns_dtype

    @torch.no_grad()
    def step(self, closure=None):
        if closure is not None:
            raise ValueError("utils.training.optim.Muon does not take a closure")
        for group in self.param_groups:
            mu = group["momentum"]
            params, updates = [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum_buffer" not in state:           # PyTorch's name: state dicts match
                    state["momentum_buffer"] = torch.zeros_like(p.grad)
                buf = state["momentum_buffer"]
                buf.lerp_(p.grad, 1 - mu)
                params.append(p)
                updates.append(p.grad.lerp(buf, mu) if group["nesterov"] else buf)
            # matrices of one shape go through the iteration together, as one stack: a GPT's many
            # small products cost less as a few batched ones
            by_shape: dict[tuple, list[int]] = {}
            for i, u in enumerate(updates):
                by_shape.setdefault(tuple(u.shape), []).append(i)
            for indices in by_shape.values():
                stacked = newton_schulz(torch.stack([updates[i] for i in indices]), group["ns_steps"],
                                        group["ns_coefficients"], dtype=self.ns_dtype, eps=group["eps"])
                for i, update in zip(indices, stacked):
                    p = params[i]
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                    p.add_(update, alpha=-group["lr"] * _lr_scale(group["adjust_lr_fn"], *p.shape))


def _lr_scale(adjust_lr_fn: str | None, rows: int, cols: int) -> float:
    """The factor on Muon's learning rate for a rows × cols matrix, as PyTorch's ``adjust_lr_fn``."""
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))     # eq-ch4-muon: the RMS of an AdamW step
    if adjust_lr_fn in (None, "original"):
        return math.sqrt(max(1, rows / cols))
    raise ValueError(f"unknown adjust_lr_fn {adjust_lr_fn!r}")


def hidden_matrices(model: nn.Module) -> list[nn.Parameter]:
    """The weight matrices of ``model``'s ``nn.Linear`` layers that are not tied to an embedding
    table (a tied output layer is an embedding in disguise); the parameters Muon trains."""
    tables = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    return [m.weight for m in model.modules()
            if isinstance(m, nn.Linear) and m.weight.requires_grad and id(m.weight) not in tables]


class CombinedOptimizer(torch.optim.Optimizer):
    """Several optimizers stepped as one: ``param_groups`` is the list of all their groups (the same
    dictionaries), so one learning-rate scheduler scales every group's rate."""

    def __init__(self, optimizers: Sequence[torch.optim.Optimizer]):
        if not optimizers:
            raise ValueError("CombinedOptimizer needs at least one optimizer")
        params, owner = [], {}                       # owner: id of a parameter -> index of its optimizer
        for i, opt in enumerate(optimizers):
            for p in (p for group in opt.param_groups for p in group["params"]):
                if id(p) in owner:
                    raise ValueError(f"a parameter of shape {tuple(p.shape)} belongs to optimizers {owner[id(p)]} "
                                     f"and {i}: give each parameter to one optimizer")
                owner[id(p)] = i
                params.append(p)
        super().__init__(params, {})
        self.optimizers = list(optimizers)
        self.param_groups = [group for opt in self.optimizers for group in opt.param_groups]

    @torch.no_grad()
    def step(self, closure=None):
        if closure is not None:
            raise ValueError("CombinedOptimizer does not take a closure")
        for opt in self.optimizers:
            opt.step()

    def add_param_group(self, param_group: dict) -> None:
        # torch.optim.Optimizer.__init__ calls this once per group before self.optimizers exists;
        # afterwards a new group would belong to no inner optimizer and never be stepped
        if hasattr(self, "optimizers"):
            raise NotImplementedError("CombinedOptimizer cannot take new parameter groups: add them to one "
                                      "of its optimizers (self.optimizers[i].add_param_group) before "
                                      "combining them")
        super().add_param_group(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, state_dict: dict) -> None:
        states = state_dict.get("optimizers") if isinstance(state_dict, dict) else None
        if not isinstance(states, list) or len(states) != len(self.optimizers):
            found = f"{len(states)} optimizer state(s)" if isinstance(states, list) else repr(type(state_dict).__name__)
            raise ValueError(f"state_dict must be CombinedOptimizer.state_dict() of {len(self.optimizers)} "
                             f"optimizers, {{'optimizers': [...]}}; got {found}")
        for opt, state in zip(self.optimizers, states, strict=True):
            opt.load_state_dict(state)


def muon_with_adamw(model: nn.Module, *, lr: float, muon_lr: float, betas: tuple[float, float],
                    weight_decay: float, decay_vectors: bool, momentum: float = 0.95
                    ) -> CombinedOptimizer:
    """Muon at ``muon_lr`` on :func:`hidden_matrices`, AdamW at ``lr`` on the other trainable
    parameters (with ``decay_vectors=False`` only its matrices are decayed). Muon's step is scaled
    by 0.2·sqrt(max(rows, columns)) (``adjust_lr_fn="match_rms_adamw"``), which gives its updates
    the root-mean-square size of AdamW's, so that a learning rate means about the same for both.
    Muon is :class:`Muon` (its iteration in float32), which runs fast on any CPU."""
    hidden = hidden_matrices(model)
    if not hidden:
        raise ValueError(f"{type(model).__name__} has no nn.Linear weight matrices for Muon to train")
    ids = {id(p) for p in hidden}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
    groups = [{"params": rest}] if decay_vectors else [
        {"params": [p for p in rest if p.ndim >= 2]},
        {"params": [p for p in rest if p.ndim < 2], "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    adamw = torch.optim.AdamW(groups, lr=lr, betas=betas, weight_decay=weight_decay)
    muon = Muon(hidden, lr=muon_lr, weight_decay=weight_decay, momentum=momentum,
                adjust_lr_fn="match_rms_adamw")
    return CombinedOptimizer([adamw, muon])
