"""Reductions over any set of dims (sum, mean, var, max, min, argmax, any, all) and the
softmax family composed from them."""
from __future__ import annotations

import builtins
import collections

from ... import dtypes as dt
from ...creation import arange, full, zeros
from ...shapes import normalize_dim, normalize_dims
from ...tensor import Tensor
from ..function import Function
from .dispatch import raw_cast, wrap
from .elementwise import exp, log, maximum, minimum
from .shape import Expand, expand, reshape

# named as PyTorch names them (torch.return_types.max), not as the variables
MaxResult = collections.namedtuple("max", ["values", "indices"])  # type: ignore[name-match]
MinResult = collections.namedtuple("min", ["values", "indices"])  # type: ignore[name-match]


def _kept_shape(shape, dims):
    return tuple(1 if i in dims else s for i, s in enumerate(shape))


def _reduce(op, x, dims, keepdim, dtype):
    out = x._device.backend.reduce(op, x._data, dims, dtype)
    t = wrap(out, x._device, dtype)
    return reshape(t, _kept_shape(x._shape, dims)) if keepdim else t


class Sum(Function):
    @staticmethod
    def forward(ctx, x, dims, keepdim):
        ctx.shape, ctx.dims, ctx.keepdim = x._shape, dims, keepdim
        dtype = x._dtype if x._dtype.is_floating_point else dt.int64
        if not dims:
            return x.clone() if dtype is x._dtype else wrap(raw_cast(x, dtype), x._device, dtype)
        return _reduce("sum", x, dims, keepdim, dtype)

    @staticmethod
    def backward(ctx, g):
        if not g._shape:  # a loss's gradient: a view of it, broadcast
            return Expand.apply(g, ctx.shape), None, None
        if not ctx.keepdim:
            g = reshape(g, _kept_shape(ctx.shape, ctx.dims))
        return expand(g, ctx.shape), None, None


class Extreme(Function):
    """max or min over dims, the gradient shared evenly among ties (as PyTorch's amax)."""

    @staticmethod
    def forward(ctx, x, op, dims, keepdim):
        if x.numel() == 0:  # an empty result (_check_reducible refused empty reduced dims)
            out = wrap(x._device.backend.empty(_out_shape(x.shape, dims, keepdim), x._dtype),
                       x._device, x._dtype)
        else:
            out = _reduce(op, x, dims, keepdim, x._dtype) if dims else x.clone()
        ctx.dims, ctx.keepdim = dims, keepdim
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        shape = _kept_shape(x.shape, ctx.dims)
        if not ctx.keepdim:
            g, out = reshape(g, shape), reshape(out, shape)
        hit = (x == out).to(g.dtype)
        return g * hit / sum(hit, ctx.dims, keepdim=True), None, None, None


class ExtremeAlong(Function):
    """max or min along one dim, returning (values, indices); the gradient goes to the index."""

    @staticmethod
    def forward(ctx, x, op, dim, keepdim):
        _check_reducible(op, x, (dim,))
        be = x._device.backend
        idx = wrap(be.argreduce(op, x._data, dim), x._device, dt.int64)
        values = _reduce(op, x, (dim,), keepdim, x._dtype)
        if keepdim:
            idx = reshape(idx, values.shape)
        ctx.dim, ctx.keepdim, ctx.shape = dim, keepdim, x._shape
        ctx.save_for_backward(idx)
        return values, idx

    @staticmethod
    def backward(ctx, g, _):
        idx, = ctx.saved_tensors
        dim = ctx.dim
        if not ctx.keepdim:
            g, idx = g.unsqueeze(dim), idx.unsqueeze(dim)
        positions = arange(ctx.shape[dim], device=g.device).reshape(
            (-1,) + (1,) * (len(ctx.shape) - dim - 1))
        return g * (positions == idx), None, None, None


def sum(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Sum over ``dim`` (an int, a tuple of ints, or None for all)."""
    return Sum.apply(x, normalize_dims(dim, x.ndim, "sum"), keepdim)


def sum_to_shape(g: Tensor, shape: tuple):
    """``g`` summed over the dims along which ``shape`` was broadcast; None if impossible."""
    if g._shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead < 0:
        return None
    dims = list(range(lead))
    for i, s in enumerate(shape):
        n = g._shape[lead + i]
        if s == 1 and n != 1:
            dims.append(lead + i)
        elif s != n:
            return None
    out = sum(g, tuple(dims), keepdim=True) if dims else g
    return reshape(out, shape)


def mean(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    if not x.dtype.is_floating_point:
        raise TypeError(f"mean(): the input must be a floating point tensor, got {x.dtype}; "
                        "convert it first with .float()")
    dims = normalize_dims(dim, x.ndim, "mean")
    count = 1
    for d in dims:
        count *= x.shape[d]
    return Sum.apply(x, dims, keepdim) * (1.0 / count if count else float("nan"))


def var(x: Tensor, dim=None, unbiased: bool = True, keepdim: bool = False,
        correction=None) -> Tensor:
    """Variance; ``correction=1`` (the default, ``unbiased=True``) divides by N - 1."""
    if correction is None:
        correction = 1 if unbiased else 0
    dims = normalize_dims(dim, x.ndim, "var")
    count = 1
    for d in dims:
        count *= x.shape[d]
    centered = x - mean(x, dims, keepdim=True)
    return sum(centered * centered, dims, keepdim) / builtins.max(count - correction, 0)


def std(x: Tensor, dim=None, unbiased: bool = True, keepdim: bool = False,
        correction=None) -> Tensor:
    """Standard deviation: the square root of ``var`` (the same arguments)."""
    return var(x, dim, unbiased, keepdim, correction).sqrt()


def _out_shape(shape, dims, keepdim) -> tuple:
    return _kept_shape(shape, dims) if keepdim else \
        tuple(n for i, n in enumerate(shape) if i not in dims)


def _check_reducible(name, x, dims):
    """max, min and their args have no value over zero elements: PyTorch's errors (dims
    None: the whole tensor)."""
    if x.numel():
        return
    if dims is None:
        raise (IndexError if name.startswith("arg") else RuntimeError)(
            f"{name}(): Expected reduction dim to be specified for input.numel() == 0 (the "
            f"tensor of shape {x._shape} has no elements). Specify the reduction dim with the "
            "'dim' argument")
    for d in dims:
        if x._shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size "
                             f"(the tensor has shape {x._shape})")


def _extreme(op, x, dim, keepdim):
    if isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
        return (maximum if op == "max" else minimum)(x, dim)
    if dim is None:
        _check_reducible(op, x, None)
        return Extreme.apply(x, op, tuple(range(x.ndim)), False)
    d = normalize_dim(dim, x.ndim, op)
    if x.ndim == 0:
        return (MaxResult if op == "max" else MinResult)(x.clone(), zeros((), dtype=dt.int64,
                                                                          device=x.device))
    values, indices = ExtremeAlong.apply(x, op, d, keepdim)
    return (MaxResult if op == "max" else MinResult)(values, indices)


def max(x: Tensor, dim=None, keepdim: bool = False):
    """``x.max()`` the largest element; ``x.max(dim)`` a (values, indices) pair."""
    return _extreme("max", x, dim, keepdim)


def min(x: Tensor, dim=None, keepdim: bool = False):
    return _extreme("min", x, dim, keepdim)


def amax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    dims = normalize_dims(dim, x.ndim, "amax")
    _check_reducible("amax", x, None if dim is None else dims)
    return Extreme.apply(x, "max", dims, keepdim)


def _arg(op, x, dim, keepdim):
    be = x._device.backend
    name = "argmax" if op == "max" else "argmin"
    if dim is not None and x.ndim == 0:
        normalize_dim(dim, 0, name)
        return zeros((), dtype=dt.int64, device=x.device)  # PyTorch's answer, keepdim or not
    _check_reducible(name, x, None if dim is None else (normalize_dim(dim, x.ndim, name),))
    if dim is None:
        flat = reshape(x.detach(), (-1,))
        out = wrap(be.argreduce(op, flat._data, 0), x._device, dt.int64)
        return reshape(out, (1,) * x.ndim) if keepdim else out
    d = normalize_dim(dim, x.ndim, "argmax" if op == "max" else "argmin")
    out = wrap(be.argreduce(op, x._data, d), x._device, dt.int64)
    return reshape(out, _kept_shape(x.shape, (d,))) if keepdim else out


def argmax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return _arg("max", x, dim, keepdim)


def argmin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return _arg("min", x, dim, keepdim)


def _logical(op, x, dim, keepdim):
    dims = normalize_dims(dim, x.ndim, "any" if op == "max" else "all")
    b = wrap(raw_cast(x, dt.bool_), x._device, dt.bool_)
    if not dims:
        return b
    if x.numel() == 0:
        return full(_out_shape(x.shape, dims, keepdim), op == "min", dtype=dt.bool_,
                    device=x.device)
    return _reduce(op, b, dims, keepdim, dt.bool_)


def any(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return _logical("max", x, dim, keepdim)


def all(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return _logical("min", x, dim, keepdim)


def _shifted_exp(x: Tensor, d: int):
    """Backend arrays ``x - max(x, d)`` and ``exp`` of it, and the kept shape of a sum over
    ``d``: the stable start of softmax and log_softmax, computed without recording."""
    be, data, dtype = x._device.backend, x._data, x._dtype
    kept = _kept_shape(x._shape, (d,))
    shifted = be.empty(x._shape, dtype)
    be.binary("sub", data, be.reshape_view(be.reduce("max", data, (d,), dtype), kept), shifted)
    e = be.empty(x._shape, dtype)
    be.unary("exp", shifted, e)
    return shifted, e, kept


def _keep_output(ctx, x: Tensor, d: int, data) -> Tensor:
    """Wrap the forward's result and save it for the backward, which reads only it (the
    engine gives it back its graph, so a gradient of the gradient reaches x)."""
    out = wrap(data, x._device, x._dtype)
    ctx.dim = d
    ctx.save_for_backward(out)
    return out


class LogSoftmax(Function):
    """log(softmax(x)) along ``dim`` as one op: x - max - log(sum(exp(x - max)))."""

    @staticmethod
    def forward(ctx, x, d):
        be = x._device.backend
        shifted, e, kept = _shifted_exp(x, d)
        log_total = be.reshape_view(be.reduce("sum", e, (d,), x._dtype), kept)
        be.unary("log", log_total, log_total)
        be.binary("sub", shifted, log_total, shifted)
        return _keep_output(ctx, x, d, shifted)

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return g - exp(out) * sum(g, ctx.dim, keepdim=True), None


class Softmax(Function):
    """exp(x - max) / sum(exp(x - max)) along ``dim`` as one op."""

    @staticmethod
    def forward(ctx, x, d):
        be = x._device.backend
        _, e, kept = _shifted_exp(x, d)
        be.binary("div", e, be.reshape_view(be.reduce("sum", e, (d,), x._dtype), kept), e)
        return _keep_output(ctx, x, d, e)

    @staticmethod
    def backward(ctx, g):
        p, = ctx.saved_tensors
        return p * (g - sum(g * p, ctx.dim, keepdim=True)), None


def _as_one_op(x: Tensor) -> bool:
    """Softmax and log_softmax run as one op on non-empty float tensors with dims; others take
    the composite path, which gives PyTorch's dtype behaviour and empty results."""
    return x._dtype.is_floating_point and x.ndim > 0 and x.numel() > 0


def log_softmax(x: Tensor, dim: int) -> Tensor:
    """log(softmax(x)), computed stably as x - max - log(sum(exp(x - max)))."""
    d = normalize_dim(dim, x.ndim, "log_softmax")
    if not x.numel():
        return exp(x)  # empty: nothing to normalise (the dtype and shape of the result)
    if _as_one_op(x):
        return LogSoftmax.apply(x, d)
    shifted = x - amax(x.detach(), d, keepdim=True)
    return shifted - log(sum(exp(shifted), d, keepdim=True))


def softmax(x: Tensor, dim: int) -> Tensor:
    d = normalize_dim(dim, x.ndim, "softmax")
    if not x.numel():
        return exp(x)  # empty: nothing to normalise
    if _as_one_op(x):
        return Softmax.apply(x, d)
    e = exp(x - amax(x.detach(), d, keepdim=True))
    return e / sum(e, d, keepdim=True)
