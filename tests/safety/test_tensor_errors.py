"""Hostile input at the tensor and autograd layer: two devices meeting in one op, values
that do not fit the dtype, in-place writes into self-overlapping memory, and the error
messages of creation, shapes and ``.grad``.

Every refusal happens in Python before a kernel runs, with the exception type PyTorch
raises for the same input (checked against torch 2.13).
"""
import re
import subprocess
import sys

import numpy as np
import pytest
from numpy.lib.stride_tricks import as_strided

import numbanet as nb

SAME_DEVICE_OF = ("Expected all tensors to be on the same device, but found at least two "
                  "devices, {}!")
SAME_DEVICE = re.escape(SAME_DEVICE_OF.format("cuda:0 and cpu"))
OVERLAP = re.escape("unsupported operation: more than one element of the written-to tensor "
                    "refers to a single memory location. Please clone() the tensor before "
                    "performing the operation.")


# ---- 6. two devices in one op ------------------------------------------------------------

def _cuda(*shape, **kw):
    return nb.ones(shape, device="cuda", **kw)


MIXED_OPS = {
    "add": lambda c, p: c + p,
    "mul": lambda c, p: p * c,
    "eq": lambda c, p: c == p,
    "maximum": lambda c, p: nb.maximum(c, p),
    "where": lambda c, p: nb.where(c > 0, c, p),
    "where_cond": lambda c, p: nb.where(p > 0, c, c),
    "cat": lambda c, p: nb.cat([c, p]),
    "stack": lambda c, p: nb.stack([c, p]),
    "add_": lambda c, p: c.add_(p),
    "mul_": lambda c, p: p.mul_(c),
    "matmul": lambda c, p: c.reshape(3, 1) @ p.reshape(1, 3),
    "mm": lambda c, p: nb.mm(p.reshape(3, 1), c.reshape(1, 3)),
}


@pytest.mark.parametrize("op", sorted(MIXED_OPS))
def test_an_op_on_a_cuda_and_a_cpu_tensor_names_both_devices_and_the_op(op):
    with pytest.raises(RuntimeError,
                       match=SAME_DEVICE_OF.format("(cuda:0 and cpu|cpu and cuda:0)")) as info:
        MIXED_OPS[op](_cuda(3), nb.ones(3))
    assert op.split("_")[0] in str(info.value).split(":")[0]


def test_an_op_on_a_cuda_tensor_that_requires_grad_and_a_cpu_tensor_is_refused():
    with pytest.raises(RuntimeError, match=SAME_DEVICE):
        _cuda(3, requires_grad=True) * nb.ones(3)


def test_assigning_a_cpu_grad_to_a_cuda_tensor_is_refused():
    x = _cuda(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="assigned grad has data on a different device: "
                                           "got cpu for a tensor on cuda:0"):
        x.grad = nb.ones(3)
    assert x.grad is None


def test_backward_with_a_gradient_on_another_device_is_refused():
    x = _cuda(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="backward.*" + SAME_DEVICE):
        (x * 2).backward(nb.ones(3))
    assert x.grad is None


def test_autograd_grad_with_grad_outputs_on_another_device_is_refused():
    x = _cuda(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="grad.*" + SAME_DEVICE):
        nb.autograd.grad(x * 2, x, nb.ones(3))


def test_a_function_whose_backward_returns_a_gradient_on_another_device_is_named():
    class ToHost(nb.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.cpu()

    x = _cuda(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="ToHostBackward.*index 0.*cuda:0.*cpu"):
        ToHost.apply(x).sum().backward()
    assert x.grad is None


def test_copy_between_devices_copies_as_in_pytorch():
    dst = nb.zeros(3)
    dst.copy_(nb.arange(3.0, device="cuda"))
    assert dst.tolist() == [0.0, 1.0, 2.0]
    back = nb.zeros(3, device="cuda")
    back.copy_(nb.arange(3.0))
    assert back.tolist() == [0.0, 1.0, 2.0]


# ---- 7. values that do not fit, overlapping memory ---------------------------------------

def test_a_uint64_value_beyond_int64_is_an_overflow_error_not_minus_one():
    with pytest.raises(OverflowError, match="18446744073709551615.*int64"):
        nb.tensor(np.array([2**64 - 1], np.uint64))
    with pytest.raises(OverflowError, match="int64"):
        nb.tensor(np.uint64(2**63))
    assert nb.tensor(np.array([5, 2**63 - 1], np.uint64)).tolist() == [5, 2**63 - 1]


def test_python_ints_beyond_int64_in_data_are_a_value_error_as_in_pytorch():
    for data in ([2**70], 2**70, [2**63], [1, -2**63 - 1]):
        with pytest.raises(ValueError, match="int64"):
            nb.tensor(data)
    assert nb.tensor([2**63 - 1, -2**63]).tolist() == [2**63 - 1, -2**63]


def test_python_ints_beyond_int64_become_floats_when_a_float_dtype_is_asked_for():
    assert nb.tensor([2**70], dtype=nb.float64).tolist() == [float(2**70)]
    assert nb.tensor([1.5, 2**70]).dtype == nb.float32


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_a_python_int_scalar_beyond_int64_in_an_op_is_an_overflow_error(device):
    i = nb.arange(3, device=device)
    f = nb.arange(3.0, device=device)
    for op in (lambda: i + 2**70, lambda: f + 2**70, lambda: 2**70 * f, lambda: i == 2**70,
               lambda: f - (-2**64), lambda: nb.where(f > 0, f, 2**70),
               lambda: f.clamp(min=2**70), lambda: i.add_(2**70), lambda: f.mul_(2**70),
               lambda: f.fill_(2**70), lambda: nb.full((2,), 2**70, device=device),
               lambda: nb.ones(2, dtype=nb.bool, device=device) + 2**63):
        with pytest.raises(OverflowError, match="int64"):
            op()
    assert (i + (2**63 - 1)).tolist()[0] == 2**63 - 1


def _shared(shape, strides, dtype=np.float32):
    base = np.arange(16, dtype=dtype)
    return base, nb.from_numpy(as_strided(base, shape=shape, strides=strides))


WRITES = {
    "add_": lambda t: t.add_(1),
    "mul_": lambda t: t.mul_(2),
    "iadd": lambda t: t.__iadd__(nb.ones(t.shape)),
    "isub_tensor": lambda t: t.__isub__(nb.ones(t.shape)),
    "setitem": lambda t: t.__setitem__(Ellipsis, 1.0),
    "setitem_tensor": lambda t: t.__setitem__(Ellipsis, nb.ones(t.shape)),
    "fill_": lambda t: t.fill_(1.0),
    "zero_": lambda t: t.zero_(),
    "copy_": lambda t: t.copy_(nb.ones(t.shape)),
    "clamp_": lambda t: t.clamp_(0, 1),
    "relu_": lambda t: t.relu_(),
}


@pytest.mark.parametrize("write", sorted(WRITES))
@pytest.mark.parametrize("strides", [(0,), (4, 4), (8, 4)], ids=["stride0", "rows", "half"])
def test_writing_in_place_into_self_overlapping_memory_is_refused(write, strides):
    shape = (4,) if len(strides) == 1 else (3, 3)
    base, t = _shared(shape, strides)
    before = base.copy()
    with pytest.raises(RuntimeError, match=OVERLAP):
        WRITES[write](t)
    assert (base == before).all()  # nothing was written


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_writing_into_an_expanded_view_is_refused_with_pytorchs_message(device):
    base = nb.zeros(3, 1, device=device)
    for write in (lambda v: v.add_(1), lambda v: v.fill_(2.0), lambda v: v.copy_(nb.ones(
            3, 3, device=device)), lambda v: v.__isub__(nb.ones(3, 3, device=device))):
        with pytest.raises(RuntimeError, match=OVERLAP):
            write(base.expand(3, 3))
    assert base.tolist() == [[0.0], [0.0], [0.0]]


def test_a_tensor_given_overlapping_memory_through_data_refuses_writes():
    _, t = _shared((3, 3), (4, 4))
    x = nb.zeros(3, 3)
    x.data = t
    with pytest.raises(RuntimeError, match=OVERLAP):
        x.sub_(nb.ones(3, 3))


def test_views_of_self_overlapping_memory_refuse_writes_too():
    base, t = _shared((3, 3), (4, 4))
    before = base.copy()
    for view in (t.T, t[:, 1:], t[1:]):
        with pytest.raises(RuntimeError, match=OVERLAP):
            view.add_(1)
    assert (base == before).all()


def test_a_view_of_overlapping_memory_that_does_not_overlap_itself_can_be_written():
    base, t = _shared((3, 3), (4, 4))
    row = t[0]
    row.add_(1)  # PyTorch allows it: the row's three elements are distinct
    assert base[:3].tolist() == [1.0, 2.0, 3.0]


def test_reading_from_self_overlapping_memory_is_fine():
    base, t = _shared((3, 3), (4, 4))
    assert t.sum().item() == float(as_strided(base, (3, 3), (4, 4)).sum())
    assert (t * 2).tolist() == (as_strided(base, (3, 3), (4, 4)) * 2).tolist()


def test_non_overlapping_strided_memory_is_still_written_in_place():
    base = np.zeros(16, np.float32)
    t = nb.from_numpy(as_strided(base, shape=(3, 3), strides=(8, 12)))  # offsets all differ
    t.add_(1)
    assert base.sum() == 9.0
    u = nb.from_numpy(base[::2])
    before = base.copy()
    u.mul_(3)
    assert base[::2].tolist() == (before[::2] * 3).tolist()
    assert base[1::2].tolist() == before[1::2].tolist()


PARTIAL_WRITES = {
    "add_": lambda dst, src: dst.add_(src),
    "iadd": lambda dst, src: dst.__iadd__(src),
    "copy_": lambda dst, src: dst.copy_(src),
    "setitem": lambda dst, src: dst.__setitem__(Ellipsis, src),
}


@pytest.mark.parametrize("write", sorted(PARTIAL_WRITES))
def test_in_place_ops_between_tensors_on_one_numpy_buffer_read_a_copy(write):
    """Two from_numpy tensors over shifted parts of one array: the op must see the source's
    values from before the write, as for views of one numbanet tensor."""
    a = np.arange(6.0)
    dst, src = nb.from_numpy(a[1:]), nb.from_numpy(a[:-1])
    own = nb.arange(6.0, dtype=nb.float64)
    PARTIAL_WRITES[write](dst, src)
    PARTIAL_WRITES[write](own[1:], own[:-1])
    assert a.tolist() == own.tolist()


def test_arrays_over_one_buffer_object_count_as_one_memory():
    buffer = bytearray(np.arange(8, dtype=np.float32).tobytes())
    first = nb.from_numpy(np.frombuffer(buffer, np.float32))
    second = nb.from_numpy(np.frombuffer(buffer, np.float32)[1:])
    second.add_(first[:7])  # reads the values from before the write
    assert np.frombuffer(buffer, np.float32).tolist() == [0, 1, 3, 5, 7, 9, 11, 13]


def test_misaligned_numpy_memory_is_refused_before_a_kernel_reads_it():
    raw = np.zeros(8 * 4 + 1, np.uint8)
    misaligned = np.frombuffer(raw.data, np.float64, count=4, offset=1)
    with pytest.raises(ValueError, match="from_numpy: the data's address is not a multiple of "
                                         r"its item size \(8 bytes\)"):
        nb.from_numpy(misaligned)
    with pytest.raises(ValueError, match="from_dlpack: the data's address is not a multiple"):
        nb.from_dlpack(misaligned)
    assert nb.tensor(misaligned).tolist() == [0.0] * 4


def test_from_dlpack_refuses_negative_strides_and_marks_overlap():
    with pytest.raises(ValueError, match=r"from_dlpack: the array has strides \(-8,\)"):
        nb.from_dlpack(np.arange(4.0)[::-1])
    t = nb.from_dlpack(as_strided(np.arange(16.0), (3, 3), (8, 8)))
    with pytest.raises(RuntimeError, match=OVERLAP):
        t.mul_(2)


def test_a_grad_that_is_a_broadcast_view_accumulates_out_of_place():
    x = nb.ones(3, requires_grad=True)
    shared = nb.zeros(1)
    x.grad = shared.expand(3)
    (x * nb.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0]
    assert shared.tolist() == [0.0]


def _output_of(code: str) -> str:
    """What ``code`` prints in a fresh interpreter, which must exit cleanly (no crash)."""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_an_overlapping_write_in_a_subprocess_raises_and_does_not_crash():
    out = _output_of("import numpy as np, numbanet as nb\n"
                     "from numpy.lib.stride_tricks import as_strided\n"
                     "a = as_strided(np.zeros(1000, np.float64), (1000, 1000), (0, 8))\n"
                     "t = nb.from_numpy(a)\n"
                     "try:\n    t.add_(1)\nexcept RuntimeError as e:\n    print('refused', e)\n")
    assert "refused add_: unsupported operation" in out


# ---- 9. error messages ---------------------------------------------------------------------

def test_a_float_dim_is_a_type_error_naming_the_op():
    with pytest.raises(TypeError, match=r"sum: dim must be an int or a tuple of ints, got 1\.0"):
        nb.ones(2, 3).sum(1.0)
    assert nb.ones(2, 3).sum(np.int64(1)).shape == (2,)
    assert nb.ones(2, 3).sum([0]).shape == (3,)


def test_cat_and_stack_of_lists_are_type_errors_naming_the_element():
    with pytest.raises(TypeError, match=r"cat: expected a sequence of Tensors, but element 0 "
                                        r"is a list"):
        nb.cat([[1, 2], [3]])
    with pytest.raises(TypeError, match=r"stack: .*element 1 is a list"):
        nb.stack([nb.ones(2), [3]])
    with pytest.raises(TypeError, match="cat: expected a sequence of Tensors, got a Tensor"):
        nb.cat(nb.ones(2))


def test_ragged_nested_lists_name_the_dimension_and_lengths():
    with pytest.raises(ValueError, match=r"expected a sequence of length 2 at dim 1 \(got 1\)"):
        nb.tensor([[1, 2], [3]])
    with pytest.raises(ValueError, match=r"length 2 at dim 2 \(got 1\)"):
        nb.tensor([[[1, 2], [3, 4]], [[1, 2], [3]]])


def test_a_recursive_list_is_a_value_error_not_a_recursion_error():
    a = []
    a.append(a)
    with pytest.raises(ValueError, match="contains itself"):
        nb.tensor(a)
    deep = 1.0
    for _ in range(70):
        deep = [deep]
    with pytest.raises(ValueError, match="more than 64 levels deep.*at most 64 dimensions"):
        nb.tensor(deep)


def test_a_recursive_list_in_a_subprocess_raises_and_does_not_crash():
    out = _output_of("import numbanet as nb\na = []\na.append(a)\nb = [a, a]\n"
                     "try:\n    nb.tensor(b)\nexcept ValueError as e:\n    print('refused', e)\n")
    assert "refused tensor(): the nested list contains itself" in out


def test_to_a_dtype_name_numbanet_lacks_says_it_is_a_dtype():
    for name in ("float16", "half", "int32", "uint8", "bfloat16"):
        with pytest.raises(RuntimeError, match=f"'{name}' was read as a dtype name.*float32, "
                                               "float64, int64, bool"):
            nb.ones(3).to(name)


@pytest.mark.parametrize("make", [nb.zeros, nb.ones, nb.empty, nb.randn, nb.rand])
def test_numpy_integer_sizes_are_accepted(make):
    assert make(np.int64(3)).shape == (3,)
    assert make((np.int64(2), 3)).shape == (2, 3)
    assert make(np.int32(2), np.int64(1)).shape == (2, 1)


def test_numpy_integer_shapes_are_accepted_by_reshape_view_and_randint():
    x = nb.arange(6)
    assert x.reshape(np.int64(6)).shape == (6,)
    assert x.view(np.int64(2), np.int32(3)).shape == (2, 3)
    assert x.reshape((np.int64(3), -1)).shape == (3, 2)
    assert nb.randint(0, 5, (np.int64(2),)).shape == (2,)
    assert nb.full((np.int64(2),), 1.0).shape == (2,)
    assert nb.eye(np.int64(2)).shape == (2, 2)


def test_bad_sizes_raise_the_types_of_pytorch():
    with pytest.raises(TypeError, match=r"zeros: sizes must be ints, got 2\.0"):
        nb.zeros(2.0)
    with pytest.raises(TypeError, match="zeros: sizes must be ints"):
        nb.zeros(True)
    with pytest.raises(TypeError, match="zeros: sizes must be ints"):
        nb.zeros("a")
    with pytest.raises(RuntimeError, match=r"zeros: sizes must be non-negative, got \(2, -1\)"):
        nb.zeros(2, -1)
    with pytest.raises(TypeError, match="reshape: .*ints"):
        nb.ones(6).reshape(2.0, 3)


def test_a_grad_of_the_wrong_size_dtype_or_type_is_refused_as_in_pytorch():
    x = nb.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"assigned grad has data of a different size: "
                                           r"got shape \(5,\) for a tensor of shape \(3,\)"):
        x.grad = nb.zeros(5)
    with pytest.raises(RuntimeError, match="assigned grad has data of a different type: got "
                                           "float64 for a float32 tensor"):
        x.grad = nb.zeros(3, dtype=nb.float64)
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None but got "
                                        "grad of type int"):
        x.grad = 5
    with pytest.raises(RuntimeError, match="can't assign a tensor as its own grad"):
        x.grad = x
    assert x.grad is None
    x.grad = nb.full((3,), 2.0)
    x.grad = None
    assert x.grad is None


def test_backward_with_a_number_is_a_type_error_asking_for_a_tensor():
    x = nb.ones(3, requires_grad=True)
    with pytest.raises(TypeError, match="gradient must be a Tensor or None, got float"):
        (x * 2).sum().backward(2.0)
    with pytest.raises(TypeError, match="grad_outputs must be a Tensor or None, got float"):
        nb.autograd.grad((x * 2).sum(), x, 1.0)


def test_backward_with_a_gradient_of_the_wrong_shape_is_a_runtime_error():
    x = nb.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backward: the gradient has shape \(4,\) but the "
                                           r"output has shape \(3,\)"):
        (x * 2).backward(nb.ones(4))
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).sum().backward(nb.ones(1))


def test_backward_accepts_a_gradient_of_another_float_dtype_as_pytorch_does():
    x = nb.ones(3, requires_grad=True)
    (x * 2).backward(nb.ones(3, dtype=nb.float64))
    assert x.grad.dtype == nb.float32 and x.grad.tolist() == [2.0, 2.0, 2.0]


def test_where_needs_a_bool_condition_as_in_pytorch():
    with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor, "
                                           "but got a tensor with dtype float32"):
        nb.where(nb.ones(2), nb.ones(2), nb.zeros(2))


def test_fill_with_something_that_is_not_a_number_is_a_type_error():
    x = nb.ones(2)
    for value in (None, "a", [1.0]):
        with pytest.raises(TypeError, match="fill_: the value must be a number"):
            x.fill_(value)
    assert x.tolist() == [1.0, 1.0]


def test_backward_and_grad_check_the_outputs_and_the_number_of_gradients():
    x = nb.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="backward: the outputs must be Tensors, but element 0 "
                                        "is a int"):
        nb.autograd.backward([3])
    with pytest.raises(TypeError, match="grad: the outputs must be Tensors"):
        nb.autograd.grad([3], [x])
    y, z = x * 2, x * 3
    with pytest.raises(RuntimeError, match="got 1 gradients for 2 outputs"):
        nb.autograd.backward([y, z], [nb.ones(2)])
    assert x.grad is None


def test_a_negative_device_index_is_refused():
    with pytest.raises(RuntimeError, match="Device index must not be negative"):
        nb.ones(2).to(-1)
    with pytest.raises(RuntimeError, match="Device index must not be negative"):
        nb.device("cuda", -1)
    with pytest.raises(TypeError, match="index must be an int"):
        nb.device("cuda", 1.5)


def test_arange_refuses_ranges_pytorch_refuses():
    with pytest.raises(TypeError, match="arange: start, end and step must be numbers, got 'a'"):
        nb.arange("a")
    for args in ((0, float("inf")), (0, float("nan")), (float("-inf"), 1.0), (0.0, 1.0,
                                                                            float("nan"))):
        with pytest.raises(RuntimeError, match="unsupported range"):
            nb.arange(*args)
    for args in ((0.0, 0.5, float("inf")), (-3, 2, float("inf")), (1, 0, float("-inf"))):
        assert nb.arange(*args).tolist() == []  # as PyTorch: ceil(range / inf) elements
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        nb.arange(0, 3, 0)
    with pytest.raises(RuntimeError, match="inconsistent with step sign"):
        nb.arange(0, 5, -1)
    with pytest.raises(RuntimeError, match="more than 2\\*\\*63 elements"):
        nb.arange(0.0, 1.0, 1e-300)
    with pytest.raises(OverflowError, match="int64"):
        nb.arange(2**70)
    assert nb.arange(5, 0, -2).tolist() == [5, 3, 1]
    assert nb.arange(3, 3).tolist() == []


def test_bitwise_operators_on_integers_are_refused_not_given_a_logical_result():
    """PyTorch computes 1 & 3 == 1 bitwise; numbanet has no bitwise kernels, and giving
    True instead would be a silent wrong result."""
    i = nb.tensor([1, 2])
    for op in (lambda: i & nb.tensor([3, 1]), lambda: i | 1, lambda: i ^ i,
               lambda: (i > 1) & i, lambda: (i > 1) & 1, lambda: ~i):
        with pytest.raises(NotImplementedError, match="numbanet's & | ^ ~ work on bool"):
            op()
    with pytest.raises(NotImplementedError, match="bitwise_and is not implemented for float32"):
        nb.ones(2) & nb.ones(2)
    with pytest.raises(TypeError, match="only implemented on Boolean tensors"):
        ~nb.ones(2)
    m = nb.tensor([True, False])
    assert (m & True).tolist() == [True, False]
    assert (~m | m).tolist() == [True, True]
    assert (m ^ nb.tensor([True, True])).tolist() == [False, True]


def test_cat_of_zero_dimensional_tensors_says_to_stack_them():
    with pytest.raises(RuntimeError, match=r"zero-dimensional tensor \(at position 0\) cannot "
                                           r"be concatenated; use nb.stack"):
        nb.cat([nb.tensor(1.0), nb.tensor(2.0)])


def test_stride_of_a_dim_out_of_range_is_an_index_error_naming_the_range():
    with pytest.raises(IndexError, match=r"stride: dimension 5 is out of range.*\[-1, 0\]"):
        nb.ones(2).stride(5)
    assert nb.ones(2, 3).stride(-1) == 1


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_max_min_and_argmax_of_nothing_raise_pytorchs_errors(device):
    e = nb.zeros(0, device=device)
    with pytest.raises(RuntimeError, match=r"max\(\): Expected reduction dim to be specified"):
        e.max()
    with pytest.raises(RuntimeError, match=r"amax\(\): Expected reduction dim to be specified"):
        nb.autograd.ops.amax(e)
    with pytest.raises(IndexError, match=r"argmax\(\): Expected reduction dim to be specified"):
        e.argmax()
    wide = nb.zeros(2, 0, device=device)
    for op in (lambda: wide.max(1), lambda: wide.argmin(1), lambda: nb.autograd.ops.amax(wide, 1),
               lambda: nb.zeros(0, 3, device=device).min(0)):
        with pytest.raises(IndexError, match="Expected reduction dim [01] to have non-zero size"):
            op()
    assert nb.autograd.ops.amax(wide, 0).shape == (0,)
    assert wide.max(0).values.shape == (0,)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_softmax_of_an_empty_tensor_is_empty(device):
    x = nb.zeros(0, 3, device=device, requires_grad=True)
    for out in (x.softmax(0), x.log_softmax(1), nb.zeros(0, device=device).log_softmax(0)):
        assert out.numel() == 0 and out.dtype == nb.float32
    x.softmax(0).sum().backward()
    assert x.grad.shape == (0, 3)


def test_argmax_of_a_0d_tensor_along_dim_0_is_0():
    assert nb.tensor(5).argmax(0, keepdim=True).tolist() == 0
    assert nb.tensor(5.0).argmin(-1).tolist() == 0
    with pytest.raises(IndexError):
        nb.tensor(5.0).argmax(1)


def test_sizes_whose_memory_cannot_be_counted_are_runtime_errors():
    with pytest.raises(RuntimeError, match=r"zeros: storage size calculation overflowed for "
                                           r"shape \(4611686018427387904,\)"):
        nb.zeros(2**62)
    with pytest.raises(RuntimeError, match="reshape: storage size calculation overflowed"):
        nb.zeros(2, 0, 0).reshape((4, 10**9, -1, 10**9))
    with pytest.raises(TypeError, match="larger than the largest size, 2\\*\\*63 - 1"):
        nb.zeros(2**64)
    assert nb.zeros(2, 0, 0).reshape((4, 10**3, -1, 10**3)).shape == (4, 1000, 0, 1000)


def test_stack_checks_the_dim_before_the_shapes():
    with pytest.raises(IndexError, match="stack: dimension 2 is out of range"):
        nb.stack([nb.zeros(1), nb.zeros(0)], 2)


def test_flatten_of_a_0d_tensor_checks_its_dims():
    assert nb.zeros(()).flatten(0, -1).shape == (1,)
    for dims in ((0, -2), (1, 0)):
        with pytest.raises(IndexError, match="flatten: dimension .* is out of range"):
            nb.zeros(()).flatten(*dims)


def test_memory_that_is_not_there_is_a_runtime_error_naming_the_bytes():
    out = _output_of("import resource\n"
                     "resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))\n"
                     "import numbanet as nb\n"
                     "for make in (nb.zeros, nb.empty, nb.randn):\n"
                     "    try:\n        make(2**31)\n"
                     "    except RuntimeError as e:\n        print('refused', e)\n")
    assert out.count("can't allocate memory: you tried to allocate 8589934592 bytes") == 3
