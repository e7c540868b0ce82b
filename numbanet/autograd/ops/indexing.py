"""Indexing: ``x[key]`` and ``x[key] = value`` with ints, slices, None, Ellipsis, int
tensors and bool masks, following PyTorch's rules. Unlike NumPy, an int always
selects (removes its dim) first, even beside index tensors: ``x[0, :, idx]`` of a
(2, 3, 4) tensor is (3, len(idx)), where NumPy gives (len(idx), 3).

Ints and slices make a view (``BasicIndex``). Int tensors and masks gather a copy
(``Gather``): the indexed dims are moved to the front and flattened, the index
tensors become one linear index, and the backend's ``index_select`` picks the
rows; the backward scatters with ``index_add``. ``x[idx]`` with one 1-D int64 tensor, the
minibatch case, is ``index_select``'s op (``IndexSelect``) on dim 0.

Named ops for the layers above: ``index_select`` and ``narrow`` (PyTorch's),
``embedding`` (rows of a table) and ``pick_classes`` (the class pick of the losses).
Index values are checked on the host before a kernel runs; on a graph device
(``be.symbolic``), whose arrays have no values yet, the check is recorded instead, as
values the kernels refuse when the graph runs.
"""
from __future__ import annotations

import math

import numpy as np

from ... import dtypes as dt
from ...shapes import as_int, broadcast_shapes, normalize_dim
from ...tensor import Tensor
from ..function import Function
from .dispatch import SCALARS, not_a_tensor, number, raw_cast, same_device, wrap
from .shape import reshape


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
                         f"{x._shape}): the index uses {used}")
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
                raise IndexError(f"the shape of the mask {k._shape} does not match the shape "
                                 f"{span} of the indexed tensor {x._shape} at dimension {d}")
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


def _wrap_negatives(be, idx, shape, size):
    """The backend int64 array ``idx`` with ``size`` added to its negative entries."""
    wrapped = be.empty(shape, dt.int64)
    negative = be.empty(shape, dt.bool_)
    be.binary("lt", idx, np.int64(0), negative)
    plus = be.empty(shape, dt.int64)
    be.binary("add", idx, np.int64(size), plus)
    be.where(negative, plus, idx, wrapped)
    return wrapped


def _advanced_plan(be, view_shape, adv, adjacent):
    shapes = [shape for _, _, shape, _ in adv]
    try:
        batch = broadcast_shapes("indexing", *shapes)
    except ValueError:
        raise IndexError("shape mismatch: indexing tensors could not be broadcast together "
                         "with shapes " + ", ".join(str(list(s)) for s in shapes)) from None
    lin = None
    symbolic = be.symbolic  # a graph device: no values on the host yet
    outside = None
    for pos, idx, shape, src_dim in adv:
        size = view_shape[pos]
        if symbolic:  # wrap negatives as below, and flag what is out of range for the run
            idx = _wrap_negatives(be, idx, shape, size)
            bad = _outside(be, idx, shape, size)
            if outside is None:
                outside = be.empty(batch, dt.bool_)
                be.unary("identity", bad, outside)
            else:
                be.binary("logical_or", outside, bad, outside)
        elif math.prod(shape):
            lo, hi = _index_bounds(be, idx, shape)
            bad = lo if lo < -size else (hi if hi >= size else None)
            if bad is not None:
                raise IndexError(f"index {bad} is out of bounds for dimension {src_dim} "
                                 f"with size {size}")
            if lo < 0:
                idx = _wrap_negatives(be, idx, shape, size)
        if lin is None:
            lin = be.empty(batch, dt.int64)
            be.unary("identity", idx, lin)
        else:
            be.binary("mul", lin, np.int64(size), lin)
            be.binary("add", lin, idx, lin)
    if outside is not None:  # a bad index points past the rows: the kernels refuse it
        rows = math.prod(view_shape[pos] for pos, _, _, _ in adv)
        be.where(outside, np.int64(rows), lin, lin)
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
    def forward(ctx, v, plan):
        ctx.plan = plan
        return wrap(_gather(v._device.backend, v._data, plan), v._device, v._dtype)

    @staticmethod
    def backward(ctx, g):
        return Scatter.apply(g, ctx.plan), None


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
        # x[idx], the minibatch case: rows of x by index_select's op, without the general
        # parse, its view and its plan, and with ``idx`` itself as the index (its version is
        # checked at backward). The backend's gather and scatter check every index as they
        # read it (its memory may be NumPy's and change) and count negative ones from the
        # end, so nothing is checked here.
        return IndexSelect.apply(x, 0, key, x._device.backend.contiguous(key._data))
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


# ---- index_select, narrow and the class pick of the losses ------------------------------

def _index_bounds(be, data, shape):
    """(lowest, highest) value of a non-empty int64 backend array of ``shape``: two
    reductions and one host read each (what a bounds check before a kernel costs, on every
    device)."""
    dims = tuple(range(len(shape)))
    low = be.to_host(be.reduce("min", data, dims, dt.int64)).item()
    high = be.to_host(be.reduce("max", data, dims, dt.int64)).item()
    return low, high


def _outside(be, data, shape, size):
    """Backend bool array: where ``data`` lies outside [0, size)."""
    below = be.empty(shape, dt.bool_)
    be.binary("lt", data, np.int64(0), below)
    above = be.empty(shape, dt.bool_)
    be.binary("ge", data, np.int64(size), above)
    be.binary("logical_or", below, above, below)
    return below


def _checked_index(index: Tensor, size: int, error):
    """``index``'s values as a contiguous backend array, once each is known to lie in
    [0, size); else ``error(bad value)`` is raised, before any kernel runs. On a graph
    device (``be.symbolic``: the values exist only when the graph runs) the check is
    recorded instead: a value outside [0, size) becomes ``size``, which the gather and
    scatter kernels refuse with an IndexError when they meet it."""
    be = index._device.backend
    data = be.contiguous(index._data)
    if be.symbolic:
        shape = index._shape
        checked = be.empty(shape, dt.int64)
        be.where(_outside(be, data, shape, size), np.int64(size), data, checked)
        return checked
    if math.prod(index._shape):
        low, high = _index_bounds(be, data, index._shape)
        if low < 0 or high >= size:
            raise error(low if low < 0 else high)
    return data


class IndexSelect(Function):
    """The entries ``lin`` (a contiguous 1-D int64 backend array) of ``x`` along ``dim``, as
    a copy; ``index`` is the tensor ``lin`` was read from (its version is checked at
    backward). The gradient adds ``g`` back into those entries (``IndexAdd``). The kernels
    refuse an entry outside [-size, size) and count a negative one from the end:
    ``index_select`` and ``embedding`` check for [0, size) first, ``x[idx]`` leaves it to
    them."""

    @staticmethod
    def forward(ctx, x, dim, index, lin):
        ctx.dim, ctx.in_shape, ctx.lin = dim, x._shape, lin
        ctx.save_for_backward(index)
        return wrap(x._device.backend.index_select(x._data, dim, lin), x._device, x._dtype)

    @staticmethod
    def backward(ctx, g):
        index, = ctx.saved_tensors
        return IndexAdd.apply(g, ctx.dim, index, ctx.lin, ctx.in_shape), None, None, None


class IndexAdd(Function):
    """Zeros of ``shape`` with ``g`` added at the entries ``index`` along ``dim`` (repeated
    entries add up): the gradient of ``IndexSelect``, whose own gradient is an
    ``IndexSelect`` of the incoming one."""

    @staticmethod
    def forward(ctx, g, dim, index, lin, shape):
        ctx.dim, ctx.lin = dim, lin
        ctx.save_for_backward(index)
        be = g._device.backend
        out = be.full(shape, 0, g._dtype)
        be.index_add(out, dim, lin, be.contiguous(g._data))
        return wrap(out, g._device, g._dtype)

    @staticmethod
    def backward(ctx, gg):
        index, = ctx.saved_tensors
        return IndexSelect.apply(gg, ctx.dim, index, ctx.lin), None, None, None, None


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries of ``input`` at ``index`` along ``dim``, as in ``torch.index_select``:
    the result has ``input``'s shape with ``len(index)`` in place of ``input.shape[dim]``
    (a copy, never a view). ``index`` is a 1-D (or 0-d) int64 tensor on ``input``'s device
    with values in ``[0, input.shape[dim])``; negative values are an IndexError, as in
    PyTorch (not counted from the end). Differentiable in ``input``: the gradient adds
    back into the picked entries, so an index repeated picks up its gradient twice::

        x = nb.tensor([[1., 2.], [3., 4.], [5., 6.]])
        index_select(x, 0, nb.tensor([2, 0]))     # [[5., 6.], [1., 2.]]
        index_select(x, 1, nb.tensor([1]))        # [[2.], [4.], [6.]]
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("index_select", "input", 1, input)
    if not isinstance(index, Tensor):
        raise not_a_tensor("index_select", "index", 3, index)
    d = normalize_dim(dim, len(input._shape), "index_select")
    if index._dtype is not dt.int64:
        raise RuntimeError(f"index_select(): Expected dtype int64 for index, got "
                           f"{index._dtype.name} with shape {index._shape}; convert it with "
                           ".long()")
    if len(index._shape) > 1:
        raise IndexError(f"index_select(): Index is supposed to be a vector (1-D or 0-d), got "
                         f"shape {index._shape}; flatten it with .reshape(-1)")
    same_device("index_select", input, index)
    count = index._shape[0] if index._shape else 1
    size = input._shape[d] if input._shape else 1  # a 0-d tensor: the one entry of dim 0
    if not input._shape and count != 1:
        raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                           f"{count} value(s)")
    if count and not size:
        raise RuntimeError(f"index_select(): self indexing axis dim should be positive: "
                           f"dimension {d} of the input of shape {input._shape} is empty, so "
                           f"none of the {count} indices can be picked")

    def out_of_range(bad):
        return IndexError(f"index_select(): index {bad} is out of range for dimension {d} "
                          f"with size {size} of the input of shape {input._shape} (indices "
                          f"must be in [0, {size - 1}])")
    lin = _checked_index(index, size, out_of_range)
    if not index._shape:
        lin = index._device.backend.reshape_view(lin, (1,))
    if input._shape:
        return IndexSelect.apply(input, d, index, lin)
    return reshape(IndexSelect.apply(reshape(input, (1,)), 0, index, lin), ())


def embedding(weight: Tensor, indices: Tensor) -> Tensor:
    """The rows of ``weight`` (num_embeddings, embedding_dim) at the int64 ``indices``, of
    any shape: shape ``indices.shape + (embedding_dim,)``, as ``torch.embedding``'s lookup
    (``nn.functional.embedding`` adds ``padding_idx``). Every index must lie in
    [0, num_embeddings): any other is an IndexError naming it, before a kernel runs (on a
    graph device, when the graph runs). Differentiable in ``weight``: each row gets the sum
    of the gradients of the places that picked it::

        table = nb.randn(10, 4)
        embedding(table, nb.tensor([[1, 2], [9, 1]])).shape     # (2, 2, 4)
    """
    if not isinstance(weight, Tensor):
        raise not_a_tensor("embedding", "weight", 1, weight)
    if not isinstance(indices, Tensor):
        raise not_a_tensor("embedding", "indices", 2, indices)
    if len(weight._shape) != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {weight._shape}")
    if indices._dtype is not dt.int64:
        raise TypeError(f"embedding: input must be an int64 tensor of indices, got "
                        f"{indices._dtype.name}; convert it with .long()")
    same_device("embedding", indices, weight)
    n = weight._shape[0]

    def out_of_range(bad):
        return IndexError(f"embedding: index {bad} is out of range for {n} embeddings "
                          f"(indices must be in [0, {n - 1}])")
    lin = _checked_index(indices, n, out_of_range)
    shape = indices._shape
    if len(shape) != 1:
        lin = indices._device.backend.reshape_view(lin, (math.prod(shape),))
    rows = IndexSelect.apply(weight, 0, indices, lin)
    return rows if len(shape) == 1 else reshape(rows, shape + weight._shape[1:])


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``length`` entries of ``input`` along ``dim`` from ``start`` on, as a view (it shares
    memory with ``input``), as in ``torch.narrow``: ``narrow(x, 1, 2, 3)`` is
    ``x[:, 2:5]``. A negative ``start`` counts from the end. Differentiable::

        x = nb.arange(12.).reshape(3, 4)
        narrow(x, 0, 1, 2)        # rows 1 and 2, shape (2, 4)
        narrow(x, -1, -2, 2)      # the last two columns, shape (3, 2)
    """
    if not isinstance(input, Tensor):
        raise not_a_tensor("narrow", "input", 1, input)
    if not input._shape:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = normalize_dim(dim, len(input._shape), "narrow")
    if isinstance(start, Tensor):
        if start._shape or start._dtype is not dt.int64:
            raise TypeError(f"narrow(): start must be an int or a 0-d int64 tensor, got a "
                            f"{start._dtype.name} tensor of shape {start._shape}")
        start = start.item()
    values = []
    for name, v in (("start", start), ("length", length)):
        i = as_int(v)
        if i is None:
            raise TypeError(f"narrow(): argument '{name}' must be int, not "
                            f"{type(v).__name__}")
        values.append(i)
    start, length = values
    size = input._shape[d]
    if not -size <= start <= size:
        raise IndexError(f"narrow(): start out of range (expected to be in range of "
                         f"[{-size}, {size}], but got {start}) for dimension {d} of a tensor "
                         f"of shape {input._shape}")
    if start < 0:
        start += size
    if length < 0:
        raise RuntimeError(f"narrow(): length must be non-negative, got {length}.")
    if start + length > size:
        raise RuntimeError(f"narrow(): start ({start}) + length ({length}) exceeds dimension "
                           f"size ({size}) of dimension {d} of a tensor of shape "
                           f"{input._shape}.")
    key = (slice(None),) * d + (slice(start, start + length, 1),)
    return BasicIndex.apply(input, key, input._shape[:d] + (length,) + input._shape[d + 1:])


def pick_classes(logp: Tensor, target: Tensor) -> Tensor:
    """``logp[n, target[n]]`` for each row n of a (N, C) ``logp`` and int64 ``target`` of
    shape (N,): the pick of a classification loss, as one recorded gather (its gradient
    scatters back into a (N, C) zero tensor). Targets must lie in [0, C): any other is an
    IndexError, raised before a kernel runs, naming the target (a loss with
    ``ignore_index`` handles the ignored ones itself)::

        logp = nb.log_softmax(scores, 1)
        loss = -pick_classes(logp, labels).mean()
    """
    if not isinstance(logp, Tensor):
        raise not_a_tensor("pick_classes", "logp", 1, logp)
    if not isinstance(target, Tensor):
        raise not_a_tensor("pick_classes", "target", 2, target)
    if len(logp._shape) != 2 or target._dtype is not dt.int64 or \
            target._shape != logp._shape[:1]:
        raise ValueError(f"pick_classes: expects scores of shape (N, C) and int64 targets of "
                         f"shape (N,), got {logp._shape} and {target._dtype.name} "
                         f"{target._shape}")
    same_device("pick_classes", logp, target)
    n, n_classes = logp._shape
    be = target._device.backend
    if be.symbolic:  # checked when the graph runs: see _checked_index
        bad = _outside(be, target._data, target._shape, n_classes)
    elif n:
        low, high = _index_bounds(be, target._data, target._shape)
        if low < 0 or high >= n_classes:
            raise IndexError(f"pick_classes: target {low if low < 0 else high} is out of "
                             f"bounds for {n_classes} classes (targets must be in "
                             f"[0, {n_classes - 1}])")
    flat = be.arange(0, n * n_classes, n_classes, dt.int64)  # row n starts at n * C
    be.binary("add", flat, target._data, flat)
    if be.symbolic:  # a bad target points past the end
        be.where(bad, np.int64(n * n_classes), flat, flat)
    return Gather.apply(logp, _Advanced((n, n_classes), [0, 1], flat, (n,), True))
