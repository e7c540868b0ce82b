"""Elementwise ops and their gradients. Shapes of broadcast inputs are restored by the
engine (``engine._fit``), so each backward returns the gradient at the output's shape."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ... import dtypes as dt
from ...shapes import broadcast_shapes
from ...tensor import Tensor
from ..function import Function
from .dispatch import SCALARS, binary, number, raw_cast, result_type, same_device, unary
from .registry import binary_op, unary_op


def _is_bool(o) -> bool:
    return o._dtype is dt.bool_ if isinstance(o, Tensor) else isinstance(o, (bool, np.bool_))


def _refuse_bool(op, *operands):
    """Subtraction and negation with a bool operand are errors, as in PyTorch."""
    if any(o._dtype is dt.bool_ if o.__class__ is Tensor else _is_bool(o) for o in operands):
        hint = "~ or logical_not()" if op == "neg" else "^ or logical_xor()"
        raise RuntimeError(f"{op}: subtraction, the - operator, with a bool tensor is not "
                           f"supported; to invert or compare masks use {hint}, or convert with "
                           ".long() first")


def _check_sub(a, b):
    if a.__class__ is Tensor and a._dtype is not dt.bool_ and (
            b.__class__ is float or b.__class__ is int
            or (b.__class__ is Tensor and b._dtype is not dt.bool_)):
        return  # the usual case, in few tests
    _refuse_bool("sub", a, b)


def _check_pow(a, b):
    if a.__class__ is not Tensor or not a._dtype.is_floating_point:
        if _is_bool(a) and b.__class__ is Tensor and b._dtype is dt.bool_:
            raise NotImplementedError("pow is not implemented for bool tensors (as in PyTorch); "
                                      "convert first, e.g. x.long() ** y")
        _check_integer_power(a, b)


_LN2, _LN10, _TWO_OVER_SQRT_PI = math.log(2.0), math.log(10.0), 2.0 / math.sqrt(math.pi)


def _zero_grad(g, x, y):
    return g * 0.0


def _mp_ref(name: str, *first):
    """A NumPy reference for the tests from mpmath (installed with PyTorch), with PyTorch's
    values at the poles; it imports mpmath only when called."""
    def ref(x):
        import mpmath

        def one(v):
            if v != v or v in (math.inf, -math.inf) or (v <= 0 and v == math.floor(v)):
                return _AT_POLES[name](v)
            value = getattr(mpmath, name)(*first, v)
            return float(mpmath.re(value)) if name == "loggamma" else float(value)
        return np.vectorize(one, otypes=[float])(x)
    return ref


# What lgamma, digamma and trigamma give at NaN, the infinities and the non-positive
# integers (mpmath has poles there), as PyTorch gives them.
_AT_POLES = {
    "loggamma": lambda v: math.fabs(v) if v - v != 0 else math.inf,
    "digamma": lambda v: (math.nan if v != v or v == -math.inf else math.inf
                          if v == math.inf else -math.inf if v == 0 else math.nan),
    "psi": lambda v: (math.nan if v != v or v == -math.inf else 0.0 if v == math.inf
                      else math.inf),
}


def _refuse_non_float(op):
    def check(x):
        if not x._dtype.is_floating_point:
            raise NotImplementedError(f"{op} is not implemented for {x._dtype.name} tensors "
                                      f"(as in PyTorch); convert first: x.float().{op}()")
    return check


def _refuse_bool_input(op):
    def check(x):
        if x._dtype is dt.bool_:
            raise RuntimeError(f"{op}: bool tensors are not supported (as in PyTorch); convert "
                               f"the mask first, e.g. x.long().{op}()")
    return check


def _pow_grad_base(g, a, b, y):
    if isinstance(b, Tensor):
        return g * where((b == 0) & (a == 0), 0.0, b * a ** (b - 1))
    if b == 0:
        return g * 0.0
    return SquareBackward.apply(g, a) if b == 2 else g * (b * a ** (b - 1))


def _pow_grad_exponent(g, a, b, y):
    if isinstance(a, Tensor):
        return g * y * where((a == 0) & (b >= 0), 0.0, log(a))
    return g * y * (math.log(a) if a > 0 else float("nan"))


def _larger_share(a, b, g):
    """1 where a > b, 0 where a < b, 1/2 at ties: ties split the gradient, as in PyTorch."""
    return where(a == b, 0.5, (a > b).to(g.dtype))


class SquareBackward(Function):
    """``g * (2 a)``, the gradient of ``a ** 2`` (the losses' square), as one op; linear in
    each of g and a, so its own gradients are ``2 a gg`` and ``2 g gg``."""

    @staticmethod
    def forward(ctx, g, a):
        ctx.save_for_backward(g, a)
        return binary("mul", g, binary("mul", a, 2.0, "pow"), "pow")

    @staticmethod
    def backward(ctx, gg):
        g, a = ctx.saved_tensors
        ng, na = ctx.needs_input_grad
        return (SquareBackward.apply(gg, a) if ng else None,
                SquareBackward.apply(gg, g) if na else None)


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


# ---- unary ops, declared in the registry ---------------------------------------------

class ThresholdBackward(Function):
    """``g`` where ``y > 0`` (``y >= 0`` with ``inclusive``), else 0, also where ``g`` is
    NaN or inf, in one pass: the gradient of ReLU and of ``clamp(min=...)`` (PyTorch's
    threshold_backward). A primitive of its own, so that its gradient is declared too: it
    is linear in ``g`` (the gradient there is itself) and flat in ``y``."""

    @staticmethod
    def forward(ctx, g, y, inclusive=False):
        ctx.save_for_backward(y)
        ctx.inclusive = inclusive
        return binary("pass_if_nonnegative" if inclusive else "pass_if_positive", g, y,
                      "threshold_backward")

    @staticmethod
    def backward(ctx, gg):
        y, = ctx.saved_tensors
        return ThresholdBackward.apply(gg, y, ctx.inclusive), None, None


neg = unary_op("neg", lambda g, x, y: -g, None, np.negative,
               check=lambda x: _refuse_bool("neg", x), operator="__neg__", doc="-x.")
exp = unary_op("exp", lambda g, x, y: g * y, "output", np.exp, doc="e to the power x.")
log = unary_op("log", lambda g, x, y: g / x, "input", np.log, domain=(0.1, 3.0),
               doc="The natural logarithm (nan below 0, -inf at 0).")
sqrt = unary_op("sqrt", lambda g, x, y: g / (2 * y), "output", np.sqrt, domain=(0.1, 3.0),
                doc="The square root (nan below 0).")
abs = unary_op("abs", lambda g, x, y: g * sign(x), "input", np.abs, avoid=0.0,
               check=_refuse_bool_input("abs"),
               operator="__abs__", doc="|x|; its gradient is sign(x) (0 at 0).")
relu = unary_op("relu", lambda g, x, y: ThresholdBackward.apply(g, y), "output",
                lambda x: np.maximum(x, 0), avoid=0.0, title="ReLU",
                check=_refuse_bool_input("relu"), doc="max(x, 0); NaN stays NaN.")
sigmoid = unary_op("sigmoid", lambda g, x, y: g * y * (1 - y), "output",
                   lambda x: 1 / (1 + np.exp(-x)), domain=(-6.0, 6.0), doc="1 / (1 + e^-x).")
tanh = unary_op("tanh", lambda g, x, y: g * (1 - y * y), "output", np.tanh,
                doc="The hyperbolic tangent; its gradient is 1 - tanh(x)².")
sin = unary_op("sin", lambda g, x, y: g * cos(x), "input", np.sin, doc="The sine (radians).")
# annotated, so that the type checker knows it in sin's gradient above
cos: Callable = unary_op("cos", lambda g, x, y: -g * sin(x), "input", np.cos,
                         doc="The cosine (radians).")
tan = unary_op("tan", lambda g, x, y: g * (1 + y * y), "output", np.tan, domain=(-1.2, 1.2),
               doc="The tangent (radians).")
asin = unary_op("asin", lambda g, x, y: g / sqrt(1 - x * x), "input", np.arcsin,
                domain=(-0.9, 0.9), aliases=("arcsin",), doc="The inverse sine (nan outside "
                "[-1, 1]).")
acos = unary_op("acos", lambda g, x, y: -g / sqrt(1 - x * x), "input", np.arccos,
                domain=(-0.9, 0.9), aliases=("arccos",), doc="The inverse cosine.")
atan = unary_op("atan", lambda g, x, y: g / (1 + x * x), "input", np.arctan,
                aliases=("arctan",), doc="The inverse tangent.")
sinh = unary_op("sinh", lambda g, x, y: g * cosh(x), "input", np.sinh,
                doc="The hyperbolic sine.")
cosh: Callable = unary_op("cosh", lambda g, x, y: g * sinh(x), "input", np.cosh,
                          doc="The hyperbolic cosine.")
asinh = unary_op("asinh", lambda g, x, y: g / sqrt(x * x + 1), "input", np.arcsinh,
                 aliases=("arcsinh",), doc="The inverse hyperbolic sine.")
acosh = unary_op("acosh", lambda g, x, y: g / sqrt(x * x - 1), "input", np.arccosh,
                 domain=(1.1, 3.0), aliases=("arccosh",),
                 doc="The inverse hyperbolic cosine (nan below 1).")
atanh = unary_op("atanh", lambda g, x, y: g / (1 - x * x), "input", np.arctanh,
                 domain=(-0.9, 0.9), aliases=("arctanh",),
                 doc="The inverse hyperbolic tangent (nan outside [-1, 1]).")
rsqrt = unary_op("rsqrt", lambda g, x, y: -0.5 * g * y * y * y, "output",
                 lambda x: 1 / np.sqrt(x), domain=(0.1, 3.0), doc="1 / sqrt(x).")
reciprocal = unary_op("reciprocal", lambda g, x, y: -g * y * y, "output",
                      lambda x: 1 / x, avoid=0.0, doc="1 / x (integers give floats).")
exp2 = unary_op("exp2", lambda g, x, y: g * y * _LN2, "output", np.exp2, doc="2 to the power x.")
expm1 = unary_op("expm1", lambda g, x, y: g * (y + 1), "output", np.expm1,
                 doc="e^x - 1, exact for small x.")
log2 = unary_op("log2", lambda g, x, y: g / (x * _LN2), "input", np.log2, domain=(0.1, 3.0),
                doc="The base-2 logarithm.")
log10 = unary_op("log10", lambda g, x, y: g / (x * _LN10), "input", np.log10,
                 domain=(0.1, 3.0), doc="The base-10 logarithm.")
log1p = unary_op("log1p", lambda g, x, y: g / (1 + x), "input", np.log1p, domain=(-0.9, 3.0),
                 doc="log(1 + x), exact for small x.")
# Rounding: flat between integers, so the gradient is 0, as in PyTorch; the gradient tests
# draw inside (0, 1), where there is no step.
floor = unary_op("floor", _zero_grad, None, np.floor, domain=(0.1, 0.9),
                 check=_refuse_bool_input("floor"), doc="The largest integer <= x.")
ceil = unary_op("ceil", _zero_grad, None, np.ceil, domain=(0.1, 0.9),
                check=_refuse_bool_input("ceil"), doc="The smallest integer >= x.")
trunc = unary_op("trunc", _zero_grad, None, np.trunc, domain=(0.1, 0.9), aliases=("fix",),
                 check=_refuse_bool_input("trunc"), doc="x rounded toward zero.")
round = unary_op("round", _zero_grad, None, np.round, domain=(0.1, 0.4),
                 check=_refuse_bool_input("round"),
                 doc="x rounded to the nearest integer, ties to the even one.")
frac = unary_op("frac", lambda g, x, y: g, None, lambda x: x - np.trunc(x),
                domain=(0.1, 0.9), check=_refuse_non_float("frac"),
                doc="The fractional part, x - trunc(x).")
erf = unary_op("erf", lambda g, x, y: g * _TWO_OVER_SQRT_PI * exp(-x * x), "input",
               np.vectorize(math.erf, otypes=[float]), doc="The error function.")
erfc = unary_op("erfc", lambda g, x, y: -g * _TWO_OVER_SQRT_PI * exp(-x * x), "input",
                np.vectorize(math.erfc, otypes=[float]), doc="1 - erf(x), exact for large x.")
trigamma = unary_op("trigamma", None, None, _mp_ref("psi", 1), method=False, inplace=False,
                    doc="The derivative of digamma (polygamma(1, x)).")
digamma = unary_op("digamma", lambda g, x, y: g * trigamma(x), "input", _mp_ref("digamma"),
                   domain=(0.2, 3.0), doc="The derivative of lgamma (psi).")
lgamma = unary_op("lgamma", lambda g, x, y: g * digamma(x), "input", _mp_ref("loggamma"),
                  domain=(0.2, 3.0), doc="The logarithm of |gamma(x)|.")


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
        if hi is None:  # clamp(min=lo): one pass, as for ReLU
            return ThresholdBackward.apply(g, x if lo == 0 else x - lo, True), None, None
        inside = None
        if lo is not None:
            inside = x >= lo
        if hi is not None:
            upper = x <= hi
            inside = upper if inside is None else inside & upper
        return g * inside, None, None


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


_ONLY_CONDITION = object()


def where(cond, a=_ONLY_CONDITION, b=_ONLY_CONDITION):
    """Elements of ``a`` where ``cond`` is true, else of ``b`` (tensors or numbers); with the
    condition alone, ``nonzero(cond, as_tuple=True)``, as in PyTorch."""
    if a is _ONLY_CONDITION and b is _ONLY_CONDITION:
        from .scatter import nonzero  # scatter.py is made of this module's ops
        return nonzero(cond, as_tuple=True)
    if a is _ONLY_CONDITION or b is _ONLY_CONDITION:
        raise TypeError("where() takes the condition alone, or the condition, input and other")
    if not isinstance(cond, Tensor):
        raise TypeError(f"where: the condition must be a bool Tensor, got {type(cond).__name__}")
    if cond._dtype is not dt.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor "
                           f"with dtype {cond._dtype.name}; compare first, e.g. where(c != 0, "
                           "a, b)")
    return Where.apply(cond, a, b)


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


def invert(x: Tensor) -> Tensor:
    """``~x`` of a bool tensor."""
    if x._dtype is not dt.bool_:
        _refuse_bitwise("bitwise_not", x)
    return unary("logical_not", x, "bool")


def _check_bitwise(op: str):
    def check(a, b):
        if a.__class__ is not Tensor or b.__class__ is not Tensor or a._dtype is not dt.bool_ \
                or b._dtype is not dt.bool_:
            _refuse_bitwise(op, a, b)
    return check


# ---- binary ops, declared in the registry --------------------------------------------

def _same(g, a, b, y):
    return g


add = binary_op("add", (_same, _same), "", np.add, alpha=True, operator="__add__",
                reflected="__radd__", inplace=True, inplace_operator="__iadd__",
                doc="a + alpha * b.")
sub = binary_op("sub", (_same, lambda g, a, b, y: -g), "", np.subtract, alpha=True,
                operator="__sub__", reflected="__rsub__", inplace=True,
                inplace_operator="__isub__", aliases=("subtract",), check=_check_sub,
                doc="a - alpha * b (not for bool tensors).")
mul = binary_op("mul", (lambda g, a, b, y: g * b, lambda g, a, b, y: g * a), "ab",
                np.multiply, operator="__mul__", reflected="__rmul__", inplace=True,
                inplace_operator="__imul__", aliases=("multiply",), doc="a * b.")
div = binary_op("div", (lambda g, a, b, y: g / b, lambda g, a, b, y: -g * a / (b * b)), "ab",
                np.true_divide, kind="float", operator="__truediv__", reflected="__rtruediv__",
                inplace=True, inplace_operator="__itruediv__", aliases=("divide", "true_divide"),
                domains=({}, dict(avoid=0.0)), doc="a / b, true division (integers as floats).")
pow = binary_op("pow", (_pow_grad_base, _pow_grad_exponent), "aby", np.power, kernel="power",
                operator="__pow__", reflected="__rpow__", inplace=True,
                inplace_operator="__ipow__", check=_check_pow,
                domains=(dict(low=0.2, high=2.0), dict(low=-2.0, high=2.0)),
                doc="a to the power b (integers to negative integer powers are refused).")
atan2 = binary_op("atan2", (lambda g, a, b, y: g * b / (a * a + b * b),
                           lambda g, a, b, y: -g * a / (a * a + b * b)), "ab", np.arctan2,
                  kind="float", inplace=True, aliases=("arctan2",),
                  domains=(dict(avoid=0.0), dict(avoid=0.0)),
                  doc="The angle of the point (other, input) in radians, in (-pi, pi].")
maximum = binary_op("maximum", (lambda g, a, b, y: g * _larger_share(a, b, g),
                                lambda g, a, b, y: g * (1 - _larger_share(a, b, g))), "ab",
                    np.maximum, untied=True, doc="The larger of a and b; NaN if either is NaN.")
minimum = binary_op("minimum", (lambda g, a, b, y: g * _larger_share(b, a, g),
                                lambda g, a, b, y: g * (1 - _larger_share(b, a, g))), "ab",
                    np.minimum, untied=True, doc="The smaller of a and b; NaN if either is NaN.")

# Comparisons and logical ops: bool results, no gradient.
eq = binary_op("eq", None, "", np.equal, kind="bool", operator="__eq__", inplace=True,
               doc="a == b, elementwise.")
ne = binary_op("ne", None, "", np.not_equal, kind="bool", operator="__ne__", inplace=True,
               aliases=("not_equal",), doc="a != b, elementwise.")
lt = binary_op("lt", None, "", np.less, kind="bool", operator="__lt__", inplace=True,
               aliases=("less",), doc="a < b, elementwise.")
le = binary_op("le", None, "", np.less_equal, kind="bool", operator="__le__", inplace=True,
               aliases=("less_equal",), doc="a <= b, elementwise.")
gt = binary_op("gt", None, "", np.greater, kind="bool", operator="__gt__", inplace=True,
               aliases=("greater",), doc="a > b, elementwise.")
ge = binary_op("ge", None, "", np.greater_equal, kind="bool", operator="__ge__", inplace=True,
               aliases=("greater_equal",), doc="a >= b, elementwise.")
logical_and = binary_op("logical_and", None, "", np.logical_and, kind="bool", inplace=True,
                        doc="a and b, elementwise, for any dtype (non-zero is true).")
logical_or = binary_op("logical_or", None, "", np.logical_or, kind="bool", inplace=True,
                       doc="a or b, elementwise, for any dtype (non-zero is true).")
logical_xor = binary_op("logical_xor", None, "", np.logical_xor, kind="bool", inplace=True,
                        doc="Exactly one of a and b, elementwise, for any dtype.")
bitwise_and = binary_op("bitwise_and", None, "", np.logical_and, kernel="logical_and",
                        kind="bool", operator="__and__", reflected="__rand__",
                        inplace_operator="__iand__", check=_check_bitwise("bitwise_and"),
                        doc="a & b of bool tensors (masks).")
bitwise_or = binary_op("bitwise_or", None, "", np.logical_or, kernel="logical_or", kind="bool",
                       operator="__or__", reflected="__ror__", inplace_operator="__ior__",
                       check=_check_bitwise("bitwise_or"), doc="a | b of bool tensors (masks).")
bitwise_xor = binary_op("bitwise_xor", None, "", np.logical_xor, kernel="logical_xor",
                        kind="bool", operator="__xor__", reflected="__rxor__",
                        inplace_operator="__ixor__", check=_check_bitwise("bitwise_xor"),
                        doc="a ^ b of bool tensors (masks).")


def square(x):
    """``x ** 2`` (integers stay integers; bools become int64, as in PyTorch)."""
    return pow(x, 2)


def square_(x):
    return x.pow_(2)
