"""Specification of ``index_select``, ``narrow`` and ``pick_classes``
(``numbanet/autograd/ops/indexing.py``).

- ``index_select`` equals NumPy's ``take`` along a dim and ``torch.index_select`` in value,
  shape and gradient (repeated indices add up), on the CPU and on CUDA; its errors are
  PyTorch's: a 1-D (or 0-d) int64 index, IndexError out of range (negative indices too)
  and for a bad dim, RuntimeError for another dtype.
- ``narrow`` is a view (it shares memory and the version counter) equal to the slice,
  with PyTorch's errors.
- ``pick_classes`` picks ``logp[n, target[n]]`` and refuses targets out of range before
  any kernel runs.
- Their gradients match central differences, to second order.
"""
from __future__ import annotations

import numpy as np
import pytest

import numbanet as nb
from numbanet.autograd import grad, gradcheck
from numbanet.autograd.ops.indexing import index_select, narrow, pick_classes

torch = pytest.importorskip("torch")

DEVICES = ["cpu", "cuda"]
RNG = np.random.default_rng(0)


def leaf(array, device="cpu"):
    return nb.tensor(np.asarray(array, dtype=np.float64), dtype=nb.float64, device=device,
                     requires_grad=True)


def gradgradcheck(fn, inputs, **tolerances):
    """gradcheck of the gradient of ``fn(x).sum()``, taken with ``create_graph=True``."""
    def first(x):
        with nb.enable_grad():  # gradcheck evaluates under no_grad
            x = x if x.requires_grad else x.detach().requires_grad_()
            return grad(fn(x).sum(), (x,), create_graph=True)[0]
    return gradcheck(first, inputs, **tolerances)


def index(values, device="cpu"):
    return nb.tensor(np.asarray(values, dtype=np.int64), device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_index_select_matches_numpy_take_and_torch_in_value_and_gradient(device, dim):
    x = RNG.normal(size=(3, 4, 2))
    idx = np.array([1, 0, 1]) if dim != 2 else np.array([1, 1, 0])
    xt, it = leaf(x, device), index(idx, device)
    out = index_select(xt, dim, it)
    np.testing.assert_array_equal(out.detach().cpu().numpy(), np.take(x, idx, axis=dim))
    g = RNG.normal(size=out.shape)
    out.backward(nb.tensor(g, dtype=nb.float64, device=device))
    tx = torch.tensor(x, requires_grad=True)
    torch.index_select(tx, dim, torch.tensor(idx)).backward(torch.tensor(g))
    np.testing.assert_allclose(xt.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-12)


def test_index_select_takes_a_0d_index_and_a_0d_input_as_torch_does():
    x = RNG.normal(size=(3, 4))
    out = index_select(nb.tensor(x), 1, nb.tensor(2))
    assert out.shape == (3, 1)
    np.testing.assert_array_equal(out.numpy(), x[:, [2]])
    s = index_select(nb.tensor(5.0), 0, index([0]))
    assert s.shape == () and s.item() == 5.0
    assert index_select(nb.tensor(5.0), -1, nb.tensor(0)).shape == ()


def test_index_select_of_no_indices_and_of_int_and_bool_inputs():
    empty = index_select(nb.zeros(3, 2), 0, index(np.zeros(0)))
    assert empty.shape == (0, 2)
    assert index_select(nb.zeros(0, 2), 0, index(np.zeros(0))).shape == (0, 2)
    ints = nb.tensor(np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(index_select(ints, 1, index([2, 0])).numpy(),
                                  [[2, 0], [5, 3]])
    assert index_select(nb.tensor([True, False]), 0, index([1])).dtype is nb.bool


def test_index_select_result_is_a_copy_and_reads_non_contiguous_inputs():
    base = nb.tensor(np.arange(12.0).reshape(3, 4))
    xt = base.t()  # (4, 3), transposed strides
    out = index_select(xt, 0, index([3, 1]))
    np.testing.assert_array_equal(out.numpy(), np.arange(12.0).reshape(3, 4).T[[3, 1]])
    out.add_(1.0)
    assert base.numpy()[0, 3] == 3.0  # the pick does not share memory
    strided_index = index([0, 9, 2, 9, 1])[::2]  # [0, 2, 1]
    np.testing.assert_array_equal(index_select(base, 1, strided_index).numpy(),
                                  np.arange(12.0).reshape(3, 4)[:, [0, 2, 1]])


@pytest.mark.parametrize("device", DEVICES)
def test_index_select_grads_match_central_difference_to_second_order(device):
    x = leaf(RNG.normal(size=(3, 2)), device)
    it = index([2, 2, 0], device)
    assert gradcheck(lambda t: index_select(t, 0, it), (x,), eps=1e-6, atol=1e-5, rtol=1e-3)
    assert gradgradcheck(lambda t: index_select(t, 1, index([1, 0, 1], device)) ** 2, (x,),
                         eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("case, error, words", [
    ((0, [[0]]), IndexError, "supposed to be a vector"),
    ((0, [-1]), IndexError, "index -1 is out of range"),
    ((0, [3]), IndexError, "index 3 is out of range"),
    ((1, [0, 4]), IndexError, "index 4 is out of range for dimension 1 with size 4"),
    ((2, [0]), IndexError, "out of range"),
    ((-3, [0]), IndexError, "out of range"),
])
def test_index_select_errors_are_torch_s(case, error, words):
    x = np.zeros((3, 4))
    dim, idx = case
    if dim == 0 or error is not IndexError or "index" not in words:
        # PyTorch's error type for the same call (along dim 1 its CPU kernel raises a
        # RuntimeError of another wording; numbanet says IndexError on every dim)
        with pytest.raises(error):
            torch.index_select(torch.tensor(x), dim, torch.tensor(idx))
    with pytest.raises(error, match=words):
        index_select(nb.tensor(x), dim, index(idx))


def test_index_select_refuses_other_index_dtypes_and_non_tensors():
    x = nb.zeros(3, 4)
    with pytest.raises(RuntimeError, match="Expected dtype int64"):
        index_select(x, 0, nb.tensor([0.0]))
    with pytest.raises(RuntimeError, match="Expected dtype int64"):
        index_select(x, 0, nb.tensor([True]))
    with pytest.raises(TypeError, match="'index' .* must be Tensor, not list"):
        index_select(x, 0, [0])
    with pytest.raises(TypeError, match="'input' .* must be Tensor"):
        index_select(np.zeros(3), 0, index([0]))
    with pytest.raises(TypeError, match="dim must be an int"):
        index_select(x, 0.0, index([0]))
    with pytest.raises(RuntimeError, match="axis dim should be positive"):
        index_select(nb.zeros(0, 2), 0, index([0]))
    with pytest.raises(RuntimeError, match="only 1 value"):
        index_select(nb.tensor(1.0), 0, index([0, 0]))


def test_index_select_refuses_an_index_on_another_device():
    with pytest.raises(RuntimeError, match="same device"):
        index_select(nb.zeros(3, device="cuda"), 0, index([0]))


def test_index_select_backward_refuses_an_index_changed_in_place():
    x = leaf(RNG.normal(size=(3, 2)))
    it = index([0, 1])
    out = index_select(x, 0, it)
    it[0] = 2
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out.sum().backward()


# ---- narrow -----------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dim, start, length", [(0, 1, 2), (1, -2, 2), (-1, 0, 0), (0, 3, 0),
                                                (2, 1, 1), (1, -4, 4)])
def test_narrow_is_a_view_equal_to_the_slice(device, dim, start, length):
    x = RNG.normal(size=(3, 4, 2))
    xt = nb.tensor(x, device=device)
    out = narrow(xt, dim, start, length)
    expected = torch.tensor(x).narrow(dim, start, length).numpy()
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.cpu().numpy(), expected)
    if out.numel():
        out.fill_(7.0)  # a view: the write shows in the input, and its version moves
        assert np.all(np.take(xt.cpu().numpy(), range(start % x.shape[dim],
                                                       start % x.shape[dim] + length),
                              axis=dim) == 7.0)


def test_narrow_gradient_matches_central_difference_and_torch():
    x = leaf(RNG.normal(size=(3, 4)))
    assert gradcheck(lambda t: narrow(t, 1, 1, 2), (x,), eps=1e-6, atol=1e-5, rtol=1e-3)
    assert gradgradcheck(lambda t: narrow(t, 0, -2, 2) ** 2, (x,), eps=1e-6, atol=1e-5,
                         rtol=1e-3)
    narrow(x, 0, 1, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0] * 4, [1] * 4, [0] * 4])


def test_narrow_takes_a_0d_int64_tensor_as_start():
    x = nb.tensor(np.arange(5.0))
    np.testing.assert_array_equal(narrow(x, 0, nb.tensor(3), 2).numpy(), [3.0, 4.0])


@pytest.mark.parametrize("args, error, words", [
    ((0, 2, 2), RuntimeError, r"start \(2\) \+ length \(2\) exceeds dimension size \(3\)"),
    ((0, 0, -1), RuntimeError, "length must be non-negative"),
    ((0, 4, 0), IndexError, r"start out of range \(expected to be in range of \[-3, 3\], but "
                            "got 4"),
    ((0, -4, 1), IndexError, "start out of range"),
    ((2, 0, 1), IndexError, "out of range"),
    ((0, 1.0, 1), TypeError, "'start' must be int"),
    ((0, 0, 1.5), TypeError, "'length' must be int"),
])
def test_narrow_errors_are_torch_s(args, error, words):
    x = np.zeros((3, 4))
    with pytest.raises(error):
        torch.tensor(x).narrow(*args)
    with pytest.raises(error, match=words):
        narrow(nb.tensor(x), *args)


def test_narrow_refuses_a_0d_tensor():
    with pytest.raises(RuntimeError, match="0-dim tensor"):
        narrow(nb.tensor(1.0), 0, 0, 1)


# ---- pick_classes -----------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_pick_classes_picks_each_row_s_target_with_its_gradient(device):
    logp = RNG.normal(size=(4, 3))
    target = np.array([2, 0, 2, 1])
    lt = leaf(logp, device)
    out = pick_classes(lt, index(target, device))
    np.testing.assert_array_equal(out.detach().cpu().numpy(), logp[np.arange(4), target])
    assert gradcheck(lambda t: pick_classes(t, index(target, device)), (lt,), eps=1e-6,
                     atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("target", [[0, 3], [-1, 0], [-100, 1]])
def test_pick_classes_refuses_targets_out_of_range_before_the_kernel(target):
    with pytest.raises(IndexError, match=f"target {min(target) if min(target) < 0 else 3} "
                                         "is out of bounds for 3 classes"):
        pick_classes(nb.zeros(2, 3), index(target))


def test_pick_classes_checks_its_arguments():
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        pick_classes(nb.zeros(2, 3), index([0, 1, 2]))
    with pytest.raises(ValueError, match="int64 targets"):
        pick_classes(nb.zeros(2, 3), nb.tensor([0.0, 1.0]))
    with pytest.raises(TypeError, match="must be Tensor"):
        pick_classes(nb.zeros(2, 3), [0, 1])
    assert pick_classes(nb.zeros(0, 3), index(np.zeros(0))).shape == (0,)


# ---- on a graph device: the checks happen when the graph runs ---------------------------
@pytest.mark.parametrize("dim", [0, 1])
def test_a_traced_index_select_matches_eager_mode_and_refuses_bad_indices_when_it_runs(dim):
    import numbanet.jit as jit
    x = nb.randn(4, 3)
    graph = jit.trace(lambda a, i: index_select(a, dim, i) * 2.0, (x, index([0, 2])))
    good = index([2, 2] if dim else [3, 0])
    np.testing.assert_allclose(graph(x, good).numpy(), (index_select(x, dim, good) * 2.0)
                               .numpy(), rtol=1e-6)
    for bad in ([0, -1], [0, x.shape[dim]]):
        with pytest.raises(IndexError):
            graph(x, index(bad))


def test_a_traced_class_pick_matches_eager_mode_and_refuses_bad_targets_when_it_runs():
    import numbanet.jit as jit
    logp = nb.randn(3, 4)
    graph = jit.trace(lambda a, t: pick_classes(a, t), (logp, index([0, 1, 2])))
    target = index([3, 0, 3])
    np.testing.assert_allclose(graph(logp, target).numpy(),
                               pick_classes(logp, target).numpy(), rtol=1e-6)
    # -1 of row 1 and 4 of row 0 would land in a neighbouring row of the flat (12,) view
    for bad in ([0, -1, 0], [4, 0, 0], [0, 0, 4]):
        with pytest.raises(IndexError):
            graph(logp, index(bad))


def test_index_select_and_narrow_are_tensor_methods_and_functions():
    x = nb.arange(12.0).reshape(3, 4)
    index = nb.tensor([2, 0])
    np.testing.assert_array_equal(x.index_select(1, index).numpy(),
                                  nb.index_select(x, 1, index).numpy())
    np.testing.assert_array_equal(x.narrow(0, 1, 2).numpy(), nb.narrow(x, 0, 1, 2).numpy())
    assert x.narrow(0, 1, 2).shape == (2, 4)
