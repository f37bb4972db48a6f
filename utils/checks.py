"""Numerical checks: a from-scratch function against a reference, forward and backward.

Every formula the book implements is checked with these (or directly with
``torch.testing.assert_close`` / ``torch.autograd.gradcheck``). They raise on failure.
"""
from __future__ import annotations

from typing import Callable

import torch


def check_against(fn: Callable, reference: Callable, *inputs: torch.Tensor,
                  atol: float | None = None, rtol: float | None = None, seed: int = 0) -> None:
    """Assert that ``fn(*inputs)`` equals ``reference(*inputs)`` and that the gradients with
    respect to every floating-point input agree, for a random upstream gradient.

    Raises ``AssertionError`` (from ``torch.testing.assert_close``) naming what differed.
    """
    leaves_a = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]
    leaves_b = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]
    out_a, out_b = fn(*leaves_a), reference(*leaves_b)
    if out_a.shape != out_b.shape:
        raise AssertionError(f"output shapes differ: {tuple(out_a.shape)} vs reference {tuple(out_b.shape)}")
    torch.testing.assert_close(out_a, out_b, atol=atol, rtol=rtol, msg=lambda m: f"forward differs: {m}")
    if not (out_a.requires_grad and out_b.requires_grad):
        return
    upstream = torch.randn(out_a.shape, generator=torch.Generator().manual_seed(seed)).to(out_a)
    grads_a = torch.autograd.grad(out_a, [x for x in leaves_a if x.requires_grad], upstream, allow_unused=True)
    grads_b = torch.autograd.grad(out_b, [x for x in leaves_b if x.requires_grad], upstream, allow_unused=True)
    for i, (ga, gb) in enumerate(zip(grads_a, grads_b)):
        if ga is None or gb is None:
            raise AssertionError(f"input {i}: gradient is missing ({'fn' if ga is None else 'reference'})")
        torch.testing.assert_close(ga, gb, atol=atol, rtol=rtol, msg=lambda m, i=i: f"gradient of input {i} differs: {m}")


def numerical_grad(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Central finite differences of a scalar function: (f(x+εe_i) − f(x−εe_i)) / 2ε, same shape as x.

    Use float64: in float32 the rounding error of f swamps the O(ε²) truncation error.
    """
    x = x.detach().clone(memory_format=torch.contiguous_format)  # view(-1) below needs contiguous memory
    grad = torch.zeros_like(x)
    flat, gflat = x.view(-1), grad.view(-1)
    with torch.no_grad():   # values only: f may close over parameters that require gradients
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + eps
            up = f(x).item()
            flat[i] = old - eps
            down = f(x).item()
            flat[i] = old
            gflat[i] = (up - down) / (2 * eps)
    return grad


def check_grad(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, *,
               eps: float = 1e-6, atol: float = 1e-6, rtol: float = 1e-4) -> None:
    """Assert that autograd's gradient of the scalar ``f`` at ``x`` matches finite differences."""
    if x.dtype != torch.float64:
        raise TypeError(f"finite-difference checks need float64 input, got {x.dtype}")
    leaf = x.detach().clone().requires_grad_(True)
    out = f(leaf)
    if out.numel() != 1:
        raise ValueError(f"f must return a scalar, got shape {tuple(out.shape)}")
    (analytic,) = torch.autograd.grad(out, leaf)
    torch.testing.assert_close(analytic, numerical_grad(f, x, eps), atol=atol, rtol=rtol,
                               msg=lambda m: f"autograd and finite differences disagree: {m}")
