"""Matrix products: ``mm``, ``matmul`` (batched, broadcasting like NumPy's)."""
from __future__ import annotations

from ... import dtypes as dt
from ...shapes import broadcast_shapes
from ...tensor import Tensor
from ..function import Function
from ..grad_mode import state
from .dispatch import raw_cast, same_device
from .shape import Permute, squeeze, unsqueeze

_SWAP_LAST = {n: tuple(range(n - 2)) + (n - 1, n - 2) for n in range(2, 9)}


def _mT(x: Tensor) -> Tensor:
    """Transpose of the last two dims, as a view (no argument checks: for backward)."""
    return Permute.apply(x, _SWAP_LAST[len(x._shape)])


class MatMul(Function):
    """Product of tensors with at least 2 dims; batch dims broadcast (the engine sums the
    gradient back over them)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        if a._dtype is b._dtype:
            dtype = a._dtype
            out = a._device.backend.matmul(a._data, b._data)
        else:
            dtype = dt.promote(a._dtype, b._dtype)
            out = a._device.backend.matmul(raw_cast(a, dtype), raw_cast(b, dtype))
        return Tensor._wrap(out, a._device, dtype)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        if not state.enabled and a._dtype is b._dtype is g._dtype:
            return _matmul_grads(g, a, b, na, nb)  # no create_graph: straight to the backend
        ga = MatMul.apply(g, _mT(b)) if na else None
        gb = MatMul.apply(_mT(a), g) if nb else None
        return ga, gb


def _matmul_grads(g, a, b, na: bool, nb: bool):
    """g @ b^T and a^T @ g as plain backend calls (transposes are views)."""
    be, dev, dtype = g._device.backend, g._device, g._dtype

    def product(x, y):
        return Tensor._wrap(be.matmul(x, y), dev, dtype)

    ga = product(g._data, be.permute(b._data, _SWAP_LAST[len(b._shape)])) if na else None
    gb = product(be.permute(a._data, _SWAP_LAST[len(a._shape)]), g._data) if nb else None
    return ga, gb


def _check(op: str, a, b):
    for x in (a, b):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: expected Tensors, got {type(x).__name__}")
        if x._dtype is dt.bool_:
            raise TypeError(f"{op}: bool tensors cannot be multiplied; convert with .float()")
    if a._device is not b._device:
        same_device(op, a, b)


def mm(a: Tensor, b: Tensor) -> Tensor:
    """Product of two matrices: (n, k) @ (k, m) -> (n, m)."""
    _check("mm", a, b)
    if len(a._shape) != 2 or len(b._shape) != 2:
        raise ValueError(f"mm: expects two matrices, got shapes {a.shape} and {b.shape}; "
                         "use matmul for vectors and batches")
    if a._shape[1] != b._shape[0]:
        raise ValueError(f"mm: {a.shape} @ {b.shape}: inner dimensions {a.shape[1]} and "
                         f"{b.shape[0]} differ")
    return MatMul.apply(a, b)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """NumPy's matmul: vectors, matrices and broadcast batches of matrices."""
    _check("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes "
                         f"{a.shape} and {b.shape}; use * to multiply by a scalar")
    inner_a = a.shape[-1]
    inner_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if inner_a != inner_b:
        raise ValueError(f"matmul: {a.shape} @ {b.shape}: inner dimensions {inner_a} and "
                         f"{inner_b} differ")
    a2 = unsqueeze(a, 0) if a.ndim == 1 else a
    b2 = unsqueeze(b, -1) if b.ndim == 1 else b
    if a2.ndim > 2 or b2.ndim > 2:
        broadcast_shapes("matmul", a2.shape[:-2], b2.shape[:-2])
    out = MatMul.apply(a2, b2)
    if a.ndim == 1:
        out = squeeze(out, -2)
    if b.ndim == 1:
        out = squeeze(out, -1)
    return out
