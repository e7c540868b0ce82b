"""Argument checks shared by every backend, run before the kernels that take indices from data.

Numba kernels do not check bounds, and an index array may hold anything by the time a
kernel runs: the tensor layer checks an index when it is used, but its memory can be
shared with NumPy (``from_numpy``, DLPack) and change afterwards, before a backward pass
reads it again; a graph file can hold any index at all. So the gather and scatter kernels
check every index they read (one comparison per index, not per element) and report the
first one out of range; the backend then raises the IndexError made here. The checks of
types and shapes below are the Python half: they run before the kernel, in a few
attribute comparisons.
"""
from __future__ import annotations

import numpy as np

_INT64 = np.dtype(np.int64)


def index_arguments(op: str, shape, axis, index, src_shape=None):
    """Raise unless ``index`` is a 1-D int64 array, ``axis`` a dimension of ``shape`` and
    ``src_shape`` (for scatters) ``shape`` with ``len(index)`` entries along ``axis``."""
    if not 0 <= axis < len(shape):
        raise IndexError(f"{op}: axis {axis} is out of range for an array of shape "
                         f"{tuple(shape)} (expected 0 to {len(shape) - 1})")
    if index.dtype != _INT64 or index.ndim != 1:
        raise TypeError(f"{op}: the index must be a 1-D int64 array, got a {index.ndim}-D "
                        f"{index.dtype} array of shape {tuple(index.shape)}")
    if src_shape is not None:
        expected = tuple(shape[:axis]) + (index.shape[0],) + tuple(shape[axis + 1:])
        if tuple(src_shape) != expected:
            raise ValueError(f"{op}: the source has shape {tuple(src_shape)}, expected "
                             f"{expected}: the destination's shape {tuple(shape)} with the "
                             f"index's {index.shape[0]} entries along axis {axis}")


def out_of_bounds(op: str, value, axis: int, size: int) -> IndexError:
    """The error for an index found out of range in [-size, size) by a kernel."""
    return IndexError(f"{op}: index {int(value)} is out of bounds for dimension {axis} with "
                      f"size {size}")


def bad_pool_index(value, plane_shape) -> IndexError:
    """The error for a saved max-pooling index that is neither -1 nor a pixel of its plane."""
    h, w = plane_shape
    return IndexError(f"max_pool2d_backward: saved index {int(value)} is out of bounds for an "
                      f"({h}, {w}) plane: expected -1 or 0 to {h * w - 1}. The indices must "
                      "be those max_pool2d returned, unchanged")


def random_range(low, high):
    """Raise unless [low, high) holds an integer (``randint``)."""
    if not low < high:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")


def permutation(perm, ndim):
    """Raise unless ``perm`` orders the ``ndim`` dims of an array, each once."""
    if sorted(perm) != list(range(ndim)):
        raise ValueError(f"permute: {tuple(perm)} is not a permutation of the {ndim} dims "
                         f"0..{ndim - 1}")


def update_arrays(op, arrays, is_contiguous):
    """Raise unless the arrays of a fused update (parameter, gradient, state) are C-contiguous
    and of one shape and dtype: its kernel walks them flat, by the parameter's size."""
    p = arrays[0]
    for a in arrays:
        if tuple(a.shape) != tuple(p.shape) or a.dtype != p.dtype or not is_contiguous(a):
            raise ValueError(f"{op}: the parameter, gradient and state arrays must be "
                             f"C-contiguous, of one shape and dtype; got "
                             + ", ".join(f"{tuple(x.shape)} {x.dtype}" for x in arrays))
