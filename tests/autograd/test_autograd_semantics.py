"""What autograd promises: accumulation, retain_graph, grad modes, detach, retain_grad,
higher-order gradients, custom Functions, anomaly detection, in-place checks."""
import math

import numpy as np
import pytest

import numbanet as nb
from numbanet.autograd import Function, grad, gradcheck


def leaf(*values):
    return nb.tensor(list(values), dtype=nb.float64, requires_grad=True)


def test_gradients_accumulate_across_backward_calls_until_zeroed():
    x = leaf(1.0, 2.0)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3 + 2, 3 + 4])
    x.grad.zero_()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])


def test_a_tensor_used_twice_gets_the_sum_of_both_paths():
    x = leaf(2.0)
    y = x * x + x.exp() * x
    y.backward()
    assert math.isclose(x.grad.item(), 2 * 2 + math.exp(2) * 3)


def test_second_backward_through_a_freed_graph_raises_and_retain_graph_allows_it():
    x = leaf(1.0, 2.0)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4, 8])
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_no_grad_records_nothing_and_enable_grad_records_again():
    x = leaf(1.0)
    with nb.no_grad():
        y = x * 2
        with nb.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None


def test_grad_modes_work_as_decorators_and_set_grad_enabled_switches_at_once():
    x = leaf(1.0)

    @nb.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    nb.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        nb.set_grad_enabled(True)
    with nb.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


def test_detach_shares_memory_but_leaves_the_graph():
    x = leaf(1.0, 2.0)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    y = (x * 2)
    y.detach().zero_()  # writes through to y's memory, like PyTorch
    np.testing.assert_allclose(y.detach().numpy(), [0, 0])


def test_leaves_keep_grad_and_non_leaves_only_with_retain_grad():
    x = leaf(1.0, 2.0)
    h = x * 3
    h.retain_grad()
    k = x * 4
    (h * k).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), k.detach().numpy())
    assert k.grad is None
    assert x.is_leaf and not h.is_leaf


def test_broadcast_inputs_get_gradients_of_their_own_shape():
    a = nb.randn(3, 1, dtype=nb.float64, requires_grad=True)
    b = nb.randn(4, dtype=nb.float64, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,)
    np.testing.assert_allclose(a.grad.numpy(), np.full((3, 1), b.detach().numpy().sum()))
    np.testing.assert_allclose(b.grad.numpy(), np.full(4, a.detach().numpy().sum()))


def test_backward_takes_an_explicit_gradient_for_non_scalar_outputs():
    x = leaf(1.0, 2.0, 3.0)
    (x * x).backward(nb.tensor([1.0, 0.0, 2.0], dtype=nb.float64))
    np.testing.assert_allclose(x.grad.numpy(), [2, 0, 12])


def test_autograd_grad_returns_gradients_without_touching_dot_grad():
    x = leaf(1.0, 2.0)
    y = (x ** 3).sum()
    g, = grad(y, [x])
    np.testing.assert_allclose(g.numpy(), [3, 12])
    assert x.grad is None


def test_grad_of_an_unused_input_needs_allow_unused():
    x, z = leaf(1.0), leaf(2.0)
    y = x * 2
    with pytest.raises(RuntimeError, match="allow_unused"):
        grad(y, [x, z], retain_graph=True)
    gx, gz = grad(y, [x, z], allow_unused=True)
    assert gz is None and gx.item() == 2


def test_higher_order_gradients_with_create_graph():
    x = leaf(0.5, -1.0)
    y = (x.tanh() * x.exp()).sum()
    g, = grad(y, x, create_graph=True)
    g2, = grad(g.sum(), x)
    v = x.detach().numpy()
    t, e = np.tanh(v), np.exp(v)
    d1 = (1 - t ** 2) * e + t * e
    d2 = -2 * t * (1 - t ** 2) * e + 2 * (1 - t ** 2) * e + t * e
    np.testing.assert_allclose(g.detach().numpy(), d1, rtol=1e-12)
    np.testing.assert_allclose(g2.numpy(), d2, rtol=1e-12)


def test_third_derivative_of_a_power():
    x = leaf(1.5)
    y = x ** 4
    (g1,) = grad(y, x, create_graph=True)
    (g2,) = grad(g1, x, create_graph=True)
    (g3,) = grad(g2, x)
    assert math.isclose(g3.item(), 24 * 1.5)


class MulAdd(Function):
    """out = a * b + c, with a non-tensor argument scaling the result."""

    @staticmethod
    def forward(ctx, a, b, c, scale):
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        return (a * b + c) * scale

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        seen.append(ctx.needs_input_grad)
        ga = g * b * ctx.scale if ctx.needs_input_grad[0] else None
        gb = g * a * ctx.scale if ctx.needs_input_grad[1] else None
        return ga, gb, g * ctx.scale, None


seen = []


def test_a_custom_function_gets_ctx_state_and_needs_input_grad():
    a, b = leaf(1.0, 2.0), nb.tensor([3.0, 4.0], dtype=nb.float64)
    c = leaf(0.5, 0.5)
    seen.clear()
    MulAdd.apply(a, b, c, 2.0).sum().backward()
    assert seen == [(True, False, True, False)]
    np.testing.assert_allclose(a.grad.numpy(), [6, 8])
    np.testing.assert_allclose(c.grad.numpy(), [2, 2])
    assert gradcheck(lambda a, c: MulAdd.apply(a, b, c, 2.0), (a, c))


def test_a_custom_function_with_two_outputs():
    class SplitSquare(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x, x * 3

        @staticmethod
        def backward(ctx, g_sq, g_three):
            x, = ctx.saved_tensors
            return g_sq * 2 * x + g_three * 3

    x = leaf(1.0, 2.0)
    sq, three = SplitSquare.apply(x)
    sq.sum().backward()  # the unused output's gradient arrives as zeros
    np.testing.assert_allclose(x.grad.numpy(), [2, 4])
    assert gradcheck(lambda t: SplitSquare.apply(t), (leaf(0.3, -0.7),))


def test_a_gradient_of_the_wrong_shape_names_the_function_and_the_input():
    class Scale(Function):
        @staticmethod
        def forward(ctx, x, factor):
            return x * factor

        @staticmethod
        def backward(ctx, g):
            return g, g.sum().reshape(1).expand(4)  # factor has shape (2,), not (4,)

    x, factor = leaf(1.0, 2.0), leaf(3.0, 4.0)
    with pytest.raises(RuntimeError, match=r"ScaleBackward returned an invalid gradient at "
                                           r"index 1: got shape \(4,\)"):
        Scale.apply(x, factor).sum().backward()


def test_gradcheck_catches_a_wrong_backward():
    class WrongSquare(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * x  # should be 2 * x

    with pytest.raises(RuntimeError, match="numerical .* analytical"):
        gradcheck(WrongSquare.apply, (leaf(1.0, 2.0),))
    assert gradcheck(WrongSquare.apply, (leaf(1.0, 2.0),), raise_exception=False) is False


def test_detect_anomaly_names_the_forward_op_that_made_a_nan_gradient():
    x = leaf(0.0, 1.0)
    with nb.autograd.detect_anomaly():
        y = x.sqrt()  # d sqrt / dx at 0 is inf; times the 0 from the mul below gives nan
        z = (y * 0).sum()
        with pytest.raises(RuntimeError, match=r"SqrtBackward[\s\S]*x\.sqrt\(\)"):
            z.backward()
    nb.autograd.set_detect_anomaly(True)
    nb.autograd.set_detect_anomaly(False)
    assert not nb.autograd.is_anomaly_enabled()


def test_changing_a_saved_tensor_in_place_is_caught_at_backward():
    x = leaf(1.0, 2.0)
    h = x * 1
    y = (h * h).sum()
    with nb.no_grad():
        h += 1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_in_place_on_a_leaf_that_requires_grad_is_refused_outside_no_grad():
    w = leaf(1.0)
    with pytest.raises(RuntimeError, match="no_grad"):
        w -= 0.1
    with nb.no_grad():
        w -= 0.1
    assert math.isclose(w.item(), 0.9)


def test_recorded_in_place_ops_on_non_leaves_have_gradients():
    x = leaf(1.0, 2.0, 3.0)
    y = x * 2
    y += x          # y = 3x
    y *= x          # y = 3x^2
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6, 12, 18])


def test_graph_inspection_names_ops_and_next_functions():
    x = leaf(1.0)
    y = (x * 2).exp()
    assert y.grad_fn.name() == "ExpBackward"
    (mul_node, _), = y.grad_fn.next_functions
    assert mul_node.name() == "MulBackward"
    assert mul_node.next_functions[0][0] is x


def test_integer_outputs_do_not_require_grad():
    x = leaf(1.0, 3.0, 2.0)
    assert not x.argmax().requires_grad
    assert not (x > 1).requires_grad
    values, indices = x.max(0)
    assert values.requires_grad and not indices.requires_grad


# ---- the ctx API: mark_dirty, mark_non_differentiable, saved outputs ----------------------

class _DoubleInPlace(nb.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        x.mul_(2)
        ctx.mark_dirty(x)
        return x

    @staticmethod
    def backward(ctx, g):
        return g * 2


def test_mark_dirty_keeps_the_inputs_identity_and_makes_the_node_its_grad_fn():
    a = nb.ones(3, requires_grad=True)
    b = a * 1
    c = _DoubleInPlace.apply(b)
    assert c is b and b.grad_fn.name() == "_DoubleInPlaceBackward"
    (c * c).sum().backward()  # 4 a², as in PyTorch
    np.testing.assert_array_equal(a.grad.numpy(), [8.0, 8.0, 8.0])
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        _DoubleInPlace.apply(nb.ones(2, requires_grad=True))


class _MaxAndIndex(nb.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        index = x.argmax(0).to(x.dtype)
        ctx.mark_non_differentiable(index)
        ctx.save_for_backward(index)
        return x.max(0).values, index

    @staticmethod
    def backward(ctx, g, g_index):
        index, = ctx.saved_tensors
        assert not g_index.numpy().any()  # zeros for the output without a gradient
        out = nb.zeros(3, dtype=g.dtype)
        out[int(index.item())] = g
        return out


def test_mark_non_differentiable_outputs_do_not_require_grad():
    x = nb.tensor([0.5, 2.0, -1.0], requires_grad=True)
    value, index = _MaxAndIndex.apply(x)
    assert value.requires_grad and not index.requires_grad and index.grad_fn is None
    value.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0])


@pytest.mark.parametrize("op", ["softmax", "log_softmax", "tanh", "exp", "sigmoid"])
def test_a_saved_output_gets_its_graph_back_for_a_gradient_of_the_gradient(op):
    """The backward of these reads only the output; differentiated again, the gradient
    still reaches the input through it (and the node is freed without a reference cycle)."""
    import gc
    import weakref
    x = nb.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=nb.float64, requires_grad=True)
    w = nb.tensor(np.arange(6.0).reshape(2, 3), dtype=nb.float64)
    f = (lambda t: getattr(t, op)(1)) if "softmax" in op else (lambda t: getattr(t, op)())

    def first(t):
        with nb.enable_grad():
            return nb.autograd.grad((f(t) * w).sum(), [t], create_graph=True)[0]

    assert nb.autograd.gradcheck(first, (x,), eps=1e-6, atol=1e-5, rtol=1e-3)
    gc.disable()
    try:
        node = weakref.ref(f(x).grad_fn)
        assert node() is None  # freed by reference counting alone
    finally:
        gc.enable()


def test_edges_name_where_each_gradient_goes():
    x = nb.randn(2, 3, requires_grad=True)
    y = x * 2
    edge = y.grad_fn._edges[0]
    assert edge.target is x and edge.output_nr == 0
    assert (edge.shape, edge.dtype, edge.device) == ((2, 3), nb.float32, nb.device("cpu"))
    assert y.grad_fn._edges[1] is None  # the number 2 gets no gradient


class _NoGradToSecond(nb.autograd.Function):
    """a * 1, with no gradient (None) for b, which it takes too."""

    @staticmethod
    def forward(ctx, a, b):
        return a * 1

    @staticmethod
    def backward(ctx, g):
        return g, None


def test_a_none_gradient_still_lets_the_nodes_below_it_run():
    """A node reached by a None gradient along one edge and a real one along another runs
    once the None has been counted (it used to wait for ever, and the leaf got nothing)."""
    leaf = nb.tensor([0.5, 7.0], dtype=nb.float64, requires_grad=True)
    x = leaf[::2]  # one node, used on both paths
    y = _NoGradToSecond.apply(x * 3, x * x) + x
    (g,) = grad(y.sum(), [leaf])
    np.testing.assert_array_equal(g.numpy(), [4.0, 0.0])  # 3 from the first path, 1 from + x
    with nb.enable_grad():
        first = grad((x * x + 1).relu().sum(), [leaf], create_graph=True)[0]
    np.testing.assert_array_equal(grad(first.sum(), [leaf])[0].numpy(), [2.0, 0.0])  # PyTorch's


class _SavesNone(nb.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x, None)  # a None saved beside a None output
        return x * 2, None

    @staticmethod
    def backward(ctx, g, _):
        x, nothing = ctx.saved_tensors
        assert nothing is None
        return g * 2


def test_a_none_saved_beside_a_none_output_is_kept_as_none():
    x = nb.ones(2, requires_grad=True)
    y, _ = _SavesNone.apply(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_an_input_returned_as_is_and_marked_non_differentiable_does_not_require_grad():
    class Passthrough(nb.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.mark_non_differentiable(a)
            return a

        @staticmethod
        def backward(ctx, g):
            return g

    x = nb.ones(2, requires_grad=True)
    y = Passthrough.apply(x)
    assert y is not x and not y.requires_grad and y.grad_fn is None
