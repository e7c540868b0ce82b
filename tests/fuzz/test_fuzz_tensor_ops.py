"""Fuzzing the tensor API against PyTorch, in the guarded worker: every case either gives
PyTorch's value (shape, dtype and values) or raises PyTorch's exception type, and never
crashes, hangs or leaks a Numba error, whatever the shapes (0-size too), dtypes, layouts
(transposed, strided, broadcast views), dims, indices and sizes."""
from __future__ import annotations

import numpy as np
from cases import DTYPES, arrays, case, keys, shapes, spec, tensors
from harness import EXAMPLES, check
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FUZZ = settings(max_examples=EXAMPLES, print_blob=True)
FLOATS = ("float32", "float64")


BINARY = ["a + b", "a - b", "a * b", "a / b", "M.maximum(a, b)", "M.minimum(a, b)",
          "a < b", "a == b", "a >= b", "M.where(a > 0, a, b)"]


@FUZZ
@given(st.data())
def test_binary_ops_broadcast_like_pytorch_or_fail_like_it(worker, data):
    shape_a, shape_b = data.draw(hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=3)).input_shapes
    if data.draw(st.integers(0, 3)) == 0:  # shapes that do not broadcast
        shape_b = tuple(shape_b[:-1]) + (data.draw(st.integers(2, 5)),)
    dtype_a, dtype_b = data.draw(st.sampled_from(FLOATS + ("int64",))), \
        data.draw(st.sampled_from(FLOATS + ("int64",)))
    op = data.draw(st.sampled_from(BINARY))
    if op == "a / b" and dtype_a == dtype_b == "int64":
        dtype_b = "float64"
    a = data.draw(tensors(arrays(shape_a, dtype_a)))
    b = data.draw(tensors(arrays(shape_b, dtype_b)))
    if data.draw(st.booleans()) and "where" not in op:  # a Python number on one side
        number = data.draw(st.sampled_from(["2", "-1.5", "0.0"]))
        op = op.replace("b", number) if "M." not in op else op
    check(worker, case(f"result = {op}", a=a, b=b))


# PyTorch checks no index against a tensor or a result of 0 elements (``zeros(1, 0)[[1]]``
# is empty); NumPy raises IndexError there, and so may numbanet
EMPTY = ("IndexError",)


@FUZZ
@given(st.data())
def test_indexing_gets_pytorchs_values_or_its_index_error(worker, data):
    a = data.draw(tensors(dtype=data.draw(st.sampled_from(DTYPES)),
                          layouts=("contiguous", "transposed", "strided"), max_dims=3))
    inputs = {"a": a}
    key = data.draw(keys(a["array"].shape, inputs))
    check(worker, dict(case(f"result = a[{key}]", **inputs), empty_may_raise=EMPTY))


@FUZZ
@given(st.data())
def test_item_assignment_writes_what_pytorch_writes_or_raises_its_error(worker, data):
    dtype = data.draw(st.sampled_from(FLOATS + ("int64",)))
    a = data.draw(tensors(dtype=dtype, layouts=("contiguous", "transposed", "strided"),
                          max_dims=3))
    inputs = {"a": a}
    key = data.draw(keys(a["array"].shape, inputs))
    value = data.draw(st.sampled_from(["7", "-1.5", "v", "v[0] if v.ndim else v"]))
    inputs["v"] = spec(data.draw(arrays(dtype=dtype, max_dims=2, max_side=3)))
    check(worker, dict(case(f"a = a.clone()\na[{key}] = {value}\nresult = a", **inputs),
                       empty_may_raise=EMPTY, empty_probe=f"result = a[{key}]"))


@FUZZ
@given(st.data())
def test_matmul_of_any_shapes_matches_pytorch_or_raises_its_error(worker, data):
    k = data.draw(st.integers(0, 3))
    shape_a = data.draw(shapes(1, 3, 3))
    shape_b = data.draw(shapes(1, 3, 3))
    if data.draw(st.booleans()):  # inner sizes that agree
        shape_a = shape_a[:-1] + (k,)
        shape_b = (shape_b[:-2] + (k,) + shape_b[-1:]) if len(shape_b) > 1 else (k,)
    dtype = data.draw(st.sampled_from(FLOATS))
    op = data.draw(st.sampled_from(["a @ b", "a.matmul(b)", "a.mm(b)", "M.matmul(a, b)"]))
    check(worker, case(f"result = {op}",
                       a=data.draw(tensors(arrays(shape_a, dtype, special=False))),
                       b=data.draw(tensors(arrays(shape_b, dtype, special=False)))))


@FUZZ
@given(st.data())
def test_dtype_casts_keep_values_like_pytorch(worker, data):
    src = data.draw(st.sampled_from(DTYPES))
    a = data.draw(tensors(arrays(dtype=src, special=False)))
    target = data.draw(st.sampled_from(["float()", "double()", "long()", "bool()",
                                        "to(M.float64)", "to(M.int64)", "to(M.bool)"]))
    check(worker, case(f"result = a.{target}", a=a))


INPLACE = ["a.add_(b)", "a.mul_(b)", "a.sub_(b)", "a.div_(b)", "a += b", "a *= 2", "a.zero_()",
           "a.fill_(1.5)", "a.clamp_(-1, 1)", "a[...] = b", "a.copy_(b)"]


# numbanet refuses every in-place write into memory that several elements share; PyTorch
# lets fill_/zero_ through (one value everywhere) and misses overlaps it finds "too hard"
# to prove, such as strides (1, 1)
OVERLAP = ("RuntimeError",)


@FUZZ
@given(st.data())
def test_inplace_ops_on_views_write_like_pytorch_or_refuse_overlapping_memory(worker, data):
    """In-place ops on transposed, strided and expanded views (whose elements share memory:
    PyTorch refuses to write them) and on overlapping NumPy memory shared by from_numpy."""
    shape = data.draw(shapes(1, 3, 3, min_side=1))
    dtype = data.draw(st.sampled_from(FLOATS))
    a = data.draw(tensors(arrays(shape, dtype, special=False)))
    b = data.draw(tensors(arrays(shape[data.draw(st.integers(0, len(shape))):], dtype,
                                 special=False)))
    op = data.draw(st.sampled_from(INPLACE))
    if data.draw(st.integers(0, 3)) == 0:  # overlapping rows of one NumPy buffer
        n = shape[-1]
        step = data.draw(st.sampled_from([0, 1]))
        itemsize = np.dtype(dtype).itemsize
        code = (f"base = np.arange({n + 2}, dtype=np.{dtype})\n"
                f"a = M.from_numpy(np.lib.stride_tricks.as_strided(base, ({n}, {n}), "
                f"({step * itemsize}, {itemsize})))\n"
                f"b = b.reshape(-1)[:1]\nresult = a.sum()\n{op}\nresult = a")
        check(worker, dict(case(code, b=b), may_raise=OVERLAP))
        return
    check(worker, dict(case(f"{op}\nresult = a", a=a, b=b),
                       may_raise=OVERLAP if a["layout"] == "broadcast" else ()))
