"""Every elementwise op of numbanet, written once as a scalar Python function.

Each backend compiles these same definitions for its target: ``njit`` on the
CPU, ``cuda.jit(device=True)`` on CUDA. Use only arithmetic, comparisons and
the ``math`` module here, so that both compilers accept the code.

``@float_result`` marks the ops whose result is a float for any input, as in PyTorch
(``exp`` of an int64 tensor is float32), ``@bool_result`` those whose result is a bool
(``isnan``); the op layer and the graph checks read them.
"""
import math


def float_result(fn):
    fn.float_result = True
    return fn


def bool_result(fn):
    """Marks the unary ops whose result is a bool (isnan, logical_not...)."""
    fn.bool_result = True
    return fn

# ---- unary: one value in, one value out ------------------------------------------------


def identity(x):
    return x


def neg(x):
    return -x


@float_result
def exp(x):
    if x > 709.0:  # the CUDA simulator runs plain Python, whose math.exp raises on overflow
        return math.inf
    return math.exp(x)


@float_result
def log(x):
    if x < 0:
        return math.nan
    if x == 0:
        return -math.inf
    return math.log(x)


@float_result
def sqrt(x):
    if x < 0:
        return math.nan
    return math.sqrt(x)


def abs_(x):
    return -x if x < 0 else x


def sign(x):
    if x > 0:
        return 1
    if x < 0:
        return -1
    return 0 * x  # keeps NaN as NaN


def relu(x):
    return x if not x <= 0 else 0.0  # NaN passes through, as in PyTorch


@float_result
def sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@float_result
def tanh(x):
    return math.tanh(x)


@float_result
def sin(x):
    if x - x != 0:  # inf or NaN: NaN (plain Python, as the CUDA simulator runs, would raise)
        return math.nan
    return math.sin(x)


@float_result
def cos(x):
    if x - x != 0:
        return math.nan
    return math.cos(x)


# Guards first: NumPy's and C's answers at poles, overflow and outside the domain (NaN, inf),
# where plain Python's math, which the CUDA simulator runs, would raise instead.
_BIG = 4503599627370496.0  # 2**52: floats at least this large are integers already


@float_result
def tan(x):
    if x - x != 0:
        return math.nan
    return math.tan(x)


@float_result
def asin(x):
    if not -1.0 <= x <= 1.0:
        return math.nan
    return math.asin(x)


@float_result
def acos(x):
    if not -1.0 <= x <= 1.0:
        return math.nan
    return math.acos(x)


@float_result
def atan(x):
    return math.atan(x)


@float_result
def sinh(x):
    if x > 710.0:
        return math.inf
    if x < -710.0:
        return -math.inf
    return math.sinh(x)


@float_result
def cosh(x):
    if x > 710.0 or x < -710.0:
        return math.inf
    return math.cosh(x)


@float_result
def asinh(x):
    return math.asinh(x)


@float_result
def acosh(x):
    if x < 1.0:
        return math.nan
    return math.acosh(x)


@float_result
def atanh(x):
    if x == 1.0:
        return math.inf
    if x == -1.0:
        return -math.inf
    if not -1.0 < x < 1.0:
        return math.nan
    return math.atanh(x)


@float_result
def rsqrt(x):
    if x < 0:
        return math.nan
    if x == 0:
        return math.copysign(math.inf, x)
    return 1.0 / math.sqrt(x)


@float_result
def reciprocal(x):
    if x == 0:
        return math.copysign(math.inf, x)
    return 1.0 / x


@float_result
def exp2(x):
    if x >= 1024.0:
        return math.inf
    return 2.0 ** x


@float_result
def expm1(x):
    if x > 709.0:
        return math.inf
    return math.expm1(x)


@float_result
def log2(x):
    if x < 0:
        return math.nan
    if x == 0:
        return -math.inf
    return math.log2(x)


@float_result
def log10(x):
    if x < 0:
        return math.nan
    if x == 0:
        return -math.inf
    return math.log10(x)


@float_result
def log1p(x):
    if x < -1.0:
        return math.nan
    if x == -1.0:
        return -math.inf
    return math.log1p(x)


# Rounding keeps integers as they are (and NaN, inf and zeros with their sign).
def floor(x):
    if not abs(x) < _BIG or x == 0:
        return x
    return math.floor(x)


def ceil(x):
    if not abs(x) < _BIG or x == 0:
        return x
    return math.ceil(x)


def trunc(x):
    if not abs(x) < _BIG or x == 0:
        return x
    return math.floor(x) if x > 0 else math.ceil(x)  # (the simulator's NumPy scalars lack
    # math.trunc)


def round_(x):
    """To the nearest integer, ties to the even one (as NumPy and PyTorch)."""
    if not abs(x) < _BIG or x == 0:
        return x
    below = math.floor(x)
    rest = x - below  # exact below 2**52
    if rest > 0.5 or (rest == 0.5 and below % 2 != 0):
        return below + 1
    return below


def frac(x):
    if x - x != 0:
        return math.nan
    if not abs(x) < _BIG:
        return x - x
    return x - (math.floor(x) if x > 0 else math.ceil(x))


@float_result
def erf(x):
    return math.erf(x)


@float_result
def erfc(x):
    return math.erfc(x)


@float_result
def lgamma(x):
    if x - x != 0:  # inf at both infinities, NaN stays NaN
        return abs(x)
    if (x <= 0 and x % 1.0 == 0) or x > 2.5e305:  # the poles, and overflow
        return math.inf
    return math.lgamma(x)


@float_result
def digamma(x):
    """The logarithmic derivative of the gamma function: the recurrence up to 10, then the
    asymptotic series (error below 1e-13); the reflection formula below 0."""
    if x != x or x == -math.inf:
        return math.nan
    if x == math.inf:
        return math.inf
    if x == 0:
        return -math.inf  # as PyTorch
    result = 0.0
    if x < 0:
        if x % 1.0 == 0:
            return math.nan
        near = x - math.floor(x + 0.5)  # tan has period pi: pi * near keeps the digits
        result = -math.pi / math.tan(math.pi * near)
        x = 1.0 - x
    while x < 10.0:
        result -= 1.0 / x
        x += 1.0
    inv2 = 1.0 / (x * x)
    series = inv2 * (1.0 / 12 - inv2 * (1.0 / 120 - inv2 * (1.0 / 252 - inv2 * (
        1.0 / 240 - inv2 / 132))))
    return result + math.log(x) - 0.5 / x - series


@float_result
def trigamma(x):
    """The derivative of digamma (PyTorch's polygamma(1, x)), by the same method."""
    if x != x or x == -math.inf:
        return math.nan
    if x == math.inf:
        return 0.0
    if x <= 0 and x % 1.0 == 0:
        return math.inf
    result, sign = 0.0, 1.0
    if x < 0:  # trigamma(x) = pi^2 / sin^2(pi x) - trigamma(1 - x)
        s = math.sin(math.pi * (x - math.floor(x + 0.5)))  # sin^2 has period pi
        result, sign, x = math.pi * math.pi / s / s, -1.0, 1.0 - x  # (s * s) may underflow
    total = 0.0
    while x < 10.0:
        total += 1.0 / x / x  # (x * x) may underflow to 0
        x += 1.0
    inv = 1.0 / x
    inv2 = inv * inv
    total += inv + 0.5 * inv2 + inv * inv2 * (1.0 / 6 - inv2 * (1.0 / 30 - inv2 * (
        1.0 / 42 - inv2 * (1.0 / 30 - inv2 * 5.0 / 66))))
    return result + sign * total


@bool_result
def isnan(x):
    return x != x


@bool_result
def isinf(x):
    return x == math.inf or x == -math.inf


@bool_result
def isposinf(x):
    return x == math.inf


@bool_result
def isneginf(x):
    return x == -math.inf


@bool_result
def isfinite(x):
    return x - x == 0  # False for inf and NaN; integers are finite


@bool_result
def logical_not(x):
    return not x


@bool_result
def to_bool(x):
    return x != 0


# ---- binary: two values in, one value out ----------------------------------------------


def add(x, y):
    return x + y


def sub(x, y):
    return x - y


def mul(x, y):
    return x * y


def div(x, y):
    if y == 0:  # IEEE semantics (the sign of zero counts) instead of ZeroDivisionError
        if x == 0 or x != x:
            return math.nan
        return math.copysign(math.inf, x) * math.copysign(1.0, y)
    return x / y


def power(x, y):
    # Squares, the common case (losses, variances), skip pow(): x ** 2 with a number
    # exponent cost 13x a multiplication per element on the CPU, and the test on a
    # loop-invariant exponent is hoisted out of the loop.
    if y == 2:
        return x * x
    # C's pow on the special values; plain Python would raise or return a complex number.
    # ``y % 2.0`` (Python's modulo, in [0, 2)) is 1 exactly for odd integers.
    if x == 0 and y < 0:
        return math.copysign(math.inf, x) if y % 2.0 == 1.0 else math.inf
    if -math.inf < x < 0 and -math.inf < y < math.inf and y % 1.0 != 0:
        return math.nan
    return x ** y


def atan2(y, x):
    """The angle of the point (x, y), in (-pi, pi]; C's values at zeros and infinities."""
    return math.atan2(y, x)


def maximum(x, y):
    if x != x:
        return x
    return x if x > y else y


def minimum(x, y):
    if x != x:
        return x
    return x if x < y else y


def eq(x, y):
    return x == y


def ne(x, y):
    return x != y


def lt(x, y):
    return x < y


def le(x, y):
    return x <= y


def gt(x, y):
    return x > y


def ge(x, y):
    return x >= y


# Gradients of ReLU and clamp(min=...) as one pass: ``g`` where the input was kept, else 0
# (also where ``g`` is NaN or inf, as in PyTorch's threshold_backward).
def pass_if_positive(g, y):
    return g if y > 0 else 0.0


def pass_if_nonnegative(g, y):
    return g if y >= 0 else 0.0


def logical_and(x, y):
    return x != 0 and y != 0


def logical_or(x, y):
    return x != 0 or y != 0


def logical_xor(x, y):
    return (x != 0) != (y != 0)


UNARY = {f.__name__.rstrip("_"): f for f in
         (identity, neg, exp, log, sqrt, abs_, sign, relu, sigmoid, tanh, sin, cos, tan, asin,
          acos, atan, sinh, cosh, asinh, acosh, atanh, rsqrt, reciprocal, exp2, expm1,
          log2, log10, log1p, floor, ceil, trunc, round_, frac, erf, erfc, lgamma, digamma,
          trigamma, isnan, isinf, isposinf, isneginf, isfinite, logical_not, to_bool)}
FLOAT_RESULT = frozenset(name for name, f in UNARY.items() if getattr(f, "float_result", False))
BOOL_RESULT = frozenset(name for name, f in UNARY.items() if getattr(f, "bool_result", False))
BINARY = {f.__name__: f for f in
          (add, sub, mul, div, power, atan2, maximum, minimum, eq, ne, lt, le, gt, ge,
           pass_if_positive, pass_if_nonnegative, logical_and, logical_or, logical_xor)}

# Reductions combine two values into one; ``sum`` accumulates in float64/int64.
REDUCE = {"sum": add, "prod": mul, "max": maximum, "min": minimum}
