"""In-place ops on contiguous tensors and on non-contiguous views (the base sees the change,
the version counter moves), the writes that must be refused, and the error messages of bad
input: each an ordinary Python exception that names the op and shapes, never a Numba error."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import laid_out, shapes, values

import numbanet as nb

F32, F64, I64, BOOL = nb.float32, nb.float64, nb.int64, nb.bool
PLAIN_ERRORS = (ValueError, TypeError, RuntimeError, IndexError)


def version(t) -> int:
    """The in-place version counter of ``t`` (PyTorch's ``t._version``)."""
    v = getattr(t, "_version", None)
    return v if isinstance(v, int) else t._vc[0]


def assert_plain(err):
    """The exception is an ordinary Python one, not a Numba error that leaked out."""
    e = err.value
    assert isinstance(e, PLAIN_ERRORS), f"{type(e).__module__}.{type(e).__name__}: {e}"
    mro_modules = {c.__module__ for c in type(e).__mro__}
    assert not any(m.startswith("numba") for m in mro_modules), \
        f"a Numba error reached the user: {type(e)}: {e}"
    return str(e)


# ---- in-place arithmetic on views -----------------------------------------------------------

# name: (tensor op, the same on a NumPy array in place)
INPLACE = {
    "+= tensor": (lambda t, o, s: t.__iadd__(o), lambda a, o, s: a.__iadd__(o)),
    "-= tensor": (lambda t, o, s: t.__isub__(o), lambda a, o, s: a.__isub__(o)),
    "*= tensor": (lambda t, o, s: t.__imul__(o), lambda a, o, s: a.__imul__(o)),
    "/= tensor": (lambda t, o, s: t.__itruediv__(o), lambda a, o, s: a.__itruediv__(o)),
    "+= scalar": (lambda t, o, s: t.__iadd__(s), lambda a, o, s: a.__iadd__(s)),
    "-= scalar": (lambda t, o, s: t.__isub__(s), lambda a, o, s: a.__isub__(s)),
    "*= scalar": (lambda t, o, s: t.__imul__(s), lambda a, o, s: a.__imul__(s)),
    "/= scalar": (lambda t, o, s: t.__itruediv__(s), lambda a, o, s: a.__itruediv__(s)),
    "add_": (lambda t, o, s: t.add_(o), lambda a, o, s: a.__iadd__(o)),
    "add_ alpha": (lambda t, o, s: t.add_(o, alpha=s), lambda a, o, s: a.__iadd__(o * s)),
    "sub_": (lambda t, o, s: t.sub_(o), lambda a, o, s: a.__isub__(o)),
    "sub_ alpha": (lambda t, o, s: t.sub_(o, alpha=s), lambda a, o, s: a.__isub__(o * s)),
    "mul_": (lambda t, o, s: t.mul_(o), lambda a, o, s: a.__imul__(o)),
    "mul_ scalar": (lambda t, o, s: t.mul_(s), lambda a, o, s: a.__imul__(s)),
    "div_": (lambda t, o, s: t.div_(o), lambda a, o, s: a.__itruediv__(o)),
    "div_ scalar": (lambda t, o, s: t.div_(s), lambda a, o, s: a.__itruediv__(s)),
    "zero_": (lambda t, o, s: t.zero_(), lambda a, o, s: a.fill(0)),
    "fill_": (lambda t, o, s: t.fill_(s), lambda a, o, s: a.fill(s)),
    "copy_": (lambda t, o, s: t.copy_(o), lambda a, o, s: np.copyto(a, o)),
    "clamp_": (lambda t, o, s: t.clamp_(-0.5, 1.0), lambda a, o, s: np.clip(a, -0.5, 1.0, out=a)),
    "clamp_ min": (lambda t, o, s: t.clamp_(min=s), lambda a, o, s: np.maximum(a, s, out=a)),
    "clamp_ max": (lambda t, o, s: t.clamp_(max=s), lambda a, o, s: np.minimum(a, s, out=a)),
}

VIEWS = {
    # name: (view of a (4, 6) base, the same view of a NumPy array)
    "whole": lambda b: b,
    "transposed": lambda b: b.T,
    "strided": lambda b: b[::2, 1::2],
    "rows": lambda b: b[1:3],
    "column": lambda b: b[:, 2],
    "3-d view": lambda b: b.reshape(2, 2, 6)[:, 1, ::3],
    "row of transposed": lambda b: b.T[3],
}


@pytest.mark.parametrize("name", list(INPLACE))
@given(data=st.data(), view=st.sampled_from(list(VIEWS)), s=st.sampled_from([2, -1.5, 0.25, 3.0]))
def test_inplace_ops_write_through_views_like_numpy(name, view, data, s):
    op, np_op = INPLACE[name]
    base_values = data.draw(values((4, 6)))
    base = nb.tensor(base_values, dtype=F64)
    ref_base = base_values.copy()
    v, ref_v = VIEWS[view](base), VIEWS[view](ref_base)
    # the other operand broadcasts to the view's shape, in any layout
    trim = data.draw(st.integers(0, ref_v.ndim))
    oshape = tuple(1 if data.draw(st.booleans()) else n for n in ref_v.shape[trim:])
    ref_o, o = data.draw(laid_out(data.draw(values(oshape, avoid=0.0)), dtype=F64))
    before = version(base)
    result = op(v, o, s)
    np_op(ref_v, ref_o, s)
    assert result is v, "an in-place op returns the tensor it changed"
    np.testing.assert_allclose(v.numpy(), ref_v, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(base.numpy(), ref_base, rtol=1e-12, atol=1e-12)
    assert version(base) > before and version(v) == version(base)


@pytest.mark.parametrize("name", ["+= tensor", "*= scalar", "add_", "sub_ alpha", "copy_",
                                  "clamp_", "fill_"])
@given(data=st.data())
def test_inplace_ops_on_float32_tensors_of_any_layout(name, data):
    op, np_op = INPLACE[name]
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    ref, t = data.draw(laid_out(data.draw(values(shape)),
                                layouts=("contiguous", "transposed", "strided"), dtype=F32))
    ref = ref.astype(np.float32)
    ref_o, o = data.draw(laid_out(data.draw(values(shape)), dtype=F32))
    op(t, o, 0.5)
    np_op(ref, ref_o.astype(np.float32), np.float32(0.5))
    assert t.dtype == F32
    np.testing.assert_allclose(t.numpy(), ref, rtol=1e-6, atol=1e-6)


def test_inplace_ops_on_int_tensors_stay_int():
    t = nb.tensor([1, 2, 3])
    t += 2
    t *= nb.tensor([1, 0, 2])
    t -= 1
    np.testing.assert_array_equal(t.numpy(), [2, -1, 9])
    assert t.dtype == I64
    f = nb.tensor([1.0, 2.0])
    f += nb.tensor([1, 1])
    f *= nb.tensor([True, False])
    np.testing.assert_array_equal(f.numpy(), [2.0, 0.0])
    assert f.dtype == F32


def test_inplace_op_with_a_higher_precision_operand_keeps_the_dtype():
    t = nb.ones(3)
    t += nb.ones(3, dtype=F64)
    assert t.dtype == F32
    np.testing.assert_array_equal(t.numpy(), [2, 2, 2])


def test_inplace_op_reading_its_own_overlapping_view():
    a = np.arange(6.0)
    t = nb.tensor(a)
    t[1:] += t[:-1]
    a[1:] += a[:-1].copy()
    np.testing.assert_array_equal(t.numpy(), a.astype(np.float32))


def test_inplace_op_of_a_tensor_with_its_transpose_reads_old_values():
    a = np.arange(9.0).reshape(3, 3)
    t = nb.tensor(a, dtype=F64)
    t += t.T
    np.testing.assert_array_equal(t.numpy(), a + a.T)


@pytest.mark.parametrize("name", ["zero_", "fill_", "add_", "mul_", "div_", "copy_", "clamp_",
                                  "+= scalar", "setitem", "relu_"])
def test_every_inplace_op_bumps_the_version_counter_of_the_view_and_base(name):
    base = nb.ones(3, 4)
    v = base[:, 1:]
    ops = {
        "zero_": lambda: v.zero_(), "fill_": lambda: v.fill_(2), "add_": lambda: v.add_(1),
        "mul_": lambda: v.mul_(v), "div_": lambda: v.div_(2), "copy_": lambda: v.copy_(v * 2),
        "clamp_": lambda: v.clamp_(0, 1), "+= scalar": lambda: v.__iadd__(1),
        "setitem": lambda: v.__setitem__((0, slice(None)), 5), "relu_": lambda: v.relu_(),
    }
    b0, v0 = version(base), version(v)
    ops[name]()
    assert version(v) == v0 + 1
    assert version(base) == b0 + 1
    other = nb.ones(3, 4)
    assert version(other) == 0


def test_out_of_place_ops_do_not_bump_the_version():
    t = nb.ones(3)
    before = version(t)
    _ = t + 1, t * t, t.exp(), t[1:], t.reshape(3, 1), t.sum()
    assert version(t) == before


def test_changing_a_tensor_saved_for_backward_is_detected():
    w = nb.randn(3, requires_grad=True)
    x = nb.randn(3)
    y = (w * x).sum()
    x += 1
    with pytest.raises(RuntimeError) as err:
        y.backward()
    message = assert_plain(err)
    assert "in-place" in message or "modified" in message


def test_changing_a_view_of_a_saved_tensor_is_detected():
    w = nb.randn(2, 3, requires_grad=True)
    x = nb.randn(2, 3)
    y = (w * x).sum()
    x[0].fill_(0)
    with pytest.raises(RuntimeError):
        y.backward()


# ---- writes that must be refused -----------------------------------------------------------

EXPANDED_WRITES = {
    "+=": lambda e: e.__iadd__(1), "-=": lambda e: e.__isub__(1), "*=": lambda e: e.__imul__(2),
    "/=": lambda e: e.__itruediv__(2), "add_": lambda e: e.add_(nb.ones(3, 4)),
    "sub_": lambda e: e.sub_(1), "mul_": lambda e: e.mul_(2), "div_": lambda e: e.div_(2),
    "zero_": lambda e: e.zero_(), "fill_": lambda e: e.fill_(3), "copy_": lambda e: e.copy_(
        nb.zeros(3, 4)), "clamp_": lambda e: e.clamp_(0, 0.5), "relu_": lambda e: e.relu_(),
    "setitem": lambda e: e.__setitem__(0, 5.0), "setitem mask": lambda e: e.__setitem__(
        e > 0, 0.0), "setitem index": lambda e: e.__setitem__(nb.tensor([0, 2]), 1.0),
    "setitem all": lambda e: e.__setitem__(Ellipsis, 1.0),
}


@pytest.mark.parametrize("name", list(EXPANDED_WRITES))
@pytest.mark.parametrize("source", ["column", "row", "scalar"])
def test_writing_into_an_expanded_tensor_raises(name, source):
    base = {"column": lambda: nb.ones(3, 1), "row": lambda: nb.ones(1, 4),
            "scalar": lambda: nb.ones(())}[source]()
    e = base.expand(3, 4)
    before = base.numpy().copy()
    with pytest.raises(RuntimeError) as err:
        EXPANDED_WRITES[name](e)
    assert_plain(err)
    np.testing.assert_array_equal(base.numpy(), before)


def test_writing_into_a_view_of_an_expanded_tensor_raises():
    e = nb.ones(3, 1).expand(3, 4)[:, 1:]
    with pytest.raises(RuntimeError) as err:
        e += 1
    assert_plain(err)


def test_an_expanded_tensor_can_be_written_after_clone():
    c = nb.ones(3, 1).expand(3, 4).clone()
    c[0, 0] = 7
    c += 1
    assert c.numpy()[0, 0] == 8 and c.numpy().sum() == 8 + 11 * 2


@pytest.mark.parametrize("dtype,op", [
    (I64, lambda t: t.__iadd__(0.5)), (I64, lambda t: t.__isub__(1.5)),
    (I64, lambda t: t.__imul__(2.5)), (I64, lambda t: t.__itruediv__(2)),
    (I64, lambda t: t.div_(nb.tensor([1, 2, 3]))), (I64, lambda t: t.add_(nb.ones(3))),
    (I64, lambda t: t.mul_(nb.tensor(2.0))), (BOOL, lambda t: t.__iadd__(1)),
    (BOOL, lambda t: t.__imul__(0.5)), (BOOL, lambda t: t.add_(nb.tensor([1, 2, 3]))),
], ids=["int+=float", "int-=float", "int*=float", "int/=int", "int.div_", "int.add_(float)",
        "int.mul_(float 0-d)", "bool+=int", "bool*=float", "bool.add_(int)"])
def test_inplace_op_whose_result_type_does_not_fit_raises(dtype, op):
    t = nb.tensor([1, 2, 3], dtype=dtype)
    before = t.numpy().copy()
    with pytest.raises((TypeError, RuntimeError)) as err:
        op(t)
    message = assert_plain(err)
    assert dtype.name in message
    np.testing.assert_array_equal(t.numpy(), before)
    assert version(t) == 0


def test_inplace_op_whose_broadcast_result_does_not_fit_raises():
    t = nb.zeros(3)
    with pytest.raises(ValueError) as err:
        t += nb.ones(2, 3)
    message = assert_plain(err)
    assert "(3,)" in message and "(2, 3)" in message


def test_inplace_change_of_a_leaf_that_requires_grad_raises():
    w = nb.ones(3, requires_grad=True)
    for op in (lambda: w.add_(1), lambda: w.__imul__(2), lambda: w.zero_(),
               lambda: w.__setitem__(0, 1.0)):
        with pytest.raises(RuntimeError) as err:
            op()
        assert_plain(err)
    with nb.no_grad():
        w -= 1
    np.testing.assert_array_equal(w.detach().numpy(), [0, 0, 0])


# ---- error messages -------------------------------------------------------------------------

BROADCAST_OPS = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "pow": lambda a, b: a ** b,
    "maximum": lambda a, b: nb.maximum(a, b), "minimum": lambda a, b: nb.minimum(a, b),
    "lt": lambda a, b: a < b, "eq": lambda a, b: a == b,
    "where": lambda a, b: nb.where(a > 0, a, b), "add_": lambda a, b: a.add_(b),
    "matmul": lambda a, b: nb.matmul(a.reshape(2, 3, 1, 1), b.reshape(4, 1, 1)),
}


@pytest.mark.parametrize("op", list(BROADCAST_OPS))
def test_broadcasting_mismatch_names_the_op_and_both_shapes(op):
    a, b = nb.ones(2, 3), nb.ones(4)
    with pytest.raises(ValueError) as err:
        BROADCAST_OPS[op](a, b)
    message = assert_plain(err)
    assert message.startswith(op), message
    assert "(2, 3)" in message and "(4,)" in message


@pytest.mark.parametrize("form", ["nb.matmul", "@", "method"])
def test_matmul_inner_dimension_error_is_exact(form):
    a, b = nb.ones(5, 4), nb.ones(3, 2)
    with pytest.raises(ValueError) as err:
        {"nb.matmul": lambda: nb.matmul(a, b), "@": lambda: a @ b,
         "method": lambda: a.matmul(b)}[form]()
    assert assert_plain(err) == "matmul: (5, 4) @ (3, 2): inner dimensions 4 and 3 differ"


def test_mm_inner_dimension_error_names_the_shapes():
    with pytest.raises(ValueError) as err:
        nb.ones(5, 4).mm(nb.ones(3, 2))
    message = assert_plain(err)
    assert message.startswith("mm") and "(5, 4)" in message and "(3, 2)" in message
    with pytest.raises(ValueError) as err:
        nb.mm(nb.ones(4), nb.ones(4, 2))
    assert_plain(err)


def test_backward_on_a_non_scalar_output_raises():
    x = nb.ones(3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError) as err:
        y.backward()
    message = assert_plain(err)
    assert "(3,)" in message and "scalar" in message
    y.backward(nb.ones(3))  # with an explicit gradient it works
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2, 2])


def test_backward_of_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError) as err:
        nb.ones(3).sum().backward()
    assert_plain(err)


def test_numpy_of_a_tensor_that_requires_grad_raises():
    x = nb.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError) as err:
        x.numpy()
    assert "detach" in assert_plain(err)
    with pytest.raises(RuntimeError):
        np.asarray(x * 2)
    np.testing.assert_array_equal(x.detach().numpy(), [1, 1, 1])


@pytest.mark.parametrize("shape", [(3,), (2, 2), (0,)], ids=str)
def test_item_of_a_tensor_without_exactly_one_element_raises(shape):
    with pytest.raises((ValueError, RuntimeError)) as err:
        nb.zeros(shape).item()
    message = assert_plain(err)
    assert str(int(np.prod(shape))) in message and str(shape) in message


@pytest.mark.parametrize("make", [
    lambda: nb.tensor([1, 2], requires_grad=True),
    lambda: nb.zeros(2, dtype=I64, requires_grad=True),
    lambda: nb.ones(2, dtype=BOOL, requires_grad=True),
    lambda: nb.arange(3, requires_grad=True),
    lambda: nb.tensor([1, 2]).requires_grad_(),
    lambda: setattr(nb.tensor([True]), "requires_grad", True),
    lambda: nb.randint(0, 3, (2,)).requires_grad_(True),
], ids=["tensor", "zeros", "ones bool", "arange", "requires_grad_", "setattr", "randint"])
def test_requires_grad_on_int_or_bool_tensors_raises(make):
    with pytest.raises(RuntimeError) as err:
        make()
    assert "floating point" in assert_plain(err)


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "", "tpu", "cuda:-1", "cuda:0:1", "CPU0"])
def test_unknown_device_strings_raise(spec):
    for make in (lambda: nb.device(spec), lambda: nb.zeros(2, device=spec),
                 lambda: nb.tensor([1.0], device=spec), lambda: nb.ones(2).to(spec)):
        with pytest.raises((TypeError, RuntimeError) if spec == "cuda:-1" else RuntimeError) \
                as err:  # PyTorch: a RuntimeError
            make()
        assert repr(spec) in assert_plain(err)


def test_device_strings_like_pytorch():
    assert nb.device("cpu").type == "cpu"
    assert nb.device("cuda:1").type == "cuda" and nb.device("cuda:1").index == 1
    assert nb.device("cuda").index == 0 and nb.device("cuda") == nb.device("cuda:0")
    assert str(nb.device("cuda:0")) == "cuda:0"


@pytest.mark.cuda
def test_ops_mixing_devices_name_both_devices():
    a, b = nb.ones(3), nb.ones(3, device="cuda")
    for op in (lambda: a + b, lambda: a @ b, lambda: nb.where(a > 0, a, b), lambda: a.add_(b)):
        with pytest.raises(RuntimeError) as err:
            op()
        message = assert_plain(err)
        assert "cpu" in message and "cuda" in message


@pytest.mark.parametrize("make", [
    lambda: nb.zeros(0).argmax(), lambda: nb.zeros(2, 0).argmax(1),
    lambda: nb.zeros(0, 3).argmin(0), lambda: nb.zeros(2, 0).max(1), lambda: nb.zeros(0).max(),
    lambda: nb.zeros(0).min(),
], ids=["argmax()", "argmax(1)", "argmin(0)", "max(1)", "max()", "min()"])
def test_arg_and_extreme_reductions_of_empty_tensors_raise(make):
    """PyTorch refuses them: there is no largest element of nothing."""
    with pytest.raises((ValueError, RuntimeError, IndexError)) as err:
        make()
    assert_plain(err)


@pytest.mark.parametrize("op", [lambda b: -b, lambda b: b - b, lambda b: b - True],
                         ids=["neg", "sub", "sub scalar"])
def test_negating_or_subtracting_bool_tensors_raises(op):
    """PyTorch and NumPy refuse '-' on bools (``~`` is the logical negation)."""
    with pytest.raises((TypeError, RuntimeError)) as err:
        op(nb.tensor([True, False]))
    assert_plain(err)


BAD_INPUTS = {
    "pow int negative": lambda: nb.tensor([1, 2]) ** -1,
    "pow int negative tensor": lambda: nb.tensor([1, 2]) ** nb.tensor([-1, 1]),
    "matmul bool": lambda: nb.ones(2, 2, dtype=BOOL) @ nb.ones(2, 2, dtype=BOOL),
    "matmul 0-d": lambda: nb.ones(()) @ nb.ones(2),
    "matmul number": lambda: nb.ones(2) @ 3,
    "matmul batch": lambda: nb.ones(2, 3, 4) @ nb.ones(5, 4, 2),
    "mm 3-d": lambda: nb.ones(2, 2, 2).mm(nb.ones(2, 2)),
    "sum dim": lambda: nb.ones(2, 3).sum(5),
    "sum repeated dims": lambda: nb.ones(2, 3).sum((0, -2)),
    "mean int": lambda: nb.tensor([1, 2]).mean(),
    "transpose dim": lambda: nb.ones(2, 3).transpose(0, 5),
    "permute": lambda: nb.ones(2, 3).permute(0, 0),
    "permute length": lambda: nb.ones(2, 3).permute(0, 1, 2),
    "reshape": lambda: nb.ones(2, 3).reshape(4, 2),
    "reshape two -1": lambda: nb.ones(2, 3).reshape(-1, -1),
    "view": lambda: nb.ones(2, 3).view(7),
    "expand": lambda: nb.ones(2, 3).expand(3, 3),
    "expand fewer dims": lambda: nb.ones(2, 3).expand(3),
    "cat shapes": lambda: nb.cat([nb.ones(2, 3), nb.ones(2, 4)]),
    "cat empty": lambda: nb.cat([]),
    "cat not tensors": lambda: nb.cat([nb.ones(2), [1.0]]),
    "stack shapes": lambda: nb.stack([nb.ones(2, 3), nb.ones(2, 4)]),
    "squeeze dim": lambda: nb.ones(2, 3).squeeze(5),
    "unsqueeze dim": lambda: nb.ones(2).unsqueeze(3),
    "softmax dim": lambda: nb.ones(2, 3).softmax(3),
    "flatten dims": lambda: nb.ones(2, 3).flatten(1, 0),
    "clamp no bounds": lambda: nb.ones(2).clamp(),
    "clamp tensor bound": lambda: nb.ones(2).clamp(nb.zeros(2)),
    "where condition": lambda: nb.where([True], nb.ones(1), nb.ones(1)),
    "add str": lambda: nb.ones(2) + "a",
    "add None": lambda: nb.ones(2) + None,
    "mul object": lambda: nb.ones(2) * object(),
    "zeros negative": lambda: nb.zeros(-1),
    "zeros float size": lambda: nb.zeros(2.5),
    "randint empty range": lambda: nb.randint(5, 2, (3,)),
    "rand int dtype": lambda: nb.rand(2, dtype=I64),
    "tensor str": lambda: nb.tensor("abc"),
    "tensor None": lambda: nb.tensor(None),
    "tensor ragged": lambda: nb.tensor([[1, 2], [3]]),
    "dtype complex": lambda: nb.zeros(2, dtype="complex64"),
    "dtype unknown": lambda: nb.ones(2).to(dtype="float128"),
    "len 0-d": lambda: len(nb.ones(2).sum()),
    "bool of many": lambda: bool(nb.ones(3)),
    "size dim": lambda: nb.ones(2).size(5),
    "arange zero step": lambda: nb.arange(0, 3, 0),
    "from_numpy list": lambda: nb.from_numpy([1, 2]),
    "setitem str": lambda: nb.ones(3).__setitem__(0, "a"),
    "fill_ many": lambda: nb.zeros(3).fill_(nb.ones(2)),
    "copy_ shape": lambda: nb.zeros(3).copy_(nb.zeros(2)),
    "backward grad shape": lambda: (nb.ones(3, requires_grad=True) * 2).backward(nb.ones(4)),
    "index float": lambda: nb.ones(3)[1.0],
    "index out of bounds": lambda: nb.ones(3)[3],
    "index tensor out of bounds": lambda: nb.ones(3)[nb.tensor([5])],
    "mask shape": lambda: nb.ones(3)[nb.tensor([True, False])],
    "neg step": lambda: nb.ones(3)[::-1],
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_raises_an_ordinary_python_error(name):
    with pytest.raises(Exception) as err:
        BAD_INPUTS[name]()
    assert_plain(err)
    assert len(str(err.value)) > 20, "the message should say what was wrong"
