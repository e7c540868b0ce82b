"""Reductions made of the primitive ones (``reduction.py``), as PyTorch names them:
``amin``, ``aminmax``, ``logsumexp``, ``norm`` (and ``linalg.vector_norm``), ``count_nonzero``,
``var_mean``, ``std_mean``. Their gradients come from the ops they are made of."""
from __future__ import annotations

import math
from typing import NamedTuple

from ... import dtypes as dt
from ...shapes import normalize_dims
from ...tensor import Tensor
from .dispatch import not_a_tensor
from .elementwise import abs, exp, log, where
from .reduction import Extreme, _check_reducible, amax, mean, sum, var


class _MinMax(NamedTuple):
    """What ``aminmax`` returns: ``.min`` and ``.max``."""
    min: Tensor
    max: Tensor


def _tensor(op: str, x) -> Tensor:
    if not isinstance(x, Tensor):
        raise not_a_tensor(op, "input", 1, x)
    return x


def amin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """The smallest values over ``dim`` (all dims when None); ties share the gradient."""
    x = _tensor("amin", input)
    dims = normalize_dims(dim, x.ndim, "amin")
    _check_reducible("amin", x, None if dim is None else dims)
    return Extreme.apply(x, "min", dims, keepdim)


def aminmax(input: Tensor, *, dim=None, keepdim: bool = False):
    """``(min, max)`` over ``dim`` (of the whole tensor when None), a named pair."""
    x = _tensor("aminmax", input)
    return _MinMax(amin(x, dim, keepdim), amax(x, dim, keepdim))


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``dim``, computed without overflow (the largest value is
    taken out first; infinities as PyTorch handles them)."""
    x = _tensor("logsumexp", input)
    if not x._dtype.is_floating_point:
        x = x.to(dt.DEFAULT_FLOAT)
    dims = normalize_dims(dim, x.ndim, "logsumexp")
    if not x.numel():
        return log(sum(exp(x), dims, keepdim))
    top = amax(x, dims, keepdim=True).detach()
    top = where(top.isinf(), 0.0, top)  # all -inf or +inf: no shift (the sum says it)
    out = log(sum(exp(x - top), dims, keepdim=True)) + top
    return out if keepdim else _squeezed(out, dims)


def _squeezed(t: Tensor, dims) -> Tensor:
    shape = tuple(s for i, s in enumerate(t.shape) if i not in dims)
    return t.reshape(shape)


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The ``ord``-norm of the entries over ``dim`` (all when None): ``sum(|x|^ord)^(1/ord)``;
    ``inf`` the largest |x|, ``-inf`` the smallest, 0 the count of non-zeros."""
    x = _tensor("vector_norm", x)
    if not x._dtype.is_floating_point:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor "
                           f"as input. Got {x._dtype.name}")
    if dtype is not None:
        x = x.to(dtype)
    dims = normalize_dims(dim, x.ndim, "vector_norm")
    a = abs(x)
    if ord == math.inf:
        return amax(a, dims, keepdim)
    if ord == -math.inf:
        return amin(a, dims, keepdim)
    if ord == 0:
        return sum((x != 0).to(x.dtype), dims, keepdim)
    if ord == 1:
        return sum(a, dims, keepdim)
    if ord == 2:
        return sum(x * x, dims, keepdim).sqrt()
    return sum(a ** ord, dims, keepdim) ** (1.0 / ord)


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """``torch.norm``: the vector ``p``-norm over ``dim`` (``'fro'``: 2 over the given dims,
    the whole tensor by default)."""
    x = _tensor("norm", input)
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str):
        raise RuntimeError(f"norm: p={p!r} is not supported (numbanet has the vector norms: "
                           "a number, inf, -inf or 'fro')")
    return vector_norm(x, p, dim, keepdim, dtype=dtype)


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """The number of non-zero entries over ``dim`` (all when None), as int64."""
    x = _tensor("count_nonzero", input)
    dims = normalize_dims(dim, x.ndim, "count_nonzero")
    return sum((x != 0).to(dt.int64), dims)


def var_mean(input: Tensor, dim=None, *, correction=1, keepdim: bool = False,
             unbiased=None):
    """``(var, mean)`` over ``dim``."""
    x = _tensor("var_mean", input)
    if unbiased is not None:
        correction = 1 if unbiased else 0
    return (var(x, dim, keepdim=keepdim, correction=correction), mean(x, dim, keepdim))


def std_mean(input: Tensor, dim=None, *, correction=1, keepdim: bool = False,
             unbiased=None):
    """``(std, mean)`` over ``dim``."""
    v, m = var_mean(input, dim, correction=correction, keepdim=keepdim, unbiased=unbiased)
    return v.sqrt(), m
