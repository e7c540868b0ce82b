"""In-place ops: ``x += y``, ``add_``, ``zero_``, ``fill_``, ``copy_``, ``x[k] = v``.

Outside autograd they write into the tensor's memory and bump its version. When
autograd records them (grad mode on and a tensor involved requires grad), the
new value is computed out of place and written back, and the tensor takes the
new op as its ``grad_fn`` (PyTorch's "rebase").
"""
from __future__ import annotations

from ... import dtypes as dt
from ...shapes import broadcast_shapes, has_internal_overlap
from ...tensor import Tensor
from ..grad_mode import no_grad, state
from . import elementwise
from .dispatch import SCALARS, as_tensor_operand, number, raw_cast, same_device, wrap
from .indexing import IndexPut, put
from .shape import clone, expand

OVERLAP = ("unsupported operation: more than one element of the written-to tensor refers to "
           "a single memory location. Please clone() the tensor before performing the operation.")


def _overlaps(x: Tensor) -> bool:
    return has_internal_overlap(x._shape, x._data.strides, x._dtype.itemsize)


def writable(x: Tensor) -> bool:
    """Whether ``x`` can be written in place: its memory is writable and no two of its
    elements share a location. The backend sees read-only memory and expand()ed views; other
    overlaps only come with foreign memory (a ForeignVersion), checked here from the strides."""
    be = x._device.backend
    return be.is_writable(x._data) and (x._vc.__class__ is list or be.is_contiguous(x._data)
                                        or not _overlaps(x))


def _check_writable(x: Tensor, op: str):
    if writable(x):
        return
    if _overlaps(x):
        raise RuntimeError(f"{op}: {OVERLAP} (the tensor of shape {x._shape} has strides "
                           f"{x.stride()}: an expand()ed view or memory laid out with "
                           "overlapping strides)")
    raise RuntimeError(f"{op}: the tensor of shape {x._shape} can't be written in place: its "
                       "memory is read-only (e.g. a read-only NumPy array); clone() it first")


def _tracked(x: Tensor, other=None) -> bool:
    return state.enabled and (x._requires_grad or
                              (isinstance(other, Tensor) and other._requires_grad))


def _rebase(x: Tensor, compute, op: str) -> Tensor:
    """Record an in-place op: ``x`` becomes ``compute(previous x)``."""
    if x.grad_fn is None and x._requires_grad:
        raise RuntimeError(f"{op}: a leaf tensor that requires grad is being changed in place; "
                           "do it inside `with nb.no_grad():` (as optimizers do) or on a clone")
    if x._base is not None and x._base._requires_grad:
        raise RuntimeError(f"{op}: changing in place a view of a tensor that requires grad is "
                           "not supported; use an out-of-place op (e.g. nb.where) instead")
    _check_writable(x, op)
    previous = x._alias()
    previous.grad_fn, previous._output_nr = x.grad_fn, x._output_nr
    previous._requires_grad = x._requires_grad
    new = compute(clone(previous))
    be = x._device.backend
    be.unary("identity", raw_cast(new, x._dtype), x._data)
    x._bump_version()
    x.grad_fn, x._output_nr, x._requires_grad = new.grad_fn, new._output_nr, new._requires_grad
    return x


def inplace(op: str, x: Tensor, other) -> Tensor:
    """``x op= other`` for op in add, sub, mul, div."""
    if other.__class__ is Tensor and x._dtype.is_floating_point and other._dtype is x._dtype \
            and other._shape == x._shape and other._device is x._device \
            and x._vc.__class__ is list and other._vc is not x._vc and not _tracked(x, other):
        be = x._device.backend
        if be.is_writable(x._data):  # the common case (w -= lr * g), without the general checks
            be.binary(op, x._data, other._data, x._data)
            x._bump_version()
            return x
    name = f"{op}_"
    other = as_tensor_operand(other, x, name)
    if _tracked(x, other):
        fn = getattr(elementwise, op)
        return _rebase(x, lambda prev: fn(prev, other), name)
    _check_writable(x, name)
    if isinstance(other, Tensor):
        same_device(name, x, other)
        result = dt.promote(x._dtype, other._dtype)
        if broadcast_shapes(name, x._shape, other._shape) != x._shape:
            raise ValueError(f"{name}: the result of shape "
                             f"{broadcast_shapes(name, x._shape, other._shape)} does not fit "
                             f"in place into the tensor of shape {x._shape}")
        if other._vc is x._vc:
            other = clone(other)
        operand = raw_cast(other, x._dtype)
    else:
        result = dt.promote_scalar(x._dtype, other)
        operand = number(other, x._dtype, name)
    if op == "div" and not x._dtype.is_floating_point:
        result = dt.float32
    if result.category > x._dtype.category:
        raise TypeError(f"{name}: the result type {result.name} can't be stored in place into a "
                        f"{x._dtype.name} tensor; use an out-of-place op or convert the tensor")
    x._device.backend.binary(op, x._data, operand, x._data)
    x._bump_version()
    return x


def inplace_unary(x: Tensor, fn, *others) -> Tensor:
    """``x`` replaced by ``fn(x)`` (for clamp_, relu_); ``others`` are tensors that ``fn``
    reads besides ``x`` (pow_'s exponent, scatter_'s source), recorded too where they
    require grad."""
    if _tracked(x) or any(_tracked(x, o) for o in others):
        return _rebase(x, fn, "in-place op")
    _check_writable(x, "in-place op")
    with no_grad():
        new = fn(x)
    x._device.backend.unary("identity", raw_cast(new, x._dtype), x._data)
    x._bump_version()
    return x


def fill_(x: Tensor, value) -> Tensor:
    if value.__class__ is not float:  # zero_ passes 0.0
        if isinstance(value, Tensor):
            value = value.item()
        elif not isinstance(value, SCALARS):
            raise TypeError(f"fill_: the value must be a number or a one-element Tensor, got "
                            f"{type(value).__name__}")
        value = number(value, x._dtype, "fill_").item()
    if _tracked(x):
        return _rebase(x, lambda prev: prev * 0 + value, "fill_")
    _check_writable(x, "fill_")
    x._device.backend.unary("identity", x._dtype.numpy.type(value), x._data)
    x._bump_version()
    return x


def copy_(x: Tensor, src) -> Tensor:
    if not isinstance(src, Tensor):
        return fill_(x, src)
    if src._device is not x._device:
        src = src.to(x._device)
    if _tracked(x, src):
        return _rebase(x, lambda prev: prev * 0 + expand(src, x.shape).to(x.dtype), "copy_")
    _check_writable(x, "copy_")
    put(x, Ellipsis, src)
    x._bump_version()
    return x


def setitem(x: Tensor, key, value):
    if _tracked(x, value):
        _rebase(x, lambda prev: IndexPut.apply(prev, value, key), "index assignment")
        return
    _check_writable(x, "index assignment")
    put(x, key, value)
    x._bump_version()


def add_into(dst: Tensor, src: Tensor):
    """``dst += src`` for gradient accumulation (no checks, no graph)."""
    data = src._data if src._dtype is dst._dtype else raw_cast(src, dst._dtype)
    dst._device.backend.binary("add", dst._data, data, dst._data)
    dst._bump_version()


def zeros_on(shape, dtype, device) -> Tensor:
    return wrap(device.backend.full(shape, 0, dtype), device, dtype)
