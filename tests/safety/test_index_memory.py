"""Memory safety of the kernels that take indices and window geometries from data.

Numba kernels do not check bounds, and the memory of an index can change after numbanet
checked it (a NumPy array shared through ``from_numpy`` or DLPack, the saved indices of a
max pooling): every primitive of the backend contract that takes indices must be safe
whatever that memory holds when the kernel runs, and raise an IndexError naming the
value, the dimension's size and the op. Window primitives get their geometry from
callers and graph files: inconsistent geometry raises ValueError before any kernel runs.

A case that could crash the process runs in a subprocess, so a segfault fails one test.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import numbanet as nb

DEVICES = ["cpu", "cuda"]
HUGE = 10**9


PRELUDE = """
import numpy as np
import numbanet as nb
import numbanet.nn.functional as F


def each_raises(error, calls, words):
    '''Every call of ``calls`` (name -> function) raises ``error`` with ``words(name)`` in
    its message.'''
    for name, call in calls.items():
        try:
            call()
        except error as e:
            for w in words(name):
                assert w in str(e), f"{name}: {w!r} missing from {e}"
        else:
            raise AssertionError(f"{name}: no {error.__name__}")
"""


def outcome(code: str) -> str:
    """Run ``code`` in a fresh interpreter and return its verdict line: 'RAISED <type>: <msg>'
    for the exception it ended with, or 'NO ERROR'; a crash fails the test."""
    script = (PRELUDE + "try:\n" + textwrap.indent(textwrap.dedent(code), "    ") +
              "\nexcept Exception as e:\n"
              "    print('RAISED', type(e).__module__ + '.' + type(e).__name__ + ':', e)\n"
              "else:\n    print('NO ERROR')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ))
    assert done.returncode == 0, \
        f"the process died with status {done.returncode}:\n{done.stderr[-3000:]}"
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-3000:]
    return lines[-1]


def assert_index_error(verdict: str, *words):
    assert verdict.startswith("RAISED builtins.IndexError:"), verdict
    for w in words:
        assert str(w) in verdict, f"{w!r} missing from: {verdict}"


# ---- the index memory changes between the forward and the backward (CPU: shared memory) ----

def test_backward_of_x_indexed_by_a_numpy_shared_index_changed_to_out_of_range_raises():
    verdict = outcome("""
        a = np.array([0, 1]); i = nb.from_numpy(a)
        x = nb.randn(3, 4, requires_grad=True)
        y = x[i].sum()
        a[1] = 10**9
        y.backward()
    """)
    assert_index_error(verdict, HUGE, "dimension 0", "size 3")


def test_backward_of_x_indexed_by_a_dlpack_shared_index_changed_to_out_of_range_raises():
    verdict = outcome("""
        a = np.array([2, 0, 1]); i = nb.from_dlpack(a)
        x = nb.randn(3, 4, requires_grad=True)
        y = x[i].sum()
        a[0] = -10**9
        y.backward()
    """)
    assert_index_error(verdict, -HUGE, "size 3")


def test_gather_through_a_dlpack_shared_index_reads_it_as_it_is_now():
    verdict = outcome("""
        a = np.array([0, 1]); i = nb.from_dlpack(a)
        x = nb.arange(12.0).reshape(3, 4)
        a[1] = 10**9
        x[i]
    """)
    assert_index_error(verdict, HUGE, "size 3")


def test_embedding_backward_with_indices_changed_after_the_forward_raises():
    verdict = outcome("""
        a = np.array([0, 2, 1, 1]); i = nb.from_numpy(a)
        emb = nb.nn.Embedding(3, 4)
        y = emb(i).sum()
        a[2] = 10**9
        y.backward()
    """)
    assert_index_error(verdict, HUGE, "size 3")


def test_backward_of_item_assignment_with_indices_changed_after_the_forward_raises():
    verdict = outcome("""
        a = np.array([0, 2]); i = nb.from_numpy(a)
        x = nb.randn(3, 4, requires_grad=True)
        v = nb.randn(2, 4, requires_grad=True)
        y = x * 1.0
        y[i] = v
        a[0] = 10**9
        y.sum().backward()
    """)
    assert_index_error(verdict, HUGE, "size 3")


def test_negative_indices_written_into_shared_memory_still_wrap_as_in_python():
    a = np.array([0, 1])
    x = nb.arange(12.0).reshape(3, 4).requires_grad_()
    y = x[nb.from_numpy(a)]
    a[1] = -1  # in range: row 2, as x[-1] is
    (y * nb.arange(8.0).reshape(2, 4)).sum().backward()
    expected = np.zeros((3, 4))
    expected[0] = np.arange(4.0)
    expected[2] = np.arange(4.0, 8.0)
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_max_pool_backward_with_a_saved_index_changed_through_numpy_raises():
    verdict = outcome("""
        x = nb.randn(1, 1, 4, 4, requires_grad=True)
        y, idx = F.max_pool2d(x, 2, return_indices=True)
        idx.numpy()[0, 0, 1, 1] = 10**9
        y.sum().backward()
    """)
    assert_index_error(verdict, HUGE, "max_pool2d_backward")


# ---- every index primitive of the backend, on every device, for any index values ----------

BAD = [3, HUGE, -4, -HUGE, 2**62, -2**63]  # for a dimension of size 3


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("primitive", ["index_select", "index_add", "index_put"])
def test_index_primitives_raise_index_error_for_any_out_of_range_index(device, primitive):
    lines = outcome(f"""
        be = nb.device({device!r}).backend
        for axis, shape in ((0, (3, 4)), (1, (2, 3, 5))):
            for bad in {BAD!r}:
                index = be.from_host(np.array([1, bad, 0], np.int64))
                a = be.from_host(np.zeros(shape))
                src_shape = shape[:axis] + (3,) + shape[axis + 1:]
                src = be.from_host(np.ones(src_shape))
                try:
                    if {primitive!r} == "index_select":
                        be.index_select(a, axis, index)
                    else:
                        be.{primitive}(a, axis, index, src)
                except IndexError as e:
                    text = str(e)
                    assert str(bad) in text and f"size {{shape[axis]}}" in text and \\
                        f"dimension {{axis}}" in text and {primitive!r} in text, text
                else:
                    raise AssertionError(f"no error for index {{bad}} on axis {{axis}}")
    """)
    assert lines == "NO ERROR", lines


@pytest.mark.parametrize("device", DEVICES)
def test_index_primitives_wrap_negative_indices_in_range(device):
    be = nb.device(device).backend
    a = np.arange(12.0).reshape(3, 4)
    index = be.from_host(np.array([-1, 0, -3], np.int64))
    np.testing.assert_array_equal(be.to_host(be.index_select(be.from_host(a), 0, index)),
                                  a[[2, 0, 0]])
    dst = be.from_host(np.zeros((3, 4)))
    be.index_add(dst, 0, index, be.from_host(np.ones((3, 4))))
    np.testing.assert_array_equal(be.to_host(dst), [[2.0] * 4, [0.0] * 4, [1.0] * 4])


@pytest.mark.parametrize("device", DEVICES)
def test_gather_from_an_empty_dimension_raises_index_error(device):
    be = nb.device(device).backend
    with pytest.raises(IndexError, match="size 0"):
        be.index_select(be.from_host(np.zeros((0, 4))), 0, be.from_host(np.zeros(2, np.int64)))


@pytest.mark.parametrize("device", DEVICES)
def test_index_primitives_reject_an_index_that_is_not_a_1d_int64_array(device):
    be = nb.device(device).backend
    a = be.from_host(np.zeros((3, 4)))
    for index in (np.array([0.0, 1.0]), np.array([[0, 1]]), np.array([0, 1], np.int32)):
        with pytest.raises(TypeError, match="index_select"):
            be.index_select(a, 0, be.from_host(index))


@pytest.mark.parametrize("device", DEVICES)
def test_scatter_rejects_a_source_of_the_wrong_shape_or_an_axis_out_of_range(device):
    be = nb.device(device).backend
    dst = be.from_host(np.zeros((3, 4)))
    index = be.from_host(np.array([0, 1], np.int64))
    with pytest.raises(ValueError, match=r"index_add.*\(2, 4\)"):
        be.index_add(dst, 0, index, be.from_host(np.ones((2, 5))))
    with pytest.raises(IndexError, match="index_put.*axis"):
        be.index_put(dst, 2, index, be.from_host(np.ones((3, 2))))


@pytest.mark.parametrize("device", DEVICES)
def test_max_pool_backward_raises_for_a_saved_index_outside_the_plane(device):
    lines = outcome(f"""
        be = nb.device({device!r}).backend
        geo = (2, 2, 2, 2, 0, 0, 1, 1)
        g = be.from_host(np.ones((1, 2, 2, 2)))
        for bad in (16, 10**9, -2, -10**9):
            idx = np.zeros((1, 2, 2, 2), np.int64)
            idx[0, 1, 1, 0] = bad
            try:
                be.max_pool2d_backward(g, be.from_host(idx), geo, (1, 2, 4, 4))
            except IndexError as e:
                assert str(bad) in str(e) and "max_pool2d_backward" in str(e), str(e)
            else:
                raise AssertionError(f"no error for the saved index {{bad}}")
    """)
    assert lines == "NO ERROR", lines


# ---- window primitives: the geometry and the shapes must agree ------------------------------

GEO = (2, 2, 1, 1, 0, 0, 1, 1)  # 2x2 windows, stride 1: a (4, 4) image gives (3, 3)

INCONSISTENT = {
    "out_hw larger than the image gives": (GEO, (4, 3)),
    "out_hw smaller than the image gives": (GEO, (2, 3)),
    "zero stride": ((2, 2, 0, 1, 0, 0, 1, 1), (3, 3)),
    "negative padding": ((2, 2, 1, 1, -1, 0, 1, 1), (1, 3)),
    "zero kernel": ((0, 2, 1, 1, 0, 0, 1, 1), (5, 3)),
    "zero dilation": ((2, 2, 1, 1, 0, 0, 0, 1), (4, 3)),
    "a geometry of 7 numbers": (GEO[:7], (3, 3)),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", list(INCONSISTENT), ids=str)
def test_window_primitives_reject_inconsistent_geometry(device, case):
    lines = outcome(f"""
        be = nb.device({device!r}).backend
        geo, out_hw = {INCONSISTENT[case]!r}
        x = be.from_host(np.ones((1, 2, 4, 4)))
        g = be.from_host(np.ones((1, 2) + tuple(out_hw)))
        idx = be.from_host(np.zeros((1, 2) + tuple(out_hw), np.int64))
        cols = be.from_host(np.ones((2 * 4, 1, out_hw[0] * out_hw[1])))
        calls = {{
            "im2col": lambda: be.im2col(x, geo, out_hw),
            "col2im": lambda: be.col2im(cols, geo, out_hw, (1, 2, 4, 4)),
            "max_pool2d": lambda: be.max_pool2d(x, geo, out_hw),
            "max_pool2d_backward": lambda: be.max_pool2d_backward(g, idx, geo, (1, 2, 4, 4)),
            "avg_pool2d": lambda: be.avg_pool2d(x, geo, out_hw, True, 0),
            "avg_pool2d_backward": lambda: be.avg_pool2d_backward(g, geo, (1, 2, 4, 4), True, 0),
        }}
        each_raises(ValueError, calls, lambda name: [name])
    """)
    assert lines == "NO ERROR", lines


@pytest.mark.parametrize("device", DEVICES)
def test_window_gradients_reject_arrays_whose_shapes_disagree_with_the_image(device):
    lines = outcome(f"""
        be = nb.device({device!r}).backend
        shape = (1, 2, 4, 4)
        calls = {{
            "col2im": lambda: be.col2im(be.from_host(np.ones((8, 3, 9))), GEO, (3, 3), shape),
            "max_pool2d_backward": lambda: be.max_pool2d_backward(
                be.from_host(np.ones((2, 2, 3, 3))), be.from_host(np.zeros((2, 2, 3, 3),
                np.int64)), GEO, shape),
            "max_pool2d_backward indices": lambda: be.max_pool2d_backward(
                be.from_host(np.ones((1, 2, 3, 3))), be.from_host(np.zeros((1, 2, 3, 2),
                np.int64)), GEO, shape),
            "avg_pool2d_backward": lambda: be.avg_pool2d_backward(
                be.from_host(np.ones((1, 5, 3, 3))), GEO, shape, True, 0),
        }}
        each_raises(ValueError, calls, lambda name: [name.split()[0]])
    """.replace("GEO", repr(GEO)))
    assert lines == "NO ERROR", lines


@pytest.mark.parametrize("device", DEVICES)
def test_avg_pool_rejects_dilation_it_does_not_apply(device):
    be = nb.device(device).backend
    x = be.from_host(np.ones((1, 1, 5, 5)))
    with pytest.raises(ValueError, match="avg_pool2d.*dilation"):
        be.avg_pool2d(x, (2, 2, 1, 1, 0, 0, 2, 2), (3, 3), True, 0)


def test_output_sizes_of_either_rounding_are_accepted():
    be = nb.device("cpu").backend
    x = be.from_host(np.arange(25.0).reshape(1, 1, 5, 5))
    values, _ = be.max_pool2d(x, (2, 2, 2, 2, 0, 0, 1, 1), (3, 3))  # ceil_mode=True
    assert values.shape == (1, 1, 3, 3)
    # padding 1 around a 1-pixel row: 3 windows, though ceil_mode's rule would give 2
    cols = be.im2col(be.from_host(np.ones((1, 1, 1, 1))), (1, 1, 1, 1, 0, 1, 1, 1), (1, 3))
    np.testing.assert_array_equal(be.to_host(cols).ravel(), [0.0, 1.0, 0.0])


# ---- mixed devices ------------------------------------------------------------------------

def _cuda():
    if not nb.cuda.is_available():
        pytest.skip("needs CUDA (a GPU or the simulator)")


@pytest.mark.parametrize("what", ["mask get", "mask set", "index get", "index set",
                                  "value set", "cuda tensor, cpu mask set",
                                  "cuda tensor, cpu index get"])
def test_indexing_with_tensors_on_another_device_names_both_devices(what):
    _cuda()
    cpu_t, cuda_t = nb.zeros(3, 2), nb.zeros(3, 2, device="cuda")
    on = {"cpu": (cpu_t, "cuda"), "cuda": (cuda_t, "cpu")}["cuda" if "cuda tensor" in what
                                                            else "cpu"]
    t, other = on
    mask = nb.tensor([True, False, True], device=other)
    index = nb.tensor([0, 2], device=other)
    with pytest.raises(RuntimeError) as err:
        if what.endswith("mask get"):
            t[mask]
        elif what.endswith("mask set"):
            t[mask] = 1.0
        elif what.endswith("index get"):
            t[index]
        elif what.endswith("index set"):
            t[index] = 1.0
        else:
            t[nb.tensor([0, 2])] = nb.ones(2, 2, device="cuda")
    message = str(err.value)
    assert "cpu" in message and "cuda:0" in message and "index" in message, message


# ---- elementwise kernels clamp broadcast reads: operands must broadcast to the output -------

@pytest.mark.parametrize("device", DEVICES)
def test_elementwise_primitives_reject_operands_that_do_not_broadcast_to_the_output(device):
    lines = outcome(f"""
        be = nb.device({device!r}).backend
        out = lambda shape: be.from_host(np.zeros(shape))
        arr = lambda shape: be.from_host(np.ones(shape))
        calls = {{
            "unary (2, 4) into (3, 4)": lambda: be.unary("neg", arr((2, 4)), out((3, 4))),
            "binary with an empty operand": lambda: be.binary("add", arr((3, 4)),
                                                              arr((0, 4)), out((3, 4))),
            "binary (3, 1, 4) into (3, 4)": lambda: be.binary("mul", arr((3, 1, 4)), 2.0,
                                                              out((3, 4))),
            "binary of 5 dims": lambda: be.binary("add", arr((2, 1, 1, 1, 3)),
                                                  arr((1, 1, 1, 1, 3)), out((3, 1, 1, 1, 3))),
            "where (2, 1) into (3, 4)": lambda: be.where(
                be.from_host(np.ones((2, 1), bool)), arr((3, 4)), arr((3, 4)), out((3, 4))),
        }}
        each_raises(ValueError, calls, lambda name: ["broadcast"])
    """)
    assert lines == "NO ERROR", lines


@pytest.mark.parametrize("device", DEVICES)
def test_randint_with_an_empty_range_raises_on_every_backend(device):
    be = nb.device(device).backend
    with pytest.raises(ValueError, match="randint"):
        be.randint(5, 5, (3,))


@pytest.mark.parametrize("device", DEVICES)
def test_cuda_and_cpu_matmul_reject_shapes_that_do_not_fit(device):
    be = nb.device(device).backend
    with pytest.raises(ValueError, match="matmul"):
        be.matmul(be.from_host(np.ones((2, 3, 4))), be.from_host(np.ones((3, 5, 2))))


def test_second_order_max_pool_gradient_is_zero_for_windows_wholly_in_the_padding():
    # 2x2 windows dilated by 3 over a padded 2-row image: every window reads rows -1 and 2,
    # only padding, so its index is -1 and no gradient of any order flows through it (the
    # gather of the double backward read the pixel before the plane instead)
    x = nb.tensor(np.arange(20.0).reshape(2, 1, 2, 5), requires_grad=True)
    y, idx = nb.nn.functional.max_pool2d(x, 2, padding=1, dilation=3, return_indices=True)
    assert (idx.numpy() == -1).all()
    w = nb.ones(y.shape, dtype=nb.float64).requires_grad_()
    (gx,) = nb.autograd.grad((y * w).sum(), x, create_graph=True)
    (gx * nb.arange(1.0, 21.0).reshape(2, 1, 2, 5)).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros(y.shape))


# ---- views: a view's shape and strides must stay inside the array's memory -----------------

@pytest.mark.parametrize("device", DEVICES)
def test_views_that_would_reach_past_the_array_raise(device):
    lines = outcome(f"""
        be = nb.device({device!r}).backend
        a = be.from_host(np.arange(12.0).reshape(3, 4))
        t = be.permute(a, (1, 0))  # a non-contiguous array
        calls = {{
            "broadcast_to (3, 4) -> (5, 4)": lambda: be.broadcast_to(a, (5, 4)),
            "broadcast_to (4, 3) -> (4, 6)": lambda: be.broadcast_to(t, (4, 6)),
            "broadcast_to to fewer dims": lambda: be.broadcast_to(a, (4,)),
            "broadcast_to a negative size": lambda: be.broadcast_to(a, (-1, 3, 4)),
            "permute repeating a dim": lambda: be.permute(a, (0, 0)),
        }}
        each_raises(ValueError, calls, lambda name: [] if name.startswith("permute") else
                    ["broadcast_to"])  # NumPy's transpose words its own error on the CPU
    """)
    assert lines == "NO ERROR", lines


@pytest.mark.parametrize("device", DEVICES)
def test_basic_index_and_reshape_view_refuse_what_leaves_the_array(device):
    be = nb.device(device).backend
    a = be.from_host(np.arange(12.0).reshape(3, 4))
    with pytest.raises(IndexError, match="size 3"):
        be.basic_index(a, (3,))
    with pytest.raises(IndexError, match="size 4"):
        be.basic_index(a, (slice(None), -5))
    with pytest.raises(ValueError):
        be.reshape_view(a, (-1, -12))


@pytest.mark.parametrize("device", DEVICES)
def test_fused_updates_refuse_state_arrays_of_another_size(device):
    lines = outcome(f"""
        be = nb.device({device!r}).backend
        arr = lambda n, dtype=np.float32: be.from_host(np.ones(n, dtype))
        numbers = (0.1, 0.9, 0.999, 1e-8, 0.1, 0.1, 0.0)
        calls = {{
            "adam_step gradient": lambda: be.adam_step(arr(8), arr(2), arr(8), arr(8), *numbers),
            "adam_step state": lambda: be.adam_step(arr(8), arr(8), arr(8), arr(3), *numbers),
            "adam_step dtype": lambda: be.adam_step(arr(8), arr(8, np.float64), arr(8), arr(8),
                                                    *numbers),
        }}
        each_raises(ValueError, calls, lambda name: ["adam_step"])
    """)
    assert lines == "NO ERROR", lines


def test_assigning_an_int_outside_int64_through_an_index_is_an_overflow_error():
    # a float tensor silently stored 2**70 as 1.18e21; PyTorch refuses the number
    x = nb.zeros(3)
    with pytest.raises(OverflowError):
        x[0] = 2**70
    with pytest.raises(OverflowError):
        x[nb.tensor([0, 2])] = -2**64
    assert x.tolist() == [0.0, 0.0, 0.0]
