"""utils.layers.conv against PyTorch: conv2d, max_pool2d, Conv2d, MaxPool2d and the output-size formula."""
import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from utils import check_against
from utils.layers.conv import Conv2d, MaxPool2d, conv2d, conv_output_size, max_pool2d

from error_facts import raises_naming


def random_conv_config(rng: random.Random, small: bool = False) -> dict:
    """A random convolution whose output is at least 1x1 (rectangular sizes and kernels included);
    ``small`` keeps it tiny enough for a float64 gradcheck."""
    top = (1, 2, 3, 7) if small else (3, 4, 5, 12)
    while True:
        cfg = dict(n=rng.randint(1, top[0]), c_in=rng.randint(1, top[1]), c_out=rng.randint(1, top[2]),
                   h=rng.randint(1, top[3]), w=rng.randint(1, top[3]), k_h=rng.randint(1, 4), k_w=rng.randint(1, 4),
                   stride=(rng.randint(1, 3), rng.randint(1, 3)), padding=(rng.randint(0, 2), rng.randint(0, 2)),
                   dilation=(rng.randint(1, 2), rng.randint(1, 2)), bias=rng.random() < 0.7)
        if (cfg["dilation"][0] * (cfg["k_h"] - 1) < cfg["h"] + 2 * cfg["padding"][0]
                and cfg["dilation"][1] * (cfg["k_w"] - 1) < cfg["w"] + 2 * cfg["padding"][1]):
            return cfg


def tensors_for(cfg: dict, dtype=torch.float32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(cfg["n"], cfg["c_in"], cfg["h"], cfg["w"], generator=g, dtype=dtype)
    weight = torch.randn(cfg["c_out"], cfg["c_in"], cfg["k_h"], cfg["k_w"], generator=g, dtype=dtype)
    bias = torch.randn(cfg["c_out"], generator=g, dtype=dtype) if cfg["bias"] else None
    return x, weight, bias


@pytest.mark.parametrize("seed", range(40))
def test_conv2d_matches_f_conv2d_forward_and_backward(seed):
    cfg = random_conv_config(random.Random(seed))
    x, weight, bias = tensors_for(cfg, seed=seed)
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"])
    if bias is None:
        check_against(lambda a, b: conv2d(a, b, None, **kw), lambda a, b: F.conv2d(a, b, None, **kw),
                      x, weight, atol=1e-5, rtol=1e-4, seed=seed)
    else:
        check_against(lambda a, b, c: conv2d(a, b, c, **kw), lambda a, b, c: F.conv2d(a, b, c, **kw),
                      x, weight, bias, atol=1e-5, rtol=1e-4, seed=seed)


@pytest.mark.parametrize("seed", range(5))
def test_conv2d_gradcheck_float64(seed):
    cfg = random_conv_config(random.Random(100 + seed), small=True)
    cfg["bias"] = True
    x, weight, bias = (t.requires_grad_() for t in tensors_for(cfg, torch.float64, seed))
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"])
    assert torch.autograd.gradcheck(lambda a, b, c: conv2d(a, b, c, **kw), (x, weight, bias))


def test_int_and_pair_arguments_agree():
    x, weight, bias = tensors_for(dict(n=2, c_in=3, c_out=4, h=9, w=9, k_h=3, k_w=3, bias=True))
    torch.testing.assert_close(conv2d(x, weight, bias, 2, 1, 2), conv2d(x, weight, bias, (2, 2), (1, 1), (2, 2)))


@pytest.mark.parametrize("seed", range(30))
def test_conv_output_size_matches_f_conv2d(seed):
    rng = random.Random(seed)
    for _ in range(20):
        n, k, s, p, d = rng.randint(1, 20), rng.randint(1, 6), rng.randint(1, 4), rng.randint(0, 3), rng.randint(1, 3)
        if d * (k - 1) + 1 > n + 2 * p:
            with pytest.raises(ValueError, match="spans"):
                conv_output_size(n, k, s, p, d)
            continue
        out = F.conv2d(torch.zeros(1, 1, n, 1), torch.zeros(1, 1, k, 1), stride=(s, 1), padding=(p, 0), dilation=(d, 1))
        assert conv_output_size(n, k, s, p, d) == out.shape[2], (n, k, s, p, d)


def test_conv_output_size_known_values():
    assert conv_output_size(28, 3) == 26          # the article's first layer
    assert conv_output_size(26, 2, stride=2) == 13  # its first max pooling
    assert conv_output_size(28, 3, padding=1) == 28  # "same" padding
    assert conv_output_size(7, 3, stride=2, padding=1, dilation=2) == 3


@pytest.mark.parametrize("bad, error, facts", [
    (dict(n=0, kernel_size=1), ValueError, ["n", "0"]), (dict(n=5, kernel_size=0), ValueError, ["kernel_size", "0"]),
    (dict(n=5, kernel_size=3, stride=0), ValueError, ["stride", "0"]),
    (dict(n=5, kernel_size=3, padding=-1), ValueError, ["padding", "-1"]),
    (dict(n=5, kernel_size=3, dilation=0), ValueError, ["dilation", "0"]),
    (dict(n=5.0, kernel_size=3), TypeError, ["n", "5.0"]), (dict(n=5, kernel_size=True), TypeError, ["kernel_size", "True"])])
def test_conv_output_size_rejects_bad_arguments(bad, error, facts):
    with raises_naming(error, *facts):              # a wrong type is a TypeError, as everywhere (utils.checks)
        conv_output_size(**bad)


@pytest.mark.parametrize("seed", range(30))
def test_max_pool2d_matches_f_max_pool2d(seed):
    rng = random.Random(seed)
    k = (rng.randint(1, 4), rng.randint(1, 4))
    stride = None if rng.random() < 0.4 else (rng.randint(1, 3), rng.randint(1, 3))
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rng.randint(1, 3), rng.randint(1, 4), k[0] + rng.randint(0, 8), k[1] + rng.randint(0, 8), generator=g)
    check_against(lambda a: max_pool2d(a, k, stride), lambda a: F.max_pool2d(a, k, stride), x, seed=seed)


def test_max_pool2d_ties_send_the_gradient_where_f_max_pool2d_does():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 3, (2, 3, 9, 9), generator=g).float()       # many ties, as after a ReLU
    for k, stride in ((2, None), (3, 2), ((2, 3), (1, 2))):
        check_against(lambda a: max_pool2d(a, k, stride), lambda a: F.max_pool2d(a, k, stride), x)


def test_max_pool2d_gradcheck_float64_and_gradient_goes_to_argmax():
    x = torch.randn(2, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: max_pool2d(a, 2), (x,))
    max_pool2d(x, 2).sum().backward()
    assert int((x.grad != 0).sum()) == 2 * 2 * 3 * 3, "exactly one input per window gets a gradient"


def test_conv2d_module_matches_nn_conv2d():
    for bias in (True, False):
        torch.manual_seed(0)
        ours = Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2), dilation=(1, 2), bias=bias)
        torch.manual_seed(0)
        ref = nn.Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2), dilation=(1, 2), bias=bias)
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
        for (name, a), (_, b) in zip(ours.named_parameters(), ref.named_parameters()):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"initial {name} differs from nn.Conv2d")
        x = torch.randn(2, 3, 11, 13)
        torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-4)
        ours(x).square().sum().backward()
        ref(x).square().sum().backward()
        for (name, a), (_, b) in zip(ours.named_parameters(), ref.named_parameters()):
            torch.testing.assert_close(a.grad, b.grad, atol=1e-4, rtol=1e-4, msg=f"gradient of {name} differs")
        ref_sd = ref.state_dict()
        fresh = Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2), dilation=(1, 2), bias=bias)
        fresh.load_state_dict(ref_sd)   # same names and shapes: weights load both ways
        torch.testing.assert_close(fresh(x), ref(x), atol=1e-5, rtol=1e-4)


def test_maxpool_module_matches_nn_maxpool():
    x = torch.randn(2, 3, 9, 10)
    torch.testing.assert_close(MaxPool2d(2)(x), nn.MaxPool2d(2)(x))
    torch.testing.assert_close(MaxPool2d(3, stride=(1, 2))(x), nn.MaxPool2d(3, stride=(1, 2))(x))


def test_conv2d_error_messages():
    x, weight = torch.randn(2, 3, 8, 8), torch.randn(4, 3, 3, 3)
    with raises_naming(ValueError, 'x', 'C_in'):
        conv2d(x[0], weight)
    with raises_naming(ValueError, 'weight'):
        conv2d(x, weight[0])
    with raises_naming(ValueError, "C_in=3", "(4, 2, 3, 3)", "2"):
        conv2d(x, torch.randn(4, 2, 3, 3))
    with raises_naming(ValueError, 'bias'):
        conv2d(x, weight, torch.randn(3))
    with pytest.raises(ValueError, match="spans"):
        conv2d(x, torch.randn(4, 3, 9, 9))
    with pytest.raises(ValueError, match="stride"):
        conv2d(x, weight, stride=0)
    with pytest.raises(ValueError, match="padding"):
        conv2d(x, weight, padding=(1, 2, 3))
    with raises_naming(ValueError, 'x'):
        max_pool2d(x[0], 2)
    with pytest.raises(ValueError, match="spans"):
        max_pool2d(x, 9)


def test_conv2d_module_error_messages():
    layer = Conv2d(3, 4, 3)
    with raises_naming(ValueError, '(N, 3, H, W)'):
        layer(torch.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match="in_channels"):
        Conv2d(0, 4, 3)
    with raises_naming(TypeError, "kernel_size", "'3'"):
        Conv2d(3, 4, "3")
    with raises_naming(ValueError, "stride[1]", "0"):
        Conv2d(3, 4, 3, stride=(1, 0))
    with pytest.raises(ValueError):
        Conv2d(3, 4, 3, padding=-1)
    with pytest.raises(ValueError):
        MaxPool2d(0)
