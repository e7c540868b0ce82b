"""Hypothesis strategies that draw fuzz cases (plain data, see harness.py): inputs of random
shapes (0-size included), dtypes and layouts, and code over the public API with arguments in
and out of range."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

DTYPES = ("float32", "float64", "int64", "bool")
LAYOUTS = ("contiguous", "transposed", "strided", "broadcast")
# a value far outside every size: an index into memory that is not the tensor's
FAR = 10**9


def shapes(min_dims=0, max_dims=4, max_side=4, min_side=0):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def elements(dtype: str, special: bool = True):
    if dtype == "bool":
        return st.booleans()
    if dtype == "int64":
        return st.integers(-20, 20)
    width = 32 if dtype == "float32" else 64
    finite = st.floats(-10, 10, width=width)
    if not special:
        return finite
    return st.one_of(finite, st.sampled_from([0.0, -0.0, np.inf, -np.inf, np.nan]))


@st.composite
def arrays(draw, shape=None, dtype=None, special=True, **shape_kw):
    dtype = dtype or draw(st.sampled_from(DTYPES))
    shape = draw(shapes(**shape_kw)) if shape is None else shape
    return draw(hnp.arrays(np.dtype(dtype), shape, elements=elements(dtype, special)))


@st.composite
def tensors(draw, array=None, layouts=LAYOUTS, device="cpu", **kw):
    """An input spec: an array (given, drawn from a given strategy, or drawn with ``kw``) in
    a drawn layout."""
    if array is None:
        array = draw(arrays(**kw))
    elif isinstance(array, st.SearchStrategy):
        array = draw(array)
    return {"array": array, "layout": draw(st.sampled_from(layouts)), "device": device}


def spec(array, **kw) -> dict:
    return {"array": np.asarray(array), "layout": "contiguous", **kw}


def case(code: str, expect=None, **inputs) -> dict:
    return {"inputs": inputs, "code": code, "expect": expect}


# ---- indices ------------------------------------------------------------------------------

def index_value(size: int):
    """An index for a dim of ``size``: mostly in range (negative too), sometimes just
    outside, sometimes far outside."""
    return st.one_of(st.integers(-size, size - 1) if size else st.integers(0, 0),
                     st.sampled_from([size, -size - 1, FAR, -FAR]))


@st.composite
def keys(draw, shape, inputs: dict):
    """The source of an index for an array of ``shape`` (ints, slices, None, Ellipsis, int
    tensors and bool masks, with values in and out of range, masks of the right and the
    wrong shape); tensors of the key are added to ``inputs``."""
    ndim = len(shape)
    parts = []
    dim = 0
    used_ellipsis = False
    for _ in range(draw(st.integers(0, ndim + 1))):
        size = shape[dim] if dim < ndim else 1
        kind = draw(st.sampled_from(["int", "slice", "none", "ellipsis", "tensor", "mask"]))
        if kind == "int":
            parts.append(str(draw(index_value(size))))
            dim += 1
        elif kind == "slice":
            bound = st.one_of(st.none(), st.integers(-size - 2, size + 2))
            step = draw(st.one_of(st.none(), st.integers(1, 3)))
            start, stop = draw(bound), draw(bound)
            parts.append(f"{'' if start is None else start}:{'' if stop is None else stop}"
                         + ("" if step is None else f":{step}"))
            dim += 1
        elif kind == "none":
            parts.append("None")
        elif kind == "ellipsis" and not used_ellipsis:
            parts.append("...")
            used_ellipsis = True
            dim = max(dim, ndim - (draw(st.integers(0, max(ndim - dim, 0)))))
        elif kind == "tensor":
            name = f"i{len(inputs)}"
            idx_shape = draw(shapes(0, 2, 3))
            values = draw(hnp.arrays(np.int64, idx_shape, elements=index_value(size)))
            inputs[name] = spec(values)
            parts.append(name)
            dim += 1
        elif kind == "mask":
            span = draw(st.integers(1, max(1, min(2, ndim - dim))))
            mshape = tuple(shape[dim:dim + span]) if dim + span <= ndim else (1,) * span
            if draw(st.integers(0, 4)) == 0:  # the wrong shape
                mshape = tuple(s + draw(st.sampled_from([-1, 1, 2])) for s in mshape)
                mshape = tuple(max(s, 0) for s in mshape)
            name = f"m{len(inputs)}"
            inputs[name] = spec(draw(hnp.arrays(np.bool_, mshape)))
            parts.append(name)
            dim += span
    if not parts:
        return "()"
    if len(parts) == 1 and draw(st.booleans()):
        return parts[0]
    return ", ".join(parts) + ("," if len(parts) == 1 else "")
