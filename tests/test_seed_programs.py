"""The programs of CS231n lecture 8 (the seed), as numbanet twins: each runs, its loss falls,
and autograd's gradients equal the hand-written ones."""
import numpy as np
import pytest

import numbanet as nb
from numbanet.autograd import Function, Variable


def test_numpy_manual_gradients_equal_autograd():
    np.random.seed(0)
    N, D = 3, 4
    x, y, z = (np.random.randn(N, D) for _ in range(3))
    # the seed's NumPy program: forward and hand-written backward
    a = x * y
    b = a + z
    c = np.sum(b)
    grad_b = 1.0 * np.ones((N, D))
    grad_a = grad_b.copy()
    grad_z = grad_b.copy()
    grad_x = grad_a * y
    grad_y = grad_a * x
    # its numbanet twin, with autograd
    tx, ty, tz = (nb.tensor(v, requires_grad=True) for v in (x, y, z))
    tc = (tx * ty + tz).sum()
    tc.backward()
    assert np.isclose(tc.item(), c)
    for t, g in ((tx, grad_x), (ty, grad_y), (tz, grad_z)):
        np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-12)


def _seed_data(dtype=nb.float64):
    nb.manual_seed(0)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x = nb.randn(N, D_in, dtype=dtype)
    y = nb.randn(N, D_out, dtype=dtype)
    w1 = nb.randn(D_in, H, dtype=dtype)
    w2 = nb.randn(H, D_out, dtype=dtype)
    return x, y, w1, w2


def test_pytorch_tensor_program_manual_backward_learns_and_matches_autograd():
    x, y, w1, w2 = _seed_data()
    learning_rate = 1e-6
    losses = []
    for t in range(30):
        h = x.mm(w1)
        h_relu = h.clamp(min=0)
        y_pred = h_relu.mm(w2)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())

        grad_y_pred = 2.0 * (y_pred - y)
        grad_w2 = h_relu.t().mm(grad_y_pred)
        grad_h_relu = grad_y_pred.mm(w2.t())
        grad_h = grad_h_relu.clone()
        grad_h[h < 0] = 0
        grad_w1 = x.t().mm(grad_h)

        if t == 0:  # the hand-written gradients are autograd's
            a1 = w1.clone().requires_grad_()
            a2 = w2.clone().requires_grad_()
            (x.mm(a1).clamp(min=0).mm(a2) - y).pow(2).sum().backward()
            np.testing.assert_allclose(a1.grad.numpy(), grad_w1.numpy(), rtol=1e-9, atol=1e-6)
            np.testing.assert_allclose(a2.grad.numpy(), grad_w2.numpy(), rtol=1e-9, atol=1e-6)

        w1 -= learning_rate * grad_w1
        w2 -= learning_rate * grad_w2
    assert losses[-1] < 0.1 * losses[0]


def test_autograd_program_with_variables_learns():
    x, y, w1, w2 = _seed_data(nb.float32)
    x = Variable(x, requires_grad=False)
    y = Variable(y, requires_grad=False)
    w1 = Variable(w1, requires_grad=True)
    w2 = Variable(w2, requires_grad=True)
    learning_rate = 1e-6
    losses = []
    for _t in range(30):
        y_pred = x.mm(w1).clamp(min=0).mm(w2)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        if w1.grad is not None:
            w1.grad.data.zero_()
        if w2.grad is not None:
            w2.grad.data.zero_()
        loss.backward()
        w1.data -= learning_rate * w1.grad.data
        w2.data -= learning_rate * w2.grad.data
    assert losses[-1] < 0.1 * losses[0]
    assert w1.grad_fn is None and w1.requires_grad


class ReLU(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_y):
        x, = ctx.saved_tensors
        grad_input = grad_y.clone()
        grad_input[x < 0] = 0
        return grad_input


def test_custom_relu_function_learns_and_matches_builtin_relu():
    x, y, w1, w2 = _seed_data(nb.float32)
    w1.requires_grad_()
    w2.requires_grad_()
    learning_rate = 1e-6
    losses = []
    for t in range(30):
        y_pred = ReLU.apply(x.mm(w1)).mm(w2)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        if t == 0:
            g_custom = nb.autograd.grad(loss, [w1, w2], retain_graph=True)
            builtin = (x.mm(w1).relu().mm(w2) - y).pow(2).sum()
            g_builtin = nb.autograd.grad(builtin, [w1, w2])
            for a, b in zip(g_custom, g_builtin):
                np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5)
        loss.backward()
        with nb.no_grad():
            w1 -= learning_rate * w1.grad
            w2 -= learning_rate * w2.grad
            w1.grad.zero_()
            w2.grad.zero_()
    assert losses[-1] < 0.1 * losses[0]


def test_the_seeds_instance_style_function_is_refused_with_the_static_form():
    class OldReLU(Function):
        def forward(self, x):
            self.save_for_backward(x)
            return x.clamp(min=0)

        def backward(self, grad_y):
            x, = self.saved_tensors
            return grad_y

    relu = OldReLU()
    with pytest.raises(RuntimeError, match=r"@staticmethod[\s\S]*OldReLU\.apply\(x\)"):
        relu(nb.randn(2, 2, requires_grad=True))
    with pytest.raises(RuntimeError, match="static"):
        OldReLU.apply(nb.randn(2, 2))
