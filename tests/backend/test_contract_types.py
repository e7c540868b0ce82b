"""The types of the backend contract: the op enums, Window, and the fused-program launch."""
import numpy as np
import pytest

import numbanet as nb
from numbanet.backend import (
    ArgReduceOp,
    Backend,
    BinaryOp,
    ReduceOp,
    UnaryOp,
    Window,
    scalar,
    windows,
)


@pytest.fixture(scope="module", params=["cpu", "cuda"])
def be(request):
    return nb.device(request.param).backend


def test_the_op_enums_are_the_scalar_tables():
    assert [op.value for op in UnaryOp] == list(scalar.UNARY)
    assert [op.value for op in BinaryOp] == list(scalar.BINARY)
    assert [op.value for op in ReduceOp] == list(scalar.REDUCE)
    assert set(ArgReduceOp) == {"max", "min"}
    # members are their names: equal, of one hash, formatted as the name
    assert UnaryOp.RELU == "relu" and hash(BinaryOp.ADD) == hash("add")
    assert f"{ReduceOp.SUM}" == "sum" and UnaryOp("abs") is UnaryOp.ABS


def test_a_member_and_its_name_run_the_same_kernel(be):
    a = be.from_host(np.array([[-1.0, 2.0, -3.0], [4.0, -5.0, 6.0]], np.float32))
    dtype = nb.float32
    by_name, by_member = be.empty((2, 3), dtype), be.empty((2, 3), dtype)
    be.unary("relu", a, by_name)
    be.unary(UnaryOp.RELU, a, by_member)
    np.testing.assert_array_equal(be.to_host(by_name), be.to_host(by_member))
    be.binary(BinaryOp.MUL, a, np.float32(2.0), by_member)
    np.testing.assert_array_equal(be.to_host(by_member), 2 * be.to_host(a))
    np.testing.assert_allclose(be.to_host(be.reduce(ReduceOp.SUM, a, (1,), dtype)), [-2, 5])
    np.testing.assert_array_equal(be.to_host(be.argreduce(ArgReduceOp.MAX, a, 0)), [1, 0, 1])


def test_the_graph_records_an_op_member_as_its_name():
    from numbanet.graph import Recorder
    rec = Recorder()
    x = rec.tensor(rec.source("placeholder", "x", (2,), nb.float32))
    out = rec.device.backend.empty((2,), nb.float32)
    rec.device.backend.unary(UnaryOp.EXP, x._data, out)
    ops = [n.attrs["op"] for n in rec.graph.nodes if n.op == "unary"]
    assert ops == ["exp"] and type(ops[0]) is str


def test_window_is_the_eight_tuple_of_the_window_kernels(be):
    w = Window(kh=2, kw=2, sh=2, sw=2, ph=0, pw=0, dh=1, dw=1)
    assert w == (2, 2, 2, 2, 0, 0, 1, 1) and w.kh == 2 and w.dw == 1
    _, geo, _ = windows.check("max_pool2d", (1, 1, 4, 4), w, (2, 2))
    assert type(geo) is tuple  # the kernels get plain tuples (one compiled signature)
    x = be.from_host(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))
    values, _ = be.max_pool2d(x, w, (2, 2))
    plain, _ = be.max_pool2d(x, tuple(w), (2, 2))
    np.testing.assert_array_equal(be.to_host(values), [[[[5, 7], [13, 15]]]])
    np.testing.assert_array_equal(be.to_host(values), be.to_host(plain))


def test_conv_and_pooling_build_a_window():
    import numbanet.nn.functional as F
    from numbanet.autograd.ops import pooling
    seen = []
    original = pooling.MaxPool2d.forward

    def spy(ctx, x, geo, out_hw):
        seen.append(geo)
        return original(ctx, x, geo, out_hw)
    pooling.MaxPool2d.forward = staticmethod(spy)
    try:
        F.max_pool2d(nb.randn(1, 1, 4, 4), 2, padding=1, stride=1)
    finally:
        pooling.MaxPool2d.forward = staticmethod(original)
    assert seen == [Window(2, 2, 1, 1, 1, 1, 1, 1)] and isinstance(seen[0], Window)


def test_elementwise_program_is_part_of_the_contract(be):
    """A fused program launched through the contract: contiguous operands take the flat
    kernel, a broadcast one the strided kernel, and both give NumPy's result."""
    from numbanet.graph.fusion import kernels_for
    assert type(be).elementwise_program is not Backend.elementwise_program
    program = {"inputs": (("array", "float32", 2), ("array", "float32", 2),
                          ("scalar", "float32", 0)),
               "ops": (("binary", "mul", (("in", 0), ("in", 1)), "float32"),
                       ("binary", "add", (("t", 0), ("in", 2)), "float32"),
                       ("unary", "relu", (("t", 1),), "float32")),
               "outputs": (2,), "shape": (2, 3)}
    run = be.elementwise_program(kernels_for(program, be.name), (2, 3), [True, True, False])
    a = np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]], np.float32)
    for b in (np.full((2, 3), 2.0, np.float32), np.array([[1.0], [-1.0]], np.float32)):
        out = be.empty((2, 3), nb.float32)
        bb = be.from_host(b) if b.shape == (2, 3) else be.broadcast_to(be.from_host(b), (2, 3))
        run([be.from_host(a), bb, np.float32(0.5)], [out])
        np.testing.assert_allclose(be.to_host(out), np.maximum(a * b + 0.5, 0))
