"""Convolution and pooling written with im2col (``F.unfold``): the book's final versions.

Chapter 3 (CNN) derives these from the article's formula and checks them against ``F.conv2d`` and
``F.max_pool2d``, forward and backward. ``Conv2d`` and ``MaxPool2d`` are drop-in replacements for
``nn.Conv2d`` and ``nn.MaxPool2d`` (same arguments, parameter names and initialisation).

Shapes follow the notation appendix: images are channels-first ``(N, C, H, W)``; a convolution's
weight is ``(C_out, C_in, K_h, K_w)``. Like PyTorch (and unlike the article's formula), ``conv2d``
computes a *cross-correlation*: the kernel is not flipped.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import check_int

__all__ = ["conv_output_size", "conv2d", "max_pool2d", "Conv2d", "MaxPool2d"]


def _pair(value, name: str, minimum: int = 1) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; ``(3, 5)`` stays; each int must be >= ``minimum`` (utils.checks.check_int)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints (height, width), got {value!r}")
        return check_int(f"{name}[0]", value[0], minimum), check_int(f"{name}[1]", value[1], minimum)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int or a pair of ints (height, width), got {value!r} "
                        f"({type(value).__name__})")
    check_int(name, value, minimum)
    return value, value


def conv_output_size(n: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length of a convolution or pooling along one axis of length ``n``:

        floor((n + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1

    A dilated kernel spans ``dilation * (kernel_size - 1) + 1`` positions of the padded input; the
    windows start at 0, stride, 2 * stride, ... as long as they fit. Raises ValueError for arguments
    out of range or when not even one window fits.
    """
    for name, value, low in (("n", n, 1), ("kernel_size", kernel_size, 1), ("stride", stride, 1),
                             ("padding", padding, 0), ("dilation", dilation, 1)):
        check_int(name, value, low)
    span = dilation * (kernel_size - 1) + 1
    if span > n + 2 * padding:
        raise ValueError(f"the kernel spans {span} positions (kernel_size={kernel_size}, dilation={dilation}) "
                         f"but the padded input has only {n + 2 * padding} (n={n}, padding={padding})")
    return (n + 2 * padding - span) // stride + 1


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
           stride=1, padding=0, dilation=1) -> torch.Tensor:
    """2-D cross-correlation, like ``F.conv2d`` (no groups), computed as one matrix product (im2col).

    x: (N, C_in, H, W); weight: (C_out, C_in, K_h, K_w); bias: (C_out,) or None.
    stride, padding, dilation: an int or a pair (for height, width). Returns (N, C_out, H_out, W_out)
    with H_out = conv_output_size(H, K_h, stride, padding, dilation), likewise W_out.
    Differentiable: autograd goes through ``F.unfold``, whose backward is ``F.fold``.
    """
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, C_in, H, W), got {tuple(x.shape)}")
    if weight.ndim != 4:
        raise ValueError(f"weight must have shape (C_out, C_in, K_h, K_w), got {tuple(weight.shape)}")
    n, c_in, h, w = x.shape
    c_out, c_in_w, k_h, k_w = weight.shape
    if c_in != c_in_w:
        raise ValueError(f"channel mismatch: x has C_in={c_in} channels but weight {tuple(weight.shape)} "
                         f"expects {c_in_w}")
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ValueError(f"bias must have shape ({c_out},) to match weight, got {tuple(bias.shape)}")
    (s_h, s_w), (p_h, p_w), (d_h, d_w) = _pair(stride, "stride"), _pair(padding, "padding", 0), _pair(dilation, "dilation")
    h_out = conv_output_size(h, k_h, s_h, p_h, d_h)
    w_out = conv_output_size(w, k_w, s_w, p_w, d_w)
    cols = F.unfold(x, (k_h, k_w), dilation=(d_h, d_w), padding=(p_h, p_w), stride=(s_h, s_w))
    # cols: (N, C_in * K_h * K_w, H_out * W_out), one column per output position
    out = weight.reshape(c_out, -1) @ cols                      # (N, C_out, H_out * W_out)
    if bias is not None:
        out = out + bias.reshape(1, c_out, 1)
    return out.reshape(n, c_out, h_out, w_out)                  # (N, C_out, H_out, W_out)


def max_pool2d(x: torch.Tensor, kernel_size, stride=None) -> torch.Tensor:
    """Max pooling like ``F.max_pool2d`` (no padding): the maximum over each K_h x K_w window.

    x: (N, C, H, W) -> (N, C, H_out, W_out); stride defaults to kernel_size (non-overlapping windows).
    The gradient of each output flows only to the position of its window's maximum (the first one,
    in row-major order, when several positions tie), exactly as in ``F.max_pool2d``.
    """
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, C, H, W), got {tuple(x.shape)}")
    k_h, k_w = _pair(kernel_size, "kernel_size")
    s_h, s_w = _pair(kernel_size if stride is None else stride, "stride")
    n, c, h, w = x.shape
    h_out, w_out = conv_output_size(h, k_h, s_h), conv_output_size(w, k_w, s_w)
    cols = F.unfold(x.reshape(n * c, 1, h, w), (k_h, k_w), stride=(s_h, s_w))  # (N*C, K_h*K_w, H_out*W_out)
    # .max(dim) (not .amax) so that, as in F.max_pool2d, a tie sends the whole gradient to the first
    # maximal position of the window (row-major order) instead of sharing it
    return cols.max(dim=1).values.reshape(n, c, h_out, w_out)


class Conv2d(nn.Module):
    """A convolution layer with ``torch.nn.Conv2d``'s arguments, initialisation and parameter names.

    Built with the same seed, ``Conv2d(...)`` and ``nn.Conv2d(...)`` hold identical parameters.
    Input (N, in_channels, H, W) -> output (N, out_channels, H_out, W_out).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, bias: bool = True):
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels)
        self.out_channels = check_int("out_channels", out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.padding, self.dilation = _pair(stride, "stride"), _pair(padding, "padding", 0), _pair(dilation, "dilation")
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nn.Conv2d's initialisation: weight ~ U(-b, b) with b = 1/sqrt(fan_in) (Kaiming uniform with
        a = sqrt(5)), bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels * K_h * K_w."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected input of shape (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, bias={self.bias is not None}")


class MaxPool2d(nn.Module):
    """Max pooling as a layer, like ``nn.MaxPool2d(kernel_size, stride)`` (no padding)."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(kernel_size if stride is None else stride, "stride")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"
