"""Backend conformance: every primitive of the backend contract (``numbanet/backend/__init__.py``)
against a float64 NumPy reference, on contiguous, transposed, strided, offset and broadcast
(stride 0) inputs, for every dtype where the primitive makes sense.

The tests speak to a backend only through the contract: host data goes in with ``from_host``
and comes back with ``to_host``, non-contiguous inputs are made with the backend's own view
primitives. Adding a device is adding its name to ``BACKENDS``.
"""
from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import broadcastable_pair, shapes, values

import numbanet as nb
from numbanet.autograd.ops.registry import UNARY as UNARY_OPS
from numbanet.backend import Backend, scalar

SIMULATED = nb.cuda.is_simulated()

BACKENDS = ["cpu", "cuda"]

F32, F64, I64, BOOL = nb.float32, nb.float64, nb.int64, nb.bool
ALL = (F32, F64, I64, BOOL)
FLOATS = (F32, F64)
NUMERIC = (F32, F64, I64)

LAYOUTS = ("contiguous", "transposed", "strided", "offset", "broadcast", "broadcast_lead")
OUT_LAYOUTS = ("contiguous", "strided")
# Every op is run on contiguous, offset, strided and broadcast inputs; the remaining layouts
# (transposed inputs, strided outputs) are crossed with every dtype on a few ops per kernel
# template, which keeps the number of compiled kernel signatures (each costs a cache load at
# start-up) in check.
OP_LAYOUTS = ("contiguous", "offset", "strided", "broadcast", "broadcast_lead")


@pytest.fixture(scope="module", params=BACKENDS)
def be(request):
    return nb.device(request.param).backend


def _id(x):
    return getattr(x, "name", str(x))


# ---- helpers: data of a dtype, native arrays in a layout, comparison -------------------------

def cast(x64: np.ndarray, dtype) -> np.ndarray:
    """Float64 test values as values of ``dtype`` (ints rounded, bools by sign)."""
    if dtype is BOOL:
        return np.asarray(x64 > 0)
    if dtype is I64:
        return np.asarray(np.rint(x64)).astype(np.int64)
    return np.asarray(x64).astype(dtype.numpy)


def as_ref(x: np.ndarray) -> np.ndarray:
    """The float64 reference input of an array (ints and bools keep their dtype)."""
    return x.astype(np.float64) if x.dtype.kind == "f" else x


def _sentinel(dtype_np):
    return True if dtype_np == np.bool_ else 77


def _fresh(x: np.ndarray) -> np.ndarray:
    """A C-contiguous copy that shares no memory with the reference arrays."""
    return np.array(x, copy=True, order="C")


def native(be, array: np.ndarray, layout: str = "contiguous"):
    """``(reference, native)``: a native array with the values of ``array`` laid out as
    ``layout``, made with the backend's own view primitives. The broadcast layouts repeat
    the first row (or the first sub-array), so ``reference`` may differ from ``array``."""
    nd = array.ndim
    if layout == "transposed" and nd >= 2:
        base = be.from_host(_fresh(np.swapaxes(array, -1, -2)))
        perm = list(range(nd))
        perm[-1], perm[-2] = perm[-2], perm[-1]
        return array, be.permute(base, tuple(perm))
    if layout == "strided" and nd >= 1:
        n = array.shape[-1]
        wide = np.full(array.shape[:-1] + (2 * n,), _sentinel(array.dtype), array.dtype)
        wide[..., ::2] = array
        key = tuple(slice(0, s, 1) for s in array.shape[:-1]) + (slice(0, 2 * n, 2),)
        return array, be.basic_index(be.from_host(wide), key)
    if layout == "offset" and nd >= 1:
        pad = np.full((1,) + array.shape[1:], _sentinel(array.dtype), array.dtype)
        big = _fresh(np.concatenate([pad, array, pad], axis=0))
        return array, be.basic_index(be.from_host(big), (slice(1, 1 + array.shape[0], 1),))
    if layout == "broadcast" and nd >= 1 and array.shape[0] > 1:
        reference = np.broadcast_to(array[:1], array.shape).copy()
        return reference, be.broadcast_to(be.from_host(_fresh(array[:1])),
                                          array.shape)
    if layout == "broadcast_lead" and nd >= 1 and array.shape[0] > 1:
        reference = np.broadcast_to(array[0], array.shape).copy()
        return reference, be.broadcast_to(be.from_host(_fresh(array[0])),
                                          array.shape)
    return array, be.from_host(_fresh(array))


class Out:
    """An output buffer of ``shape`` and ``dtype``: contiguous, or a strided view into a
    larger array filled with a sentinel that must survive the op."""

    def __init__(self, be, shape, dtype, layout):
        self.be, self.shape, self.dtype, self.layout = be, tuple(shape), dtype, layout
        np_dtype = dtype.numpy
        if layout == "strided" and len(shape) >= 1:
            n = shape[-1]
            self.wide = be.from_host(np.full(shape[:-1] + (2 * n,), _sentinel(np_dtype),
                                             np_dtype))
            key = tuple(slice(0, s, 1) for s in shape[:-1]) + (slice(0, 2 * n, 2),)
            self.array = be.basic_index(self.wide, key)
        else:
            self.wide = None
            self.array = be.empty(self.shape, dtype)

    def values(self) -> np.ndarray:
        if self.wide is None:
            got = np.array(self.be.to_host(self.array))
        else:
            wide = np.array(self.be.to_host(self.wide))
            untouched = wide[..., 1::2]
            assert (untouched == _sentinel(self.dtype.numpy)).all(), \
                "an op wrote outside its strided output view"
            got = wide[..., ::2]
        assert got.shape == self.shape
        assert got.dtype == self.dtype.numpy
        return got


def tolerance(dtype, scale: float = 1.0):
    if dtype is F32:
        return dict(rtol=2e-5, atol=2e-6 * scale)
    return dict(rtol=1e-11, atol=1e-12 * scale)


def assert_matches(got, ref, dtype, scale: float = 1.0):
    """``got`` (native result on the host) equals the float64 reference ``ref`` stored as
    ``dtype``; NaNs must be in the same places."""
    got = np.asarray(got)
    ref = np.asarray(ref)
    assert got.dtype == dtype.numpy, f"result dtype {got.dtype}, expected {dtype.numpy}"
    assert got.shape == ref.shape, f"result shape {got.shape}, expected {ref.shape}"
    if dtype.is_floating_point:
        with np.errstate(all="ignore"):
            expected = ref.astype(dtype.numpy).astype(np.float64)
        np.testing.assert_allclose(got.astype(np.float64), expected, equal_nan=True,
                                   **tolerance(dtype, scale))
    else:
        np.testing.assert_array_equal(got, ref.astype(dtype.numpy))


def host(be, a) -> np.ndarray:
    return np.array(be.to_host(a), copy=True)


def scalar_of(value, dtype):
    """A NumPy scalar of ``dtype`` (the form of scalar operands in the contract)."""
    return cast(np.array(value), dtype)[()]


# ---- the contract itself ---------------------------------------------------------------------

def test_backend_implements_every_primitive_of_the_contract(be):
    assert isinstance(be, Backend)
    primitives = [name for name, member in vars(Backend).items()
                  if inspect.isfunction(member) and not name.startswith("_")]
    missing = [name for name in primitives if getattr(type(be), name) is getattr(Backend, name)]
    assert not missing, f"backend {be.name!r} does not implement {missing}"
    assert be.name in BACKENDS


# ---- memory: empty, full, arange, from_host/to_host -----------------------------------------

@pytest.mark.parametrize("dtype", ALL, ids=_id)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 3), (2, 3, 4)], ids=str)
def test_empty_has_the_requested_shape_and_dtype(be, dtype, shape):
    a = host(be, be.empty(shape, dtype))
    assert a.shape == shape and a.dtype == dtype.numpy


@pytest.mark.parametrize("dtype,value", [(F32, 1.5), (F64, -2.25), (I64, 7), (I64, -3),
                                         (BOOL, True), (BOOL, False), (F32, math.inf)],
                         ids=lambda v: _id(v) if not isinstance(v, (int, float)) else str(v))
@pytest.mark.parametrize("shape", [(), (0,), (4,), (2, 3)], ids=str)
def test_full_fills_every_element_with_the_value(be, dtype, value, shape):
    a = host(be, be.full(shape, value, dtype))
    assert a.shape == shape and a.dtype == dtype.numpy
    assert (a == np.full(shape, value, dtype.numpy)).all()


@pytest.mark.parametrize("start,stop,step,dtype", [
    (0, 10, 1, I64), (0, 10, 3, I64), (5, -5, -2, I64), (3, 3, 1, I64), (4, 0, 1, I64),
    (0.0, 1.0, 0.1, F32), (1.0, 2.0, 0.25, F64), (-1.0, 1.0, 0.5, F32), (0, 5, 1, F64),
], ids=str)
def test_arange_matches_numpy(be, start, stop, step, dtype):
    got = host(be, be.arange(start, stop, step, dtype))
    ref = np.arange(start, stop, step, dtype=np.float64)
    assert_matches(got, ref, dtype)


@pytest.mark.parametrize("dtype", ALL, ids=_id)
@given(array=shapes(min_dims=0, max_dims=4, min_side=0).flatmap(values))
def test_from_host_to_host_round_trips_values_and_dtype(be, dtype, array):
    a = cast(array, dtype)
    back = be.to_host(be.from_host(a.copy()))
    assert isinstance(back, np.ndarray)
    assert back.dtype == dtype.numpy and back.shape == a.shape
    np.testing.assert_array_equal(back, a)


def test_cpu_from_host_shares_memory_with_the_numpy_array(be):
    if be.name != "cpu":
        pytest.skip("only the CPU backend works on host memory")
    a = np.arange(6.0)
    assert np.shares_memory(be.from_host(a), a)
    assert be.to_host(be.from_host(a)) is a


# ---- random numbers -------------------------------------------------------------------------

@pytest.mark.parametrize("draw", ["rand", "randn", "randint"])
def test_manual_seed_makes_every_draw_repeat(be, draw):
    def run():
        if draw == "randint":
            return [host(be, be.randint(-5, 5, (3, 4))) for _ in range(3)]
        return [host(be, getattr(be, draw)((3, 4), dt)) for dt in (F32, F64, F32)]

    be.manual_seed(1234)
    first = run()
    be.manual_seed(1234)
    second = run()
    be.manual_seed(4321)
    other = run()
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)
    assert not all(np.array_equal(x, y) for x, y in zip(first, other))
    assert not np.array_equal(first[0], first[2]), "successive draws should differ"


def _draw_shape(be):
    """10,000 draws, or 2,500 on the CUDA simulator, which runs each GPU thread in Python
    (the bounds below stay at least 2.5 standard errors wide either way; seeds are fixed)."""
    return (50, 50) if be.name == "cuda" and SIMULATED else (200, 50)


@pytest.mark.parametrize("dtype", FLOATS, ids=_id)
def test_rand_is_uniform_in_the_unit_interval(be, dtype):
    be.manual_seed(0)
    a = host(be, be.rand(_draw_shape(be), dtype))
    assert a.dtype == dtype.numpy and a.shape == _draw_shape(be)
    assert a.min() >= 0.0 and a.max() < 1.0
    assert abs(a.mean() - 0.5) < 0.02 and abs(a.var() - 1 / 12) < 0.01


@pytest.mark.parametrize("dtype", FLOATS, ids=_id)
def test_randn_is_standard_normal(be, dtype):
    be.manual_seed(0)
    a = host(be, be.randn(_draw_shape(be), dtype))
    assert a.dtype == dtype.numpy and a.shape == _draw_shape(be)
    assert abs(a.mean()) < 0.05 and abs(a.std() - 1.0) < 0.05
    assert np.isfinite(a).all()


def test_randint_covers_the_half_open_range(be):
    be.manual_seed(0)
    a = host(be, be.randint(-3, 4, (5000,)))
    assert a.dtype == np.int64 and a.shape == (5000,)
    assert set(np.unique(a).tolist()) == set(range(-3, 4))


@pytest.mark.parametrize("draw", ["rand", "randn", "randint"])
@pytest.mark.parametrize("shape", [(), (0,), (2, 0)], ids=str)
def test_random_draws_of_degenerate_shapes(be, draw, shape):
    a = host(be, be.randint(0, 3, shape) if draw == "randint" else
             getattr(be, draw)(shape, F32))
    assert a.shape == shape


# ---- views ------------------------------------------------------------------------------

@st.composite
def basic_keys(draw, shape):
    """A tuple of ints and positive-step slices (normalised, as the tensor layer passes them)
    for a prefix of the dims of ``shape``."""
    key = []
    for size in shape[:draw(st.integers(0, len(shape)))]:
        if size > 0 and draw(st.booleans()):
            key.append(draw(st.integers(0, size - 1)))
        else:
            start = draw(st.integers(0, size))
            stop = draw(st.integers(start, size))
            step = draw(st.integers(1, 3))
            key.append(slice(start, stop, step))
    return tuple(key)


@pytest.mark.parametrize("dtype", ALL, ids=_id)
@given(data=st.data())
def test_basic_index_is_a_view_with_numpy_values(be, dtype, data):
    array = cast(data.draw(shapes(min_dims=1, max_dims=4, min_side=1).flatmap(values)), dtype)
    layout = data.draw(st.sampled_from(("contiguous", "transposed", "strided", "offset")))
    ref, a = native(be, array, layout)
    key = data.draw(basic_keys(ref.shape))
    v = be.basic_index(a, key)
    np.testing.assert_array_equal(host(be, v), ref[key])
    # a view: writing through it shows in the source array
    if np.asarray(ref[key]).size:
        marker = scalar_of(-1 if dtype is not BOOL else 0, dtype)
        be.unary("identity", marker, v)
        expected = ref.copy()
        expected[key] = marker
        np.testing.assert_array_equal(host(be, a), expected)


@pytest.mark.parametrize("dtype", ALL, ids=_id)
@given(data=st.data())
def test_permute_is_a_view_with_numpy_values(be, dtype, data):
    array = cast(data.draw(shapes(min_dims=0, max_dims=5).flatmap(values)), dtype)
    layout = data.draw(st.sampled_from(("contiguous", "transposed", "strided", "offset")))
    ref, a = native(be, array, layout)
    perm = tuple(data.draw(st.permutations(range(ref.ndim))))
    v = be.permute(a, perm)
    np.testing.assert_array_equal(host(be, v), np.transpose(ref, perm))
    if ref.size:
        marker = scalar_of(-1 if dtype is not BOOL else 0, dtype)
        be.unary("identity", marker, v)
        assert (host(be, a) == marker).all()


def _factorisations(draw, shape):
    """A new shape with the same number of elements as ``shape``."""
    n = math.prod(shape)
    if n == 0:
        return tuple(draw(st.permutations(shape)))
    dims = []
    rest = n
    while rest > 1 and len(dims) < 4:
        divisors = [d for d in range(1, rest + 1) if rest % d == 0]
        d = draw(st.sampled_from(divisors))
        dims.append(d)
        rest //= d
    if rest > 1:
        dims.append(rest)
    ones = draw(st.integers(0, 2))
    for _ in range(ones):
        dims.insert(draw(st.integers(0, len(dims))), 1)
    return tuple(dims)


@pytest.mark.parametrize("dtype", (F32, I64, BOOL), ids=_id)
@given(data=st.data())
def test_reshape_view_gives_a_view_exactly_when_numpy_can(be, dtype, data):
    array = cast(data.draw(shapes(min_dims=0, max_dims=4, min_side=1).flatmap(values)), dtype)
    layout = data.draw(st.sampled_from(LAYOUTS))
    ref, a = native(be, array, layout)
    new_shape = _factorisations(data.draw, ref.shape)
    v = be.reshape_view(a, new_shape)
    if be.is_contiguous(a):
        assert v is not None, "a contiguous array can always be reshaped as a view"
    # NumPy's verdict on an array of the same shape and strides (to_host may copy)
    itemsize = np.dtype(dtype.numpy).itemsize
    extent = 1 + sum((n - 1) * s // itemsize for n, s in zip(a.shape, a.strides))
    host_a = np.lib.stride_tricks.as_strided(np.zeros(max(extent, 1), dtype.numpy),
                                             tuple(a.shape), tuple(a.strides))
    try:
        numpy_view = np.reshape(host_a, new_shape, copy=False)
    except ValueError:
        numpy_view = None
    if numpy_view is None:
        assert v is None, (f"reshape_view of shape {ref.shape} strides {host_a.strides} to "
                           f"{new_shape}: NumPy needs a copy, so the backend must return None")
        return
    assert v is not None, f"reshape {ref.shape} -> {new_shape} is possible without a copy"
    np.testing.assert_array_equal(host(be, v), ref.reshape(new_shape))
    if ref.size and be.is_writable(a):
        marker = scalar_of(-1 if dtype is not BOOL else 0, dtype)
        be.unary("identity", marker, v)
        assert (host(be, a) == marker).all()


def test_reshape_view_of_a_transposed_matrix_to_a_vector_is_none(be):
    a = be.permute(be.from_host(np.arange(6.0).reshape(2, 3)), (1, 0))
    assert be.reshape_view(a, (6,)) is None


@pytest.mark.parametrize("dtype", ALL, ids=_id)
@given(data=st.data())
def test_broadcast_to_is_a_read_only_view_with_numpy_values(be, dtype, data):
    small, big = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=1, max_dims=4,
                                                             max_side=4)
                           .map(lambda r: (r.input_shapes[0], r.result_shape)))
    extra = data.draw(st.lists(st.integers(1, 3), max_size=2))
    big = tuple(extra) + tuple(big)
    array = cast(data.draw(values(small)), dtype)
    layout = data.draw(st.sampled_from(("contiguous", "transposed", "strided")))
    ref, a = native(be, array, layout)
    v = be.broadcast_to(a, big)
    np.testing.assert_array_equal(host(be, v), np.broadcast_to(ref, big))
    repeats = math.prod(big) > math.prod(ref.shape)
    if repeats:
        assert not be.is_writable(v), "a broadcast view that repeats elements is not writable"
    # a view: a change of the source shows through it
    if ref.size:
        marker = scalar_of(-1 if dtype is not BOOL else 0, dtype)
        be.unary("identity", marker, a)
        assert (host(be, v) == marker).all()


@pytest.mark.parametrize("dtype", ALL, ids=_id)
@given(data=st.data())
def test_contiguous_returns_the_array_itself_or_a_c_contiguous_copy(be, dtype, data):
    array = cast(data.draw(shapes(min_dims=0, max_dims=5).flatmap(values)), dtype)
    layout = data.draw(st.sampled_from(LAYOUTS))
    ref, a = native(be, array, layout)
    c = be.contiguous(a)
    assert be.is_contiguous(c)
    np.testing.assert_array_equal(host(be, c), ref)
    if be.is_contiguous(a):
        assert c is a
    else:
        assert c is not a
        if ref.size and be.is_writable(a):  # a copy: writing into it leaves the source alone
            marker = scalar_of(-1 if dtype is not BOOL else 0, dtype)
            be.unary("identity", marker, c)
            np.testing.assert_array_equal(host(be, a), ref)


def test_is_contiguous_tells_layouts_apart(be):
    base = be.from_host(np.arange(24.0).reshape(2, 3, 4))
    assert be.is_contiguous(base)
    assert not be.is_contiguous(be.permute(base, (0, 2, 1)))
    assert not be.is_contiguous(be.basic_index(base, (slice(0, 2, 1), slice(0, 3, 1),
                                                      slice(0, 4, 2))))
    assert be.is_contiguous(be.basic_index(base, (1,)))
    assert be.is_contiguous(be.basic_index(base, (slice(1, 2, 1),)))
    assert not be.is_contiguous(be.broadcast_to(be.from_host(np.arange(4.0)), (3, 4)))
    assert be.is_contiguous(be.empty((0, 3), F32))


def test_is_writable_is_false_exactly_for_repeating_views_and_read_only_memory(be):
    base = be.from_host(np.arange(12.0).reshape(3, 4))
    assert be.is_writable(base)
    assert be.is_writable(be.permute(base, (1, 0)))
    assert be.is_writable(be.basic_index(base, (slice(0, 3, 2), slice(1, 4, 2))))
    assert not be.is_writable(be.broadcast_to(be.from_host(np.arange(4.0)), (3, 4)))
    assert not be.is_writable(be.broadcast_to(be.from_host(np.ones((3, 1))), (3, 4)))
    assert be.is_writable(be.broadcast_to(be.from_host(np.arange(4.0)), (1, 4)))
    if be.name == "cpu":
        frozen = np.arange(4.0)
        frozen.flags.writeable = False
        assert not be.is_writable(be.from_host(frozen))


# ---- unary -----------------------------------------------------------------------------------

def _relu_ref(x):
    return np.where(np.isnan(x), x, np.maximum(x, 0)) if x.dtype.kind == "f" else np.maximum(x, 0)


# The registry's ops (autograd/ops/registry.py) bring their own NumPy references; the rest of
# the scalar table is written here.
UNARY_REF = {
    "identity": lambda x: x,
    "sign": np.sign,
    "logical_not": np.logical_not,
    "to_bool": lambda x: x != 0,
    "isnan": np.isnan, "isinf": np.isinf, "isposinf": np.isposinf, "isneginf": np.isneginf,
    "isfinite": np.isfinite,
    **{name: spec.ref for name, spec in UNARY_OPS.items()},
    "relu": _relu_ref,  # the registry's reference, with NaN kept
}
UNARY_DTYPES = {
    "identity": ALL, "sign": NUMERIC, "logical_not": ALL, "to_bool": ALL,
    **dict.fromkeys(["isnan", "isinf", "isposinf", "isneginf", "isfinite"], NUMERIC),
    **{name: FLOATS if spec.float_result else NUMERIC for name, spec in UNARY_OPS.items()},
}
BOOL_RESULT = {"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
               *scalar.BOOL_RESULT}
UNARY_PARAMS = [pytest.param(op, dt, id=f"{op}-{dt.name}")
                for op, dts in UNARY_DTYPES.items() for dt in dts]


def test_every_unary_op_of_the_scalar_table_is_tested():
    assert set(UNARY_REF) == set(scalar.UNARY) == set(UNARY_DTYPES)


def unary_ref(op, x):
    with np.errstate(all="ignore"):
        return np.asarray(UNARY_REF[op](as_ref(x)))


@pytest.mark.parametrize("op,dtype", UNARY_PARAMS)
@given(data=st.data())
def test_unary_matches_numpy_on_every_layout(be, op, dtype, data):
    array = cast(data.draw(shapes(min_dims=0, max_dims=4).flatmap(values)), dtype)
    ref, a = native(be, array, data.draw(st.sampled_from(OP_LAYOUTS)))
    out_dtype = BOOL if op in BOOL_RESULT else dtype
    out = Out(be, ref.shape, out_dtype, "contiguous")
    be.unary(op, a, out.array)
    assert_matches(out.values(), unary_ref(op, ref), out_dtype)


SPECIALS = np.array([-np.inf, -800.0, -3.5, -1.0, -0.5, -0.0, 0.0, 1e-30, 0.5, 1.0, 2.0, 710.0,
                     800.0, np.inf, np.nan])


@pytest.mark.parametrize("op", sorted(UNARY_REF))
@pytest.mark.parametrize("dtype", FLOATS, ids=_id)
def test_unary_follows_numpy_on_special_values(be, op, dtype):
    x = SPECIALS.astype(dtype.numpy)
    out_dtype = BOOL if op in BOOL_RESULT else dtype
    out = be.empty(x.shape, out_dtype)
    be.unary(op, be.from_host(x.copy()), out)
    assert_matches(host(be, out), unary_ref(op, x), out_dtype)


@pytest.mark.parametrize("src", ALL, ids=_id)
@pytest.mark.parametrize("dst", ALL, ids=_id)
@given(data=st.data())
def test_unary_casts_on_store(be, src, dst, data):
    array = cast(data.draw(shapes(min_dims=0, max_dims=3).flatmap(values)), src)
    ref, a = native(be, array, data.draw(st.sampled_from(LAYOUTS)))
    op = "to_bool" if dst is BOOL else "identity"
    out = Out(be, ref.shape, dst, data.draw(st.sampled_from(OUT_LAYOUTS)))
    be.unary(op, a, out.array)
    expected = (ref != 0) if dst is BOOL else ref.astype(dst.numpy)  # floats truncate to ints
    np.testing.assert_array_equal(out.values(), expected)


@pytest.mark.parametrize("dtype", ALL, ids=_id)
@given(data=st.data())
def test_unary_broadcasts_its_input_and_scalars_to_the_output(be, dtype, data):
    small, big = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=1, max_dims=4,
                                                             max_side=4)
                           .map(lambda r: (r.input_shapes[0], r.result_shape)))
    use_scalar = data.draw(st.booleans())
    out = Out(be, big, dtype, data.draw(st.sampled_from(OUT_LAYOUTS)))
    if use_scalar:
        value = scalar_of(data.draw(st.floats(-3, 3)), dtype)
        be.unary("identity", value, out.array)
        expected = np.full(big, value, dtype.numpy)
    else:
        ref, a = native(be, cast(data.draw(values(small)), dtype),
                        data.draw(st.sampled_from(LAYOUTS)))
        be.unary("identity", a, out.array)
        expected = np.broadcast_to(ref, big)
    np.testing.assert_array_equal(out.values(), expected)


# ---- binary ----------------------------------------------------------------------------------

BINARY_REF = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide,
    "power": np.power, "atan2": np.arctan2, "maximum": np.maximum, "minimum": np.minimum,
    "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
    "gt": np.greater, "ge": np.greater_equal,
    "logical_and": np.logical_and, "logical_or": np.logical_or, "logical_xor": np.logical_xor,
    "pass_if_positive": lambda g, y: np.where(y > 0, g, 0).astype(g.dtype),
    "pass_if_nonnegative": lambda g, y: np.where(y >= 0, g, 0).astype(g.dtype),
}
BINARY_DTYPES = {
    "add": ALL, "sub": NUMERIC, "mul": ALL, "div": FLOATS, "power": NUMERIC, "atan2": FLOATS,
    "maximum": ALL, "minimum": ALL, "eq": ALL, "ne": ALL, "lt": ALL, "le": ALL, "gt": ALL,
    "ge": ALL, "logical_and": ALL, "logical_or": ALL, "logical_xor": ALL,
    "pass_if_positive": FLOATS, "pass_if_nonnegative": FLOATS,
}
BINARY_PARAMS = [pytest.param(op, dt, id=f"{op}-{dt.name}")
                 for op, dts in BINARY_DTYPES.items() for dt in dts]


def test_every_binary_op_of_the_scalar_table_is_tested():
    assert set(BINARY_REF) == set(scalar.BINARY) == set(BINARY_DTYPES)


def binary_ref(op, x, y):
    with np.errstate(all="ignore"):
        return np.asarray(BINARY_REF[op](as_ref(np.asarray(x)), as_ref(np.asarray(y))))


def binary_operand_values(op, dtype, shape, which):
    """Values an op is defined on: no zero divisors, non-negative integer exponents,
    bases away from 0 (IEEE signed-zero cases are tested separately)."""
    if op == "div" and which == "b":
        return values(shape, avoid=0.0)
    if op == "power":
        if dtype is I64:
            return values(shape, low=0.0, high=3.0) if which == "b" else values(shape)
        return values(shape, avoid=0.0) if which == "a" else values(shape)
    return values(shape)


def check_binary(be, op, dtype, data, layouts, out_layouts):
    sa, sb = data.draw(broadcastable_pair())
    kind = data.draw(st.sampled_from(("array-array", "array-scalar", "scalar-array")))
    operands, refs = [], []
    for which, shape in (("a", sa), ("b", sb)):
        as_scalar = (kind == "array-scalar" and which == "b") or \
            (kind == "scalar-array" and which == "a")
        if as_scalar:
            v = data.draw(binary_operand_values(op, dtype, (), which))
            s = scalar_of(v, dtype)
            assert isinstance(s, np.generic) and s.dtype == dtype.numpy
            operands.append(s)
            refs.append(np.asarray(s))
        else:
            array = cast(data.draw(binary_operand_values(op, dtype, shape, which)), dtype)
            ref, a = native(be, array, data.draw(st.sampled_from(layouts)))
            operands.append(a)
            refs.append(ref)
    shape = np.broadcast_shapes(*(r.shape for r in refs))
    out_dtype = BOOL if op in BOOL_RESULT else dtype
    out = Out(be, shape, out_dtype, data.draw(st.sampled_from(out_layouts)))
    be.binary(op, operands[0], operands[1], out.array)
    expected = binary_ref(op, refs[0], refs[1])
    if out_dtype is BOOL or dtype is BOOL:
        expected = expected.astype(np.bool_)
    assert_matches(out.values(), np.broadcast_to(expected, shape), out_dtype)


@pytest.mark.parametrize("op,dtype", BINARY_PARAMS)
@given(data=st.data())
def test_binary_matches_numpy_with_broadcasting_and_scalars(be, op, dtype, data):
    check_binary(be, op, dtype, data, OP_LAYOUTS, ("contiguous",))


@pytest.mark.parametrize("op", ["sub", "lt", "logical_or"])
@pytest.mark.parametrize("dtype", ALL, ids=_id)
@given(data=st.data())
def test_binary_handles_every_input_and_output_layout(be, op, dtype, data):
    if op == "sub" and dtype is BOOL:
        op = "add"
    check_binary(be, op, dtype, data, LAYOUTS, OUT_LAYOUTS)


@pytest.mark.parametrize("op", ["neg", "exp", "to_bool"])
@pytest.mark.parametrize("dtype", ALL, ids=_id)
@given(data=st.data())
def test_unary_handles_every_input_and_output_layout(be, op, dtype, data):
    if dtype not in UNARY_DTYPES[op]:
        op = "logical_not"
    array = cast(data.draw(shapes(min_dims=0, max_dims=4).flatmap(values)), dtype)
    ref, a = native(be, array, data.draw(st.sampled_from(LAYOUTS)))
    out_dtype = BOOL if op in BOOL_RESULT else dtype
    out = Out(be, ref.shape, out_dtype, data.draw(st.sampled_from(OUT_LAYOUTS)))
    be.unary(op, a, out.array)
    assert_matches(out.values(), unary_ref(op, ref), out_dtype)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum"])
@given(data=st.data())
def test_binary_writes_in_place_when_the_output_is_an_input(be, op, data):
    """``x op= y``: the tensor layer passes the first operand as ``out``."""
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    ref_x, x = native(be, data.draw(values(shape)), data.draw(st.sampled_from(
        ("contiguous", "transposed", "strided", "offset"))))
    ref_y, y = native(be, data.draw(values(shape, avoid=0.0)),
                      data.draw(st.sampled_from(LAYOUTS)))
    be.binary(op, x, y, x)
    assert_matches(host(be, x), binary_ref(op, ref_x, ref_y), F64)


def test_maximum_and_minimum_propagate_nan_from_either_side(be):
    a = np.array([np.nan, 1.0, np.nan, -np.inf, 2.0])
    b = np.array([1.0, np.nan, np.nan, 0.0, np.inf])
    for op in ("maximum", "minimum"):
        out = be.empty(a.shape, F64)
        be.binary(op, be.from_host(a.copy()), be.from_host(b.copy()), out)
        assert_matches(host(be, out), binary_ref(op, a, b), F64)


@pytest.mark.parametrize("op", ["div", "power"])
@pytest.mark.parametrize("dtype", FLOATS, ids=_id)
def test_div_and_power_follow_ieee_on_special_values(be, op, dtype):
    """Signed zeros, infinities and NaN as IEEE 754 (and NumPy and PyTorch) define them:
    1 / -0.0 == -inf, (-0.0) ** -1 == -inf, 0 / 0 is NaN, 0 ** 0 == 1, ..."""
    specials = np.array([-np.inf, -2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.0, 3.0, np.inf,
                         np.nan])
    x, y = (g.ravel().astype(dtype.numpy) for g in np.meshgrid(specials, specials))
    out = be.empty(x.shape, dtype)
    be.binary(op, be.from_host(x.copy()), be.from_host(y.copy()), out)
    got = host(be, out)
    expected = binary_ref(op, x, y).astype(dtype.numpy)
    wrong = [(float(a), float(b), float(g), float(e)) for a, b, g, e in zip(x, y, got, expected)
             if not (g == e or (np.isnan(g) and np.isnan(e))) or
             (g == 0 and e == 0 and np.signbit(g) != np.signbit(e)) or
             (np.isinf(g) and np.isinf(e) and g != e)]
    assert not wrong, f"{op}: (x, y, got, expected) differ: {wrong[:8]}"


@pytest.mark.parametrize("op", ["add", "mul", "lt"])
@given(data=st.data())
def test_elementwise_ops_handle_more_than_four_dimensions(be, op, data):
    sa, sb = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=5, max_dims=6,
                                                         max_side=3)
                       .map(lambda r: r.input_shapes))
    ref_a, a = native(be, data.draw(values(sa)), data.draw(st.sampled_from(LAYOUTS)))
    ref_b, b = native(be, data.draw(values(sb)), data.draw(st.sampled_from(LAYOUTS)))
    shape = np.broadcast_shapes(sa, sb)
    out_dtype = BOOL if op in BOOL_RESULT else F64
    out = Out(be, shape, out_dtype, data.draw(st.sampled_from(OUT_LAYOUTS)))
    be.binary(op, a, b, out.array)
    assert_matches(out.values(), np.broadcast_to(binary_ref(op, ref_a, ref_b), shape), out_dtype)
    un = Out(be, ref_a.shape, F64, "contiguous")
    be.unary("exp", a, un.array)
    assert_matches(un.values(), unary_ref("exp", ref_a), F64)


# ---- where -----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ALL, ids=_id)
@given(data=st.data())
def test_where_matches_numpy_with_broadcasting_and_scalars(be, dtype, data):
    max_dims = data.draw(st.sampled_from((3, 6)))
    sc, sa, sb = data.draw(hnp.mutually_broadcastable_shapes(
        num_shapes=3, max_dims=max_dims, max_side=3 if max_dims > 4 else 4)
        .map(lambda r: r.input_shapes))
    ref_c, c = native(be, cast(data.draw(values(sc)), BOOL), data.draw(st.sampled_from(LAYOUTS)))
    refs, operands = [], []
    for shape in (sa, sb):
        if data.draw(st.booleans()):
            s = scalar_of(data.draw(st.floats(-3, 3)), dtype)
            refs.append(np.asarray(s))
            operands.append(s)
        else:
            ref, x = native(be, cast(data.draw(values(shape)), dtype),
                            data.draw(st.sampled_from(LAYOUTS)))
            refs.append(ref)
            operands.append(x)
    shape = np.broadcast_shapes(ref_c.shape, refs[0].shape, refs[1].shape)
    out = Out(be, shape, dtype, data.draw(st.sampled_from(OUT_LAYOUTS)))
    be.where(c, operands[0], operands[1], out.array)
    np.testing.assert_array_equal(out.values(), np.where(ref_c, refs[0], refs[1]))


# ---- reductions ------------------------------------------------------------------------------

REDUCE_REF = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min}
REDUCE_PARAMS = [pytest.param(op, dt, id=f"{op}-{dt.name}") for op in REDUCE_REF for dt in ALL
                 if not (op == "prod" and dt is BOOL)]


def test_every_reduction_of_the_scalar_table_is_tested():
    assert set(REDUCE_REF) == set(scalar.REDUCE)


def reduce_result_dtype(op, dtype):
    """sum/prod of ints and bools give int64 (as the tensor layer asks), max/min keep dtype."""
    if op in ("sum", "prod") and not dtype.is_floating_point:
        return I64
    return dtype


@st.composite
def axes_of(draw, ndim):
    return tuple(sorted(draw(st.sets(st.integers(0, ndim - 1), min_size=1))))


@pytest.mark.parametrize("op,dtype", REDUCE_PARAMS)
@given(data=st.data())
def test_reduce_matches_numpy_over_any_axes(be, op, dtype, data):
    shape = data.draw(shapes(min_dims=1, max_dims=5, max_side=4))
    low, high = (-1.4, 1.4) if op == "prod" else (-3.0, 3.0)  # products stay representable
    array = cast(data.draw(values(shape, low=low, high=high)), dtype)
    ref, a = native(be, array, data.draw(st.sampled_from(LAYOUTS)))
    axes = data.draw(axes_of(ref.ndim))
    rdtype = reduce_result_dtype(op, dtype)
    got = host(be, be.reduce(op, a, axes, rdtype))
    expected = np.asarray(REDUCE_REF[op](as_ref(ref).astype(np.float64)
                                         if dtype is not BOOL else ref.astype(np.int64),
                                         axis=axes))
    if op in ("max", "min") and dtype is BOOL:
        expected = expected.astype(bool)
    n = math.prod(ref.shape[d] for d in axes)
    assert_matches(got, expected, rdtype, scale=n)


@pytest.mark.parametrize("op", ["sum", "prod"])
@pytest.mark.parametrize("dtype", (F32, F64, I64), ids=_id)
@pytest.mark.parametrize("shape,axes", [
    ((0,), (0,)), ((2, 0, 3), (1,)), ((2, 0, 3), (0, 1)), ((0, 3), (0,)), ((0, 3), (1,)),
    ((2, 0), (0, 1)), ((3, 0, 2), (0, 2)),
], ids=str)
def test_reduce_over_empty_dims_gives_the_identity(be, op, dtype, shape, axes):
    a = be.empty(shape, dtype)
    got = host(be, be.reduce(op, a, axes, dtype))
    expected = REDUCE_REF[op](np.zeros(shape), axis=axes)
    assert_matches(got, np.asarray(expected), dtype)


@pytest.mark.parametrize("op", ["sum", "prod", "max", "min"])
@pytest.mark.parametrize("dtype", FLOATS, ids=_id)
@given(data=st.data())
def test_reduce_propagates_nan(be, op, dtype, data):
    shape = data.draw(shapes(min_dims=1, max_dims=3, max_side=4))
    array = cast(data.draw(values(shape, low=-1.4, high=1.4)), dtype)
    mask = data.draw(hnp.arrays(np.bool_, shape))
    array[mask] = np.nan
    ref, a = native(be, array, data.draw(st.sampled_from(LAYOUTS)))
    axes = data.draw(axes_of(ref.ndim))
    got = host(be, be.reduce(op, a, axes, dtype))
    with np.errstate(all="ignore"):
        expected = np.asarray(REDUCE_REF[op](ref.astype(np.float64), axis=axes))
    assert_matches(got, expected, dtype, scale=math.prod(ref.shape[d] for d in axes))


def test_float32_sum_accumulates_in_float64(be):
    n = 20_001 if be.name == "cuda" and SIMULATED else 100_001  # the simulator is slow
    x = np.full(n, 0.1, np.float32)
    x[0] = 1e4
    assert np.cumsum(x, dtype=np.float32)[-1] != np.float32(x.astype(np.float64).sum()), \
        "the data must tell float32 from float64 accumulation apart"
    got = host(be, be.reduce("sum", be.from_host(x), (0,), F32))
    assert got.dtype == np.float32
    assert got == np.float32(x.astype(np.float64).sum())


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("dtype", ALL, ids=_id)
@given(data=st.data())
def test_argreduce_gives_the_first_extreme_index(be, op, dtype, data):
    shape = data.draw(shapes(min_dims=1, max_dims=4, max_side=5))
    # few distinct values, so that ties are common
    array = cast(np.round(data.draw(values(shape)) / 1.5) * 1.5, dtype)
    if dtype.is_floating_point and data.draw(st.booleans()):
        array[data.draw(hnp.arrays(np.bool_, shape))] = np.nan
    ref, a = native(be, array, data.draw(st.sampled_from(LAYOUTS)))
    axis = data.draw(st.integers(0, ref.ndim - 1))
    got = host(be, be.argreduce(op, a, axis))
    expected = (np.argmax if op == "max" else np.argmin)(ref, axis=axis)  # first max, NaN wins
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)


def test_argreduce_counts_nan_as_both_largest_and_smallest(be):
    a = np.array([[1.0, np.nan, 3.0, np.nan], [5.0, 5.0, -1.0, -1.0], [np.nan, 0.0, 9.0, -9.0]])
    arr = be.from_host(a)
    np.testing.assert_array_equal(host(be, be.argreduce("max", arr, 1)), [1, 0, 0])
    np.testing.assert_array_equal(host(be, be.argreduce("min", arr, 1)), [1, 2, 0])
    np.testing.assert_array_equal(host(be, be.argreduce("max", arr, 0)), [2, 0, 2, 0])
    np.testing.assert_array_equal(host(be, be.argreduce("min", arr, 0)), [2, 0, 1, 0])


# ---- matmul ----------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", NUMERIC, ids=_id)
@given(data=st.data())
def test_matmul_matches_numpy_for_matrices_and_broadcast_batches(be, dtype, data):
    batched = data.draw(st.booleans())
    ba, bb = data.draw(broadcastable_pair(max_dims=2, max_side=3)) if batched else ((), ())
    n, k, m = (data.draw(st.integers(1, 5)) for _ in range(3))
    ref_a, a = native(be, cast(data.draw(values(ba + (n, k))), dtype),
                      data.draw(st.sampled_from(LAYOUTS)))
    ref_b, b = native(be, cast(data.draw(values(bb + (k, m))), dtype),
                      data.draw(st.sampled_from(LAYOUTS)))
    got = host(be, be.matmul(a, b))
    expected = np.matmul(as_ref(ref_a).astype(np.float64), as_ref(ref_b).astype(np.float64))
    assert_matches(got, expected, dtype, scale=9 * k)


@pytest.mark.parametrize("dtype", FLOATS, ids=_id)
def test_matmul_of_empty_inner_dimension_is_zero(be, dtype):
    got = host(be, be.matmul(be.empty((2, 3, 0), dtype), be.empty((0, 4), dtype)))
    assert_matches(got, np.zeros((2, 3, 4)), dtype)


# ---- gather / scatter ------------------------------------------------------------------------

@st.composite
def index_for(draw, size, unique=False, min_size=0):
    if size == 0:
        return np.zeros(0, np.int64)
    if unique:
        picked = draw(st.permutations(range(size)))
        return np.array(picked[:draw(st.integers(min_size, size))], np.int64)
    return np.array(draw(st.lists(st.integers(0, size - 1), min_size=min_size, max_size=7)),
                    np.int64)


@pytest.mark.parametrize("dtype", ALL, ids=_id)
@given(data=st.data())
def test_index_select_matches_numpy_take_with_repeats(be, dtype, data):
    array = cast(data.draw(shapes(min_dims=1, max_dims=4).flatmap(values)), dtype)
    ref, a = native(be, array, data.draw(st.sampled_from(LAYOUTS)))
    axis = data.draw(st.integers(0, ref.ndim - 1))
    index = data.draw(index_for(ref.shape[axis]))
    _, idx = native(be, index, data.draw(st.sampled_from(("contiguous", "strided", "offset"))))
    got = host(be, be.index_select(a, axis, idx))
    assert got.dtype == dtype.numpy
    np.testing.assert_array_equal(got, np.take(ref, index, axis=axis))


def _writable_layout(data):
    return data.draw(st.sampled_from(("contiguous", "transposed", "strided", "offset")))


@pytest.mark.parametrize("dtype", NUMERIC, ids=_id)
@given(data=st.data())
def test_index_add_accumulates_repeated_indices(be, dtype, data):
    array = cast(data.draw(shapes(min_dims=1, max_dims=4).flatmap(values)), dtype)
    ref, dst = native(be, array, _writable_layout(data))
    axis = data.draw(st.integers(0, ref.ndim - 1))
    index = data.draw(index_for(ref.shape[axis]))
    src_shape = ref.shape[:axis] + (len(index),) + ref.shape[axis + 1:]
    ref_src, src = native(be, cast(data.draw(values(src_shape)), dtype),
                          data.draw(st.sampled_from(LAYOUTS)))
    result = be.index_add(dst, axis, be.from_host(index), src)
    expected = as_ref(ref).astype(np.float64)
    moved = np.moveaxis(expected, axis, 0)
    np.add.at(moved, index, np.moveaxis(as_ref(ref_src).astype(np.float64), axis, 0))
    assert_matches(host(be, dst), expected, dtype, scale=len(index) + 1)
    if result is not None:
        assert_matches(host(be, result), expected, dtype, scale=len(index) + 1)


def test_index_add_with_one_index_repeated_sums_every_row(be):
    dst = be.from_host(np.zeros((3, 2)))
    src = be.from_host(np.arange(10.0).reshape(5, 2))
    be.index_add(dst, 0, be.from_host(np.array([1, 1, 1, 1, 1], np.int64)), src)
    np.testing.assert_array_equal(host(be, dst), [[0, 0], [20, 25], [0, 0]])


@pytest.mark.parametrize("dtype", ALL, ids=_id)
@given(data=st.data())
def test_index_put_sets_the_selected_slices(be, dtype, data):
    array = cast(data.draw(shapes(min_dims=1, max_dims=4).flatmap(values)), dtype)
    ref, dst = native(be, array, _writable_layout(data))
    axis = data.draw(st.integers(0, ref.ndim - 1))
    index = data.draw(index_for(ref.shape[axis], unique=True))
    src_shape = ref.shape[:axis] + (len(index),) + ref.shape[axis + 1:]
    ref_src, src = native(be, cast(data.draw(values(src_shape)), dtype),
                          data.draw(st.sampled_from(LAYOUTS)))
    be.index_put(dst, axis, be.from_host(index), src)
    expected = ref.copy()
    np.moveaxis(expected, axis, 0)[index] = np.moveaxis(ref_src, axis, 0)
    np.testing.assert_array_equal(host(be, dst), expected)


def test_index_add_and_index_put_write_through_a_strided_view(be):
    base = be.from_host(np.zeros((3, 6)))
    view = be.basic_index(base, (slice(0, 3, 1), slice(1, 6, 2)))  # columns 1, 3, 5
    be.index_add(view, 1, be.from_host(np.array([0, 2, 0], np.int64)),
                 be.from_host(np.ones((3, 3))))
    be.index_put(view, 0, be.from_host(np.array([2], np.int64)),
                 be.from_host(np.full((1, 3), 7.0)))
    expected = np.zeros((3, 6))
    expected[:2, 1] = 2
    expected[:2, 5] = 1
    expected[2, 1::2] = 7
    np.testing.assert_array_equal(host(be, base), expected)


@pytest.mark.parametrize("dtype", ALL, ids=_id)
@given(data=st.data())
def test_nonzero_lists_coordinates_in_c_order(be, dtype, data):
    array = cast(np.round(data.draw(shapes(min_dims=0, max_dims=4, min_side=0)
                                    .flatmap(values))), dtype)
    if dtype.is_floating_point and array.size and data.draw(st.booleans()):
        array.flat[data.draw(st.integers(0, array.size - 1))] = np.nan  # NaN is non-zero
    ref, a = native(be, array, data.draw(st.sampled_from(LAYOUTS)))
    got = host(be, be.nonzero(a))
    assert got.dtype == np.int64
    expected = np.argwhere(ref)
    assert got.shape == (expected.shape[0], ref.ndim)
    np.testing.assert_array_equal(got.reshape(expected.shape), expected)


def test_nonzero_treats_negative_zero_as_zero(be):
    got = host(be, be.nonzero(be.from_host(np.array([0.0, -0.0, 1.0, -2.0]))))
    np.testing.assert_array_equal(got, [[2], [3]])
