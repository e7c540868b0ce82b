"""Matrix products: ``mm``, ``matmul`` (batched, broadcasting like NumPy's) and ``linear``
(``x @ weight.T + bias`` as one op, with its gradient ``LinearGrad``)."""
from __future__ import annotations

import math

from ... import dtypes as dt
from ...shapes import broadcast_shapes
from ...tensor import Tensor
from ..function import Function
from .dispatch import not_a_tensor, raw_cast, same_device, wrap
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
        return MatMulGrad.apply(g, a, b, ctx.needs_input_grad)


class MatMulGrad(Function):
    """The gradients of ``MatMul`` (a named primitive): ``g @ b^T`` and ``a^T @ g``, where
    ``needs`` asks, as plain backend products (the transposes are views). Batch dims keep
    their broadcast shape; the engine sums them back. Its own backward is written with
    ``MatMul``, so gradients of every order exist."""

    @staticmethod
    def forward(ctx, g, a, b, needs):
        na, nb = needs
        ctx.save_for_backward(g, a, b)  # kept only when recorded (create_graph)
        ctx.needs = needs
        be, dev, dtype = g._device.backend, g._device, g._dtype
        ga = gb = None
        if na:
            bd = b._data if b._dtype is dtype else raw_cast(b, dtype)
            ga = wrap(be.matmul(g._data, be.permute(bd, _SWAP_LAST[len(b._shape)])), dev, dtype)
        if nb:
            ad = a._data if a._dtype is dtype else raw_cast(a, dtype)
            gb = wrap(be.matmul(be.permute(ad, _SWAP_LAST[len(a._shape)]), g._data), dev, dtype)
        return ga, gb

    @staticmethod
    def backward(ctx, gga, ggb):
        g, a, b = ctx.saved_tensors
        na, nb = ctx.needs
        ng, need_a, need_b = ctx.needs_input_grad[:3]
        gga = gga if na else None
        ggb = ggb if nb else None
        grad_g = grad_a = grad_b = None
        if ng:  # d(g @ b^T)/dg: gga @ b; d(a^T @ g)/dg: a @ ggb
            terms = [MatMul.apply(gga, b)] if gga is not None else []
            if ggb is not None:
                terms.append(MatMul.apply(a, ggb))
            if terms:
                grad_g = terms[0] if len(terms) == 1 else terms[0] + terms[1]
        if need_a and ggb is not None:  # d(a^T @ g)/da: g @ ggb^T
            grad_a = MatMul.apply(g, _mT(ggb))
        if need_b and gga is not None:  # d(g @ b^T)/db: gga^T @ g
            grad_b = MatMul.apply(_mT(gga), g)
        return grad_g, grad_a, grad_b, None


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
        raise ValueError(f"mm: expects two matrices, got shapes {a._shape} and {b._shape}; "
                         "use matmul for vectors and batches")
    if a._shape[1] != b._shape[0]:
        raise ValueError(f"mm: {a._shape} @ {b._shape}: inner dimensions {a.shape[1]} and "
                         f"{b.shape[0]} differ")
    return MatMul.apply(a, b)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """NumPy's matmul: vectors, matrices and broadcast batches of matrices."""
    _check("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes "
                         f"{a._shape} and {b._shape}; use * to multiply by a scalar")
    inner_a = a.shape[-1]
    inner_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if inner_a != inner_b:
        raise ValueError(f"matmul: {a._shape} @ {b._shape}: inner dimensions {inner_a} and "
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


# ---- linear: x @ weight.T + bias as one op -----------------------------------------------

def _rows(shape) -> tuple:
    """(rows, features) of a shape: its leading dims as one (no -1, so 0 features work)."""
    return (math.prod(shape[:-1]), shape[-1])


def _as_rows(be, data, shape):
    """A backend array of ``shape`` as (rows, features): a view when its strides allow."""
    if len(shape) == 2:
        return data
    rows = be.reshape_view(data, _rows(shape))
    return rows if rows is not None else be.reshape_view(be.contiguous(data), _rows(shape))


class Linear(Function):
    """``x @ weight.T + bias`` as one recorded op, like PyTorch's addmm: one graph node
    instead of three, and a weight gradient made in the weight's own layout (``g.T @ x``)
    rather than a transposed gradient of ``weight.T``. Its backward is one ``LinearGrad``."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        be = x._device.backend
        out = be.matmul(_as_rows(be, x._data, x._shape), be.permute(weight._data, (1, 0)))
        if bias is not None:
            be.binary("add", out, bias._data, out)
        if len(x._shape) != 2:
            out = be.reshape_view(out, x._shape[:-1] + (weight._shape[0],))
        return wrap(out, x._device, x._dtype)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        return LinearGrad.apply(g, x, weight, ctx.has_bias, ctx.needs_input_grad)


class LinearGrad(Function):
    """The gradients of ``Linear`` (a named primitive, as PyTorch's ``threshold_backward``):
    for ``g`` of shape (rows, out), ``grad_x = g @ weight``, ``grad_weight = g.T @ x`` and
    ``grad_bias = g.sum(0)``, each computed only where ``needs`` asks, straight on the
    backend. Its own backward (``create_graph=True``, a gradient penalty) is written with
    ``linear`` and ``mm``, so gradients of every order exist."""

    @staticmethod
    def forward(ctx, g, x, weight, has_bias, needs):
        nx, nw, nb = needs
        ctx.save_for_backward(g, x, weight)  # kept only when recorded (create_graph)
        ctx.needs = (nx, nw, nb and has_bias)
        be, dev, dtype = g._device.backend, g._device, g._dtype
        flat = len(x._shape) == 2
        g2 = g._data if flat else _as_rows(be, g._data, g._shape)
        gx = gw = gb = None
        if nx:
            gx = be.matmul(g2, weight._data)
            gx = wrap(gx if flat else be.reshape_view(gx, x._shape), dev, dtype)
        if nw:
            x2 = x._data if flat else _as_rows(be, x._data, x._shape)
            gw = wrap(be.matmul(be.permute(g2, (1, 0)), x2), dev, dtype)
        if nb and has_bias:
            gb = wrap(be.reduce("sum", g2, (0,), dtype), dev, dtype)
        return gx, gw, gb

    @staticmethod
    def backward(ctx, ggx, ggw, ggb):
        g, x, weight = ctx.saved_tensors
        nx, nw, nb = ctx.needs
        ng, ngx, ngw = ctx.needs_input_grad[:3]
        g2, x2 = g.reshape(_rows(g.shape)), x.reshape(_rows(x.shape))
        ggx2 = ggx.reshape(_rows(ggx.shape)) if nx and ggx is not None else None
        ggw = ggw if nw else None
        ggb = ggb if nb else None
        grad_g = grad_x = grad_w = None
        if ng:  # d(grad_x)/dg: ggx @ weight.T; d(grad_w)/dg: x @ ggw.T; d(grad_b)/dg: ggb
            terms = []
            if ggx2 is not None:
                terms.append(linear(ggx2, weight, ggb))
                ggb = None
            if ggw is not None:
                terms.append(linear(x2, ggw, ggb))
                ggb = None
            if ggb is not None:
                terms.append(ggb.expand(g2.shape))
            if terms:
                grad_g = terms[0] if len(terms) == 1 else terms[0] + terms[1]
                grad_g = grad_g.reshape(g.shape)
        if ngx and ggw is not None:  # d(grad_w)/dx: g @ ggw
            grad_x = g2.mm(ggw).reshape(x.shape)
        if ngw and ggx2 is not None:  # d(grad_x)/dweight: g.T @ ggx
            grad_w = g2.t().mm(ggx2)
        return grad_g, grad_x, grad_w, None, None


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``, with ``weight`` shaped (out_features, in_features) and
    ``bias`` (out_features,), over the last dim of an input of any number of dims (as
    PyTorch's ``nn.functional.linear``). One recorded op when the three share a floating
    dtype; otherwise a matmul and an add with the usual type promotion::

        x = nb.randn(64, 1000)
        w, b = nb.randn(100, 1000), nb.zeros(100)
        linear(x, w, b).shape        # (64, 100)
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("linear", "input", 1, input)
    if not isinstance(weight, Tensor):
        raise not_a_tensor("linear", "weight", 2, weight)
    if bias is not None and not isinstance(bias, Tensor):
        raise not_a_tensor("linear", "bias", 3, bias)
    same_device("linear", input, weight, *(() if bias is None else (bias,)))
    shape, w_shape = input._shape, weight._shape
    if not shape or len(w_shape) != 2 or shape[-1] != w_shape[1]:
        raise ValueError(f"linear: input of shape {shape} can't be multiplied by a weight of "
                         f"shape {w_shape} (out_features, in_features): the input's last "
                         "dimension must equal in_features")
    if bias is not None and bias._shape != (w_shape[0],):
        raise ValueError(f"linear: bias of shape {bias._shape} does not fit a weight of shape "
                         f"{w_shape}; expected ({w_shape[0]},)")
    dtype = input._dtype
    if weight._dtype is not dtype or (bias is not None and bias._dtype is not dtype) or \
            not dtype.is_floating_point:
        out = matmul(input, weight.t())
        return out if bias is None else out + bias
    return Linear.apply(input, weight, bias)
