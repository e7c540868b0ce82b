"""Elementwise ops and their gradients. Shapes of broadcast inputs are restored by the
engine (``engine._fit``), so each backward returns the gradient at the output's shape."""
from __future__ import annotations

import math

import numpy as np

from ... import dtypes as dt
from ...shapes import broadcast_shapes
from ...tensor import Tensor
from ..function import Function
from ..grad_mode import state
from .dispatch import SCALARS, binary, number, raw_cast, result_type, same_device, unary


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return binary("add", a, b, "add")

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        return (g if na else None), (g if nb else None)


def _is_bool(o) -> bool:
    return o._dtype is dt.bool_ if isinstance(o, Tensor) else isinstance(o, (bool, np.bool_))


def _refuse_bool(op, *operands):
    """Subtraction and negation of bools are errors, as in PyTorch."""
    if not _is_bool(operands[0]) or not all(_is_bool(o) for o in operands[1:]):
        return  # the usual case, decided by the first operand
    hint = "~ or logical_not()" if op == "neg" else "^ or logical_xor()"
    raise TypeError(f"{op}: the - operator on bool tensors is not supported; to invert or "
                    f"compare masks use {hint}, or convert with .long() first")


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        if a.__class__ is not Tensor or a._dtype is dt.bool_:
            _refuse_bool("sub", a, b)
        return binary("sub", a, b, "sub")

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        return (g if na else None), (-g if nb else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return binary("mul", a, b, "mul")

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (g * b if na else None), (g * a if nb else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return binary("div", a, b, "div", kind="float")

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (g / b if na else None), (-g * a / (b * b) if nb else None)


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        if a.__class__ is not Tensor or not a._dtype.is_floating_point:
            _check_integer_power(a, b)
        out = binary("power", a, b, "pow")
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            if isinstance(b, Tensor):
                ga = g * where((b == 0) & (a == 0), 0.0, b * a ** (b - 1))
            elif b == 0:
                ga = g * 0.0
            elif b == 2 and not state.enabled:  # a square, as in losses: no graph to build
                ga = binary("mul", g, binary("mul", a, 2.0, "pow"), "pow")
            else:
                ga = g * (2 * a) if b == 2 else g * (b * a ** (b - 1))
        if nb:
            if isinstance(a, Tensor):
                log_a = where((a == 0) & (b >= 0), 0.0, log(a))
                gb = g * out * log_a
            else:
                gb = g * out * (math.log(a) if a > 0 else float("nan"))
        return ga, gb


def _is_integer(v) -> bool:
    if isinstance(v, Tensor):
        return not v._dtype.is_floating_point
    return isinstance(v, (int, np.integer))


def _check_integer_power(a, b):
    if _is_integer(a) and _is_integer(b):
        negative = bool((b < 0).any()) if isinstance(b, Tensor) else b < 0
        if negative:
            raise ValueError("pow: integers to negative integer powers are not allowed; "
                             "convert the base to float first (x.float() ** -1)")


class Neg(Function):
    @staticmethod
    def forward(ctx, x):
        _refuse_bool("neg", x)
        return unary("neg", x)

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        out = unary("exp", x, "float")
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return g * out


class Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return unary("log", x, "float")

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / x


class Sqrt(Function):
    @staticmethod
    def forward(ctx, x):
        out = unary("sqrt", x, "float")
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return g / (2 * out)


class Abs(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return unary("abs", x)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * sign(x)


class ReLU(Function):
    @staticmethod
    def forward(ctx, x):
        out = unary("relu", x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        if state.enabled:  # create_graph: a gradient that is itself differentiable
            return g * (out > 0)
        return binary("pass_if_positive", g, out, "relu")


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        out = unary("sigmoid", x, "float")
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return g * out * (1 - out)


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        out = unary("tanh", x, "float")
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return g * (1 - out * out)


class Clamp(Function):
    """``clamp(x, min, max)`` with Python numbers as bounds (either may be None)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.bounds = (lo, hi)
        out = x
        if lo is not None:
            out = binary("maximum", out, lo, "clamp")
        if hi is not None:
            out = binary("minimum", out, hi, "clamp")
        return out if out is not x else x.clone()

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        lo, hi = ctx.bounds
        if hi is None and not state.enabled:  # clamp(min=lo): one pass, as for ReLU
            return binary("pass_if_nonnegative", g, x if lo == 0 else x - lo, "clamp"), None, None
        inside = None
        if lo is not None:
            inside = x >= lo
        if hi is not None:
            upper = x <= hi
            inside = upper if inside is None else inside & upper
        return g * inside, None, None


class Maximum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return binary("maximum", a, b, "maximum")

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        share = where(a == b, 0.5, (a > b).to(g.dtype))  # ties split the gradient, as in PyTorch
        na, nb = ctx.needs_input_grad
        return (g * share if na else None), (g * (1 - share) if nb else None)


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return binary("minimum", a, b, "minimum")

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        share = where(a == b, 0.5, (a < b).to(g.dtype))
        na, nb = ctx.needs_input_grad
        return (g * share if na else None), (g * (1 - share) if nb else None)


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        tensors = [t for t in (cond, a, b) if isinstance(t, Tensor)]
        dev = same_device("where", *tensors)
        shape = broadcast_shapes("where", *(t._shape for t in tensors))
        dtype = result_type(a, b)
        operands = [raw_cast(t, dtype) if isinstance(t, Tensor) else number(t, dtype, "where")
                    for t in (a, b)]
        be = dev.backend
        out = be.empty(shape, dtype)
        be.where(raw_cast(cond, dt.bool_), operands[0], operands[1], out)
        return Tensor._wrap(out, dev, dtype)

    @staticmethod
    def backward(ctx, g):
        cond, = ctx.saved_tensors
        _, na, nb = ctx.needs_input_grad
        return None, (where(cond, g, 0.0) if na else None), (where(cond, 0.0, g) if nb else None)


# ---- the functional forms -------------------------------------------------------------

def add(a, b):
    return Add.apply(a, b)


def sub(a, b):
    return Sub.apply(a, b)


def mul(a, b):
    return Mul.apply(a, b)


def div(a, b):
    return Div.apply(a, b)


def pow(a, b):
    return Pow.apply(a, b)


def neg(x):
    return Neg.apply(x)


def exp(x):
    return Exp.apply(x)


def log(x):
    return Log.apply(x)


def sqrt(x):
    return Sqrt.apply(x)


def abs(x):
    return Abs.apply(x)


def relu(x):
    return ReLU.apply(x)


def sigmoid(x):
    return Sigmoid.apply(x)


def tanh(x):
    return Tanh.apply(x)


def sign(x):
    """-1, 0 or 1 by the sign of each element (no gradient)."""
    return unary("sign", x)


def clamp(x, min=None, max=None):
    """Limit every element to [min, max]; either bound may be None."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    for bound in (min, max):
        if bound is not None and not isinstance(bound, SCALARS):
            raise TypeError(f"clamp: bounds must be numbers, got {type(bound).__name__}; "
                            "use maximum/minimum for tensor bounds")
    return Clamp.apply(x, min, max)


def maximum(a, b):
    return Maximum.apply(a, b)


def minimum(a, b):
    return Minimum.apply(a, b)


def where(cond, a, b):
    """Elements of ``a`` where ``cond`` is true, else of ``b`` (tensors or numbers)."""
    if not isinstance(cond, Tensor):
        raise TypeError(f"where: the condition must be a bool Tensor, got {type(cond).__name__}")
    if cond._dtype is not dt.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {cond._dtype.name}; compare first, e.g. where(c != 0, "
                           "a, b)")
    return Where.apply(cond, a, b)


def compare(op: str, a, b) -> Tensor:
    """Comparisons and logical ops: bool results, no gradient."""
    return binary(op, a, b, op, kind="bool")


def logical_not(x: Tensor) -> Tensor:
    return unary("logical_not", x, "bool")


def _refuse_bitwise(op: str, *operands):
    """``& | ^ ~`` are bitwise on integers in PyTorch; numbanet has them for bool masks only,
    so integers and floats are refused rather than given a logical (bool) result."""
    for o in operands:
        if not _is_bool(o):
            kind = o._dtype.name if isinstance(o, Tensor) else type(o).__name__
            if op == "bitwise_not" and isinstance(o, Tensor) and o._dtype.is_floating_point:
                raise TypeError("~ (operator.invert) is only implemented on Boolean tensors "
                                "in numbanet; for a mask use (x == 0) or logical_not()")
            raise NotImplementedError(
                f"{op} is not implemented for {kind} operands: numbanet's & | ^ ~ work on bool "
                "tensors (masks); compare first, e.g. (x > 0) & (y > 0)")


def bitwise(op: str, a, b) -> Tensor:
    """``a & b``, ``a | b``, ``a ^ b`` of bool tensors (or bools)."""
    if a.__class__ is not Tensor or b.__class__ is not Tensor or a._dtype is not dt.bool_ \
            or b._dtype is not dt.bool_:
        _refuse_bitwise(f"bitwise_{op}", a, b)
    return binary(f"logical_{op}", a, b, f"bitwise_{op}", kind="bool")


def invert(x: Tensor) -> Tensor:
    """``~x`` of a bool tensor."""
    if x._dtype is not dt.bool_:
        _refuse_bitwise("bitwise_not", x)
    return unary("logical_not", x, "bool")
