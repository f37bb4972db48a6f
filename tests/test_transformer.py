"""utils.layers.transformer against PyTorch (outputs and every gradient, float64), and the properties the
chapters rely on: causality, padding, permutation equivariance, relative positions, clear errors."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.testing import assert_close

from utils.layers import transformer as tf
from utils import count_parameters

from error_facts import raises_naming

DT = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _leaf(*shape, g):
    return torch.randn(*shape, generator=g, dtype=DT).requires_grad_()


def _grads(tensors):
    return [t.grad.clone() for t in tensors]


# --------------------------------------------------------------------------- attention function
@pytest.mark.parametrize("kind", ["none", "causal", "padding", "empty_row"])
def test_attention_matches_torch(kind):
    g = _gen(1)
    n, h, t, d = 2, 3, 5, 4
    q, k, v = (_leaf(n, h, t, d, g=g) for _ in range(3))
    mask = {"none": None, "causal": tf.causal_mask(t),
            "padding": tf.padding_mask(torch.tensor([5, 3]), t),
            "empty_row": tf.causal_mask(t) & tf.padding_mask(torch.tensor([5, 3]), t).flip(-1)}[kind]
    ours, weights = tf.scaled_dot_product_attention(q, k, v, mask)
    w_out = torch.randn(ours.shape, generator=g, dtype=DT)
    (ours * w_out).sum().backward()
    mine = _grads((q, k, v))
    for x in (q, k, v):
        x.grad = None
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    (ref * w_out).sum().backward()
    assert_close(ours, ref)
    for a, b in zip(mine, _grads((q, k, v))):
        assert_close(a, b)
    assert all(torch.isfinite(x).all() for x in mine)
    if kind != "empty_row":                                    # left padding: early queries see no key
        assert_close(weights.sum(-1), torch.ones(n, h, t, dtype=DT))
    if mask is not None:
        assert (weights.detach()[~mask.expand_as(weights)] == 0).all()


@pytest.mark.parametrize("lengths, error, facts", [
    ([-1, 2], ValueError, ["lengths", "-1", "[0, 4]"]),     # was a row that masks every key
    ([5, 2], ValueError, ["lengths", "5", "[0, 4]"]),       # was a row with no padding masked
    ([1.5, 2.0], TypeError, ["lengths", "float32"]),        # was 1.5 read as 2 real tokens
])
def test_padding_mask_refuses_lengths_that_are_not_token_counts(lengths, error, facts):
    with raises_naming(error, *facts):
        tf.padding_mask(torch.tensor(lengths), 4)
    assert tf.padding_mask([0, 4], 4)[:, 0, 0].tolist() == [[False] * 4, [True] * 4]   # 0 and T are allowed


def test_masks():
    assert tf.causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    m = tf.padding_mask(torch.tensor([2, 3]), 4)
    assert m.shape == (2, 1, 1, 4)
    assert m[:, 0, 0].tolist() == [[True, True, False, False], [True, True, True, False]]


# --------------------------------------------------------------------------- multi-head attention
@pytest.mark.parametrize("bias", [True, False])
def test_mha_from_torch(bias):
    torch.manual_seed(0)
    n, t, d, h = 3, 6, 8, 2
    ref = nn.MultiheadAttention(d, h, bias=bias, batch_first=True, dtype=DT)
    ours = tf.MultiHeadAttention.from_torch(ref)
    g = _gen(2)
    x = _leaf(n, t, d, g=g)
    mem = _leaf(n, t + 1, d, g=g)
    lengths = torch.tensor([7, 4, 2])
    keep = tf.padding_mask(lengths, t + 1)                     # (N, 1, 1, T_k), True = real
    out, w = ours(x, mem, mem, mask=keep, need_weights=True)
    w_out = torch.randn(out.shape, generator=g, dtype=DT)
    (out * w_out).sum().backward()
    qkv = (ours.q_proj, ours.k_proj, ours.v_proj)
    mine = _grads((x, mem)) + [torch.cat([p.weight.grad for p in qkv]), ours.out_proj.weight.grad]
    if bias:
        mine += [torch.cat([p.bias.grad for p in qkv]), ours.out_proj.bias.grad]
    x.grad = mem.grad = None
    ref_out, ref_w = ref(x, mem, mem, key_padding_mask=~keep[:, 0, 0], need_weights=True)
    (ref_out * w_out).sum().backward()
    theirs = _grads((x, mem)) + [ref.in_proj_weight.grad, ref.out_proj.weight.grad]
    if bias:
        theirs += [ref.in_proj_bias.grad, ref.out_proj.bias.grad]
    assert_close(out, ref_out)
    assert_close(w.mean(dim=1), ref_w)                         # torch averages the heads' weights
    for a, b in zip(mine, theirs):
        assert_close(a, b)


def test_mha_self_attention_default_and_shapes():
    torch.manual_seed(0)
    mha = tf.MultiHeadAttention(12, 3).double()
    x = torch.randn(2, 5, 12, dtype=DT)
    assert_close(mha(x), mha(x, x, x))
    out, w = mha(x, need_weights=True)
    assert out.shape == (2, 5, 12) and w.shape == (2, 3, 5, 5) and mha.head_dim == 4


# --------------------------------------------------------------------------- layer norm
@pytest.mark.parametrize("fused", [False, True])
@pytest.mark.parametrize("shape", [(0, 7), (2, 0, 7), (0, 3, 7)])
def test_layer_norm_on_an_empty_batch_is_empty_and_silent(shape, fused):
    """No rows to normalise: an empty result of the same shape, no warning (run with warnings as errors),
    like nn.LayerNorm; gradients flow (zero) to the parameters."""
    import warnings

    ours = tf.LayerNorm(7, fused=fused).double()
    x = torch.zeros(shape, dtype=DT, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = ours(x)
        y.sum().backward()
    assert y.shape == shape
    assert_close(y, nn.LayerNorm(7, dtype=DT)(x))
    assert ours.weight.grad is not None and ours.weight.grad.abs().max() == 0


def test_layer_norm_matches_torch():
    torch.manual_seed(0)
    ref = nn.LayerNorm(7, eps=1e-3, dtype=DT)
    nn.init.normal_(ref.weight)
    nn.init.normal_(ref.bias)
    ours = tf.LayerNorm(7, eps=1e-3).double()
    ours.load_state_dict(ref.state_dict())
    g = _gen(3)
    x = (torch.randn(2, 4, 7, generator=g, dtype=DT) * 3 + 1).requires_grad_()
    w_out = torch.randn(2, 4, 7, generator=g, dtype=DT)
    (ours(x) * w_out).sum().backward()
    mine = [x.grad.clone(), ours.weight.grad, ours.bias.grad]
    x.grad = None
    (ref(x) * w_out).sum().backward()
    assert_close(ours(x), ref(x))
    for a, b in zip(mine, [x.grad, ref.weight.grad, ref.bias.grad]):
        assert_close(a, b)


# --------------------------------------------------------------------------- the block
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_block_from_torch(norm_first, activation):
    torch.manual_seed(0)
    n, t, d, h, d_ff = 3, 5, 8, 2, 16
    ref = nn.TransformerEncoderLayer(d, h, d_ff, dropout=0.0, activation=activation, batch_first=True,
                                     norm_first=norm_first, dtype=DT)
    with torch.no_grad():                                      # non-trivial LayerNorm parameters
        for p in (ref.norm1.weight, ref.norm1.bias, ref.norm2.weight, ref.norm2.bias):
            p.add_(0.1 * torch.randn_like(p))
    ours = tf.TransformerBlock.from_torch(ref)
    assert (ours.ff.activation, ours.norm_first) == (activation, norm_first)
    g = _gen(4)
    x = _leaf(n, t, d, g=g)
    keep = tf.padding_mask(torch.tensor([5, 3, 1]), t)          # (N, 1, 1, T)
    real = keep[:, 0, 0, :, None].to(DT)                       # (N, T, 1): 1 at real tokens
    w_out = torch.randn(n, t, d, generator=g, dtype=DT) * real
    out = ours(x, mask=keep)
    (out * w_out).sum().backward()
    mine = [x.grad.clone()] + [p.grad.clone() for p in ours.parameters()]
    x.grad = None
    ref_out = ref(x, src_key_padding_mask=~keep[:, 0, 0])
    (ref_out * w_out).sum().backward()
    assert_close(out * real, ref_out * real)                   # padded positions are not compared
    assert_close(mine[0], x.grad)
    sa = ref.self_attn
    q_w, k_w, v_w = sa.in_proj_weight.grad.chunk(3)
    q_b, k_b, v_b = sa.in_proj_bias.grad.chunk(3)
    theirs = {"self_attn.q_proj.weight": q_w, "self_attn.q_proj.bias": q_b, "self_attn.k_proj.weight": k_w,
              "self_attn.k_proj.bias": k_b, "self_attn.v_proj.weight": v_w, "self_attn.v_proj.bias": v_b,
              "self_attn.out_proj.weight": sa.out_proj.weight.grad,
              "self_attn.out_proj.bias": sa.out_proj.bias.grad,
              "ff.linear1.weight": ref.linear1.weight.grad, "ff.linear1.bias": ref.linear1.bias.grad,
              "ff.linear2.weight": ref.linear2.weight.grad, "ff.linear2.bias": ref.linear2.bias.grad,
              "norm1.weight": ref.norm1.weight.grad, "norm1.bias": ref.norm1.bias.grad,
              "norm2.weight": ref.norm2.weight.grad, "norm2.bias": ref.norm2.bias.grad}
    names = [name for name, _ in ours.named_parameters()]
    assert sorted(names) == sorted(theirs)
    for name, grad in zip(names, mine[1:]):
        assert_close(grad, theirs[name], msg=name)


def _block(norm_first=False, seed=0):
    torch.manual_seed(seed)
    return tf.TransformerBlock(8, 2, 16, norm_first=norm_first).double().eval()


@pytest.mark.parametrize("norm_first", [False, True])
def test_causal_future_never_changes_past(norm_first):
    block, t = _block(norm_first), 6
    x = torch.randn(2, t, 8, dtype=DT)
    for s in range(1, t):
        y = x.clone()
        y[:, s:] = torch.randn(2, t - s, 8, dtype=DT)
        assert_close(block(x, tf.causal_mask(t))[:, :s], block(y, tf.causal_mask(t))[:, :s])
        assert not torch.allclose(block(x)[:, :s], block(y)[:, :s])   # without the mask it leaks


def test_padding_never_changes_real_outputs():
    block, t = _block(), 6
    lengths = torch.tensor([6, 4, 2])
    keep = tf.padding_mask(lengths, t)
    x = torch.randn(3, t, 8, dtype=DT)
    y = torch.where(keep[:, 0, 0, :, None], x, torch.randn_like(x))  # new values at padded positions
    out_x, out_y = block(x, keep), block(y, keep)
    for i, length in enumerate(lengths.tolist()):
        assert_close(out_x[i, :length], out_y[i, :length])
        assert_close(out_x[i, :length], block(x[i:i + 1, :length])[0])   # same as the unpadded sequence


def test_permutation_equivariance_without_positions():
    block = _block()
    x = torch.randn(2, 7, 8, dtype=DT)
    perm = torch.randperm(7)
    assert_close(block(x)[:, perm], block(x[:, perm]))


# --------------------------------------------------------------------------- positions
@pytest.mark.parametrize("D", [16, 7])
def test_positional_encoding_relative_shift_is_a_rotation(D):
    T, k = 50, 3
    pe = tf.sinusoidal_positional_encoding(T, D).double()
    assert pe.shape == (T, D)
    assert_close(pe[0, 0::2], torch.zeros((D + 1) // 2, dtype=DT))
    assert_close(pe[0, 1::2], torch.ones(D // 2, dtype=DT))
    omega = 10000.0 ** (-torch.arange(0, D, 2, dtype=DT) / D)
    rot = torch.zeros(D, D, dtype=DT)                          # PE(t + k) = PE(t) @ rot, for every t
    for i, a in enumerate((omega * k).tolist()):
        c, s = torch.cos(torch.tensor(a, dtype=DT)), torch.sin(torch.tensor(a, dtype=DT))
        if 2 * i + 1 < D:
            rot[2 * i:2 * i + 2, 2 * i:2 * i + 2] = torch.stack([torch.stack([c, -s]), torch.stack([s, c])])
    if D % 2:                                                  # the lone last sine has no cosine partner
        pe, rot = pe[:, :-1], rot[:-1, :-1]
    assert_close(pe[k:], pe[:-k] @ rot, atol=1e-5, rtol=1e-5)


# --------------------------------------------------------------------------- errors and misc
def test_feed_forward_and_counts():
    ff = tf.FeedForward(8, 32, activation="relu")
    assert ff(torch.randn(2, 3, 8)).shape == (2, 3, 8)
    block = tf.TransformerBlock(8, 2, 32)
    assert count_parameters(block) == 4 * (8 * 8 + 8) + (8 * 32 + 32) + (32 * 8 + 8) + 2 * 2 * 8


@pytest.mark.parametrize("make, error, name", [
    (lambda: tf.MultiHeadAttention(10, 3), ValueError, "num_heads"),
    (lambda: tf.MultiHeadAttention(10, 3), ValueError, "embed_dim"),
    (lambda: tf.MultiHeadAttention(0, 1), ValueError, "embed_dim"),
    (lambda: tf.MultiHeadAttention(8, 2.0), TypeError, "num_heads"),
    (lambda: tf.MultiHeadAttention(8, 2, dropout=1.0), ValueError, "dropout"),
    (lambda: tf.TransformerBlock(8, 3, 16), ValueError, "num_heads"),
    (lambda: tf.TransformerBlock(8, 2, 0), ValueError, "dim_feedforward"),
    (lambda: tf.TransformerBlock(8, 2, 16, activation="tanh"), ValueError, "activation"),
    (lambda: tf.TransformerBlock(8, 2, 16, layer_norm_eps=0.0), ValueError, "eps"),
    (lambda: tf.FeedForward(8, 16, dropout=-0.1), ValueError, "dropout"),
    (lambda: tf.LayerNorm(True), TypeError, "D"),
    (lambda: tf.sinusoidal_positional_encoding(0, 8), ValueError, "T"),
    (lambda: tf.causal_mask(2.5), TypeError, "T"),
    (lambda: tf.scaled_dot_product_attention(*[torch.zeros(1, 1, 2, 2)] * 3, mask=torch.ones(2, 2)),
     TypeError, "mask"),
    (lambda: tf.MultiHeadAttention.from_torch(nn.Linear(2, 2)), TypeError, "mha"),
    (lambda: tf.TransformerBlock.from_torch(nn.Linear(2, 2)), TypeError, "layer"),
])
def test_bad_arguments(make, error, name):
    with pytest.raises(error, match=name):
        make()


@pytest.mark.parametrize("fused", [True, False])
def test_a_float_mask_is_refused_on_both_paths(fused):
    # a 0/1 float mask would be *added* to the scores by F.scaled_dot_product_attention: it masked nothing
    attn = tf.MultiHeadAttention(8, 2, fused=fused)
    x = torch.randn(2, 5, 8)
    keep = torch.ones(2, 1, 5, 5, dtype=torch.bool).tril()
    attn(x, mask=keep)
    with pytest.raises(TypeError, match="boolean"):
        attn(x, mask=keep.float())
