"""Checks: numerical checks of the book's formulas, and the validation of what a user passes.

* :func:`check_against`, :func:`check_grad`, :func:`numerical_grad`: a from-scratch function against
  a reference, forward and backward (every formula the book implements is checked with these, or
  directly with ``torch.testing.assert_close`` / ``torch.autograd.gradcheck``). They raise on failure.
* :func:`check_int`, :func:`check_number`, :func:`check_choice`, :func:`check_lengths`,
  :func:`check_ids`, :func:`check_id_stream`: the package's one validation rule for arguments and
  config fields a user sets: a ``TypeError`` (wrong type) or ``ValueError`` (wrong value) that names
  the argument, the value and what is allowed. ``assert`` is not used for this: it vanishes under
  ``python -O`` and says nothing about the fix.

This module imports nothing from the package: it is the foundation every layer of :mod:`utils`
builds on, so every other module (the recurrent cells included) can use it without an import cycle.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch


# --------------------------------------------------------------------------- validation of user input
def check_int(name: str, value, minimum: int = 1) -> int:
    """``value`` if it is an int >= ``minimum`` (a bool is not an int here), else a clear error."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return value


def check_number(name: str, value, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> float:
    """``value`` if it is a finite real number in the interval from ``low`` to ``high`` (each bound
    included unless ``*_open``; ``None`` = unbounded), else a clear error. NaN never passes."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    if low is not None and high is not None:
        allowed = f"lie in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    elif low is not None:
        allowed = f"be {'>' if low_open else '>='} {low}"
    elif high is not None:
        allowed = f"be {'<' if high_open else '<='} {high}"
    else:
        allowed = "be finite"
    ok = math.isfinite(value)
    ok = ok and (low is None or (value > low if low_open else value >= low))
    ok = ok and (high is None or (value < high if high_open else value <= high))
    if not ok:
        raise ValueError(f"{name} must {allowed}, got {value!r}")
    return value


def check_choice(name: str, value, choices: Sequence) -> None:
    """Nothing if ``value`` is one of ``choices``, else a ``ValueError`` listing them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def _span(t: torch.Tensor) -> str:
    return f"{t.min().item()} ... {t.max().item()}" if t.numel() else "(empty)"


def check_lengths(lengths, n: int | None, T: int, *, minimum: int = 1, name: str = "lengths") -> torch.Tensor:
    """``lengths`` as an int64 tensor of shape (n,) (any 1-d shape when ``n`` is None) whose values
    lie in [``minimum``, ``T``]: the numbers of real tokens of rows padded to T columns. A float,
    negative or too long length would otherwise build a mask that silently counts padding as real
    tokens or drops real ones."""
    if not isinstance(lengths, torch.Tensor):
        try:
            lengths = torch.as_tensor(lengths)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"{name} must be a 1-d tensor of integer token counts, got "
                            f"{type(lengths).__name__}") from exc
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer token counts, got dtype {lengths.dtype} "
                        f"(values {_span(lengths)}); use lengths.long() for whole numbers")
    if lengths.ndim != 1 or (n is not None and lengths.shape != (n,)):
        expected = "(N,)" if n is None else f"(N,) = ({n},)"
        raise ValueError(f"{name} must have shape {expected}, one count per row, got {tuple(lengths.shape)}")
    if lengths.numel() and not (minimum <= int(lengths.min()) and int(lengths.max()) <= T):
        raise ValueError(f"{name} must lie in [{minimum}, {T}] (at most the T = {T} columns of the input), "
                         f"got {_span(lengths)}")
    return lengths.long()


def check_ids(ids: torch.Tensor, vocab_size: int, *, name: str = "ids", ndim: int | None = 2,
              limit: str = "vocab_size") -> torch.Tensor:
    """``ids`` if it is an int64 tensor (of ``ndim`` dims, when given) whose values are vocabulary ids
    in [0, ``vocab_size``); else a clear error, instead of ``nn.Embedding``'s "index out of range in
    self" from deep inside a model."""
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of int64 token ids, got {type(ids).__name__}")
    shape = {1: "(T,)", 2: "(N, T)"}.get(ndim, f"{ndim}-d")
    if ids.dtype != torch.long:
        raise TypeError(f"{name} must be a {shape} tensor of int64 token ids, got dtype {ids.dtype} "
                        f"(shape {tuple(ids.shape)}); convert with .long()")
    if ndim is not None and ids.ndim != ndim:
        raise ValueError(f"{name} must be a {shape} tensor of token ids, got shape {tuple(ids.shape)}")
    if ids.numel() and not (0 <= int(ids.min()) and int(ids.max()) < vocab_size):
        raise ValueError(f"{name} must lie in [0, {vocab_size}) ({limit}), got {_span(ids)}")
    return ids


def check_id_stream(ids: torch.Tensor, seq_len: int) -> None:
    """Raise unless ``ids`` is a token stream, a 1-D int64 tensor, long enough for one window of
    ``seq_len`` inputs and its shifted targets (``seq_len + 1`` ids): what the windows of
    :mod:`utils.data.windows` and a language model's loss over a whole split read."""
    if not isinstance(ids, torch.Tensor):
        raise ValueError(f"ids must be a 1-D int64 tensor, got {type(ids).__name__}")
    if ids.ndim != 1 or ids.dtype != torch.long:
        raise ValueError(f"ids must be a 1-D int64 tensor, got shape {tuple(ids.shape)}, dtype {ids.dtype}")
    check_int("seq_len", seq_len)
    if len(ids) < seq_len + 1:
        raise ValueError(f"a window of {seq_len} inputs needs {seq_len + 1} ids (inputs + the shifted target), "
                         f"but the text has only {len(ids)}")


# --------------------------------------------------------------------------- numerical checks
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
