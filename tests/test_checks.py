"""utils.checks: forward/backward comparison against a reference, finite-difference checks, and the
validation helpers that every config and argument check uses."""
from __future__ import annotations

import pytest
import torch

import utils
from utils.checks import check_choice, check_ids, check_int, check_lengths, check_number

from error_facts import raises_naming


def softmax_from_scratch(x: torch.Tensor) -> torch.Tensor:
    z = x - x.max(dim=-1, keepdim=True).values
    e = z.exp()
    return e / e.sum(dim=-1, keepdim=True)


class SquareWrongBackward(torch.autograd.Function):
    """x² with a forward that is right and a backward that forgets the factor 2."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x  # should be grad * 2 * x


def square_wrong_backward(x):
    return SquareWrongBackward.apply(x)


def test_check_against_passes_for_an_identical_function():
    x = torch.randn(4, 7, generator=torch.Generator().manual_seed(0))
    utils.check_against(softmax_from_scratch, lambda t: torch.softmax(t, dim=-1), x)
    utils.check_against(softmax_from_scratch, lambda t: torch.softmax(t, dim=-1), x.double(), atol=1e-12, rtol=1e-12)


def test_check_against_with_integer_inputs():
    x, idx = torch.randn(5, 3), torch.tensor([4, 0, 0, 2])
    utils.check_against(lambda t, i: t[i] * 2, lambda t, i: torch.index_select(t, 0, i) * 2, x, idx)


def test_check_against_works_on_copies_of_its_inputs():
    x = torch.randn(3, 3)
    before = x.clone()

    def mutating(t):  # changes the tensor it is given; the caller's x must not see that
        t.data.add_(1)
        return t * 2

    utils.check_against(mutating, lambda t: (t + 1) * 2, x)
    assert torch.equal(x, before) and not x.requires_grad


def test_check_against_detects_a_forward_difference():
    x = torch.randn(4, 7)
    with raises_naming(AssertionError, "forward"):
        utils.check_against(lambda t: softmax_from_scratch(t) + 1e-3, lambda t: torch.softmax(t, dim=-1), x)


def test_check_against_detects_a_gradient_difference():
    x = torch.randn(4, 5)
    utils.check_against(lambda t: t * t, lambda t: t ** 2, x)  # the right backward passes
    with raises_naming(AssertionError, 'input 0'):
        utils.check_against(square_wrong_backward, lambda t: t ** 2, x)


def test_check_against_names_the_input_whose_gradient_differs():
    a, b = torch.randn(3), torch.randn(3)
    with raises_naming(AssertionError, 'input 1'):
        utils.check_against(lambda p, q: p * square_wrong_backward(q), lambda p, q: p * q ** 2, a, b)


def test_check_against_detects_a_shape_difference():
    with raises_naming(AssertionError, '(3, 1)', '(3,)'):
        utils.check_against(lambda t: t.unsqueeze(1), lambda t: t, torch.randn(3))


def test_check_against_detects_a_missing_gradient():
    with raises_naming(AssertionError, 'input 1'):
        utils.check_against(lambda p, q: p * 2, lambda p, q: p * 2 + q * 0, torch.randn(3), torch.randn(3))


def test_check_grad_passes_for_a_correct_gradient():
    x = torch.linspace(-3, 3, 11, dtype=torch.float64)
    utils.check_grad(lambda t: t.sin().sum(), x)
    utils.check_grad(lambda t: (t.reshape(1, -1) @ t.reshape(-1, 1)).squeeze().exp() * 1e-6, x[:4])


def test_check_grad_fails_for_a_wrong_backward():
    x = torch.linspace(0.5, 2, 5, dtype=torch.float64)
    with raises_naming(AssertionError, "autograd"):
        utils.check_grad(lambda t: square_wrong_backward(t).sum(), x)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_check_grad_needs_float64(dtype):
    with raises_naming(TypeError, "float64", dtype):
        utils.check_grad(lambda t: t.sum(), torch.ones(3, dtype=dtype))


def test_check_grad_needs_a_scalar_function():
    with raises_naming(ValueError, 'f', '(3,)'):
        utils.check_grad(lambda t: t.sin(), torch.ones(3, dtype=torch.float64))


def test_numerical_grad_of_sum_of_squares():
    x = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    before = x.clone()
    grad = utils.numerical_grad(lambda t: (t ** 2).sum(), x)
    assert grad.shape == x.shape and grad.dtype == torch.float64
    torch.testing.assert_close(grad, 2 * x, atol=1e-7, rtol=1e-7)
    assert torch.equal(x, before)  # x is restored, not perturbed


def test_numerical_grad_perturbs_one_coordinate_at_a_time():
    # f = (Σx)² couples every coordinate, and central differences are exact for a quadratic:
    # any coordinate left perturbed would shift the later estimates by a multiple of 2ε
    x = torch.arange(1.0, 11.0, dtype=torch.float64)
    grad = utils.numerical_grad(lambda t: t.sum() ** 2, x, eps=1e-3)
    torch.testing.assert_close(grad, torch.full_like(x, 2 * x.sum().item()), atol=1e-8, rtol=0)


def test_numerical_grad_and_check_grad_on_non_contiguous_input():
    x = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).T
    assert not x.is_contiguous()
    torch.testing.assert_close(utils.numerical_grad(lambda t: (t ** 2).sum(), x), 2 * x, atol=1e-7, rtol=1e-7)
    utils.check_grad(lambda t: (t[0] * t.sin()).sum(), x)  # row 0 weights every row: position matters


# --------------------------------------------------------------------------- validation helpers
def test_check_int():
    assert check_int("n", 3) == 3 and check_int("n", 0, minimum=0) == 0
    with raises_naming(ValueError, "n", ">= 1", 0):
        check_int("n", 0)
    with raises_naming(TypeError, "n", "2.0", "float"):
        check_int("n", 2.0)
    with raises_naming(TypeError, "n", "True", "bool"):
        check_int("n", True)


@pytest.mark.parametrize("value, kwargs, allowed", [
    (float("nan"), {"low": 0}, ">= 0"),
    (-1.0, {"low": 0, "low_open": True}, "> 0"),
    (1.0, {"low": 0, "high": 1, "high_open": True}, "[0, 1)"),
    (0.0, {"low": 0, "high": 1, "low_open": True}, "(0, 1]"),
    (2.0, {"high": 1}, "<= 1"),
    (float("inf"), {}, "finite"),
])
def test_check_number_rejects_with_the_allowed_range(value, kwargs, allowed):
    with raises_naming(ValueError, "x", repr(value), allowed):
        check_number("x", value, **kwargs)


def test_check_number_accepts_and_rejects_types():
    assert check_number("x", 0.5, low=0, high=1) == 0.5 and check_number("x", 1, low=0) == 1
    with raises_naming(TypeError, "x", "'1'", "str"):
        check_number("x", "1")
    with raises_naming(TypeError, "x", "False"):
        check_number("x", False)


def test_check_choice():
    check_choice("mode", "min", ("min", "max"))
    with raises_naming(ValueError, "mode", "'avg'", "'min'", "'max'"):
        check_choice("mode", "avg", ("min", "max"))


def test_check_lengths_accepts_whole_counts_in_range():
    out = check_lengths([3, 1], 2, 4)
    assert out.dtype == torch.int64 and out.tolist() == [3, 1]
    assert check_lengths(torch.tensor([0, 4], dtype=torch.int32), None, 4, minimum=0).tolist() == [0, 4]


@pytest.mark.parametrize("lengths, error, facts", [
    (torch.tensor([1.5, 2.0]), TypeError, ["lengths", "float32"]),
    (torch.tensor([-1, 2]), ValueError, ["lengths", "-1", "[1, 4]"]),
    (torch.tensor([5, 2]), ValueError, ["lengths", "5", "[1, 4]"]),
    (torch.tensor([0, 2]), ValueError, ["lengths", "[1, 4]"]),
    (torch.tensor([1, 2, 3]), ValueError, ["lengths", "(2,)", "(3,)"]),
    ("12", TypeError, ["lengths", "str"]),
])
def test_check_lengths_rejects_what_would_build_a_wrong_mask(lengths, error, facts):
    with raises_naming(error, *facts):
        check_lengths(lengths, 2, 4)


def test_check_ids_names_the_vocabulary():
    ids = torch.tensor([[0, 4]])
    assert check_ids(ids, 5) is ids
    with raises_naming(ValueError, "ids", "7", "[0, 5)", "vocab_size"):
        check_ids(torch.tensor([[1, 7]]), 5)
    with raises_naming(ValueError, "ids", "-1"):
        check_ids(torch.tensor([[-1, 2]]), 5)
    with raises_naming(TypeError, "ids", "float32"):
        check_ids(ids.float(), 5)
    with raises_naming(ValueError, "ids", "(2,)"):
        check_ids(torch.tensor([1, 2]), 5)
    with raises_naming(ValueError, "token_type_ids", "type_vocab_size"):
        check_ids(torch.tensor([[3]]), 2, name="token_type_ids", limit="type_vocab_size")
