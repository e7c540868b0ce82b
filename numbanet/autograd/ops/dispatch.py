"""From tensors to backend calls: device checks, dtype promotion, broadcasting, output
allocation. Forward passes of ops use these; nothing here records a graph."""
from __future__ import annotations

import numpy as np

from ... import dtypes as dt
from ...shapes import broadcast_shapes
from ...tensor import Tensor

SCALARS = (int, float, bool, np.integer, np.floating, np.bool_)
_LOW, _END = dt.INT64_LOW, dt.INT64_END  # the Python ints an op takes, as in PyTorch


def too_big(value, op: str) -> OverflowError:
    return OverflowError(f"{op}: the integer {value} does not fit in int64 (an integer operand "
                         f"must lie in [-2**63, 2**63 - 1]); pass it as a float, e.g. "
                         f"{float(value):.6g}, or use a smaller value")


def number(value, dtype: dt.DType, op: str):
    """A Python or NumPy number as a scalar of ``dtype``; an integer outside int64 is an
    OverflowError even for a float dtype (PyTorch's rule), never a wrapped value."""
    if isinstance(value, (int, np.integer)) and not _LOW <= value < _END:
        raise too_big(value, op)
    return dtype.numpy.type(value)


def wrap(data, device, dtype, base=None) -> Tensor:
    return Tensor._wrap(data, device, dtype, base)


def same_device(op: str, *tensors: Tensor):
    dev = tensors[0]._device
    for t in tensors[1:]:
        if t._device is not dev:
            raise device_mismatch(op, dev, t._device)
    return dev


def device_mismatch(op: str, first, second) -> RuntimeError:
    """PyTorch's error for two devices meeting in one op, with the op and the fix."""
    return RuntimeError(f"{op}: Expected all tensors to be on the same device, but found at "
                        f"least two devices, {first} and {second}! Move them to one device "
                        f"first, e.g. with .to('{first}')")


def not_a_tensor(op: str, name: str, position: int, value) -> TypeError:
    """PyTorch's error for an argument that should be a Tensor (a list, an array...), with
    the fix."""
    return TypeError(f"{op}(): argument '{name}' (position {position}) must be Tensor, not "
                     f"{type(value).__name__}; convert it with nb.tensor(...)")


def as_tensor_operand(x, like: Tensor, op: str):
    """``x`` as a Tensor or a Python/NumPy scalar that an op can take beside ``like``."""
    if isinstance(x, Tensor) or isinstance(x, SCALARS):
        return x
    if isinstance(x, np.ndarray):
        if x.ndim == 0:
            return x.item()
        from ...creation import tensor
        return tensor(x, device=like._device)
    raise TypeError(f"{op}: unsupported operand of type {type(x).__name__}; expected a Tensor "
                    "or a number")


def raw_cast(t: Tensor, dtype: dt.DType):
    """The backend array of ``t`` converted to ``dtype`` (no graph)."""
    if t._dtype is dtype:
        return t._data
    be = t._device.backend
    out = be.empty(t._shape, dtype)
    be.unary("to_bool" if dtype is dt.bool_ else "identity", t._data, out)
    return out


def _operand(x, dtype, op):
    """The backend operand for ``x`` in an op computed in ``dtype``. Bool arrays go to the
    kernels as they are (their values convert exactly), saving a cast and a copy."""
    if isinstance(x, Tensor):
        return x._data if x._dtype is dtype or x._dtype is dt.bool_ else raw_cast(x, dtype)
    return number(x, dtype, op)


def result_type(a, b) -> dt.DType:
    """The dtype of an op on ``a`` and ``b`` (tensors or Python numbers), by PyTorch's rules:
    a number, or a 0-d tensor beside a tensor with dims, counts only when it is of a higher
    kind (bool < integer < float); a number then gives the default dtype of its kind, a 0-d
    tensor its own dtype."""
    if not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            return dt.promote_scalar(dt.promote_scalar(dt.bool_, a), b)
        a, b = b, a
    if not isinstance(b, Tensor):
        return dt.promote_scalar(a._dtype, b)
    if a._dtype is b._dtype:
        return a._dtype
    if (not a._shape) != (not b._shape):
        dims, zero = (a, b) if a._shape else (b, a)
        return zero._dtype if zero._dtype.category > dims._dtype.category else dims._dtype
    return dt.promote(a._dtype, b._dtype)


def binary(op: str, a, b, name: str, kind: str = "same") -> Tensor:
    """Run elementwise ``op`` on two operands (at least one a Tensor).

    ``kind``: ``'same'`` gives the promoted dtype, ``'float'`` promotes integers to
    float32 first, ``'bool'`` gives a bool result (comparisons)."""
    if a.__class__ is b.__class__ is Tensor and a._dtype is b._dtype and \
            a._device is b._device and a._shape == b._shape and \
            (kind == "same" or (kind == "float" and a._dtype.is_floating_point)):
        # the common case, kept short: same dtype, shape and device
        be = a._device.backend
        out = be.empty(a._shape, a._dtype)
        be.binary(op, a._data, b._data, out)
        return Tensor._wrap(out, a._device, a._dtype)
    if (b.__class__ is float or b.__class__ is int) and a.__class__ is Tensor \
            and a._dtype.is_floating_point:
        return _with_number(op, a, a._data, b, kind, False)  # x * 2.0, clamp(min=0)...
    if (a.__class__ is float or a.__class__ is int) and b.__class__ is Tensor \
            and b._dtype.is_floating_point:
        return _with_number(op, b, a, b._data, kind, True)  # 1 - x, lr * grad...
    if isinstance(a, Tensor):
        dev = a._device
        if isinstance(b, Tensor):
            if b._device is not dev:
                same_device(name, a, b)
            shape = a._shape if a._shape == b._shape else \
                broadcast_shapes(name, a._shape, b._shape)
        else:
            b = as_tensor_operand(b, a, name)
            if isinstance(b, Tensor):
                return binary(op, a, b, name, kind)
            shape = a._shape
    else:
        a = as_tensor_operand(a, b, name)
        if isinstance(a, Tensor):
            return binary(op, a, b, name, kind)
        dev = b._device
        shape = b._shape
    dtype = result_type(a, b)
    if kind == "float" and not dtype.is_floating_point:
        dtype = dt.DEFAULT_FLOAT
    ad = _operand(a, dtype, name)
    bd = _operand(b, dtype, name)
    out_dtype = dt.bool_ if kind == "bool" else dtype
    be = dev.backend
    out = be.empty(shape, out_dtype)
    be.binary(op, ad, bd, out)
    return Tensor._wrap(out, dev, out_dtype)


def _with_number(op, t: Tensor, a, b, kind, scalar_first) -> Tensor:
    """A float tensor with a Python int or float (a weak scalar): the tensor's dtype."""
    dtype = t._dtype
    if scalar_first:
        if a.__class__ is int and not _LOW <= a < _END:
            raise too_big(a, op)
        a = dtype.numpy.type(a)
    else:
        if b.__class__ is int and not _LOW <= b < _END:
            raise too_big(b, op)
        b = dtype.numpy.type(b)
    out_dtype = dt.bool_ if kind == "bool" else dtype
    be = t._device.backend
    out = be.empty(t._shape, out_dtype)
    be.binary(op, a, b, out)
    return Tensor._wrap(out, t._device, out_dtype)


def unary(op: str, x: Tensor, kind: str = "same") -> Tensor:
    """Run elementwise ``op`` on a tensor; ``kind='float'`` computes integers as float32."""
    dtype = x._dtype
    if kind == "float" and not dtype.is_floating_point:
        dtype = dt.DEFAULT_FLOAT
    elif kind == "bool":
        dtype = dt.bool_
    be = x._device.backend
    out = be.empty(x._shape, dtype)
    be.unary(op, x._data if kind != "float" else raw_cast(x, dtype), out)
    return Tensor._wrap(out, x._device, dtype)
