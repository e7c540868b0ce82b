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


# ---- indexing by PyTorch's rule, with NumPy ----------------------------------------------
# PyTorch differs from NumPy in one rule: an int always selects first, even beside index
# arrays, so ``x[0, :, idx]`` of a (2, 3, 4) tensor is (3, len(idx)) (NumPy: (len(idx), 3)).

def torch_rule(a, key):
    """``a[key]`` by PyTorch's rule, as a view where NumPy gives one: the ints (and slices,
    None) first, then the index arrays and masks on what is left."""
    first, rest = [], []
    for k in key if isinstance(key, tuple) else (key,):
        if isinstance(k, np.ndarray):
            first.extend([slice(None)] * (k.ndim if k.dtype == np.bool_ else 1))
            rest.append(k)
        elif k is Ellipsis:
            first.append(k)
            rest.append(k)
        else:  # an int, a slice or None
            first.append(k)
            if not isinstance(k, (int, np.integer)):
                rest.append(slice(None))
    if not any(k is Ellipsis for k in first):
        first.append(Ellipsis)  # a 0-d view, not a scalar, when ints take every dim
    view = a[tuple(first)]
    # spelled out: an Ellipsis of no dims does not separate arrays
    if any(k is Ellipsis for k in rest):
        at = next(i for i, k in enumerate(rest) if k is Ellipsis)
        used = sum(k.ndim if isinstance(k, np.ndarray) and k.dtype == np.bool_ else 1
                   for k in rest if k is not Ellipsis)
        rest[at:at + 1] = [slice(None)] * (view.ndim - used)
    return view, tuple(rest)


def torch_index(a, key):
    view, rest = torch_rule(a, key)
    return view[rest]
