"""Views and copies: permute, reshape, expand, squeeze, cast, clone, cat, stack.
Views share memory (and the version counter) with their input. ``set_data_`` and
``alias_as`` are what ``nn`` makes Parameters and moves modules with."""
from __future__ import annotations

import math

from ... import dtypes as dt
from ...shapes import check_extent, infer_shape, int_sizes, normalize_dim, normalize_dims
from ...tensor import Tensor
from ..function import Function
from .dispatch import raw_cast, same_device, wrap


class Permute(Function):
    @staticmethod
    def forward(ctx, x, perm):
        ctx.perm = perm
        return wrap(x._device.backend.permute(x._data, perm), x._device, x._dtype, base=x)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.perm)
        for i, p in enumerate(ctx.perm):
            inverse[p] = i
        return permute(g, tuple(inverse)), None


class Reshape(Function):
    """A view when the strides allow one; otherwise a copy (``view`` refuses to copy)."""

    @staticmethod
    def forward(ctx, x, shape, copy_ok):
        ctx.in_shape = x._shape
        be = x._device.backend
        data = be.reshape_view(x._data, shape)
        if data is not None:
            return wrap(data, x._device, x._dtype, base=x)
        if not copy_ok:
            raise RuntimeError(
                f"view: shape {shape} is not compatible with the input's shape {x._shape} and "
                f"strides {x.stride()}: the data would have to be copied. Use .reshape(...) "
                "(copies when needed) or .contiguous().view(...)")
        return wrap(be.reshape_view(be.contiguous(x._data), shape), x._device, x._dtype)

    @staticmethod
    def backward(ctx, g):
        return reshape(g, ctx.in_shape), None, None


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x._shape
        return wrap(x._device.backend.broadcast_to(x._data, shape), x._device, x._dtype, base=x)

    @staticmethod
    def backward(ctx, g):
        from .reduction import sum_to_shape  # beside sum, which imports this module
        return sum_to_shape(g, ctx.in_shape), None


class Cast(Function):
    @staticmethod
    def forward(ctx, x, dtype):
        ctx.in_dtype = x._dtype
        return wrap(raw_cast(x, dtype), x._device, dtype)

    @staticmethod
    def backward(ctx, g):
        return (cast(g, ctx.in_dtype) if ctx.in_dtype.is_floating_point else None), None


class Clone(Function):
    @staticmethod
    def forward(ctx, x):
        be = x._device.backend
        out = be.empty(x._shape, x._dtype)
        be.unary("identity", x._data, out)
        return wrap(out, x._device, x._dtype)

    @staticmethod
    def backward(ctx, g):
        return g


class ToDevice(Function):
    @staticmethod
    def forward(ctx, x, device):
        ctx.source = x._device
        host = x._device.backend.to_host(x._data)
        if device.type == "cpu":
            host = host.copy() if host is x._data else host
        return wrap(device.backend.from_host(host), device, x._dtype)

    @staticmethod
    def backward(ctx, g):
        return to_device(g, ctx.source), None


class Cat(Function):
    @staticmethod
    def forward(ctx, dim, *tensors):
        dev = same_device("cat", *tensors)
        dtype = tensors[0]._dtype
        for t in tensors[1:]:
            dtype = dt.promote(dtype, t._dtype)
        ctx.dim = dim
        ctx.sizes = [t._shape[dim] for t in tensors]
        shape = list(tensors[0]._shape)
        shape[dim] = sum(ctx.sizes)
        be = dev.backend
        out = be.empty(tuple(shape), dtype)
        start = 0
        for t, size in zip(tensors, ctx.sizes):
            key = (slice(None),) * dim + (slice(start, start + size),)
            be.unary("identity", raw_cast(t, dtype), be.basic_index(out, key))
            start += size
        return wrap(out, dev, dtype)

    @staticmethod
    def backward(ctx, g):
        grads = [None]
        start = 0
        for size in ctx.sizes:
            grads.append(g[(slice(None),) * ctx.dim + (slice(start, start + size),)])
            start += size
        return tuple(grads)


# ---- functional forms -------------------------------------------------------------------

def permute(x: Tensor, dims) -> Tensor:
    dims = tuple(dims)
    if sorted(normalize_dim(d, x.ndim, "permute") for d in dims) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} must be a permutation of the {x.ndim} "
                         f"dimensions of a tensor of shape {x._shape}")
    dims = tuple(normalize_dim(d, x.ndim, "permute") for d in dims)
    if dims == tuple(range(x.ndim)):
        return Reshape.apply(x, x._shape, False)
    return Permute.apply(x, dims)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    perm = list(range(x.ndim))
    d0, d1 = normalize_dim(dim0, x.ndim, "transpose"), normalize_dim(dim1, x.ndim, "transpose")
    if x.ndim == 0:
        return permute(x, ())
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return permute(x, perm)


def t(x: Tensor) -> Tensor:
    """Transpose of a matrix (a tensor of at most 2 dimensions, like PyTorch's ``t``)."""
    if x.ndim > 2:
        raise ValueError(f"t() expects a tensor with <= 2 dimensions, got shape {x._shape}; "
                         "use transpose(dim0, dim1) or .T")
    return permute(x, tuple(range(x.ndim - 1, -1, -1)))


def _shape_arg(shape, op: str) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return int_sizes(shape, op)


def reshape(x: Tensor, shape) -> Tensor:
    shape = infer_shape(_shape_arg(shape, "reshape"), x.numel(), "reshape", x.shape)
    check_extent(shape, x._dtype.itemsize, "reshape")
    return Reshape.apply(x, shape, True)


def view(x: Tensor, shape) -> Tensor:
    shape = infer_shape(_shape_arg(shape, "view"), x.numel(), "view", x.shape)
    check_extent(shape, x._dtype.itemsize, "view")
    return Reshape.apply(x, shape, False)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    s = normalize_dim(start_dim, x.ndim, "flatten")
    e = normalize_dim(end_dim, x.ndim, "flatten")
    if x.ndim == 0:
        return reshape(x, (1,))
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]
    return reshape(x, shape)


def squeeze(x: Tensor, dim=None) -> Tensor:
    if dim is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        dims = normalize_dims(dim, x.ndim, "squeeze")
        shape = tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1))
    return Reshape.apply(x, shape, False)


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    d = normalize_dim(dim, x.ndim + 1, "unsqueeze")
    return Reshape.apply(x, x.shape[:d] + (1,) + x.shape[d:], False)


def expand(x: Tensor, sizes) -> Tensor:
    sizes = _shape_arg(sizes, "expand")
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: the target shape {sizes} has fewer dimensions than the "
                         f"tensor's shape {x._shape}")
    sized = []
    for i, s in enumerate(sizes):
        own = x.shape[i - lead] if i >= lead else None
        if s == -1:
            if own is None:
                raise ValueError(f"expand: -1 is not allowed for the new leading dimension {i}")
            s = own
        elif s < 0:
            raise RuntimeError(f"expand: invalid size {s} at dimension {i} of {sizes}; sizes "
                               "are non-negative, or -1 to keep a dimension's size")
        elif own is not None and own != 1 and own != s:
            raise ValueError(f"expand: the tensor's shape {x._shape} cannot be expanded to "
                             f"{sizes}: dimension {i} has size {own}, not 1 or {s}")
        sized.append(s)
    shape = tuple(sized)
    if shape == x.shape:
        return Reshape.apply(x, shape, False)
    return Expand.apply(x, shape)


def cast(x: Tensor, dtype) -> Tensor:
    dtype = dt.as_dtype(dtype)
    if dtype is x._dtype:
        return x
    return Cast.apply(x, dtype)


def to_device(x: Tensor, device) -> Tensor:
    return ToDevice.apply(x, device)


def clone(x: Tensor) -> Tensor:
    return Clone.apply(x)


def contiguous(x: Tensor) -> Tensor:
    return x if x.is_contiguous() else Clone.apply(x)


def _tensor_list(tensors, op: str) -> list:
    """The tensors of cat/stack as a list: all Tensors, on one device."""
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}: expected a sequence of Tensors, got a Tensor of shape "
                        f"{tensors._shape}; pass a list, e.g. nb.{op}([a, b])")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty list of tensors")
    for i, t_ in enumerate(tensors):
        if not isinstance(t_, Tensor):
            raise TypeError(f"{op}: expected a sequence of Tensors, but element {i} is a "
                            f"{type(t_).__name__}; convert it with nb.tensor(...) first")
    same_device(op, *tensors)
    return tensors


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension."""
    tensors = _tensor_list(tensors, "cat")
    for i, t_ in enumerate(tensors):
        if not t_._shape:
            raise RuntimeError(f"cat: zero-dimensional tensor (at position {i}) cannot be "
                               "concatenated; use nb.stack to join 0-d tensors")
    first = tensors[0]
    d = normalize_dim(dim, first.ndim, "cat")
    for i, t_ in enumerate(tensors):
        if t_.ndim != first.ndim or any(a != b for j, (a, b) in
                                        enumerate(zip(t_.shape, first.shape)) if j != d):
            raise ValueError(f"cat: tensor {i} has shape {t_._shape}, which does not match "
                             f"{first._shape} outside dimension {d}")
    return Cat.apply(d, *tensors)


def stack(tensors, dim: int = 0) -> Tensor:
    """Join tensors of one shape along a new dimension."""
    tensors = _tensor_list(tensors, "stack")
    d = normalize_dim(dim, tensors[0].ndim + 1, "stack")
    for i, t_ in enumerate(tensors):
        if t_.shape != tensors[0].shape:
            raise ValueError(f"stack: all tensors must have one shape; tensor 0 has shape "
                             f"{tuple(tensors[0].shape)} and tensor {i} has shape {t_._shape}")
    return cat([unsqueeze(t_, d) for t_ in tensors], d)


# ---- what a Parameter is made of ----------------------------------------------------------

def set_data_(t: Tensor, new: Tensor) -> Tensor:
    """Give ``t`` the memory, shape, dtype and device of ``new``, in place, and return
    ``t``: PyTorch's ``t.data = new``, which ``Module.to`` / ``.cuda()`` / ``.double()``
    use so that the same Parameter objects (the ones an optimizer holds) move. ``t`` keeps
    its own version counter and its place in autograd (``requires_grad``, ``grad``), as
    in PyTorch: the swap is no in-place write of ``t``'s values, so it neither bumps the
    version nor resets it (a reset to 0 made a tensor saved at version v look modified).
    Only when ``new`` is memory numbanet did not allocate (or ``t`` was) does the counter
    change kind, keeping its value, so that in-place writes into foreign memory stay
    checked."""
    if not isinstance(new, Tensor):
        raise TypeError(f"data must be set to a Tensor, got {type(new).__name__}")
    t._data, t._device, t._dtype, t._shape = new._data, new._device, new._dtype, new._shape
    if new._vc.__class__ is not t._vc.__class__:
        t._vc = new._vc.__class__(t._vc)
    return t


def alias_as(cls: type, data: Tensor) -> Tensor:
    """A new leaf of class ``cls`` (``Tensor`` or a subclass such as ``nn.Parameter``,
    with no fields of its own) over ``data``'s memory, sharing its version counter, as
    PyTorch's ``Tensor._make_subclass`` does: an in-place change of either shows in the
    other, and autograd sees it in both. It does not require grad and has no ``grad_fn``;
    the caller sets ``requires_grad``."""
    if not isinstance(data, Tensor):
        raise TypeError(f"{cls.__name__} expects a Tensor, got {type(data).__name__}")
    p = wrap(data._data, data._device, data._dtype, base=data)  # shares data._vc
    p._base = None  # a leaf of its own, not a view that autograd would route through data
    if cls is not Tensor:
        p.__class__ = cls
    return p
