"""Hypothesis strategies for tensors: shapes, values, and layouts (contiguous, transposed,
sliced with a step, broadcast with stride 0), as NumPy arrays plus the matching tensor."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import numbanet as nb

LAYOUTS = ("contiguous", "transposed", "strided", "broadcast")


def shapes(min_dims=0, max_dims=4, min_side=1, max_side=5):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def values(shape, dtype=np.float64, low=-3.0, high=3.0, avoid=None):
    """Float arrays in [low, high], optionally kept at least 0.05 away from ``avoid``
    (e.g. 0 for relu/abs kinks)."""
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)
    if avoid is not None:
        elements = elements.filter(lambda v: abs(v - avoid) > 0.05)
    return hnp.arrays(dtype, shape, elements=elements)


@st.composite
def laid_out(draw, array: np.ndarray, layouts=LAYOUTS, dtype=None):
    """``(reference, tensor)``: a tensor with the values of ``reference`` in a layout drawn
    from ``layouts``, built with numbanet view ops so that it really is non-contiguous.
    The "broadcast" layout repeats the first row, so ``reference`` may differ from ``array``."""
    layout = draw(st.sampled_from(layouts))
    kw = {} if dtype is None else {"dtype": dtype}
    if layout == "transposed" and array.ndim >= 2:
        base = nb.tensor(np.ascontiguousarray(np.swapaxes(array, -1, -2)), **kw)
        return array, base.transpose(-1, -2)
    if layout == "strided" and array.ndim >= 1:
        wide = np.zeros(array.shape[:-1] + (array.shape[-1] * 2,), array.dtype)
        wide[..., ::2] = array
        return array, nb.tensor(wide, **kw)[..., ::2]
    if layout == "broadcast" and array.ndim >= 1 and array.shape[0] > 1:
        reference = np.broadcast_to(array[:1], array.shape).copy()
        return reference, nb.tensor(np.ascontiguousarray(array[:1]), **kw).expand(*array.shape)
    return array, nb.tensor(array, **kw)


def broadcastable_pair(max_dims=3, max_side=4):
    """Two shapes that broadcast together (some dims 1, some missing)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=max_dims,
                                             max_side=max_side).map(lambda r: r.input_shapes)


def same_layout(t) -> np.ndarray:
    """A NumPy array with the shape and element strides of tensor ``t`` (on any device), for
    asking NumPy whether ``t``'s layout allows a view; its values are meaningless."""
    extent = 1 + sum((n - 1) * s for n, s in zip(t.shape, t.stride()))
    return np.lib.stride_tricks.as_strided(np.zeros(max(extent, 1)), t.shape,
                                           tuple(s * 8 for s in t.stride()))
