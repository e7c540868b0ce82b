"""Shape arithmetic shared by the tensor layer: broadcasting, dims, sizes."""
from __future__ import annotations

import math


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


def normalize_dim(dim: int, ndim: int, op: str) -> int:
    """``dim`` as a non-negative index into ``ndim`` dimensions (``-1`` is the last)."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"{op}: dimension {dim} is out of range for a tensor of "
                         f"{ndim} dimension{'s' if ndim != 1 else ''} "
                         f"(expected a dim in [{-size}, {size - 1}])")
    return dim % size


def normalize_dims(dims, ndim: int, op: str) -> tuple:
    """A sorted tuple of distinct non-negative dims; None means all of them."""
    if dims is None:
        return tuple(range(ndim))
    if isinstance(dims, int):
        dims = (dims,)
    result = sorted({normalize_dim(d, ndim, op) for d in dims})
    if len(result) != len(tuple(dims)):
        raise ValueError(f"{op}: dim {tuple(dims)} names a dimension twice")
    return tuple(result) if ndim else ()  # a 0-d tensor accepts dim 0 or -1 and has none


def size_args(size, op: str) -> tuple:
    """Sizes given as ``f(2, 3)`` or ``f((2, 3))`` or ``f([2, 3])`` -> ``(2, 3)``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, int) or isinstance(s, bool) or s < 0:
            raise ValueError(f"{op}: sizes must be non-negative ints, got {tuple(size)!r}")
    return tuple(size)


def infer_shape(shape: tuple, numel: int, op: str, source: tuple) -> tuple:
    """Resolve one ``-1`` in a target shape, checking that the element count matches."""
    shape = tuple(shape)
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if len(unknown) > 1:
        raise ValueError(f"{op}: only one dimension can be -1, got shape {shape}")
    known = math.prod(s for s in shape if s != -1)
    if any((s < 0 and s != -1) or not isinstance(s, int) for s in shape):
        raise ValueError(f"{op}: invalid shape {shape}")
    if unknown:
        if known == 0 or numel % known:
            raise ValueError(f"{op}: shape {shape} is invalid for input of shape {source} "
                             f"({numel} elements)")
        shape = shape[:unknown[0]] + (numel // known,) + shape[unknown[0] + 1:]
    elif known != numel:
        raise ValueError(f"{op}: shape {shape} is invalid for input of shape {source} "
                         f"({numel} elements)")
    return shape
