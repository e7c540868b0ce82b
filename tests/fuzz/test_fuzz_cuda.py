"""Fuzzing CUDA tensors (on the simulator where there is no GPU, so the shapes stay tiny):
ops on CUDA give PyTorch's CPU values or its exception type, indices out of range are an
IndexError before any kernel runs, and operands on two devices are a RuntimeError."""
from __future__ import annotations

import numpy as np
import pytest
from cases import arrays, case, index_value, keys, shapes, spec, tensors
from harness import EXAMPLES, check
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# the simulator costs ~70 us per CUDA thread: a few small cases per test
CUDA_FUZZ = settings(max_examples=max(2, EXAMPLES // 3), print_blob=True)
OPS = ["result = a + b", "result = a * b", "result = (a - b).exp()", "result = M.maximum(a, b)",
       "result = a.sum(0)", "result = a.max(-1)[0]", "result = a.relu() > b",
       "result = a.argmax(0)", "result = a.mean()"]


@CUDA_FUZZ
@given(st.data())
def test_cuda_ops_match_pytorch_on_any_layout(worker, data):
    shape = data.draw(shapes(1, 2, 3, min_side=1))
    dtype = data.draw(st.sampled_from(["float32", "float64"]))
    a = data.draw(tensors(arrays(shape, dtype, special=False), device="cuda"))
    b = data.draw(tensors(arrays(shape[data.draw(st.integers(0, len(shape))):], dtype,
                                 special=False), device="cuda"))
    check(worker, case(data.draw(st.sampled_from(OPS)), a=a, b=b))


@CUDA_FUZZ
@given(st.data())
def test_cuda_indexing_gets_and_sets_like_pytorch(worker, data):
    a = data.draw(tensors(arrays(dtype="float32", max_dims=2, max_side=3, min_side=1),
                          layouts=("contiguous", "transposed"), device="cuda"))
    inputs = {"a": a}
    key = data.draw(keys(a["array"].shape, inputs))
    for s in inputs.values():
        s["device"] = "cuda"
    code = data.draw(st.sampled_from([f"result = a[{key}]",
                                      f"a = a.clone()\na[{key}] = 3.0\nresult = a"]))
    check(worker, case(code, **inputs))


MIXED = ["result = a + b", "result = a @ b.T", "result = M.cat([a, b])",
         "result = M.where(b > 0, a, b)", "result = a[b > 0]", "a[b > 0] = 1.0\nresult = a",
         "a[i] = 1.0\nresult = a", "result = a[i]", "a.add_(b)\nresult = a",
         "result = F.embedding(i, a)", "result = F.linear(a, b)",
         "result = F.cross_entropy(a, i)",
         "x = a.detach().requires_grad_(True)\nout = (x * 2).sum()\n"
         "out.backward(b.sum())\nresult = x.grad"]


def _name(code: str) -> str:
    lines = code.split("\n")
    return lines[-2] if len(lines) > 1 else lines[0]


@pytest.mark.parametrize("code", MIXED, ids=_name)
@CUDA_FUZZ
@given(data=st.data())
def test_operands_on_two_devices_raise_runtime_error(worker, code, data):
    n = data.draw(st.integers(1, 3))
    devices = data.draw(st.sampled_from([("cpu", "cuda"), ("cuda", "cpu")]))
    inputs = {"a": spec(data.draw(arrays((n, n), "float32", special=False)), device=devices[0]),
              "b": spec(data.draw(arrays((n, n), "float32", special=False)), device=devices[1]),
              "i": spec(data.draw(hnp.arrays(np.int64, (n,), elements=index_value(n).filter(
                  lambda v: -n <= v < n))), device=devices[1])}
    check(worker, case(code, expect=("raises", "RuntimeError"), **inputs))
