"""Specification of the ops that ``numbanet.nn`` is built on (``autograd/ops``):

- ``linear`` (one op, ``LinearBackward``) has gradients of every order: its gradient
  ``LinearGrad`` is itself differentiable in the incoming gradient, the input, the weight
  and (through the bias's gradient) the bias, for 1-D, 2-D and 3-D inputs.
- ``set_data_`` (``Module.to``/``.double()``/``.cuda()``) keeps a tensor's version counter,
  as PyTorch's ``t.data = new`` does: a move neither makes a tensor saved for backward look
  changed nor hides an in-place change after it.
- ``alias_as`` (``nn.Parameter(t)``) shares memory and the version counter with ``t``.
"""
from __future__ import annotations

import numpy as np
import pytest

import numbanet as nb
import numbanet.nn.functional as F
from numbanet import nn
from numbanet.autograd import grad, gradcheck
from numbanet.autograd.ops.linalg import linear
from numbanet.autograd.ops.shape import alias_as, set_data_

RNG = np.random.default_rng(1)
TOLERANCES = dict(eps=1e-6, atol=1e-5, rtol=1e-3)


def leaf(shape, device="cpu"):
    return nb.tensor(RNG.normal(size=shape), dtype=nb.float64, device=device,
                     requires_grad=True)


def test_functional_linear_is_the_op():
    assert F.linear is linear


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 2, 3)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_second_derivatives_match_central_difference(shape, with_bias):
    x, w, b = leaf(shape), leaf((2, 3)), leaf((2,))

    def first(x_, w_, b_):
        """The gradient of a non-linear function of linear, kept as a graph."""
        with nb.enable_grad():  # gradcheck evaluates under no_grad
            ins = [t if t.requires_grad else t.detach().requires_grad_() for t in (x_, w_, b_)]
            y = linear(ins[0], ins[1], ins[2] if with_bias else None)
            grads = grad((y * y * y).sum(), ins if with_bias else ins[:2], create_graph=True)
            return nb.cat([g.reshape(-1) for g in grads])
    assert gradcheck(first, (x, w, b), **TOLERANCES)


def test_linear_gradient_is_differentiable_in_the_incoming_gradient():
    """A gradient penalty: d/dv of |d(v . linear(x))/dx|² needs LinearGrad's gradient
    with respect to g."""
    x, w, b = leaf((4, 3)), leaf((2, 3)), leaf((2,))

    def penalty(v):
        with nb.enable_grad():
            v = v if v.requires_grad else v.detach().requires_grad_()
            gx, gw, gb = grad((linear(x, w, b) * v).sum(), (x, w, b), create_graph=True)
            return (gx * gx).sum() + (gw * gw).sum() + (gb * gb).sum()
    assert gradcheck(penalty, (leaf((4, 2)),), **TOLERANCES)


def test_linear_third_derivative_exists():
    x, w = leaf((2, 3)), leaf((2, 3))
    gx, = grad((linear(x, w) ** 4).sum(), (x,), create_graph=True)
    gw, = grad(gx.sum(), (w,), create_graph=True)
    ggx, = grad((gw * gw).sum(), (x,))
    assert ggx.shape == (2, 3) and np.all(np.isfinite(ggx.numpy()))


def test_linear_gradients_only_where_asked():
    x = leaf((4, 3))
    w = nb.tensor(RNG.normal(size=(2, 3)))
    b = nb.tensor(RNG.normal(size=(2,)))
    linear(x, w, b).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.tile(w.numpy().sum(0), (4, 1)),
                               rtol=1e-12)
    assert w.grad is None and b.grad is None


def test_linear_of_mixed_dtypes_promotes_as_matmul_and_add():
    x = nb.tensor(RNG.normal(size=(2, 3)), dtype=nb.float32)
    w = nb.tensor(RNG.normal(size=(4, 3)), dtype=nb.float64)
    out = linear(x, w)
    assert out.dtype is nb.float64
    np.testing.assert_allclose(out.numpy(), x.numpy().astype(np.float64) @ w.numpy().T,
                               rtol=1e-6)


# ---- set_data_ and module moves -------------------------------------------------------------
def _trained_layer():
    layer = nn.Linear(3, 2)
    with nb.no_grad():
        layer.weight.add_(1.0)  # version 1, as after an optimizer step
    return layer


def test_a_module_move_that_copies_nothing_keeps_saved_weights_valid():
    layer = _trained_layer()
    x = nb.randn(4, 3, requires_grad=True)
    loss = layer(x).sum()
    layer.to("cpu")
    layer.float()
    loss.backward()  # the weight saved at version 1 is still at version 1
    assert x.grad is not None


def test_an_in_place_change_after_a_module_move_is_still_seen_by_backward():
    layer = _trained_layer()
    x = nb.randn(4, 3, requires_grad=True)
    loss = layer(x).sum()
    layer.double()
    with nb.no_grad():
        layer.weight.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_a_module_move_keeps_the_parameter_objects_and_their_grads():
    layer = nn.Linear(3, 2)
    weight = layer.weight
    layer(nb.randn(4, 3)).sum().backward()
    layer.double()
    assert layer.weight is weight and weight.dtype is nb.float64
    assert weight.requires_grad and weight.grad.dtype is nb.float64


def test_set_data_swaps_memory_dtype_and_shape_in_place():
    t = nb.zeros(2, 2)
    new = nb.ones(3, dtype=nb.float64)
    assert set_data_(t, new) is t
    assert t.shape == (3,) and t.dtype is nb.float64
    new.add_(1.0)  # shares memory with the new data
    np.testing.assert_array_equal(t.numpy(), [2.0, 2.0, 2.0])
    with pytest.raises(TypeError, match="must be set to a Tensor"):
        set_data_(t, np.zeros(3))


# ---- alias_as and Parameter -----------------------------------------------------------------
def test_a_parameter_shares_memory_and_version_counter_with_its_data():
    data = nb.randn(3)
    p = nn.Parameter(data)
    assert p.requires_grad and p.is_leaf and isinstance(p, nn.Parameter)
    with nb.no_grad():
        data.add_(1.0)
    np.testing.assert_array_equal(p.detach().numpy(), data.numpy())
    loss = (p * p).sum()
    with nb.no_grad():
        data.mul_(2.0)  # an in-place change of the data is a change of the parameter
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_alias_as_makes_a_leaf_without_grad():
    data = nb.randn(2, requires_grad=True) * 2
    a = alias_as(nb.Tensor, data)
    assert type(a) is nb.Tensor and not a.requires_grad and a.grad_fn is None
    assert a.is_leaf and a.shape == (2,)
    with pytest.raises(TypeError, match="Parameter expects a Tensor"):
        nn.Parameter(np.zeros(2))


# ---- matmul's gradient primitive ------------------------------------------------------------
@pytest.mark.parametrize("shapes", [((2, 3), (3, 4)), ((2, 2, 3), (3, 2)), ((3,), (3, 2)),
                                    ((1, 2, 3), (2, 3, 2))])
def test_matmul_second_derivatives_match_central_difference(shapes):
    a, b = leaf(shapes[0]), leaf(shapes[1])

    def first(a_, b_):
        with nb.enable_grad():
            ins = [t if t.requires_grad else t.detach().requires_grad_() for t in (a_, b_)]
            y = ins[0] @ ins[1]
            grads = grad((y * y * y).sum(), ins, create_graph=True)
            return nb.cat([g.reshape(-1) for g in grads])
    assert gradcheck(first, (a, b), **TOLERANCES)


def test_matmul_gradient_of_mixed_dtypes_takes_each_input_s_dtype():
    a = nb.tensor(RNG.normal(size=(2, 3)), dtype=nb.float32, requires_grad=True)
    b = nb.tensor(RNG.normal(size=(3, 2)), dtype=nb.float64, requires_grad=True)
    (a @ b).sum().backward()
    assert a.grad.dtype is nb.float32 and b.grad.dtype is nb.float64
    np.testing.assert_allclose(a.grad.numpy(), np.tile(b.detach().numpy().sum(1), (2, 1)),
                               rtol=1e-6)


# ---- batch norm's gradient, to any order ----------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 2), (3, 2, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_second_derivatives_match_central_difference(shape, affine):
    x, w, b = leaf(shape), leaf((shape[1],)), leaf((shape[1],))
    probe = nb.tensor(RNG.normal(size=shape), dtype=nb.float64)

    def first(x_, w_, b_):
        with nb.enable_grad():
            ins = [t if t.requires_grad else t.detach().requires_grad_() for t in (x_, w_, b_)]
            wb = ins[1:] if affine else (None, None)
            y = F.batch_norm(ins[0], None, None, *wb, training=True)
            grads = grad((y * y * probe).sum(), ins if affine else ins[:1], create_graph=True)
            return nb.cat([g.reshape(-1) for g in grads])
    assert gradcheck(first, (x, w, b), **TOLERANCES)


def test_batch_norm_third_derivative_matches_central_difference():
    x = leaf((4, 2))
    probe = nb.tensor(RNG.normal(size=(4, 2)), dtype=nb.float64)

    def second(x_):
        with nb.enable_grad():
            x_ = x_ if x_.requires_grad else x_.detach().requires_grad_()
            y = F.batch_norm(x_, None, None, training=True)
            gx, = grad((y * y * y * probe).sum(), (x_,), create_graph=True)
            ggx, = grad((gx * gx).sum(), (x_,), create_graph=True)
            return ggx
    assert gradcheck(second, (x,), **TOLERANCES)


def test_batch_norm_train_moves_running_stats_as_torch():
    torch = pytest.importorskip("torch")
    from numbanet.autograd.ops.normalization import batch_norm_train
    x = RNG.normal(size=(5, 3, 2))
    mean, var = nb.zeros(3, dtype=nb.float64), nb.ones(3, dtype=nb.float64)
    y = batch_norm_train(nb.tensor(x), None, None, mean, var, 0.2, 1e-5)
    tm, tv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    ty = torch.nn.functional.batch_norm(torch.tensor(x), tm, tv, training=True, momentum=0.2)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mean.numpy(), tm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(var.numpy(), tv.numpy(), rtol=1e-12)
