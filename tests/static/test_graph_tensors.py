"""``numbanet.graph``'s way between graph values and numbanet tensors: what
``numbanet.static`` and ``numbanet.jit`` use instead of a tensor's internals."""
from __future__ import annotations

import numpy as np
import pytest

import numbanet as nb
from numbanet import nn
from numbanet.graph import Plan, Recorder
from numbanet.graph.executor import as_tensors, host_copy, to_device, to_host_arrays
from numbanet.graph.recorder import value_of


def test_value_of_follows_writes_into_a_graph_tensor():
    rec = Recorder()
    x = rec.tensor(rec.source("placeholder", "x", (2, 3), nb.float32))
    before = value_of(x)
    with nb.no_grad():
        x[0] = 1.0
    after = value_of(x)
    assert before.node.op == "placeholder" and after is not before
    assert after.shape == (2, 3) and after.dtype is nb.float32


def test_value_of_a_tensor_with_values_is_a_type_error():
    with pytest.raises(TypeError, match="graph device"):
        value_of(nb.ones(2))


def test_recorded_value_is_none_for_tensors_of_other_devices_and_recorders():
    rec, other = Recorder(), Recorder()
    x = rec.tensor(rec.source("placeholder", "x", (2,), nb.float32))
    y = other.tensor(other.source("placeholder", "y", (2,), nb.float32))
    assert rec.recorded_value(x) is value_of(x)
    assert rec.recorded_value(y) is None
    assert rec.recorded_value(nb.ones(2)) is None


def test_symbolic_weights_record_a_module_and_give_its_parameters_back():
    nb.manual_seed(0)
    model = nn.Linear(3, 2)
    datas = [(p.device, p.detach().numpy().copy()) for p in model.parameters()]
    rec = Recorder()
    x = rec.tensor(rec.source("placeholder", "x", (4, 3), nb.float32))
    with rec.symbolic_weights(model.named_parameters()) as weights:
        assert all(p.device is rec.device for p in model.parameters())
        with nb.no_grad():
            y = model(x)
    assert weights.names() == ["weight", "bias"] and weights.written() == []
    for p, (device, values) in zip(model.parameters(), datas):
        assert p.device is device
        np.testing.assert_array_equal(p.detach().numpy(), values)
    variables = {n.attrs["name"] for n in rec.graph.nodes if n.op == "variable"}
    assert variables == {"weight", "bias"}
    assert y.shape == (4, 2) and rec.recorded_value(y) is not None


def test_symbolic_weights_name_what_the_code_wrote_and_restore_after_an_error():
    w = nb.ones(3)
    rec = Recorder()
    with pytest.raises(ZeroDivisionError):
        with rec.symbolic_weights([("w", w)]) as weights:
            with nb.no_grad():
                w.add_(1.0)
            1 / 0  # noqa: B018 - the error raised inside the block is the test
    assert weights.written() == ["w"]
    assert w.device == nb.device("cpu")
    np.testing.assert_array_equal(w.numpy(), np.ones(3, np.float32))  # the write was recorded


def test_a_tensor_given_twice_is_one_variable():
    w = nb.ones(3)
    rec = Recorder()
    with rec.symbolic_weights([("a", w), ("b", w)]) as weights:
        pass
    assert weights.names() == ["a"]
    assert w.device == nb.device("cpu")
    assert [n.attrs["name"] for n in rec.graph.nodes if n.op == "variable"] == ["a"]


def test_plan_results_come_back_as_tensors_and_host_arrays():
    rec = Recorder()
    x = rec.tensor(rec.source("placeholder", "x", (2, 2), nb.float32))
    y = (x * 2.0).sum(1)
    plan = Plan(rec.graph, [value_of(y)], [], nb.device("cpu"))
    feed = to_device(nb.device("cpu"), np.ones((2, 2), np.float32))
    arrays = plan.run({"x": feed}, {})
    (host,) = to_host_arrays(nb.device("cpu"), arrays)
    np.testing.assert_array_equal(host, [4.0, 4.0])
    (t,) = as_tensors(arrays, nb.device("cpu"), plan.fetches)
    assert isinstance(t, nb.Tensor) and t.dtype is nb.float32 and t.shape == (2,)
    np.testing.assert_array_equal(t.numpy(), [4.0, 4.0])


def test_host_copy_is_a_contiguous_copy_of_its_own():
    w = nb.randn(3, 4, requires_grad=True)
    t = w.detach().t()  # a strided view
    for src in (w, t):
        copy = host_copy(src)
        assert copy.flags.c_contiguous and copy.shape == src.shape
        np.testing.assert_array_equal(copy, src.detach().numpy())
        assert not np.shares_memory(copy, w.detach().numpy())
