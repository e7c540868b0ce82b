"""Shape arithmetic shared by the tensor layer: broadcasting, dims, sizes."""
from __future__ import annotations

import math
import operator


class Size(tuple):
    """The shape of a tensor, ``x.shape`` and ``x.size()``: a tuple of ints (it compares
    equal to one) with PyTorch's repr and ``numel()``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"numbanet.Size({list(self)})"

    def numel(self) -> int:
        return math.prod(self)

    def __getitem__(self, key):
        got = tuple.__getitem__(self, key)
        return Size(got) if isinstance(key, slice) else got

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))

    def __reduce__(self):
        return (Size, (tuple(self),))


def broadcast_shapes(op: str, *shapes: tuple) -> tuple:
    """The shape that ``shapes`` broadcast to, or a ValueError naming ``op`` and the shapes."""
    first = shapes[0]
    if all(s == first for s in shapes):
        return first
    ndim = max(len(s) for s in shapes)
    result = []
    for i in range(-ndim, 0):
        size = 1
        for s in shapes:
            if -i <= len(s):
                d = s[i]
                if d != 1:
                    if size != 1 and d != size:
                        listed = " and ".join(str(tuple(x)) for x in shapes)
                        raise ValueError(
                            f"{op}: shapes {listed} cannot be broadcast together: dimension "
                            f"{ndim + i} has sizes {size} and {d} (each must match or be 1)")
                    size = d
        result.append(size)
    return tuple(result)


def as_int(value):
    """``value`` as a Python int when it is an integer (int, NumPy integer, anything with
    ``__index__``) other than a bool; else None."""
    if value.__class__ is int:
        return value
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def normalize_dim(dim, ndim: int, op: str) -> int:
    """``dim`` as a non-negative index into ``ndim`` dimensions (``-1`` is the last)."""
    d = as_int(dim)
    if d is None:
        raise TypeError(f"{op}: dim must be an int, got {dim!r} of type {type(dim).__name__}")
    size = max(ndim, 1)
    if not -size <= d < size:
        raise IndexError(f"{op}: dimension {d} is out of range for a tensor of "
                         f"{ndim} dimension{'s' if ndim != 1 else ''} "
                         f"(expected a dim in [{-size}, {size - 1}])")
    return d % size


def normalize_dims(dims, ndim: int, op: str) -> tuple:
    """A sorted tuple of distinct non-negative dims; None means all of them."""
    if dims is None:
        return tuple(range(ndim))
    if as_int(dims) is not None:
        dims = (dims,)
    elif not isinstance(dims, (tuple, list)):
        raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {dims!r} of type "
                        f"{type(dims).__name__}")
    result = sorted({normalize_dim(d, ndim, op) for d in dims})
    if len(result) != len(tuple(dims)):
        raise ValueError(f"{op}: dim {tuple(dims)} names a dimension twice")
    return tuple(result) if ndim else ()  # a 0-d tensor accepts dim 0 or -1 and has none


def int_sizes(sizes, op: str) -> tuple:
    """``sizes`` as a tuple of Python ints (NumPy integers accepted), or a TypeError that
    names the op and the element that is not an integer."""
    out = []
    for s in sizes:
        i = as_int(s)
        if i is None:
            raise TypeError(f"{op}: sizes must be ints, got {s!r} (of type {type(s).__name__}) "
                            f"in {tuple(sizes)!r}")
        if not -(1 << 63) <= i < 1 << 63:
            raise TypeError(f"{op}: the size {i} in {tuple(sizes)!r} is larger than the largest "
                            "size, 2**63 - 1")
        out.append(i)
    return tuple(out)


def size_args(size, op: str) -> tuple:
    """Sizes given as ``f(2, 3)`` or ``f((2, 3))`` or ``f([2, 3])`` -> ``(2, 3)``."""
    if not size:  # PyTorch: zeros() is a TypeError; zeros(()) is 0-d
        raise TypeError(f"{op}() missing 1 required positional argument: 'size'; pass () "
                        "for a 0-d tensor")
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    size = int_sizes(size, op)
    if any(s < 0 for s in size):
        raise RuntimeError(f"{op}: sizes must be non-negative, got {size}")
    return size


def check_extent(shape: tuple, itemsize: int, op: str):
    """A RuntimeError when the memory of an array of ``shape`` cannot even be counted: its
    sizes (the non-zero ones, as NumPy counts them) times the item size pass 2**63 bytes."""
    extent = itemsize
    for n in shape:
        extent *= n or 1
    if extent >= 1 << 63:
        raise RuntimeError(f"{op}: storage size calculation overflowed for shape {shape}: "
                           f"{extent} bytes is more than any array can hold (at most 2**63 - 1)")


def infer_shape(shape: tuple, numel: int, op: str, source: tuple) -> tuple:
    """Resolve one ``-1`` in a target shape, checking that the element count matches."""
    shape = tuple(shape)
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if len(unknown) > 1:
        raise RuntimeError(f"{op}: only one dimension can be -1, got shape {shape}")
    for i, s in enumerate(shape):
        if s < -1:
            raise RuntimeError(f"{op}: invalid shape dimension {s} at index {i} of shape "
                               f"{shape}; sizes are non-negative, or -1 for one inferred size")
    known = math.prod(s for s in shape if s != -1)
    if unknown:
        if known == 0 or numel % known:
            raise RuntimeError(f"{op}: shape {shape} is invalid for input of shape {source} "
                               f"({numel} elements)")
        shape = shape[:unknown[0]] + (numel // known,) + shape[unknown[0] + 1:]
    elif known != numel:
        raise RuntimeError(f"{op}: shape {shape} is invalid for input of shape {source} "
                           f"({numel} elements)")
    return shape


def check_layout(strides: tuple, itemsize: int, aligned: bool, op: str):
    """Foreign memory (NumPy arrays, DLPack) is shared only at an address aligned to the item
    size, with positive strides that are multiples of it: the layouts numbanet's kernels
    handle (a misaligned address is a fault on a GPU, one that spoils the CUDA context)."""
    if not aligned:
        raise ValueError(f"{op}: the data's address is not a multiple of its item size "
                         f"({itemsize} bytes), so kernels can't read it; pass an aligned "
                         "copy, e.g. nb.tensor(a) or nb.from_numpy(a.copy())")
    if any(s < 0 or s % itemsize for s in strides):
        raise ValueError(f"{op}: the array has strides {tuple(strides)} (in bytes); numbanet "
                         "tensors need positive strides that are multiples of the item size "
                         "(arrays reversed with [::-1] are not supported). Pass a copy "
                         "instead, e.g. nb.from_numpy(np.ascontiguousarray(a))")


def has_internal_overlap(shape: tuple, strides: tuple, itemsize: int) -> bool:
    """Whether two elements of an array with this shape and these strides (in bytes) share
    memory, so that an in-place write would race with itself (PyTorch's
    ``has_internal_overlap``, decided exactly rather than "too hard").

    A dimension of size > 1 with stride 0 overlaps for sure; strides that nest (each at
    least the extent of the smaller ones, as in any slice or transpose of a dense array)
    cannot; anything else is settled by listing the offsets, or, past 2**22 elements,
    counted as overlapping (such layouts only come from as_strided-style foreign memory).
    """
    dims = []
    for n, s in zip(shape, strides):
        if n == 0:
            return False
        if n > 1:
            if s == 0:
                return True
            dims.append((abs(s), n))
    dims.sort()
    extent = itemsize  # bytes from the first element's start to the last element's end
    for s, n in dims:
        if s < extent:
            break
        extent += s * (n - 1)
    else:
        return False
    if math.prod(n for _, n in dims) > 1 << 22:
        return True
    import numpy as np
    offsets = np.zeros(1, np.int64)
    for s, n in dims:
        offsets = (offsets[:, None] + np.arange(n, dtype=np.int64) * s).ravel()
    offsets.sort()
    return bool((np.diff(offsets) < itemsize).any())
