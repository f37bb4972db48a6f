"""utils.layers.rnn against PyTorch: cells and multi-layer layers (outputs, final states, all gradients),
the initialisation, the adding-problem data, and the errors on wrong shapes."""
import pytest
import torch
from torch import nn

from utils.layers import rnn

from error_facts import raises_naming

KINDS = {"RNN": (rnn.RNN, nn.RNN, rnn.RNNCell, nn.RNNCell), "LSTM": (rnn.LSTM, nn.LSTM, rnn.LSTMCell, nn.LSTMCell),
         "GRU": (rnn.GRU, nn.GRU, rnn.GRUCell, nn.GRUCell)}
CONFIGS = [  # (kind, input_size, hidden_size, num_layers, bias, batch_first, extra kwargs)
    ("RNN", 3, 5, 1, True, True, {}),
    ("RNN", 4, 6, 2, True, False, {"nonlinearity": "relu"}),
    ("RNN", 2, 3, 2, False, True, {}),
    ("LSTM", 3, 5, 1, True, True, {}),
    ("LSTM", 4, 6, 2, True, False, {}),
    ("LSTM", 2, 4, 2, False, True, {}),
    ("GRU", 3, 5, 1, True, True, {}),
    ("GRU", 4, 6, 2, True, False, {}),
    ("GRU", 2, 4, 2, False, True, {}),
]


def _initial_state(kind, layers, n, hidden, g, dtype):
    h0 = torch.randn(layers, n, hidden, generator=g, dtype=dtype)
    return (h0, torch.randn(layers, n, hidden, generator=g, dtype=dtype)) if kind == "LSTM" else h0


def _flat(out):
    """output and final state(s) as one list of tensors."""
    output, state = out
    return [output, *state] if isinstance(state, tuple) else [output, state]


@pytest.mark.parametrize("cfg", CONFIGS, ids=[f"{c[0]}-L{c[3]}-bias{c[4]}-bf{c[5]}" for c in CONFIGS])
@pytest.mark.parametrize("with_state", [False, True])
def test_layer_matches_torch_outputs_states_and_gradients(cfg, with_state):
    kind, d, hidden, layers, bias, batch_first, extra = cfg
    ours_cls, torch_cls = KINDS[kind][:2]
    torch.manual_seed(0)
    reference = torch_cls(d, hidden, num_layers=layers, bias=bias, batch_first=batch_first, **extra).double()
    ours = ours_cls.from_torch(reference)
    assert ours.batch_first == batch_first and next(ours.parameters()).dtype == torch.float64
    g = torch.Generator().manual_seed(1)
    n, steps = 3, 6
    x = torch.randn(*((n, steps) if batch_first else (steps, n)), d, generator=g, dtype=torch.float64)
    state = _initial_state(kind, layers, n, hidden, g, torch.float64) if with_state else None
    x_a, x_b = x.clone().requires_grad_(), x.clone().requires_grad_()
    outs_a, outs_b = _flat(ours(x_a, state)), _flat(reference(x_b, state))
    assert len(outs_a) == len(outs_b)
    for a, b in zip(outs_a, outs_b):
        torch.testing.assert_close(a, b)
    # one scalar that depends on the output and on every final state
    weights = [torch.randn(t.shape, generator=g, dtype=torch.float64) for t in outs_b]
    sum(((a * w).sum() for a, w in zip(outs_a, weights))).backward()
    sum(((b * w).sum() for b, w in zip(outs_b, weights))).backward()
    torch.testing.assert_close(x_a.grad, x_b.grad)
    for layer, cell in enumerate(ours.cells):
        for name, p in cell.named_parameters():
            torch.testing.assert_close(p.grad, getattr(reference, f"{name}_l{layer}").grad,
                                       msg=lambda m, name=name, layer=layer: f"{name} of layer {layer}: {m}")


@pytest.mark.parametrize("kind", KINDS)
def test_cells_match_torch_cells(kind):
    cell_cls, torch_cell_cls = KINDS[kind][2:]
    torch.manual_seed(0)
    reference = torch_cell_cls(4, 5).double()
    ours = cell_cls.from_torch(reference)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 4, generator=g, dtype=torch.float64)
    h = torch.randn(3, 5, generator=g, dtype=torch.float64)
    state = (h, torch.randn(3, 5, generator=g, dtype=torch.float64)) if kind == "LSTM" else h
    a, b = ours(x, state), reference(x, state)
    for u, v in zip(a if kind == "LSTM" else [a], b if kind == "LSTM" else [b]):
        torch.testing.assert_close(u, v)
    # no state means zeros, as in torch.nn
    for u, v in zip(*(([o] if kind != "LSTM" else o) for o in (ours(x), reference(x)))):
        torch.testing.assert_close(u, v)


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_float64(kind):
    torch.manual_seed(0)
    layer = KINDS[kind][0](2, 3, num_layers=2).double()
    x = torch.randn(2, 4, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inp: layer(inp)[0], (x,))


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_initialisation_as_torch(kind):
    ours_cls, torch_cls = KINDS[kind][:2]
    torch.manual_seed(3)
    ours = ours_cls(4, 6, num_layers=2)
    torch.manual_seed(3)
    reference = torch_cls(4, 6, num_layers=2)
    assert [p.shape for p in ours.parameters()] == [p.shape for p in reference.parameters()]
    for a, b in zip(ours.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in reference.parameters())


def test_parameter_count_formula():
    gates = {"RNN": 1, "LSTM": 4, "GRU": 3}
    for kind, (ours_cls, *_rest) in KINDS.items():
        d, h, layers = 7, 9, 2
        model = ours_cls(d, h, num_layers=layers)
        expected = sum(gates[kind] * h * ((d if l == 0 else h) + h + 2) for l in range(layers))
        assert sum(p.numel() for p in model.parameters()) == expected, kind


def test_wrong_shapes_give_clear_errors():
    lstm = rnn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"\(N, T, D_in\)"):
        lstm(torch.randn(5, 3))
    with pytest.raises(ValueError, match="input_size=3"):
        lstm(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match="pair"):
        lstm(torch.randn(2, 5, 3), torch.zeros(2, 2, 4))
    with raises_naming(ValueError, 'h_0'):
        lstm(torch.randn(2, 5, 3), (torch.zeros(1, 2, 4), torch.zeros(2, 2, 4)))
    with raises_naming(ValueError, 'c_0'):
        lstm(torch.randn(2, 5, 3), (torch.zeros(2, 2, 4), torch.zeros(2, 3, 4)))
    with pytest.raises(ValueError, match=r"\(T, N, D_in\)"):
        rnn.GRU(3, 4, batch_first=False)(torch.randn(5, 3))
    with raises_naming(ValueError, 'h_0'):
        rnn.GRU(3, 4)(torch.randn(2, 5, 3), torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="empty"):
        rnn.RNN(3, 4)(torch.randn(2, 0, 3))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        rnn.RNNCell(3, 4)(torch.randn(2, 5))
    with raises_naming(ValueError, "(2, 4)", "(2, 5)"):         # the shape it needs, the shape it got
        rnn.GRUCell(3, 4)(torch.randn(2, 3), torch.zeros(2, 5))
    with pytest.raises(ValueError, match="hidden_size"):
        rnn.LSTM(3, 0)
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn.RNN(3, 4, nonlinearity="sigmoid")


def test_from_torch_rejects_what_it_cannot_copy():
    with pytest.raises(TypeError, match="nn.LSTM|LSTM"):
        rnn.LSTM.from_torch(nn.GRU(2, 3))
    with pytest.raises(ValueError, match="bidirectional=True"):
        rnn.LSTM.from_torch(nn.LSTM(2, 3, bidirectional=True))
    with pytest.raises(ValueError, match="dropout=0.5"):
        rnn.GRU.from_torch(nn.GRU(2, 3, num_layers=2, dropout=0.5))
    with pytest.raises(ValueError, match="proj_size=2"):
        rnn.LSTM.from_torch(nn.LSTM(2, 3, proj_size=2))
    with pytest.raises(TypeError, match="RNNCell"):
        rnn.RNNCell.from_torch(nn.GRUCell(2, 3))


def test_adding_problem_shapes_and_target():
    g = torch.Generator().manual_seed(0)
    x, y = rnn.adding_problem(500, 11, g)
    assert x.shape == (500, 11, 2) and y.shape == (500,)
    values, markers = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert (markers.sum(1) == 2).all() and set(markers.unique().tolist()) == {0.0, 1.0}
    half = 11 // 2
    assert (markers[:, :half].sum(1) == 1).all() and (markers[:, half:].sum(1) == 1).all()
    torch.testing.assert_close(y, (values * markers).sum(1))
    # the same generator state gives the same data
    x2, y2 = rnn.adding_problem(500, 11, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2) and torch.equal(y, y2)
    # mean 1 and variance 1/6 (sum of two independent U(0, 1)), up to sampling error
    _, y_big = rnn.adding_problem(20000, 4, g)
    assert abs(y_big.mean().item() - 1.0) < 0.02 and abs(y_big.var().item() - 1 / 6) < 0.01


@pytest.mark.parametrize("bad, error, facts", [((0, 10), ValueError, ["n", "0"]), ((5, 1), ValueError, ["length", "1", "2"]),
                                             ((5, 2.5), TypeError, ["length", "2.5"])])
def test_adding_problem_rejects_bad_sizes(bad, error, facts):
    with raises_naming(error, *facts):
        rnn.adding_problem(*bad)


# --------------------------------------------------------------------------- lstm_parameters, forget-gate bias
@pytest.mark.parametrize("d_in, d, biases", [(10, 128, 2), (128, 128, 2), (3, 5, 1), (4, 6, 0)])
def test_lstm_parameters_matches_torch_and_keras(d_in, d, biases):
    expected = 4 * d * (d_in + d) + biases * 4 * d
    assert rnn.lstm_parameters(d_in, d, biases) == expected
    if biases == 2:
        assert rnn.lstm_parameters(d_in, d) == sum(p.numel() for p in nn.LSTM(d_in, d).parameters())
    if biases == 0:
        assert expected == sum(p.numel() for p in nn.LSTM(d_in, d, bias=False).parameters())


def test_lstm_parameters_rejects_bad_sizes():
    with pytest.raises(ValueError, match="hidden_size"):
        rnn.lstm_parameters(3, 0)
    with raises_naming(ValueError, 'biases', '0', '1', '2'):
        rnn.lstm_parameters(3, 4, biases=3)


def forget_blocks(module, d):
    """(bias_ih, bias_hh) forget-gate blocks of every layer/direction/cell of an LSTM."""
    params = dict(module.named_parameters())
    return [(params[n][d:2 * d], params[n.replace("bias_ih", "bias_hh")][d:2 * d])
            for n in params if "bias_ih" in n]


@pytest.mark.parametrize("make", [lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True),
                                  lambda: nn.LSTMCell(3, 4), lambda: rnn.LSTMCell(3, 4),
                                  lambda: rnn.LSTM(3, 4, num_layers=2)])
def test_set_forget_gate_bias_sets_the_effective_bias_everywhere(make):
    torch.manual_seed(0)
    module = make()
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    assert rnn.set_forget_gate_bias_(module, 2.5) is module
    blocks = forget_blocks(module, 4)
    assert len(blocks) in (1, 2, 4)
    for ih, hh in blocks:
        assert ih.eq(2.5).all() and hh.eq(0).all()              # b_ih + b_hh = 2.5 exactly
    for name, p in module.named_parameters():                   # only the forget blocks changed
        keep = torch.ones_like(p, dtype=torch.bool)
        if "bias" in name:
            keep[4:8] = False
        assert torch.equal(p[keep], before[name][keep]), name
        assert p.requires_grad


def test_set_forget_gate_bias_makes_the_forget_gate_sigmoid_of_the_value():
    cell = rnn.LSTMCell(2, 3)
    with torch.no_grad():
        cell.weight_ih.zero_(), cell.weight_hh.zero_()
    rnn.set_forget_gate_bias_(cell, 5.0)
    c0 = torch.ones(1, 3)
    _, c1 = cell(torch.zeros(1, 2), (torch.zeros(1, 3), c0))
    # c1 = f * c0 + i * g; with zero weights, g = tanh(b_g) and i = sigmoid(b_i) from the untouched biases
    i = torch.sigmoid(cell.bias_ih[:3] + cell.bias_hh[:3])
    g = torch.tanh(cell.bias_ih[6:9] + cell.bias_hh[6:9])
    torch.testing.assert_close(c1[0], torch.sigmoid(torch.tensor(5.0)) * 1.0 + i * g)


def test_set_forget_gate_bias_rejects_what_it_cannot_set():
    with raises_naming(TypeError, 'GRU'):
        rnn.set_forget_gate_bias_(nn.GRU(2, 3), 1.0)
    with raises_naming(ValueError, "LSTM", "bias=False"):
        rnn.set_forget_gate_bias_(nn.LSTM(2, 3, bias=False), 1.0)
    with raises_naming(ValueError, 'value', 'nan'):
        rnn.set_forget_gate_bias_(nn.LSTM(2, 3), float("nan"))
