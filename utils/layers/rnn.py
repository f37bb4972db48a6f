"""Recurrent cells and layers written from their equations: the book's final versions.

Chapter 3 (RNN) derives these from the article's recurrence and checks them against ``nn.RNN``,
``nn.LSTM`` and ``nn.GRU`` with copied weights: outputs, final states and every parameter gradient.

* ``RNNCell``, ``LSTMCell``, ``GRUCell``: one time step, with ``torch.nn``'s parameter names
  (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``), gate order (LSTM: i, f, g, o; GRU: r, z, n)
  and initialisation (every parameter ~ U(-1/sqrt(D), 1/sqrt(D))).
* ``RNN``, ``LSTM``, ``GRU``: multi-layer layers that unroll their cells over time, batch-first by
  default, with ``from_torch(module)`` to copy the weights of the matching ``torch.nn`` layer.
* ``adding_problem``: the data of Hochreiter & Schmidhuber's adding problem.
* ``lstm_parameters``: the parameter count of one LSTM layer by formula; ``set_forget_gate_bias_``:
  the forget gate's bias of any LSTM (``torch.nn``'s or these), e.g. Keras' ``unit_forget_bias``.

Shapes follow the notation appendix: N batch, T time steps, D_in input features, D hidden units
(``hidden_size``), n_layers layers. Inputs are (N, T, D_in) with ``batch_first=True`` (the default
here, unlike ``torch.nn``) and (T, N, D_in) otherwise; final states are (n_layers, N, D), as in
``torch.nn``.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..checks import check_int, check_number

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "Recurrent", "RNN", "LSTM", "GRU", "adding_problem",
           "lstm_parameters", "set_forget_gate_bias_"]


class _Cell(nn.Module):
    """Shared parameters of the three cells: G stacked gate blocks of D rows each.

    weight_ih: (G*D, D_in), weight_hh: (G*D, D), bias_ih and bias_hh: (G*D,) (or None with bias=False).
    """

    gates = 1
    torch_class: type = nn.Module

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.input_size = check_int("input_size", input_size)
        self.hidden_size = check_int("hidden_size", hidden_size)
        rows = self.gates * hidden_size
        # registration order = nn.RNNBase's order, so that the same seed gives the same numbers
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(rows))
            self.bias_hh = nn.Parameter(torch.empty(rows))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch.nn's initialisation: every weight and bias ~ U(-1/sqrt(D), 1/sqrt(D))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _affine(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(W_ih x + b_ih, W_hh h + b_hh), each (N, G*D), after checking the shapes."""
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"{type(self).__name__} expects input of shape (N, {self.input_size}), "
                             f"got {tuple(x.shape)}")
        if h.shape != (x.shape[0], self.hidden_size):
            raise ValueError(f"{type(self).__name__} expects a hidden state of shape "
                             f"({x.shape[0]}, {self.hidden_size}), got {tuple(h.shape)}")
        gi = x @ self.weight_ih.T                      # (N, G*D)
        gh = h @ self.weight_hh.T                      # (N, G*D)
        if self.bias_ih is not None:
            gi, gh = gi + self.bias_ih, gh + self.bias_hh
        return gi, gh

    def _zeros(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[0], self.hidden_size)   # (N, D)

    @classmethod
    def from_torch(cls, cell: nn.Module) -> "_Cell":
        """A copy of ``nn.RNNCell`` / ``nn.LSTMCell`` / ``nn.GRUCell`` (same dtype and device)."""
        if not isinstance(cell, cls.torch_class):
            raise TypeError(f"{cls.__name__}.from_torch needs a {cls.torch_class.__name__}, got {type(cell).__name__}")
        kwargs = {"nonlinearity": cell.nonlinearity} if cls is RNNCell else {}
        ours = cls(cell.input_size, cell.hidden_size, cell.bias, **kwargs).to(cell.weight_ih)
        ours.load_state_dict(cell.state_dict())
        return ours

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"


class RNNCell(_Cell):
    """The article's (Elman) recurrence, h' = tanh(W_ih x + b_ih + W_hh h + b_hh).

    x: (N, D_in), h: (N, D) or None (zeros) -> h': (N, D). ``nonlinearity`` is "tanh" or "relu".
    The article's single bias b_h is b_ih + b_hh here.
    """

    gates = 1
    torch_class = nn.RNNCell

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self._zeros(x) if h is None else h
        gi, gh = self._affine(x, h)
        return torch.tanh(gi + gh) if self.nonlinearity == "tanh" else torch.relu(gi + gh)


class LSTMCell(_Cell):
    """Long short-term memory, torch.nn's gate order (input i, forget f, cell candidate g, output o):

        i, f, o = sigmoid(.), g = tanh(.)   of  W_ih x + b_ih + W_hh h + b_hh, split in 4 blocks of D
        c' = f * c + i * g,   h' = o * tanh(c')

    x: (N, D_in), state (h, c) each (N, D) or None (zeros) -> (h', c'), each (N, D).
    """

    gates = 4
    torch_class = nn.LSTMCell

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        h, c = (self._zeros(x), self._zeros(x)) if state is None else state
        if c.shape != h.shape:
            raise ValueError(f"LSTMCell: h {tuple(h.shape)} and c {tuple(c.shape)} must have the same shape")
        gi, gh = self._affine(x, h)
        i, f, g, o = (gi + gh).chunk(4, dim=1)                # each (N, D)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g                                     # the additive cell-state path
        return o * torch.tanh(c), c


class GRUCell(_Cell):
    """Gated recurrent unit, torch.nn's gate order (reset r, update z, candidate n):

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h

    The reset gate multiplies W_hn h + b_hn, so here the two biases are not redundant.
    x: (N, D_in), h: (N, D) or None (zeros) -> h': (N, D).
    """

    gates = 3
    torch_class = nn.GRUCell

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self._zeros(x) if h is None else h
        gi, gh = self._affine(x, h)
        i_r, i_z, i_n = gi.chunk(3, dim=1)                    # each (N, D)
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h


class Recurrent(nn.Module):
    """A stack of ``num_layers`` cells unrolled over time (the base of ``RNN``, ``LSTM``, ``GRU``).

    forward(x, state=None) -> (output, final state), like ``torch.nn``:
      x: (N, T, D_in) if batch_first else (T, N, D_in);
      output: the last layer's hidden states, (N, T, D) if batch_first else (T, N, D);
      state: h (n_layers, N, D) for RNN and GRU, a pair (h, c) of (n_layers, N, D) for LSTM; None means zeros.
    Layer l > 0 reads the hidden states of layer l-1 as its input. No dropout, one direction.
    """

    cell_class: type[_Cell] = RNNCell
    torch_class: type = nn.RNN

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, **cell_kwargs):
        super().__init__()
        self.input_size = check_int("input_size", input_size)
        self.hidden_size = check_int("hidden_size", hidden_size)
        self.num_layers = check_int("num_layers", num_layers)
        self.bias, self.batch_first = bias, batch_first
        self.cells = nn.ModuleList(
            self.cell_class(input_size if layer == 0 else hidden_size, hidden_size, bias, **cell_kwargs)
            for layer in range(num_layers))

    @property
    def is_lstm(self) -> bool:
        return self.cell_class is LSTMCell

    def _check_state(self, t: torch.Tensor, n: int, what: str) -> None:
        expected = (self.num_layers, n, self.hidden_size)
        if t.shape != expected:
            raise ValueError(f"{type(self).__name__}: {what} must have shape (n_layers, N, D) = {expected}, "
                             f"got {tuple(t.shape)}")

    def forward(self, x: torch.Tensor, state=None):
        if x.ndim != 3:
            layout = "(N, T, D_in)" if self.batch_first else "(T, N, D_in)"
            raise ValueError(f"{type(self).__name__} expects a batch of sequences {layout}, got shape {tuple(x.shape)}")
        if not self.batch_first:
            x = x.transpose(0, 1)                             # (T, N, D_in) -> (N, T, D_in)
        n, steps, d = x.shape
        if d != self.input_size:
            raise ValueError(f"{type(self).__name__}: input has {d} features, expected input_size={self.input_size}")
        if steps == 0:
            raise ValueError(f"{type(self).__name__}: the sequences are empty (T = 0)")
        if state is None:
            zeros = x.new_zeros(self.num_layers, n, self.hidden_size)
            state = (zeros, zeros) if self.is_lstm else zeros
        if self.is_lstm:
            if not (isinstance(state, (tuple, list)) and len(state) == 2):
                raise ValueError("LSTM: state must be a pair (h_0, c_0), each of shape (n_layers, N, D)")
            self._check_state(state[0], n, "h_0")
            self._check_state(state[1], n, "c_0")
        else:
            if not isinstance(state, torch.Tensor):
                raise ValueError(f"{type(self).__name__}: state must be a tensor h_0 of shape (n_layers, N, D)")
            self._check_state(state, n, "h_0")

        layer_input, finals = x, []
        for layer, cell in enumerate(self.cells):
            s = (state[0][layer], state[1][layer]) if self.is_lstm else state[layer]   # (N, D)
            outputs = []
            for t in range(steps):
                s = cell(layer_input[:, t], s)
                outputs.append(s[0] if self.is_lstm else s)                           # (N, D)
            layer_input = torch.stack(outputs, dim=1)                                  # (N, T, D)
            finals.append(s)
        output = layer_input if self.batch_first else layer_input.transpose(0, 1)
        if self.is_lstm:
            return output, (torch.stack([s[0] for s in finals]), torch.stack([s[1] for s in finals]))
        return output, torch.stack(finals)                                             # (n_layers, N, D)

    @classmethod
    def from_torch(cls, module: nn.Module) -> "Recurrent":
        """A copy of a ``torch.nn`` layer of the matching kind (weights, dtype, device, batch_first).

        Only what this class implements is accepted: one direction, no projection, no dropout.
        """
        if not isinstance(module, cls.torch_class):
            raise TypeError(f"{cls.__name__}.from_torch needs a {cls.torch_class.__name__}, got {type(module).__name__}")
        if module.bidirectional or getattr(module, "proj_size", 0) or module.dropout:
            raise ValueError(f"{cls.__name__}.from_torch supports one direction, proj_size=0 and dropout=0; got "
                             f"bidirectional={module.bidirectional}, proj_size={getattr(module, 'proj_size', 0)}, "
                             f"dropout={module.dropout}")
        kwargs = {"nonlinearity": module.nonlinearity} if cls is RNN else {}
        ours = cls(module.input_size, module.hidden_size, module.num_layers, module.bias,
                   batch_first=module.batch_first, **kwargs).to(module.weight_ih_l0)
        with torch.no_grad():
            for layer, cell in enumerate(ours.cells):
                for name in ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if module.bias else ()):
                    getattr(cell, name).copy_(getattr(module, f"{name}_l{layer}"))
        return ours

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, bias={self.bias}, "
                f"batch_first={self.batch_first}")


class RNN(Recurrent):
    """Multi-layer Elman RNN (tanh or relu), a from-scratch ``nn.RNN``; see :class:`Recurrent`."""

    cell_class, torch_class = RNNCell, nn.RNN

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, nonlinearity: str = "tanh"):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, nonlinearity=nonlinearity)


class LSTM(Recurrent):
    """Multi-layer LSTM, a from-scratch ``nn.LSTM``; the state is a pair (h, c); see :class:`Recurrent`."""

    cell_class, torch_class = LSTMCell, nn.LSTM


class GRU(Recurrent):
    """Multi-layer GRU, a from-scratch ``nn.GRU``; see :class:`Recurrent`."""

    cell_class, torch_class = GRUCell, nn.GRU


def adding_problem(n: int, length: int, generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` sequences of the adding problem (Hochreiter & Schmidhuber 1997), in its common form.

    Each sequence has ``length`` steps of two features: a value ~ U(0, 1) and a marker that is 1 at
    exactly two steps, one drawn uniformly from the first half (steps 0 .. length//2 - 1) and one
    from the second half, and 0 elsewhere. The target is the sum of the two marked values, so it
    lies in [0, 2], has mean 1 and variance 2 * (1/12) = 1/6.

    Returns x: (n, length, 2) and y: (n,).
    """
    check_int("n", n)
    check_int("length", length, minimum=2)           # one marker in each half
    half = length // 2
    values = torch.rand(n, length, generator=generator)                      # (n, T)
    first = torch.randint(0, half, (n,), generator=generator)                # (n,)
    second = torch.randint(half, length, (n,), generator=generator)          # (n,)
    markers = torch.zeros(n, length)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]                           # (n,)
    return torch.stack([values, markers], dim=2), y                          # (n, T, 2), (n,)


def lstm_parameters(input_size: int, hidden_size: int, biases: int = 2) -> int:
    """Parameters of one LSTM layer and direction: 4 gates × (D·(D_in + D) + biases·D).
    PyTorch has two bias vectors (``biases=2``: ``bias_ih`` and ``bias_hh``), Keras one."""
    check_int("input_size", input_size)
    check_int("hidden_size", hidden_size)
    if biases not in (0, 1, 2):
        raise ValueError(f"biases must be 0, 1 or 2 bias vectors, got {biases!r}")
    return 4 * (hidden_size * (input_size + hidden_size) + biases * hidden_size)


@torch.no_grad()
def set_forget_gate_bias_(lstm: nn.Module, value: float) -> nn.Module:
    """Set the forget gate's bias of every layer and direction of ``lstm`` to ``value``; returns it.

    Accepts ``nn.LSTM``, ``nn.LSTMCell`` and this module's ``LSTM`` and ``LSTMCell``. The gates are
    stacked i, f, g, o in blocks of D rows, so the forget gate is rows D … 2D−1. Its bias is the sum
    ``bias_ih + bias_hh``: the first gets ``value``, the second 0, so the sum is exactly ``value``
    (Keras' ``unit_forget_bias=True`` is ``value=1`` on its single bias vector).
    """
    check_number("value", value)
    if isinstance(lstm, LSTM):
        for cell in lstm.cells:
            set_forget_gate_bias_(cell, value)
        return lstm
    if not isinstance(lstm, (nn.LSTM, nn.LSTMCell, LSTMCell)):
        raise TypeError(f"set_forget_gate_bias_ needs an LSTM or LSTM cell, got {type(lstm).__name__}")
    biases = dict(lstm.named_parameters(recurse=False))
    names = [name for name in biases if name.startswith("bias_ih")]
    if not names:
        raise ValueError(f"this {type(lstm).__name__} has no biases (bias=False)")
    h = lstm.hidden_size
    for name in names:                                   # bias_ih, or bias_ih_l{k}[_reverse]
        biases[name][h:2 * h] = value
        biases[name.replace("bias_ih", "bias_hh")][h:2 * h] = 0.0
    return lstm
