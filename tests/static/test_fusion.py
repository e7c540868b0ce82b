"""Kernel fusion: a fused chain computes what the unfused chain computes (property tests
over random elementwise chains, both devices), fusion happens (fewer kernels in the plan),
and each pattern's kernel is generated and compiled once."""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numbanet as nb
from numbanet.graph import Plan, Recorder, fusion

DEVICES = ["cpu", "cuda"]

UNARY = {
    "neg": lambda t: -t, "relu": lambda t: t.relu(), "sigmoid": lambda t: t.sigmoid(),
    "tanh": lambda t: t.tanh(), "abs": lambda t: t.abs(), "exp_small": lambda t: (t * 0.1).exp(),
    "square": lambda t: t * t,
}
BINARY = {
    "add": lambda t, u: t + u, "sub": lambda t, u: t - u, "mul": lambda t, u: t * u,
    "div": lambda t, u: t / (u.abs() + 1.0) if hasattr(u, "abs") else t / (abs(u) + 1.0),
    "maximum": lambda t, u: nb.maximum(t, u) if hasattr(u, "abs") else t.clamp(min=u),
    "where_gt": lambda t, u: nb.where(t > u, t, u * 0.5) if hasattr(u, "abs") else
    nb.where(t > u, t, 0.5 * t),
}
OPERANDS = ["a", "b", "row", "bt", "scalar"]


def chain_steps():
    unary = st.tuples(st.just("unary"), st.sampled_from(sorted(UNARY)), st.just(None))
    binary = st.tuples(st.just("binary"), st.sampled_from(sorted(BINARY)),
                       st.sampled_from(OPERANDS))
    return st.lists(st.one_of(unary, binary), min_size=2, max_size=6)


def build_chain(rec, steps, shape, dtype):
    """The graph of ``steps`` applied to input ``a``; the other operands are a second
    input, a broadcast row, a transposed input (a strided view) and a number."""
    rows, cols = shape
    ph = {name: rec.tensor(rec.source("placeholder", name, s, dtype)) for name, s in
          (("a", shape), ("b", shape), ("row", (cols,)), ("bt_src", (cols, rows)))}
    operands = {"a": ph["a"], "b": ph["b"], "row": ph["row"], "bt": ph["bt_src"].t(),
                "scalar": 0.75}
    t = ph["a"]
    for kind, name, operand in steps:
        t = UNARY[name](t) if kind == "unary" else BINARY[name](t, operands[operand])
    return t


def run_both(steps, device, dtype, seed):
    rows, cols = 3, 4
    rec = Recorder()
    out = build_chain(rec, steps, (rows, cols), dtype)
    rng = np.random.default_rng(seed)
    feeds_host = {"a": rng.standard_normal((rows, cols)), "b": rng.standard_normal((rows, cols)),
                  "row": rng.standard_normal(cols), "bt_src": rng.standard_normal((cols, rows))}
    dev = nb.device(device)
    feeds = {k: nb.tensor(v, dtype=dtype, device=dev)._data for k, v in feeds_host.items()}
    results = []
    plans = []
    for optimize in (True, False):
        plan = Plan(rec.graph, [rec.value_of(out)], [], dev, optimize=optimize)
        a, = plan.run(dict(feeds), {})
        results.append(dev.backend.to_host(a))
        plans.append(plan)
    return results, plans


def assert_same(fused, unfused, dtype):
    rtol = 1e-6 if dtype is nb.float32 else 1e-13
    np.testing.assert_allclose(fused, unfused, rtol=rtol, atol=rtol, equal_nan=True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [nb.float32, nb.float64], ids=["float32", "float64"])
@settings(max_examples=8, derandomize=True)
@given(steps=chain_steps(), seed=st.integers(0, 2**16))
def test_fused_chain_equals_unfused_chain(device, dtype, steps, seed):
    (fused, unfused), (plan, plain) = run_both(steps, device, dtype, seed)
    assert fused.dtype == unfused.dtype == dtype.numpy
    assert_same(fused, unfused, dtype)
    assert plan.kernel_count() <= plain.kernel_count()


@pytest.mark.parametrize("device", DEVICES)
def test_a_chain_of_eight_ops_runs_as_one_kernel(device):
    steps = [("binary", "mul", "b"), ("binary", "add", "scalar"), ("unary", "relu", None),
             ("binary", "sub", "row"), ("unary", "tanh", None), ("binary", "maximum", "a"),
             ("unary", "neg", None), ("binary", "mul", "scalar")]
    (fused, unfused), (plan, plain) = run_both(steps, device, nb.float32, 0)
    assert_same(fused, unfused, nb.float32)
    assert plain.kernel_count() == 8
    assert plan.kernel_count() == 1
    assert "fused[mul -> add -> relu -> sub -> tanh -> maximum -> neg -> mul]" in plan.describe()


def test_values_used_outside_a_chain_are_written_out_once():
    rec = Recorder()
    a = rec.tensor(rec.source("placeholder", "a", (5,), nb.float64))
    h = (a * 2.0).relu()
    out = (h + 1.0).exp()
    total = h.sum()  # h leaves the chain: the fused kernel writes it too
    plan = Plan(rec.graph, [rec.value_of(out), rec.value_of(total)], [], nb.device("cpu"))
    x = np.linspace(-1, 1, 5)
    got_out, got_total = plan.run({"a": x}, {})
    np.testing.assert_allclose(got_out, np.exp(np.maximum(2 * x, 0) + 1))
    np.testing.assert_allclose(got_total, np.maximum(2 * x, 0).sum())
    fused = [n for n in plan.nodes if n.op == "fused"]
    assert len(fused) == 1 and len(fused[0].outputs) == 2


def test_each_pattern_is_generated_once_and_kept_in_the_cache_folder():
    def plan_for(scale):
        rec = Recorder()
        a = rec.tensor(rec.source("placeholder", "a", (4,), nb.float32))
        out = ((a * scale) + 1.0).sigmoid()
        return Plan(rec.graph, [rec.value_of(out)], [], nb.device("cpu"))

    first, second = plan_for(2.0), plan_for(3.0)  # same ops, other numbers: one kernel
    programs = [n.attrs["program"] for p in (first, second) for n in p.nodes if n.op == "fused"]
    assert len(programs) == 2
    assert fusion.kernels_for(programs[0], "cpu") is fusion.kernels_for(programs[1], "cpu")
    assert os.path.exists(fusion.kernel_path(fusion.cache_dir(), programs[0], "cpu"))
    x = np.arange(4, dtype=np.float32)
    np.testing.assert_allclose(second.run({"a": x}, {})[0], 1 / (1 + np.exp(-(3 * x + 1))),
                               rtol=1e-6)


def test_generated_source_calls_the_backend_scalar_functions():
    rec = Recorder()
    a = rec.tensor(rec.source("placeholder", "a", (4,), nb.float32))
    out = (a * a + 1.0).relu()
    plan = Plan(rec.graph, [rec.value_of(out)], [], nb.device("cpu"))
    program = next(n.attrs["program"] for n in plan.nodes if n.op == "fused")
    src = fusion.source_of(program, "cpu")
    assert "f_mul = njit(_scalar.mul)" in src and "f_relu = njit(_scalar.relu)" in src
    assert "np.float32(f_relu(t1))" in src
    cuda_src = fusion.source_of(program, "cuda")
    assert "cuda.jit(device=True)(_scalar.relu)" in cuda_src and "cuda.grid(1)" in cuda_src
