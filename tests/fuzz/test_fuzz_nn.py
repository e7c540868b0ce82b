"""Fuzzing nn.functional against PyTorch in the guarded worker: forward and backward of
linear, conv2d, max_pool2d, embedding and the losses with random shapes, geometries and
targets (in and out of range) give PyTorch's values and gradients or its exception type;
and indices changed in their NumPy memory after the forward never reach a kernel unchecked."""
from __future__ import annotations

import numpy as np
from cases import FAR, arrays, case, index_value, shapes, spec
from harness import EXAMPLES, check
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FUZZ = settings(max_examples=EXAMPLES, print_blob=True)
BACKWARD = "out.sum().backward() if out.numel() else None\n"


def floats(shape):
    return arrays(shape, "float64", special=False)


def grad_input(array):
    return spec(array, requires_grad=True)


@FUZZ
@given(st.data())
def test_max_pool2d_with_any_geometry_matches_pytorch(worker, data):
    shape = data.draw(st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(0, 5),
                                st.integers(0, 5)))
    kernel = data.draw(st.sampled_from(["1", "2", "3", "(2, 1)", "0", "6"]))
    stride = data.draw(st.sampled_from(["None", "1", "2", "0"]))
    padding = data.draw(st.sampled_from(["0", "1", "2"]))
    # distinct values: no ties, whose gradient PyTorch and numbanet may route differently
    values = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).permutation(
        int(np.prod(shape))).reshape(shape).astype(np.float64)
    check(worker, case(f"out = F.max_pool2d(x, {kernel}, {stride}, {padding})\n" + BACKWARD +
                       "result = (out, x.grad)", x=grad_input(values)))


@FUZZ
@given(st.data())
def test_embedding_with_indices_in_and_out_of_range_matches_pytorch(worker, data):
    num, dim = data.draw(st.integers(1, 4)), data.draw(st.integers(0, 3))
    idx = data.draw(hnp.arrays(np.int64, shapes(0, 2, 3), elements=index_value(num)))
    check(worker, case("out = F.embedding(i, w)\n" + BACKWARD + "result = (out, w.grad)",
                       i=spec(idx), w=grad_input(data.draw(floats((num, dim))))))


MUTATED = {
    "index": ("out = x[i].sum()", "x.grad"),
    "embedding": ("out = F.embedding(i, x).sum()", "x.grad"),
    "nll": ("out = F.nll_loss(x, i)", "x.grad"),
    "cross_entropy": ("out = F.cross_entropy(x, i)", "x.grad"),
    "setitem": ("y = x * 1\ny[i] = 0.0\nout = y.sum()", "x.grad"),
}


@FUZZ
@given(st.data())
def test_indices_changed_after_the_forward_raise_index_error_in_backward(worker, data):
    """The index memory is a NumPy array shared with ``from_numpy``; an out-of-range value
    written there between forward and backward is an IndexError (as in PyTorch), never an
    access outside the tensor."""
    op = data.draw(st.sampled_from(sorted(MUTATED)))
    forward, grad = MUTATED[op]
    rows, cols = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    n = rows if op in ("nll", "cross_entropy") else data.draw(st.integers(1, 4))
    idx = data.draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, (cols if op in (
        "nll", "cross_entropy") else rows) - 1)))
    at = data.draw(st.integers(0, n - 1))
    bad = data.draw(st.sampled_from([FAR, -FAR, 2**62, -(2**63)]))
    code = f"{forward}\ni_np[{at}] = {bad}\nout.backward()\nresult = {grad}"
    check(worker, dict(case(code, expect=("raises", "IndexError"),
                            x=grad_input(data.draw(floats((rows, cols)))),
                            i=spec(idx, from_numpy=True)),
                       # or the gradient of the indices as they were at the forward (a copy)
                       or_reference=f"{forward}\nout.backward()\nresult = {grad}"))
