"""Indexing: ``x[key]`` and ``x[key] = value`` with ints, slices, None, Ellipsis, int
tensors and bool masks, following PyTorch's rules. Unlike NumPy, an int always
selects (removes its dim) first, even beside index tensors: ``x[0, :, idx]`` of a
(2, 3, 4) tensor is (3, len(idx)), where NumPy gives (len(idx), 3).

Ints and slices make a view (``BasicIndex``). Int tensors and masks gather a copy
(``Gather``): the indexed dims are moved to the front and flattened, the index
tensors become one linear index, and the backend's ``index_select`` picks the
rows; the backward scatters with ``index_add``.
"""
from __future__ import annotations

import math

import numpy as np

from ... import dtypes as dt
from ...shapes import broadcast_shapes
from ...tensor import Tensor
from ..function import Function
from .dispatch import SCALARS, number, raw_cast, same_device, wrap


class _Advanced:
    """How to gather from a view: its dims ``dims`` are indexed by ``lin`` (flat)."""

    def __init__(self, view_shape, dims, lin, batch_shape, adjacent: bool):
        self.view_shape = view_shape
        self.dims = dims
        rest = [d for d in range(len(view_shape)) if d not in dims]
        self.perm = list(dims) + rest
        self.lin = lin  # backend int64 array, 1-D
        self.batch_shape = batch_shape
        self.rows = math.prod(view_shape[d] for d in dims)
        self.rest_shape = tuple(view_shape[d] for d in rest)
        nb = len(batch_shape)
        lead = dims[0] if adjacent else 0  # adjacent index dims stay in place
        self.out_perm = list(range(nb, nb + lead)) + list(range(nb)) + \
            list(range(nb + lead, nb + len(self.rest_shape)))

    def result_shape(self):
        shape = self.batch_shape + self.rest_shape
        return tuple(shape[p] for p in self.out_perm)


def _parse(x: Tensor, key):
    """Split ``key`` into a view step (backend key + shape) and an optional gather step."""
    if not isinstance(key, tuple):
        key = (key,)
    entries = []
    for k in key:
        if isinstance(k, (list, np.ndarray)):
            from ...creation import tensor
            k = tensor(k, device=x.device)
            if k.dtype.is_floating_point:
                raise IndexError("tensors used as indices must be int64 or bool, got a "
                                 "float list or array")
        if isinstance(k, Tensor):
            if k.dtype.is_floating_point:
                raise IndexError(f"tensors used as indices must be int64 or bool, got "
                                 f"{k.dtype}; convert with .long()")
            same_device("indexing", x, k)
        elif isinstance(k, (bool, np.bool_)):
            raise IndexError("a Python bool is not a valid index; use a bool tensor as a mask")
        elif not (k is None or k is Ellipsis or isinstance(k, (slice, int, np.integer))):
            raise IndexError(f"only ints, slices, None, Ellipsis, int tensors and bool masks "
                             f"are valid indices, got {type(k).__name__}")
        entries.append(k)

    def consumed(k):
        if isinstance(k, Tensor):
            return k.ndim if k.dtype is dt.bool_ else 1
        return 0 if k is None or k is Ellipsis else 1

    used = sum(consumed(k) for k in entries)
    if sum(k is Ellipsis for k in entries) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if used > x.ndim:
        raise IndexError(f"too many indices for a tensor of dimension {x.ndim} (shape "
                         f"{x.shape}): the index uses {used}")
    be = x._device.backend
    bkey, view_shape, adv = [], [], []
    d = 0
    for k in entries:
        if k is Ellipsis:
            for _ in range(x.ndim - used):
                bkey.append(slice(None))
                view_shape.append(x.shape[d])
                d += 1
            continue
        if k is None:
            view_shape.append(1)
            continue
        if isinstance(k, (int, np.integer)):
            size = x.shape[d]
            i = int(k)
            if not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for dimension {d} with size {size}")
            bkey.append(i % size)  # PyTorch: an int selects, even beside index tensors
            d += 1
        elif isinstance(k, slice):
            if k.step is not None and k.step <= 0:
                raise ValueError(f"slice step must be positive, got {k.step} (negative steps "
                                 "are not supported, as in PyTorch)")
            start, stop, step = k.indices(x.shape[d])
            bkey.append(slice(start, stop, step))
            view_shape.append(len(range(start, stop, step)))
            d += 1
        elif k.dtype is dt.bool_:
            span = x.shape[d:d + k.ndim]
            if k.shape != span:
                raise IndexError(f"the shape of the mask {k.shape} does not match the shape "
                                 f"{span} of the indexed tensor {x.shape} at dimension {d}")
            coords = be.nonzero(k._data)
            for j in range(k.ndim):
                col = be.basic_index(coords, (slice(None), j))
                adv.append((len(view_shape), col, (coords.shape[0],), d + j))
                bkey.append(slice(None))
                view_shape.append(x.shape[d + j])
            d += k.ndim
        else:
            adv.append((len(view_shape), k._data, k.shape, d))
            bkey.append(slice(None))
            view_shape.append(x.shape[d])
            d += 1
    view_shape.extend(x.shape[d:])
    plan = None
    if adv:
        dims = [pos for pos, _, _, _ in adv]  # where the index tensors sit in the view
        adjacent = dims == list(range(dims[0], dims[-1] + 1))
        plan = _advanced_plan(be, tuple(view_shape), adv, adjacent)
    return tuple(bkey), tuple(view_shape), plan


def _advanced_plan(be, view_shape, adv, adjacent):
    shapes = [shape for _, _, shape, _ in adv]
    try:
        batch = broadcast_shapes("indexing", *shapes)
    except ValueError:
        raise IndexError("shape mismatch: indexing tensors could not be broadcast together "
                         "with shapes " + ", ".join(str(list(s)) for s in shapes)) from None
    lin = None
    for pos, idx, shape, src_dim in adv:
        size = view_shape[pos]
        if math.prod(shape):
            lo = be.to_host(be.reduce("min", idx, tuple(range(len(shape))), dt.int64)).item()
            hi = be.to_host(be.reduce("max", idx, tuple(range(len(shape))), dt.int64)).item()
            bad = lo if lo < -size else (hi if hi >= size else None)
            if bad is not None:
                raise IndexError(f"index {bad} is out of bounds for dimension {src_dim} "
                                 f"with size {size}")
            if lo < 0:
                wrapped = be.empty(shape, dt.int64)
                negative = be.empty(shape, dt.bool_)
                be.binary("lt", idx, np.int64(0), negative)
                plus = be.empty(shape, dt.int64)
                be.binary("add", idx, np.int64(size), plus)
                be.where(negative, plus, idx, wrapped)
                idx = wrapped
        if lin is None:
            lin = be.empty(batch, dt.int64)
            be.unary("identity", idx, lin)
        else:
            be.binary("mul", lin, np.int64(size), lin)
            be.binary("add", lin, idx, lin)
    flat = be.reshape_view(lin, (math.prod(batch),))
    return _Advanced(view_shape, [pos for pos, _, _, _ in adv], flat, batch, adjacent)


def _view(x_data, be, bkey, view_shape):
    data = be.basic_index(x_data, bkey)
    if data.shape != view_shape:
        data = be.reshape_view(data, view_shape)
    return data


def _rows_view(be, data, plan):
    """``data`` (of the view's shape) as (rows, *rest) with the indexed dims first."""
    moved = be.permute(data, plan.perm)
    rows = be.reshape_view(moved, (plan.rows,) + plan.rest_shape)
    return moved, rows


def _gather(be, data, plan):
    _, rows = _rows_view(be, data, plan)
    if rows is None:
        rows = be.reshape_view(be.contiguous(be.permute(data, plan.perm)),
                               (plan.rows,) + plan.rest_shape)
    picked = be.index_select(rows, 0, plan.lin)
    picked = be.reshape_view(picked, plan.batch_shape + plan.rest_shape)
    return be.permute(picked, plan.out_perm)


def _scatter(be, target, plan, src, accumulate: bool):
    """Write (or add) ``src`` (of the result's shape) into ``target`` (of the view's shape)."""
    inverse = [0] * len(plan.out_perm)
    for i, p in enumerate(plan.out_perm):
        inverse[p] = i
    src = be.contiguous(be.permute(src, inverse))
    src = be.reshape_view(src, (plan.lin.shape[0],) + plan.rest_shape)
    moved, rows = _rows_view(be, target, plan)
    scratch = rows is None
    if scratch:
        rows = be.reshape_view(be.contiguous(moved), (plan.rows,) + plan.rest_shape)
    (be.index_add if accumulate else be.index_put)(rows, 0, plan.lin, src)
    if scratch:
        be.unary("identity", be.reshape_view(rows, moved.shape), moved)


class BasicIndex(Function):
    @staticmethod
    def forward(ctx, x, bkey, view_shape):
        ctx.in_shape, ctx.bkey, ctx.view_shape = x._shape, bkey, view_shape
        return wrap(_view(x._data, x._device.backend, bkey, view_shape), x._device, x._dtype,
                    base=x)

    @staticmethod
    def backward(ctx, g):
        return BasicIndexGrad.apply(g, ctx.in_shape, ctx.bkey, ctx.view_shape), None, None


class BasicIndexGrad(Function):
    @staticmethod
    def forward(ctx, g, in_shape, bkey, view_shape):
        ctx.bkey, ctx.view_shape = bkey, view_shape
        be = g._device.backend
        out = be.full(in_shape, 0, g._dtype)
        be.unary("identity", g._data, _view(out, be, bkey, view_shape))
        return wrap(out, g._device, g._dtype)

    @staticmethod
    def backward(ctx, gg):
        return BasicIndex.apply(gg, ctx.bkey, ctx.view_shape), None, None, None


class Gather(Function):
    @staticmethod
    def forward(ctx, v, plan, index=None):
        """``index``: the tensor whose data is ``plan.lin``, if it was not copied."""
        ctx.plan = plan
        ctx.save_for_backward(index)
        return wrap(_gather(v._device.backend, v._data, plan), v._device, v._dtype)

    @staticmethod
    def backward(ctx, g):
        ctx.saved_tensors  # raises if a shared index was changed in place since the forward
        return Scatter.apply(g, ctx.plan), None, None


class Scatter(Function):
    @staticmethod
    def forward(ctx, g, plan):
        ctx.plan = plan
        be = g._device.backend
        out = be.full(plan.view_shape, 0, g._dtype)
        _scatter(be, out, plan, g._data, accumulate=True)
        return wrap(out, g._device, g._dtype)

    @staticmethod
    def backward(ctx, gg):
        return Gather.apply(gg, ctx.plan), None


def getitem(x: Tensor, key) -> Tensor:
    if key.__class__ is Tensor and key._dtype is dt.int64 and len(key._shape) == 1 and \
            x._shape and key._device is x._device:
        # x[idx], the minibatch case: rows of x, without the general parse and its view,
        # and with ``idx`` itself as the index (its version is checked at backward). The
        # backend's gather and scatter check every index as they read it (its memory may be
        # NumPy's and change) and count negative ones from the end, so nothing is checked here.
        be = x._device.backend
        plan = _Advanced(x._shape, [0], be.contiguous(key._data), key._shape, adjacent=True)
        return Gather.apply(x, plan, key)
    bkey, view_shape, plan = _parse(x, key)
    v = BasicIndex.apply(x, bkey, view_shape)
    return v if plan is None else Gather.apply(v, plan)


# ---- item assignment -------------------------------------------------------------------

def _value_operand(x: Tensor, value, op="index assignment"):
    if isinstance(value, SCALARS):
        return number(value, x.dtype, op)
    if isinstance(value, (list, np.ndarray)):
        from ...creation import tensor
        value = tensor(value, device=x.device)
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}: can't assign a {type(value).__name__} to a tensor; "
                        "use a number or a Tensor")
    same_device(op, x, value)
    if value._vc is x._vc:  # overlapping memory: read from a copy
        value = value.clone()
    return raw_cast(value, x._dtype), value.shape


def put(x: Tensor, key, value):
    """``x[key] = value`` on the raw data, recording nothing."""
    be = x._device.backend
    operand = _value_operand(x, value)
    data, vshape = operand if isinstance(operand, tuple) else (operand, ())
    if isinstance(key, Tensor) and key.dtype is dt.bool_ and key.shape == x.shape[:key.ndim] \
            and math.prod(vshape) == 1:
        # x[mask] = v: one pass of ``where``, no index arithmetic (the seed's grad_h[h < 0] = 0)
        same_device("index assignment", x, key)
        mask = be.reshape_view(key._data, key.shape + (1,) * (x.ndim - key.ndim))
        if vshape:
            data = be.reshape_view(data, (1,) * x.ndim)
        be.where(mask, data, x._data, x._data)
        return
    bkey, view_shape, plan = _parse(x, key)
    target = _view(x._data, be, bkey, view_shape)
    shape = view_shape if plan is None else plan.result_shape()
    if len(vshape) > len(shape) and not isinstance(data, np.generic):
        # PyTorch drops a value's extra leading dims of size 1: x[0] = ones(1, 4)
        extra = len(vshape) - len(shape)
        if all(n == 1 for n in vshape[:extra]):
            vshape = vshape[extra:]
            data = be.reshape_view(data, vshape)  # dropping size-1 dims is always a view
    if broadcast_shapes("index assignment", shape, vshape) != shape:
        raise ValueError(f"index assignment: a value of shape {vshape} cannot be broadcast to "
                         f"the indexed shape {shape}")
    if plan is None:
        be.unary("identity", data, target)
        return
    if isinstance(data, np.generic):
        filled = be.full(shape, data, x._dtype)
    else:
        filled = be.empty(shape, x._dtype)
        be.unary("identity", data, filled)
    _scatter(be, target, plan, filled, accumulate=False)


class IndexPut(Function):
    """Out-of-place ``x[key] = value``, for assignments that autograd records."""

    @staticmethod
    def forward(ctx, x, value, key):
        ctx.key = key
        ctx.value_ndim = value.ndim if isinstance(value, Tensor) else 0
        out = x.clone()
        put(out, key, value)
        return out

    @staticmethod
    def backward(ctx, g):
        nx, nv, _ = ctx.needs_input_grad
        gx = IndexPut.apply(g, 0.0, ctx.key) if nx else None
        gv = getitem(g, ctx.key) if nv else None
        if gv is not None and gv.ndim < ctx.value_ndim:  # the value had extra leading 1s
            gv = gv.reshape((1,) * (ctx.value_ndim - gv.ndim) + gv.shape)
        return gx, gv, None
