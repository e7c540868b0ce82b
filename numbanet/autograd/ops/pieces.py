"""Cutting, copying and moving the dims of a tensor, as PyTorch names them: ``split``,
``chunk``, ``unbind``, ``select``, ``repeat``, ``tile``, ``repeat_interleave``, ``flip``,
``roll``, ``movedim``, ``swapaxes``, ``unflatten``. Each is made of the primitives of
``shape.py`` and ``indexing.py`` (views where PyTorch gives views), so gradients come
with them."""
from __future__ import annotations

import math

from ... import creation
from ... import dtypes as dt
from ...shapes import normalize_dim
from ...tensor import Tensor
from .dispatch import not_a_tensor
from .indexing import index_select, narrow
from .shape import cat, expand, permute, reshape, squeeze, transpose


def _tensor_arg(op: str, x) -> Tensor:
    if not isinstance(x, Tensor):
        raise not_a_tensor(op, "input", 1, x)
    return x


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Pieces along ``dim``: of ``split_size_or_sections`` entries each (the last smaller), or
    of the sizes in a list; views of ``tensor``."""
    x = _tensor_arg("split", tensor)
    d = normalize_dim(dim, x.ndim, "split")
    n = x.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0 and not (size == 0 and n == 0):
            raise RuntimeError(f"split expects split_size be non-negative, but got "
                               f"split_size={size}")
        sizes = [min(size, n - i) for i in range(0, n, size)] if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
    pieces, start = [], 0
    for s in sizes:
        pieces.append(narrow(x, d, start, s))
        start += s
    return tuple(pieces)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """At most ``chunks`` pieces of equal size (the last smaller) along ``dim``."""
    x = _tensor_arg("chunk", input)
    if not isinstance(chunks, int) or chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = x.shape[normalize_dim(dim, x.ndim, "chunk")]
    return split(x, max(1, math.ceil(n / chunks)), dim)


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """``input[..., index, ...]`` at ``dim``: that dim removed (a view)."""
    x = _tensor_arg("select", input)
    d = normalize_dim(dim, x.ndim, "select")
    n = x.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{tuple(x.shape)} at dimension {d}")
    return squeeze(narrow(x, d, index % n, 1), d)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """Every slice along ``dim``, that dim removed."""
    x = _tensor_arg("unbind", input)
    d = normalize_dim(dim, x.ndim, "unbind")
    return tuple(select(x, d, i) for i in range(x.shape[d]))


def _sizes(sizes, op: str) -> tuple:
    if len(sizes) == 1 and not isinstance(sizes[0], int):
        sizes = tuple(sizes[0])
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in sizes):
        raise TypeError(f"{op}(): sizes must be ints, got {sizes!r}")
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"{op}: trying to create tensor with negative dimension: {sizes}")
    return tuple(sizes)


def repeat(input: Tensor, *sizes) -> Tensor:
    """The tensor repeated ``sizes[i]`` times along dim ``i`` (new leading dims for extra
    sizes), a copy, as ``Tensor.repeat``."""
    x = _tensor_arg("repeat", input)
    sizes = _sizes(sizes, "repeat")
    if len(sizes) < x.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           f"of dimensions of tensor: {len(sizes)} < {x.ndim}")
    shape = (1,) * (len(sizes) - x.ndim) + tuple(x.shape)
    spread = []  # (1, s0, 1, s1, ...) expanded to (r0, s0, r1, s1, ...)
    for s in shape:
        spread += [1, s]
    grown = expand(reshape(x, tuple(spread)),
                   tuple(v for r, s in zip(sizes, shape) for v in (r, s)))
    return reshape(grown, tuple(r * s for r, s in zip(sizes, shape)))


def tile(input: Tensor, dims) -> Tensor:
    """``repeat``, with ``dims`` padded with ones on the left to the tensor's dims."""
    x = _tensor_arg("tile", input)
    dims = _sizes((dims,) if isinstance(dims, int) else tuple(dims), "tile")
    return repeat(x, *((1,) * (x.ndim - len(dims)) + dims))


def repeat_interleave(input: Tensor, repeats, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Each entry repeated ``repeats`` times (an int, or a tensor of one count per entry)
    along ``dim`` (of the flattened tensor when None)."""
    x = _tensor_arg("repeat_interleave", input)
    if dim is None:
        x, dim = reshape(x, (-1,)), 0
    d = normalize_dim(dim, x.ndim, "repeat_interleave")
    n = x.shape[d]
    if isinstance(repeats, Tensor):
        counts = repeats.tolist()
        counts = [counts] if isinstance(counts, int) else counts
        if len(counts) == 1:
            counts = counts * n
        if len(counts) != n:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                               f"repeats.size(0) = {len(counts)} and input.size({d}) = {n}")
    else:
        counts = [int(repeats)] * n
    if any(c < 0 for c in counts):
        raise RuntimeError("repeats can not be negative")
    order = [i for i, c in enumerate(counts) for _ in range(c)]
    return index_select(x, d, creation.tensor(order, dtype=dt.int64, device=x.device))


def flip(input: Tensor, *dims) -> Tensor:
    """The entries in reverse order along each of ``dims`` (a copy): ``flip(x, (0, 2))``,
    ``x.flip(0, 2)``."""
    x = _tensor_arg("flip", input)
    dims = tuple(dims[0]) if len(dims) == 1 and not isinstance(dims[0], int) else dims
    seen = set()
    for dim in dims:
        d = normalize_dim(dim, x.ndim, "flip")
        if d in seen:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        seen.add(d)
        n = x.shape[d]
        x = index_select(x, d, creation.arange(n - 1, -1, -1, device=x.device))
    return x


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Entries shifted by ``shifts`` along ``dims``, those pushed off one end coming back at
    the other; with no dims, over the flattened tensor, shape kept."""
    x = _tensor_arg("roll", input)
    if dims is None:
        if not isinstance(shifts, int) and len(shifts) != 1:
            raise RuntimeError("roll: with dims=None, shifts must be one int")
        shift = shifts if isinstance(shifts, int) else shifts[0]
        return reshape(roll(reshape(x, (-1,)), shift, 0), tuple(x.shape))
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:"
                           f"{len(dims)}")
    for shift, dim in zip(shifts, dims):
        d = normalize_dim(dim, x.ndim, "roll")
        n = x.shape[d]
        if n == 0 or shift % n == 0:
            continue
        k = shift % n
        x = cat([narrow(x, d, n - k, k), narrow(x, d, 0, n - k)], d)
    return x


def movedim(input: Tensor, source, destination) -> Tensor:
    """Dims ``source`` moved to the places ``destination``, the others in order."""
    x = _tensor_arg("movedim", input)
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} "
                           f"dims) should contain the same number of dims as destination "
                           f"({list(dst)} dims)")
    src = tuple(normalize_dim(d, x.ndim, "movedim") for d in src)
    dst = tuple(normalize_dim(d, x.ndim, "movedim") for d in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError("movedim: repeated dim in `source` or `destination`")
    order: list = [None] * x.ndim
    for s, t in zip(src, dst):
        order[t] = s
    rest = iter(d for d in range(x.ndim) if d not in src)
    return permute(x, tuple(o if o is not None else next(rest) for o in order))


def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:
    return transpose(_tensor_arg("swapaxes", input), axis0, axis1)


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Dim ``dim`` split into ``sizes`` (one of them may be -1)."""
    x = _tensor_arg("unflatten", input)
    d = normalize_dim(dim, x.ndim, "unflatten")
    sizes = tuple(sizes)
    known = math.prod(s for s in sizes if s != -1)
    if sizes.count(-1) > 1 or (-1 not in sizes and known != x.shape[d]) or \
            (-1 in sizes and (known == 0 or x.shape[d] % known)):
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({x.shape[d]}) in the input tensor")
    sizes = tuple(x.shape[d] // known if s == -1 else s for s in sizes)
    return reshape(x, tuple(x.shape[:d]) + sizes + tuple(x.shape[d + 1:]))


def mT(x: Tensor) -> Tensor:
    """The last two dims swapped (a view); for real tensors also ``mH``."""
    if x.ndim < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. "
                           f"Got {x.ndim}-D tensor.")
    return transpose(x, -2, -1)


