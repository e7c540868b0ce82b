"""Specification of the convolutional layers (``Conv2d``, ``MaxPool2d``, ``AvgPool2d``),
batch normalization and ``Embedding``, and of their functional forms.

- Forward values and gradients match central differences (``gradcheck`` in float64,
  eps 1e-6, atol 1e-5, rtol 1e-3) for window geometries drawn by Hypothesis (kernel
  sizes, strides, padding, dilation, groups, odd image sizes), on the CPU and on CUDA
  (tiny shapes and few examples there: the simulator runs each CUDA thread in Python).
- Gradients of gradients exist (``create_graph=True``) and match central differences.
- Layers are built and printed like PyTorch's; mistakes raise errors naming the layer,
  the shapes and the fix.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import numbanet as nb
import numbanet.nn.functional as F
from numbanet import nn
from numbanet.autograd import gradcheck

DEVICES = ["cpu", "cuda"]
F64 = dict(eps=1e-6, atol=1e-5, rtol=1e-3)


def leaf(array, device="cpu", requires_grad=True):
    return nb.tensor(np.asarray(array, dtype=np.float64), dtype=nb.float64, device=device,
                     requires_grad=requires_grad)


def distinct_values(rng, shape, spacing=0.1):
    """Values at least ``spacing`` apart (no ties, so max pooling is differentiable)."""
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * spacing + rng.uniform(0, spacing / 4, n)).reshape(
        shape)


def out_size(n, k, s, p, d, ceil_mode=False):
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def side(device):
    """Largest image side drawn: tiny on the CUDA simulator."""
    return 3 if device == "cuda" else 6


@st.composite
def conv_case(draw, max_side):
    groups = draw(st.sampled_from([1, 1, 2]))
    c, o = groups * draw(st.integers(1, 2 if max_side > 3 else 1)), groups * draw(
        st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    assume(out_size(h, kh, stride[0], padding[0], dilation[0]) >= 1)
    assume(out_size(w, kw, stride[1], padding[1], dilation[1]) >= 1)
    n = draw(st.integers(1, 2 if max_side > 3 else 1))
    return dict(x=(n, c, h, w), w=(o, c // groups, kh, kw), stride=stride, padding=padding,
                dilation=dilation, groups=groups, bias=draw(st.booleans()),
                seed=draw(st.integers(0, 2**16)))


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=15)
@given(data=st.data())
def test_conv2d_value_and_grads_match_central_difference(device, data):
    case = data.draw(conv_case(side(device)))
    rng = np.random.default_rng(case["seed"])
    x, w = leaf(rng.normal(size=case["x"]), device), leaf(rng.normal(size=case["w"]), device)
    b = leaf(rng.normal(size=case["w"][0]), device) if case["bias"] else None
    kw = {k: case[k] for k in ("stride", "padding", "dilation", "groups")}
    reference = _numpy_conv2d(x.detach().cpu().numpy(), w.detach().cpu().numpy(),
                              None if b is None else b.detach().cpu().numpy(), **kw)
    np.testing.assert_allclose(F.conv2d(x, w, b, **kw).detach().cpu().numpy(), reference,
                               rtol=1e-12, atol=1e-12)
    inputs = (x, w) if b is None else (x, w, b)
    assert gradcheck(lambda *a: F.conv2d(*a, **kw), inputs, **F64)


def _numpy_conv2d(x, w, b, stride, padding, dilation, groups):
    """The definition, one output element at a time."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    oh = out_size(h, kh, stride[0], padding[0], dilation[0])
    ow = out_size(wd, kw, stride[1], padding[1], dilation[1])
    out = np.zeros((n, o, oh, ow))
    per_group = o // groups
    for i, k, r, s in np.ndindex(out.shape):
        g = k // per_group
        rows = r * stride[0] + dilation[0] * np.arange(kh)
        cols = s * stride[1] + dilation[1] * np.arange(kw)
        patch = xp[i, g * cg:(g + 1) * cg][:, rows][:, :, cols]
        out[i, k, r, s] = (patch * w[k]).sum() + (0 if b is None else b[k])
    return out


@st.composite
def pool_case(draw, max_side, dilation=True):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    ceil_mode = draw(st.booleans())
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    assume(out_size(h, kh, stride[0], padding[0], dil[0], ceil_mode) >= 1)
    assume(out_size(w, kw, stride[1], padding[1], dil[1], ceil_mode) >= 1)
    c = draw(st.integers(1, 2 if max_side > 3 else 1))
    return dict(x=(1, c, h, w), kernel_size=(kh, kw), stride=stride, padding=padding,
                dilation=dil, ceil_mode=ceil_mode, seed=draw(st.integers(0, 2**16)))


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=15)
@given(data=st.data())
def test_max_pool2d_grads_match_central_difference(device, data):
    case = data.draw(pool_case(side(device)))
    x = leaf(distinct_values(np.random.default_rng(case.pop("seed")), case.pop("x")), device)
    # a dilated window may hold only padding: its -inf has no central difference
    assume(np.isfinite(F.max_pool2d(x.detach(), **case).cpu().numpy()).all())
    assert gradcheck(lambda t: F.max_pool2d(t, **case), (x,), **F64)


@pytest.mark.parametrize("device", DEVICES)
def test_max_pool2d_window_of_only_padding_gives_minus_inf_and_no_gradient(device):
    x = leaf(np.ones((1, 1, 1, 1)), device)
    out, indices = F.max_pool2d(x, (2, 1), 1, (1, 0), (2, 1), return_indices=True)
    assert out.detach().cpu().numpy().ravel().tolist() == [-np.inf]
    out.sum().backward()
    assert x.grad.cpu().numpy().ravel().tolist() == [0.0]


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=15)
@given(data=st.data(), count_include_pad=st.booleans(),
       divisor_override=st.sampled_from([None, None, 2]))
def test_avg_pool2d_grads_match_central_difference(device, data, count_include_pad,
                                                   divisor_override):
    case = data.draw(pool_case(side(device), dilation=False))
    del case["dilation"]
    x = leaf(np.random.default_rng(case.pop("seed")).normal(size=case.pop("x")), device)
    assert gradcheck(lambda t: F.avg_pool2d(t, count_include_pad=count_include_pad,
                                            divisor_override=divisor_override, **case),
                     (x,), **F64)


@pytest.mark.parametrize("device", DEVICES)
@settings(max_examples=10)
@given(shape=st.sampled_from([(3, 2), (2, 2, 3), (2, 2, 2, 3), (3, 1, 1, 2)]),
       affine=st.booleans(), seed=st.integers(0, 2**16))
def test_batch_norm_training_grads_match_central_difference(device, shape, affine, seed):
    rng = np.random.default_rng(seed)
    x = leaf(rng.normal(size=shape) * 2 + 1, device)
    c = shape[1]
    params = (leaf(rng.normal(size=c), device), leaf(rng.normal(size=c), device)) \
        if affine else ()

    def fn(x, *wb):
        return F.batch_norm(x, None, None, *wb, training=True)
    out = fn(x, *params).detach().cpu().numpy()
    dims = (0,) + tuple(range(2, len(shape)))
    xv = x.detach().cpu().numpy()
    ref = (xv - xv.mean(dims, keepdims=True)) / np.sqrt(xv.var(dims, keepdims=True) + 1e-5)
    if affine:
        view = (1, c) + (1,) * (len(shape) - 2)
        ref = ref * params[0].detach().cpu().numpy().reshape(view) + \
            params[1].detach().cpu().numpy().reshape(view)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)
    assert gradcheck(fn, (x,) + params, **F64)


@pytest.mark.parametrize("device", DEVICES)
def test_batch_norm_eval_grads_match_central_difference(device):
    rng = np.random.default_rng(1)
    x = leaf(rng.normal(size=(2, 2, 2, 2)), device)
    w, b = leaf(rng.normal(size=2), device), leaf(rng.normal(size=2), device)
    mean = leaf(rng.normal(size=2), device, requires_grad=False)
    var = leaf(rng.uniform(0.5, 2, size=2), device, requires_grad=False)
    assert gradcheck(lambda *a: F.batch_norm(a[0], mean, var, a[1], a[2], training=False),
                     (x, w, b), **F64)


@pytest.mark.parametrize("device", DEVICES)
def test_embedding_grads_match_central_difference_and_skip_the_padding_row(device):
    rng = np.random.default_rng(2)
    weight = leaf(rng.normal(size=(5, 3)), device)
    idx = nb.tensor([[0, 2, 2], [4, 1, 0]], device=device)
    assert gradcheck(lambda w: F.embedding(idx, w), (weight,), **F64)
    out = F.embedding(idx, weight, padding_idx=2)
    out.backward(nb.ones(out.shape, dtype=nb.float64, device=device))
    grad = weight.grad.cpu().numpy()
    np.testing.assert_array_equal(grad[:, 0], [2, 1, 0, 0, 1])


# ---- gradients of gradients --------------------------------------------------------------------

def _grad_of(fn, wrt: int):
    """x -> d(sum(fn(x) * weights))/d(input ``wrt``) with create_graph=True: differentiable."""
    def grad_fn(*args):
        with nb.enable_grad():  # gradcheck evaluates under no_grad
            out = fn(*args)
            weights = nb.tensor(np.linspace(-1, 1, out.numel()).reshape(out.shape),
                                dtype=out.dtype, device=out.device)
            g, = nb.autograd.grad([(out * weights).sum()], [args[wrt]], create_graph=True)
        return g
    return grad_fn


SECOND_ORDER = {
    "conv2d": (lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2)),
               [(1, 2, 4, 4), (2, 2, 2, 2)]),
    "conv2d_groups": (lambda x, w: F.conv2d(x, w, padding=1, groups=2),
                      [(1, 2, 3, 3), (2, 1, 2, 2)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2, 1, padding=1) ** 2, [(1, 1, 3, 3)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, 2, padding=1, ceil_mode=True) ** 2,
                   [(1, 2, 4, 5)]),
    "batch_norm": (lambda x, w: F.batch_norm(x, None, None, w, None, training=True),
                   [(3, 2, 2), (2,)]),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_order_grads_match_central_difference(name):
    fn, shapes = SECOND_ORDER[name]
    rng = np.random.default_rng(3)
    args = tuple(leaf(distinct_values(rng, s, 0.3)) for s in shapes)
    for wrt in range(len(args)):
        assert gradcheck(_grad_of(fn, wrt), args, **F64)


# ---- layers: PyTorch's construction, and errors that say what to do ------------------------------

def test_conv2d_layer_has_pytorch_shapes_and_init_bounds():
    nb.manual_seed(0)
    conv = nn.Conv2d(4, 8, (3, 5), groups=2)
    assert conv.weight.shape == (8, 2, 3, 5) and conv.bias.shape == (8,)
    bound = 1 / np.sqrt(2 * 3 * 5)  # kaiming_uniform(a=sqrt(5)) gives 1/sqrt(fan_in)
    assert np.abs(conv.weight.detach().numpy()).max() <= bound
    assert np.abs(conv.weight.detach().numpy()).max() > 0.8 * bound
    assert np.abs(conv.bias.detach().numpy()).max() <= bound
    assert [k for k, _ in conv.named_parameters()] == ["weight", "bias"]


def test_layers_compute_what_their_functional_forms_compute():
    x = nb.randn(2, 3, 7, 7)
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
    np.testing.assert_allclose(conv(x).detach().numpy(),
                               F.conv2d(x, conv.weight, conv.bias, 2, 1).detach().numpy())
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 3, 3)
    assert nn.MaxPool2d(3, 2, 1, ceil_mode=True)(x).shape == (2, 3, 4, 4)
    values, indices = nn.MaxPool2d(2, return_indices=True)(x)
    assert indices.dtype is nb.int64 and indices.shape == values.shape
    assert nn.AvgPool2d(2, 1)(x).shape == (2, 3, 6, 6)
    assert nn.Conv2d(3, 2, 4, padding="same")(x).shape == (2, 2, 7, 7)
    assert nn.Conv2d(3, 2, 3)(x[0]).shape == (2, 5, 5)  # unbatched (C, H, W)


def test_batchnorm_tracks_running_statistics_and_uses_them_in_eval():
    bn = nn.BatchNorm2d(2)
    x = nb.randn(4, 2, 3, 3) * 3 + 2
    bn(x)
    values = x.numpy()
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * values.mean((0, 2, 3)),
                               rtol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(),
                               0.9 + 0.1 * values.var((0, 2, 3), ddof=1), rtol=1e-5)
    assert bn.num_batches_tracked.item() == 1 and bn.num_batches_tracked.dtype is nb.int64
    bn.eval()
    y = bn(x).detach().numpy()
    expected = (values - bn.running_mean.numpy().reshape(1, 2, 1, 1)) / np.sqrt(
        bn.running_var.numpy().reshape(1, 2, 1, 1) + 1e-5)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert bn.num_batches_tracked.item() == 1
    assert [k for k in bn.state_dict()] == ["weight", "bias", "running_mean", "running_var",
                                            "num_batches_tracked"]


@pytest.mark.parametrize("make, x, message", [
    (lambda: nn.Conv2d(3, 8, 3), (1, 4, 8, 8),
     r"Conv2d: expected input with 3 channels \(weight \(8, 3, 3, 3\), groups=1\), got input "
     r"of shape \(1, 4, 8, 8\)"),
    (lambda: nn.Conv2d(3, 8, 5), (1, 3, 2, 8), r"Conv2d: the padded input \(2, 8\) is smaller "
                                               r"than the \(dilated\) kernel \(5, 5\)"),
    (lambda: nn.Conv2d(3, 8, 3), (3, 8), r"Conv2d: expected a 4-D input"),
    (lambda: nn.MaxPool2d(4), (1, 1, 2, 2), r"max_pool2d: input of shape \(1, 1, 2, 2\) is "
                                            r"too small"),
    (lambda: nn.MaxPool2d(2, padding=2), (1, 1, 8, 8), r"padding \(2, 2\) must be at most "
                                                       r"half of kernel_size"),
    (lambda: nn.BatchNorm2d(3), (2, 3, 4), r"BatchNorm2d: expected a 4-D \(N, C, H, W\) input"),
    (lambda: nn.BatchNorm1d(3), (2, 4), r"BatchNorm1d\(3\): expected input with 3 channels"),
    (lambda: nn.BatchNorm1d(3), (1, 3), r"more than 1 value per channel when training"),
])
def test_mistakes_raise_errors_that_name_the_layer_and_shapes(make, x, message):
    with pytest.raises(ValueError, match=message):
        make()(nb.randn(*x))


def test_argument_mistakes_are_caught_before_any_kernel_runs():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 8, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(3, 8, 3, stride=2, padding="same")
    with pytest.raises(TypeError, match="same dtype"):
        F.conv2d(nb.randn(1, 1, 3, 3), nb.randn(1, 1, 2, 2, dtype=nb.float64))
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair"):
        F.max_pool2d(nb.randn(1, 1, 3, 3), (2, 2, 2))
    with pytest.raises(IndexError, match="index 5 is out of range for 5 embeddings"):
        nn.Embedding(5, 2)(nb.tensor([5]))
    with pytest.raises(TypeError, match="int64 tensor of indices"):
        nn.Embedding(5, 2)(nb.tensor([1.0]))


@pytest.mark.parametrize("padding_idx", [None, 0, -1])
def test_embedding_argument_mistakes_are_refused_with_or_without_padding(padding_idx):
    message = "embedding: input must be an int64 tensor of indices, got float32; convert it " \
              "with .long()"
    with pytest.raises(TypeError, match=re.escape(message)):
        F.embedding(nb.tensor([1.0]), nb.randn(5, 2), padding_idx)
    for weight in (nb.randn(5), nb.randn(5, 2, 1), nb.tensor(1.0)):
        message = "embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape " \
                  f"{tuple(weight.shape)}"
        with pytest.raises(ValueError, match=re.escape(message)):
            F.embedding(nb.tensor([1]), weight, padding_idx)
    with pytest.raises(IndexError, match="index 5 is out of range for 5 embeddings"):
        F.embedding(nb.tensor([0, 5]), nb.randn(5, 2), padding_idx)
