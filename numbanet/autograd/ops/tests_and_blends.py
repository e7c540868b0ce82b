"""Tests of values (``isnan``, ``isinf``, ``isfinite``, ``isclose``, ``allclose``, ``equal``),
``nan_to_num``, and the blends ``lerp``, ``addcmul``, ``addcdiv``, ``hypot``, as PyTorch has
them. The blends and ``nan_to_num`` are made of differentiable ops, so their gradients
come with them; the tests give bool tensors (or Python bools) and no gradient."""
from __future__ import annotations

from ... import dtypes as dt
from ...tensor import Tensor
from .dispatch import not_a_tensor, unary
from .elementwise import abs, sqrt, where


def _tensor(op: str, x, position: int = 1, name: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise not_a_tensor(op, name, position, x)
    return x


def _test(op: str):
    def test(input: Tensor) -> Tensor:
        x = _tensor(op, input)
        if not x._dtype.is_floating_point:  # integers and bools are finite, never NaN
            return x == x if op == "isfinite" else x != x
        return unary(op, x, "bool")
    test.__name__ = test.__qualname__ = op
    test.__doc__ = f"``{op}`` of each element, as a bool tensor."
    return test


isnan = _test("isnan")
isinf = _test("isinf")
isposinf = _test("isposinf")
isneginf = _test("isneginf")
isfinite = _test("isfinite")


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """NaN replaced by ``nan``, inf and -inf by ``posinf`` and ``neginf`` (by default the
    largest and smallest finite values of the dtype)."""
    x = _tensor("nan_to_num", input)
    if not x._dtype.is_floating_point:
        return x.clone()
    import numpy as np
    info = np.finfo(x._dtype.numpy)
    high = float(info.max) if posinf is None else posinf
    low = float(info.min) if neginf is None else neginf
    out = where(isnan(x), nan, x)
    out = where(isposinf(x), high, out)
    return where(isneginf(x), low, out)


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """``|input - other| <= atol + rtol * |other|`` elementwise (equal infinities close)."""
    a, b = _tensor("isclose", input), _tensor("isclose", other, 2, "other")
    if a._dtype is not b._dtype:
        raise RuntimeError(f"{a._dtype.name} did not match {b._dtype.name}")
    if rtol < 0 or atol < 0:
        raise RuntimeError(f"isclose: rtol and atol must be non-negative, got rtol={rtol} and "
                           f"atol={atol}")
    same = a == b
    if not a._dtype.is_floating_point:
        if a._dtype is dt.bool_:
            return same
        return same | (abs(a - b) <= atol + rtol * abs(b))
    near = isfinite(a) & isfinite(b) & (abs(a - b) <= atol + rtol * abs(b))
    close = same | near
    return close | (isnan(a) & isnan(b)) if equal_nan else close


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).all().item())


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both have the same shape and the same values."""
    a, b = _tensor("equal", input), _tensor("equal", other, 2, "other")
    return a._shape == b._shape and bool((a == b).all().item())


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """``input + weight * (end - input)``; ``weight`` a number or a tensor."""
    start = _tensor("lerp", input)
    return start + weight * (end - start)


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``input + value * tensor1 * tensor2``."""
    product = tensor1 * tensor2
    return _tensor("addcmul", input) + (product if value == 1 else value * product)


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``input + value * tensor1 / tensor2``."""
    if not tensor1._dtype.is_floating_point and not tensor2._dtype.is_floating_point:
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a "
                           "future release addcdiv will perform a true division of tensor1 "
                           "and tensor2. Use tensor1.float() / tensor2 first.")
    quotient = tensor1 / tensor2
    return _tensor("addcdiv", input) + (quotient if value == 1 else value * quotient)


def hypot(input: Tensor, other: Tensor) -> Tensor:
    """``sqrt(input ** 2 + other ** 2)``."""
    a, b = _tensor("hypot", input), _tensor("hypot", other, 2, "other")
    return sqrt(a * a + b * b)


# in place: x.lerp_(end, w)... (the right side is computed first, then added in)
def lerp_(input: Tensor, end: Tensor, weight) -> Tensor:
    return input.add_(weight * (end - input))


def addcmul_(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    return input.add_(tensor1 * tensor2 * value)


def addcdiv_(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    return input.add_(tensor1 / tensor2 * value)
