"""Every elementwise op of numbanet, written once as a scalar Python function.

Each backend compiles these same definitions for its target: ``njit`` on the
CPU, ``cuda.jit(device=True)`` on CUDA. Use only arithmetic, comparisons and
the ``math`` module here, so that both compilers accept the code.

``@float_result`` marks the ops whose result is a float for any input, as in PyTorch
(``exp`` of an int64 tensor is float32); the op layer and the graph checks read it.
"""
import math


def float_result(fn):
    fn.float_result = True
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


def logical_not(x):
    return not x


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
         (identity, neg, exp, log, sqrt, abs_, sign, relu, sigmoid, tanh, sin, cos, logical_not,
          to_bool)}
FLOAT_RESULT = frozenset(name for name, f in UNARY.items() if getattr(f, "float_result", False))
BINARY = {f.__name__: f for f in
          (add, sub, mul, div, power, maximum, minimum, eq, ne, lt, le, gt, ge,
           pass_if_positive, pass_if_nonnegative, logical_and, logical_or, logical_xor)}

# Reductions combine two values into one; ``sum`` accumulates in float64/int64.
REDUCE = {"sum": add, "prod": mul, "max": maximum, "min": minimum}
