"""Gathers and scatters along a dim, as PyTorch names them: ``gather``, ``scatter``,
``scatter_add``, ``index_add``, ``index_copy``, ``index_fill``, ``masked_fill``,
``masked_select``, ``take``, ``nonzero`` and ``where(cond)``, with their in-place forms.

Each is advanced indexing in disguise: ``gather(x, 1, idx)`` is ``x[i, idx[i, j], ...]``
over the positions of ``idx``. So they are made of the indexing ops of ``indexing.py``
(the view, ``Gather`` with its scatter-add gradient, ``IndexPut``), and their gradients
come with them. Index values are checked by the kernels as they read them (IndexError)."""
from __future__ import annotations

from ... import creation
from ... import dtypes as dt
from ...shapes import broadcast_shapes, normalize_dim
from ...tensor import Tensor
from .dispatch import not_a_tensor, same_device, wrap
from .elementwise import where
from .indexing import IndexPut, Scatter, _parse, getitem
from .inplace import inplace_unary


def _tensor(op: str, x, position: int = 1, name: str = "input") -> Tensor:
    if not isinstance(x, Tensor):
        raise not_a_tensor(op, name, position, x)
    return x


def _index(op: str, index, position: int) -> Tensor:
    index = _tensor(op, index, position, "index")
    if index.dtype is not dt.int64:
        raise RuntimeError(f"{op}(): Expected dtype int64 for index, got {index.dtype.name}")
    return index


def _positions(op: str, x: Tensor, dim: int, index: Tensor, others_fit: bool = True) -> tuple:
    """The advanced-indexing key that ``gather``/``scatter`` along ``dim`` stand for: at
    dim ``dim`` the index, at every other dim its own position (an arange laid along it)."""
    if index.ndim != x.ndim and not (index.ndim <= 1 and x.ndim <= 1):
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                           f"input tensor (index {tuple(index.shape)}, input "
                           f"{tuple(x.shape)})")
    d = normalize_dim(dim, max(x.ndim, 1), op)
    if others_fit:
        for k in range(index.ndim):
            if k != d and index.shape[k] > x.shape[k]:
                raise RuntimeError(f"Size does not match at dimension {k} expected index "
                                   f"{list(index.shape)} to be smaller than self "
                                   f"{list(x.shape)} apart from dimension {d}")
    same_device(op, x, index)
    key = []
    for k in range(index.ndim):
        if k == d:
            key.append(index)
        else:
            shape = [1] * index.ndim
            shape[k] = index.shape[k]
            key.append(creation.arange(index.shape[k], device=x.device).reshape(shape))
    return tuple(key)


def _cut(src: Tensor, shape) -> Tensor:
    """The leading ``shape`` block of ``src`` (scatter reads only that much of it)."""
    if tuple(src.shape) == tuple(shape):
        return src
    return getitem(src, tuple(slice(0, s) for s in shape))


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """``out[i][j] = input[index[i][j]][j]`` (for dim 0), of ``index``'s shape."""
    x = _tensor("gather", input)
    index = _index("gather", index, 3)
    if index.ndim == 0 or x.ndim == 0:
        return getitem(x.reshape(-1), index.reshape(-1)).reshape(index.shape)
    return getitem(x, _positions("gather", x, dim, index))


def _scatter_added(x: Tensor, key: tuple, src: Tensor) -> Tensor:
    _, _, plan = _parse(x, key)
    return x + Scatter.apply(src.to(x.dtype), plan)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """``input`` with ``src``'s entries added at the places ``index`` names along ``dim``
    (repeated places add up)."""
    x = _tensor("scatter_add", input)
    index = _index("scatter_add", index, 3)
    src = _tensor("scatter_add", src, 4, "src")
    if not index.numel():
        return x.clone()
    return _scatter_added(x, _positions("scatter_add", x, dim, index), _cut(src, index.shape))


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None,
            reduce: str | None = None) -> Tensor:
    """``input`` with ``src``'s entries (or ``value``) written at the places ``index`` names
    along ``dim``; ``reduce='add'`` adds instead."""
    x = _tensor("scatter", input)
    index = _index("scatter", index, 3)
    if src is None and value is None:
        raise TypeError("scatter(): expected either src or value")
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src  # scatter(x, dim, index, 2.0): the value form
    if reduce not in (None, "add", "multiply"):
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce!r}")
    if reduce == "multiply":
        raise NotImplementedError("scatter(reduce='multiply') is not supported; use "
                                  "scatter_reduce's equivalent by hand or reduce='add'")
    if not index.numel():
        return x.clone()
    key = _positions("scatter", x, dim, index)
    if reduce == "add":
        part = _cut(src, index.shape) if src is not None else \
            creation.full(tuple(index.shape), value, dtype=x.dtype, device=x.device)
        return _scatter_added(x, key, part)
    return IndexPut.apply(x, _cut(src, index.shape) if src is not None else value, key)


def _along(op: str, x: Tensor, dim: int, index: Tensor) -> tuple:
    if index.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, got shape "
                         f"{tuple(index.shape)}")
    d = normalize_dim(dim, max(x.ndim, 1), op)
    same_device(op, x, index)
    return (slice(None),) * d + (index.reshape(-1),)


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """``input`` with ``alpha * source``'s slices added at the entries ``index`` names along
    ``dim`` (repeated entries add up)."""
    x = _tensor("index_add", input)
    index = _index("index_add", index, 3)
    source = _tensor("index_add", source, 4, "source")
    return _scatter_added(x, _along("index_add", x, dim, index),
                          source if alpha == 1 else source * alpha)


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    x = _tensor("index_copy", input)
    index = _index("index_copy", index, 3)
    return IndexPut.apply(x, _tensor("index_copy", source, 4, "source"),
                          _along("index_copy", x, dim, index))


def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    x = _tensor("index_fill", input)
    index = _index("index_fill", index, 3)
    return IndexPut.apply(x, value, _along("index_fill", x, dim, index))


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """``input`` with ``value`` where ``mask`` (a bool tensor broadcast to it) is true."""
    x = _tensor("masked_fill", input)
    mask = _tensor("masked_fill", mask, 2, "mask")
    if mask.dtype is not dt.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with "
                           f"dtype {mask.dtype.name}")
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.ndim} dimension(s).")
    if broadcast_shapes("masked_fill", x.shape, mask.shape) != tuple(x.shape):
        raise RuntimeError(f"The size of the mask {tuple(mask.shape)} must match the size of "
                           f"the tensor {tuple(x.shape)} it fills (or broadcast to it)")
    filled = value.to(x.dtype) if isinstance(value, Tensor) else \
        creation.full((), value, dtype=x.dtype, device=x.device)
    return where(mask, filled, x)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The entries where ``mask`` is true (both broadcast), as a 1-D tensor."""
    x = _tensor("masked_select", input)
    mask = _tensor("masked_select", mask, 2, "mask")
    if mask.dtype is not dt.bool_:
        raise RuntimeError(f"masked_select: expected BoolTensor for mask, got "
                           f"{mask.dtype.name}")
    shape = broadcast_shapes("masked_select", x.shape, mask.shape)
    return getitem(x.expand(*shape), mask.expand(*shape))


def take(input: Tensor, index: Tensor) -> Tensor:
    """The entries of the flattened ``input`` at ``index``, of ``index``'s shape."""
    x = _tensor("take", input)
    index = _index("take", index, 2)
    return getitem(x.reshape(-1), index.reshape(-1)).reshape(index.shape)


def nonzero(input: Tensor, *, as_tuple: bool = False):
    """The coordinates of the non-zero entries: an (n, ndim) int64 tensor, or with
    ``as_tuple`` one 1-D tensor per dim."""
    x = _tensor("nonzero", input)
    if x.ndim == 0:
        count = int(bool((x != 0).item()))
        return (creation.zeros(count, dtype=dt.int64, device=x.device),) if as_tuple else \
            creation.zeros(count, 0, dtype=dt.int64, device=x.device)
    coords = wrap(x._device.backend.nonzero(x._data), x._device, dt.int64)
    if not as_tuple:
        return coords
    return tuple(getitem(coords, (slice(None), d)) for d in range(x.ndim))


def argwhere(input: Tensor) -> Tensor:
    return nonzero(input)


# ---- in place: x.scatter_(...), x.masked_fill_(...)... ------------------------------------

def _in_place(fn, name: str):
    def method(self, *args, **kwargs):
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)]
        return inplace_unary(self, lambda t: fn(t, *args, **kwargs), *tensors)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place ``{name[:-1]}``."
    return method


scatter_ = _in_place(scatter, "scatter_")
scatter_add_ = _in_place(scatter_add, "scatter_add_")
index_add_ = _in_place(index_add, "index_add_")
index_copy_ = _in_place(index_copy, "index_copy_")
index_fill_ = _in_place(index_fill, "index_fill_")
masked_fill_ = _in_place(masked_fill, "masked_fill_")
