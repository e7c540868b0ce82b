"""Shape and stride arithmetic that does not depend on the device.

An array's layout is its shape and its strides (in bytes) from a start in memory. Every
backend follows the same rules for it: the CUDA backend makes its device-array headers
(views) from what these functions return, the CPU backend plans its reductions, gathers
and peeled loops with them (NumPy makes its views), and the graph recorder
(``graph/recorder.py``) computes the shapes and strides of what it records with them.
Nothing here touches memory, so it is written once, in plain Python, for tuples of ints.

- strides: ``c_strides``, ``is_c_contiguous`` (of an array), ``broadcast_strides``,
  ``nocopy_reshape``, ``check_reshape``;
- views: ``index_view`` (basic indexing), ``right_aligned`` (leading dims of size 1, as
  broadcasting aligns shapes), ``peel`` (the sub-array at one index of the leading dim);
- shapes of results: ``broadcasts``, ``broadcast_shapes``, ``reduced_shape``,
  ``matmul_shape``;
- plans: ``reduction_rows`` (an array as (kept, reduced) rows), ``gather_plan`` (an array
  as (outer, n, inner) around one axis).
"""
from __future__ import annotations

import math

# The elementwise and window kernels walk at most this many dims; an array of more is
# peeled: its leading dim is looped over in Python, one kernel per sub-array (``peel``).
KERNEL_DIMS = 4


def c_strides(shape, itemsize: int) -> tuple:
    """The strides of a C-contiguous array of ``shape``."""
    strides = []
    step = itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def is_c_contiguous(a) -> bool:
    """Whether the array ``a`` (its ``shape``, ``strides`` and ``dtype.itemsize``) walks its
    elements in C order without gaps (the stride of a dim of size 1 does not matter, nor do
    the strides of an empty array)."""
    shape = a.shape
    if 0 in shape:
        return True
    expected = a.dtype.itemsize
    for n, s in zip(reversed(shape), reversed(a.strides)):
        if n != 1 and s != expected:
            return False
        expected *= n
    return True


def broadcast_strides(shape, strides, target) -> tuple:
    """The strides of a view of an array of ``shape`` and ``strides`` broadcast to
    ``target`` (stride 0 along the new dims and the dims of size 1 that grow). ValueError
    unless ``shape`` broadcasts to ``target``: a larger size with the stride kept would
    reach past the array's memory."""
    target = tuple(target)
    lead = len(target) - len(shape)
    out = [0] * lead
    for n, m, s in zip(shape, target[lead:], strides):
        if n == m:
            out.append(s)
        elif n == 1:
            out.append(0)
        else:
            break
    if lead < 0 or len(out) != len(target) or min(target, default=0) < 0:
        raise ValueError(f"broadcast_to: an array of shape {tuple(shape)} cannot be broadcast "
                         f"to {target}")
    return tuple(out)


def nocopy_reshape(shape, strides, new_shape):
    """The strides of a view of (shape, strides) with ``new_shape`` (of the same size), or
    None when no view can have that shape (NumPy's rule: the old dims merged into one new
    dim must be contiguous with each other)."""
    old = [(n, s) for n, s in zip(shape, strides) if n != 1]
    new_strides = [0] * len(new_shape)
    if math.prod(shape) == 0:
        return None
    oi, ni = 0, 0
    while ni < len(new_shape) and oi < len(old):
        np_, op_ = new_shape[ni], old[oi][0]
        nj, oj = ni + 1, oi + 1
        while np_ != op_:
            if np_ < op_:
                np_ *= new_shape[nj]
                nj += 1
            else:
                op_ *= old[oj][0]
                oj += 1
        for k in range(oi, oj - 1):  # the old dims merged here must be contiguous together
            if old[k][1] != old[k + 1][0] * old[k + 1][1]:
                return None
        new_strides[nj - 1] = old[oj - 1][1]
        for k in range(nj - 1, ni, -1):
            new_strides[k - 1] = new_strides[k] * new_shape[k]
        ni, oi = nj, oj
    last = new_strides[ni - 1] if ni > 0 else strides[-1] if strides else 1
    for k in range(ni, len(new_shape)):  # trailing dims of size 1
        new_strides[k] = last
    return tuple(new_strides)


def check_reshape(size: int, shape) -> None:
    """ValueError unless ``shape`` (no negative entry) holds ``size`` elements."""
    if math.prod(shape) != size or min(shape, default=0) < 0:
        raise ValueError(f"cannot reshape an array of size {size} into shape {tuple(shape)}")


def index_view(shape, strides, key):
    """(byte offset, shape, strides) of ``a[key]`` for a tuple ``key`` of ints and slices
    with positive steps (the dims after it taken whole). IndexError for an int out of
    range of its dim."""
    delta, out_shape, out_strides = 0, [], []
    for d, k in enumerate(key):
        if isinstance(k, slice):
            start, stop, step = k.indices(shape[d])
            n = len(range(start, stop, step))
            if n:
                delta += start * strides[d]
            out_shape.append(n)
            out_strides.append(strides[d] * step)
        elif -shape[d] <= k < shape[d]:
            delta += (k % shape[d]) * strides[d]
        else:
            raise IndexError(f"index {k} is out of bounds for dimension {d} with size "
                             f"{shape[d]}")
    out_shape += shape[len(key):]
    out_strides += strides[len(key):]
    return delta, tuple(out_shape), tuple(out_strides)


def right_aligned(shape, strides, ndim: int):
    """(shape, strides) with leading dims of size 1 (stride 0) added up to ``ndim`` dims,
    as broadcasting aligns shapes to the right; unchanged if it has ``ndim`` or more."""
    lead = ndim - len(shape)
    if lead <= 0:
        return tuple(shape), tuple(strides)
    return (1,) * lead + tuple(shape), (0,) * lead + tuple(strides)


def peel(shape, i: int, ndim: int):
    """Which sub-array an operand of ``shape`` gives when the leading dim of an ``ndim``-D
    output is looped over, at index ``i``: None when the operand has fewer dims (it
    broadcasts there: passed whole), else the index along its own leading dim (0 when that
    dim has size 1)."""
    if len(shape) < ndim:
        return None
    return 0 if shape[0] == 1 else i


def broadcasts(shape, target) -> bool:
    """Whether an operand of ``shape`` broadcasts to ``target`` (its dims, aligned to the
    right, are 1 or the target's)."""
    if len(shape) > len(target):
        return False
    for n, m in zip(reversed(shape), reversed(target)):
        if n != m and n != 1:
            return False
    return True


def broadcast_shapes(s, t) -> tuple:
    """The shape two shapes broadcast to; ValueError if they do not."""
    n = max(len(s), len(t))
    s, t = (1,) * (n - len(s)) + tuple(s), (1,) * (n - len(t)) + tuple(t)
    out = []
    for x, y in zip(s, t):
        if x != y and 1 not in (x, y):
            raise ValueError(f"shapes {s} and {t} do not broadcast")
        out.append(y if x == 1 else x)
    return tuple(out)


def reduced_shape(shape, axes) -> tuple:
    """``shape`` without the dims ``axes``."""
    return tuple(n for d, n in enumerate(shape) if d not in axes)


def matmul_shape(a_shape, b_shape) -> tuple:
    """The shape of ``a @ b`` for arrays of at least 2 dims, (..., m, k) @ (..., k, n) with
    batch dims that broadcast; ValueError otherwise."""
    if len(a_shape) < 2 or len(b_shape) < 2 or a_shape[-1] != b_shape[-2] or not all(
            n == m or 1 in (n, m) for n, m in zip(reversed(a_shape[:-2]),
                                                  reversed(b_shape[:-2]))):
        raise ValueError(f"matmul: shapes {tuple(a_shape)} and {tuple(b_shape)} do not fit: "
                         "(..., m, k) @ (..., k, n) with batch dims that broadcast")
    return broadcast_shapes(a_shape[:-2], b_shape[:-2]) + (a_shape[-2], b_shape[-1])


def reduction_rows(shape, axes):
    """How a reduction over ``axes`` sees an array of ``shape``: (perm, kept, rows). The
    array permuted by ``perm`` (kept dims first, in order, then the reduced ones) and
    reshaped to ``rows`` = (kept elements, reduced elements) is reduced row by row; the
    result has the shape ``kept``."""
    keep = [d for d in range(len(shape)) if d not in axes]
    kept = tuple(shape[d] for d in keep)
    return tuple(keep) + tuple(axes), kept, (math.prod(kept), math.prod(shape[d] for d in axes))


def gather_plan(shape, axis: int) -> tuple:
    """(outer, n, inner): an array of ``shape`` as a 3-D one around ``axis``, which gathers
    and scatters along its middle dim (``index_select``, ``index_add``)."""
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])
