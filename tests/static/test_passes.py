"""Passes over the graph IR: dead-node removal, constant folding, and the recorder's
handling of in-place writes and views (SSA)."""
from __future__ import annotations

import numpy as np
import pytest

import numbanet as nb
from numbanet.graph import DataDependentError, Graph, Plan, Recorder
from numbanet.graph.passes import fold_constants, prune


def test_prune_keeps_only_what_the_fetches_need():
    rec = Recorder()
    x = rec.tensor(rec.source("placeholder", "x", (3,), nb.float32))
    kept = x * 2.0
    (x + 1.0).exp()  # built, never fetched
    nodes = prune(rec.graph.nodes, [rec.value_of(kept)])
    assert [n.op for n in nodes] == ["placeholder", "binary"]
    assert len(rec.graph.nodes) == 4


def test_fetching_the_loss_does_not_run_the_gradient():
    rec = Recorder()
    w = rec.tensor(rec.source("variable", "w", (4,), nb.float64), requires_grad=True)
    loss = (w * w).sum()
    nb.autograd.grad(loss, [w], retain_graph=True)
    plan = Plan(rec.graph, [rec.value_of(loss)], [], nb.device("cpu"))
    assert plan.kernel_count() == 2  # w * w and the sum; none of the backward
    assert plan.run({}, {"w": np.arange(4.0)})[0] == 14.0


def test_constant_subgraphs_are_folded_at_compile_time():
    rec = Recorder()
    c = nb.tensor(np.arange(6.0).reshape(2, 3), device=rec.device)
    x = rec.tensor(rec.source("placeholder", "x", (2, 3), nb.float64))
    scale = (c * 2.0 + 1.0).exp().sum(0)  # only constants: computed once
    out = x * scale
    nodes, mapping, folded = fold_constants(prune(rec.graph.nodes, [rec.value_of(out)]),
                                            rec.graph.constants)
    assert [n.op for n in nodes].count("constant") >= 1
    assert not any(n.op in ("reduce", "unary") for n in nodes)
    plan = Plan(rec.graph, [rec.value_of(out)], [], nb.device("cpu"))
    xv = np.ones((2, 3))
    expected = xv * np.exp(np.arange(6.0).reshape(2, 3) * 2 + 1).sum(0)
    np.testing.assert_allclose(plan.run({"x": xv}, {})[0], expected)
    assert plan.kernel_count() == 1


def test_writes_through_views_are_seen_by_the_base_and_by_other_views():
    rec = Recorder()
    x = rec.tensor(rec.source("placeholder", "x", (2, 3), nb.float64))
    y = x.clone()
    col = y[:, 1]          # a strided view
    yt = y.t()             # another view of the same memory
    col += 10.0            # in place through the first view
    y[0, 0] = -1.0         # item assignment on the base
    outs = [y, yt, col]
    plan = Plan(rec.graph, [rec.value_of(t) for t in outs], [], nb.device("cpu"))
    xv = np.arange(6.0).reshape(2, 3)
    got = plan.run({"x": xv}, {})
    expected = xv.copy()
    expected[:, 1] += 10
    expected[0, 0] = -1
    np.testing.assert_array_equal(got[0], expected)
    np.testing.assert_array_equal(got[1], expected.T)
    np.testing.assert_array_equal(got[2], expected[:, 1])


def test_graph_json_round_trip_keeps_every_node():
    rec = Recorder()
    x = rec.tensor(rec.source("placeholder", "x", (2, 3), nb.float32))
    out = rec.value_of((x[:, 1:] * 2.0).sum(1, keepdim=True).t())
    data = rec.graph.to_json()
    back = Graph.from_json(data, rec.graph.constants)
    assert [repr(n) for n in back.nodes] == [repr(n) for n in rec.graph.nodes]
    xv = np.arange(6, dtype=np.float32).reshape(2, 3)
    a = Plan(rec.graph, [out], [], nb.device("cpu")).run({"x": xv}, {})[0]
    same = back.nodes[out.node.id].out
    b = Plan(back, [same], [], nb.device("cpu")).run({"x": xv}, {})[0]
    np.testing.assert_array_equal(a, b)


def test_data_dependent_shapes_cannot_be_recorded():
    rec = Recorder()
    x = rec.tensor(rec.source("placeholder", "x", (4,), nb.float32))
    with pytest.raises(DataDependentError, match="shape depends on"):
        x[x > 0]
