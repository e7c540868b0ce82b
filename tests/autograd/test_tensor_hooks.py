"""``Tensor.register_hook``: the hook sees the gradient of its tensor, what it returns
replaces it, handles remove hooks, and the order with ``retain_grad`` and
``autograd.grad`` is PyTorch's (checked against PyTorch where it is installed)."""
from __future__ import annotations

import gc

import numpy as np
import pytest

import numbanet as nb
from numbanet.autograd.hooks import LEAF_HOOKS


def _program(lib, remove_after_first=False):
    """A graph with hooks on a leaf and on a non-leaf; returns what the hooks saw and the
    gradients."""
    x = lib.tensor([1.0, -2.0, 3.0], dtype=lib.float64, requires_grad=True)
    w = lib.tensor([0.5, 0.25, 2.0], dtype=lib.float64, requires_grad=True)
    seen = []
    hx = x.register_hook(lambda g: seen.append(("x", g.tolist())))
    y = x * w
    y.register_hook(lambda g: seen.append(("y1", g.tolist())))
    y.register_hook(lambda g: g * 10)  # replaces the gradient of y
    y.register_hook(lambda g: seen.append(("y3", g.tolist())))
    y.retain_grad()
    (y * y).sum().backward()
    out = [seen[:], x.grad.tolist(), w.grad.tolist(), y.grad.tolist()]
    hx.remove()
    x.grad = None
    (x * 3).sum().backward()
    out.append(seen[len(out[0]):])
    out.append(x.grad.tolist())
    x.register_hook(lambda g: g * 0 + 7)
    out.append([g.tolist() for g in lib.autograd.grad((x * x).sum(), [x, w], allow_unused=True)
                if g is not None])
    return out


def test_hooks_see_and_replace_gradients():
    seen, gx, gw, gy, after_remove, gx2, captured = _program(nb)
    assert seen == [("y1", [1.0, -1.0, 12.0]), ("y3", [10.0, -10.0, 120.0]),
                    ("x", [5.0, -2.5, 240.0])]
    assert gx == [5.0, -2.5, 240.0] and gy == [10.0, -10.0, 120.0]
    assert gw == [10.0, 20.0, 360.0]
    assert after_remove == [] and gx2 == [3.0, 3.0, 3.0]
    assert captured == [[7.0, 7.0, 7.0]]  # autograd.grad of a leaf gets the hooked gradient


def test_hooks_agree_with_torch():
    torch = pytest.importorskip("torch")
    assert _program(nb) == _program(torch)


def test_a_leaf_used_twice_calls_its_hook_once_with_the_sum():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    x.register_hook(lambda g: calls.append(g.tolist()))
    (x * x + x).sum().backward()  # three uses of x
    assert calls == [[3.0, 5.0]]


def test_a_handle_removes_its_hook_in_a_with_block():
    x = nb.ones(2, requires_grad=True)
    with x.register_hook(lambda g: g * 5):
        (x * 1).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]
    x.grad = None
    (x * 1).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_hooks_are_kept_with_create_graph_and_differentiate():
    x = nb.tensor([2.0], dtype=nb.float64, requires_grad=True)
    y = x * x
    y.register_hook(lambda g: g * 3)
    g, = nb.autograd.grad(y.sum(), x, create_graph=True)  # 3 * 2x
    assert g.item() == 12.0
    g.backward()
    assert x.grad.item() == 6.0


def test_wrong_hooks_are_refused():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        nb.ones(2).register_hook(lambda g: g)
    x = nb.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="callable"):
        x.register_hook(3)
    x.register_hook(lambda g: "no")
    with pytest.raises(TypeError, match="must return a Tensor or None"):
        (x * 2).sum().backward()
    y = nb.ones(2, requires_grad=True)
    y.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match="changed the size"):
        (y * 2).sum().backward()


def test_a_leaf_s_hooks_go_with_it():
    x = nb.ones(3, requires_grad=True)
    x.register_hook(lambda g: g)
    key = id(x)
    assert key in LEAF_HOOKS
    del x
    gc.collect()
    assert key not in LEAF_HOOKS


def test_a_hook_on_a_cuda_tensor():
    x = nb.ones(3, device="cuda", requires_grad=True)
    x.register_hook(lambda g: g * 2)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [4.0, 4.0, 4.0])
