"""Specification of conv2d's gradient primitives, ``Conv2dInputGrad``,
``Conv2dWeightGrad`` and ``Conv2dBiasGrad``.

- conv2d has one backward: those named, differentiable primitives (as PyTorch's
  ``convolution_backward``), so a plain backward and one with ``create_graph=True`` run
  the same code and give the same gradients.
- Second derivatives of conv2d with respect to the input, the weight and the bias match
  central differences (``gradcheck`` of the first gradient taken with
  ``create_graph=True``; float64, eps 1e-6, atol 1e-5, rtol 1e-3), with stride, padding,
  dilation and groups, whichever of the input and the weight require grad, on the CPU
  and on CUDA (tiny shapes: the simulator runs each CUDA thread in Python).
- Third derivatives exist too (the primitives' backwards are written with ``Conv2d`` and
  the primitives again).
"""
from __future__ import annotations

import numpy as np
import pytest

import numbanet as nb
import numbanet.nn.functional as F
from numbanet.autograd import gradcheck

DEVICES = ["cpu", "cuda"]
F64 = dict(eps=1e-6, atol=1e-5, rtol=1e-3)

# name: (input shape, weight shape, conv2d keyword arguments)
GEOMETRIES = {
    "plain": ((1, 1, 3, 3), (2, 1, 2, 2), {}),
    "stride_padding_dilation": ((1, 2, 4, 3), (1, 2, 2, 2),
                                dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
    "groups": ((1, 2, 2, 3), (2, 1, 2, 2), dict(padding=1, groups=2)),
    "batch_groups": ((2, 4, 3, 3), (4, 2, 2, 2), dict(stride=2, padding=1, groups=2)),
}
ON_CUDA = ("plain", "stride_padding_dilation", "groups")  # tiny: the simulator is slow


def leaf(rng, shape, device, requires_grad=True):
    return nb.tensor(rng.uniform(-1, 1, shape), dtype=nb.float64, device=device,
                     requires_grad=requires_grad)


def smooth_loss(x, w, b, kwargs):
    """A loss whose gradient depends on x, w and b (tanh makes it non-quadratic)."""
    out = F.conv2d(x, w, b, **kwargs)
    weights = nb.tensor(np.linspace(-1, 1, out.numel()).reshape(out.shape), dtype=out.dtype,
                        device=out.device)
    return (out.tanh() * weights).sum()


def first_grads(kwargs):
    """(x, w, b) -> the gradients of ``smooth_loss`` for those that require grad, taken with
    create_graph=True, so that gradcheck differentiates them once more."""
    def grads(x, w, b):
        wanted = [t for t in (x, w, b) if t.requires_grad]
        with nb.enable_grad():  # gradcheck evaluates under no_grad
            return tuple(nb.autograd.grad([smooth_loss(x, w, b, kwargs)], wanted,
                                          create_graph=True))
    return grads


@pytest.mark.parametrize("device, geometry", [("cpu", name) for name in sorted(GEOMETRIES)]
                         + [("cuda", name) for name in ON_CUDA])
def test_conv2d_second_derivatives_match_central_difference(device, geometry):
    x_shape, w_shape, kwargs = GEOMETRIES[geometry]
    rng = np.random.default_rng(7)
    x, w = leaf(rng, x_shape, device), leaf(rng, w_shape, device)
    b = leaf(rng, (w_shape[0],), device)
    assert gradcheck(first_grads(kwargs), (x, w, b), **F64)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("wanted", ["input", "weight", "bias"])
def test_conv2d_second_derivative_when_only_one_operand_requires_grad(device, wanted):
    # A frozen weight (saliency maps, adversarial inputs), a first layer (a gradient penalty
    # on the weights) or a bias alone: only the primitive of that operand runs.
    x_shape, w_shape, kwargs = GEOMETRIES["stride_padding_dilation"]
    rng = np.random.default_rng(11)
    x = leaf(rng, x_shape, device, requires_grad=wanted == "input")
    w = leaf(rng, w_shape, device, requires_grad=wanted == "weight")
    b = leaf(rng, (w_shape[0],), device, requires_grad=wanted == "bias")
    assert gradcheck(first_grads(kwargs), (x, w, b), **F64)


def test_conv2d_third_derivatives_match_central_difference():
    rng = np.random.default_rng(5)
    x, w = leaf(rng, (1, 1, 3, 3), "cpu"), leaf(rng, (1, 1, 2, 2), "cpu")
    v = nb.tensor(rng.uniform(-1, 1, (1, 1, 3, 3)), dtype=nb.float64)

    def second(x, w):
        with nb.enable_grad():
            gx, = nb.autograd.grad([smooth_loss(x, w, None, dict(padding=1))], [x],
                                   create_graph=True)
            return nb.autograd.grad([(gx * v).sum()], [x, w], create_graph=True)

    assert gradcheck(second, (x, w), **F64)


@pytest.mark.parametrize("device", DEVICES)
def test_conv2d_backward_is_the_primitive_with_or_without_create_graph(device):
    x_shape, w_shape, kwargs = GEOMETRIES["groups"]
    rng = np.random.default_rng(3)
    x, w = leaf(rng, x_shape, device), leaf(rng, w_shape, device)
    b = leaf(rng, (w_shape[0],), device)
    plain = nb.autograd.grad([smooth_loss(x, w, b, kwargs)], [x, w, b])
    graphed = nb.autograd.grad([smooth_loss(x, w, b, kwargs)], [x, w, b], create_graph=True)
    names = ("Conv2dInputGradBackward", "Conv2dWeightGradBackward", "Conv2dBiasGradBackward")
    for p, g, name in zip(plain, graphed, names):
        assert not p.requires_grad and g.requires_grad
        assert g.grad_fn.name() == name
        np.testing.assert_array_equal(p.cpu().numpy(), g.detach().cpu().numpy())


def test_gradient_penalty_through_two_conv_layers_matches_pytorch():
    # The penalty on d loss / d x reaches the weights through the second derivatives of
    # both layers and through the forward graph that the first gradient was taken on.
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    arrays = [rng.uniform(-1, 1, s) for s in [(2, 2, 5, 5), (3, 2, 3, 3), (3,), (2, 3, 2, 2),
                                              (2,)]]

    def penalty(lib, conv, x, w1, b1, w2, b2):
        h = conv(x, w1, b1, padding=1).tanh()
        loss = (conv(h, w2, b2, stride=2, dilation=(1, 2)).tanh() ** 2).sum()
        gx, = lib.autograd.grad([loss], [x], create_graph=True)
        return (gx ** 2).sum()

    ours = [nb.tensor(a, dtype=nb.float64, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    penalty(nb, F.conv2d, *ours).backward()
    penalty(torch, torch.nn.functional.conv2d, *theirs).backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)
