"""Tensor ops against NumPy: the forward of every op and method of API.md ("Tensors") on
contiguous, transposed, strided and broadcast layouts, dtype promotion, creation functions,
seeding, views that share memory, NumPy interop, ``tolist``/``item`` and ``repr``."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import broadcastable_pair, laid_out, shapes, values

import numbanet as nb

F32, F64, I64, BOOL = nb.float32, nb.float64, nb.int64, nb.bool
ALL = (F32, F64, I64, BOOL)
FLOATS = (F32, F64)


def _id(x):
    return getattr(x, "name", str(x))


def rounded(ref: np.ndarray, dtype) -> np.ndarray:
    """The float64 reference values as the tensor holds them (rounded to float32...)."""
    if dtype is F32:
        return np.asarray(ref).astype(np.float32).astype(np.float64)
    if dtype is I64:
        return np.asarray(ref).astype(np.int64)
    if dtype is BOOL:
        return np.asarray(ref).astype(bool)
    return np.asarray(ref, dtype=np.float64)


def tol(dtype, scale=1.0):
    return dict(rtol=1e-5, atol=1e-5 * scale) if dtype is F32 else \
        dict(rtol=1e-10, atol=1e-10 * scale)


def check(t, expected, dtype, scale=1.0):
    """``t`` is a tensor of ``dtype`` holding ``expected`` (float64 reference)."""
    assert isinstance(t, nb.Tensor), f"expected a Tensor, got {type(t).__name__}"
    assert t.dtype == dtype, f"dtype {t.dtype}, expected {dtype}"
    got = t.detach().numpy()
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"shape {got.shape}, expected {expected.shape}"
    assert t.shape == expected.shape
    if dtype.is_floating_point:
        with np.errstate(all="ignore"):
            np.testing.assert_allclose(got.astype(np.float64), expected.astype(np.float64),
                                       equal_nan=True, **tol(dtype, scale))
    else:
        np.testing.assert_array_equal(got, expected.astype(dtype.numpy))


# ---- unary ops --------------------------------------------------------------------------------

UNARY = {
    # name: (tensor fn, reference, value range)
    "exp": (lambda t: t.exp(), np.exp, {}),
    "nb.exp": (lambda t: nb.exp(t), np.exp, {}),
    "log": (lambda t: t.log(), np.log, dict(low=0.05, high=3.0)),
    "nb.log": (lambda t: nb.log(t), np.log, dict(low=0.05, high=3.0)),
    "sqrt": (lambda t: t.sqrt(), np.sqrt, dict(low=0.0, high=3.0)),
    "abs": (lambda t: t.abs(), np.abs, {}),
    "abs()": (lambda t: abs(t), np.abs, {}),
    "neg": (lambda t: -t, np.negative, {}),
    "relu": (lambda t: t.relu(), lambda x: np.maximum(x, 0), {}),
    "nb.relu": (lambda t: nb.relu(t), lambda x: np.maximum(x, 0), {}),
    "sigmoid": (lambda t: t.sigmoid(), lambda x: 1 / (1 + np.exp(-x)), {}),
    "nb.sigmoid": (lambda t: nb.sigmoid(t), lambda x: 1 / (1 + np.exp(-x)), {}),
    "tanh": (lambda t: t.tanh(), np.tanh, {}),
    "nb.tanh": (lambda t: nb.tanh(t), np.tanh, {}),
    "clamp": (lambda t: t.clamp(-1.0, 0.5), lambda x: np.clip(x, -1.0, 0.5), {}),
    "clamp(min)": (lambda t: t.clamp(min=0.25), lambda x: np.maximum(x, 0.25), {}),
    "clamp(max)": (lambda t: t.clamp(max=-0.25), lambda x: np.minimum(x, -0.25), {}),
    "nb.clamp": (lambda t: nb.clamp(t, -2, 2), lambda x: np.clip(x, -2, 2), {}),
    "pow 2": (lambda t: t.pow(2), np.square, {}),
    "** 3": (lambda t: t ** 3, lambda x: x ** 3, {}),
    "** 0.5": (lambda t: t ** 0.5, np.sqrt, dict(low=0.0, high=3.0)),
    "** -1": (lambda t: t ** -1, lambda x: 1 / x, dict(low=0.1, high=3.0)),
    "nb.pow": (lambda t: nb.pow(t, 1.5), lambda x: x ** 1.5, dict(low=0.0, high=3.0)),
    "2 ** t": (lambda t: 2 ** t, lambda x: 2.0 ** x, {}),
    "+t": (lambda t: +t, lambda x: x, {}),
    "clone": (lambda t: t.clone(), lambda x: x, {}),
    "contiguous": (lambda t: t.contiguous(), lambda x: x, {}),
    "detach": (lambda t: t.detach(), lambda x: x, {}),
}


@pytest.mark.parametrize("dtype", FLOATS, ids=_id)
@pytest.mark.parametrize("name", list(UNARY))
@given(data=st.data())
def test_unary_ops_match_numpy_on_every_layout(name, dtype, data):
    fn, ref_fn, bounds = UNARY[name]
    array = data.draw(shapes(max_dims=3).flatmap(lambda s: values(s, **bounds)))
    ref, t = data.draw(laid_out(array, dtype=dtype))
    with np.errstate(all="ignore"):
        expected = ref_fn(rounded(ref, dtype))
    check(fn(t), expected, dtype)


@pytest.mark.parametrize("name,fn,ref_fn", [
    ("neg", lambda t: -t, np.negative),
    ("abs", lambda t: t.abs(), np.abs),
    ("relu", lambda t: t.relu(), lambda x: np.maximum(x, 0)),
    ("clamp", lambda t: t.clamp(-1, 2), lambda x: np.clip(x, -1, 2)),
    ("square", lambda t: t ** 2, np.square),
    ("clone", lambda t: t.clone(), lambda x: x),
])
@given(data=st.data())
def test_integer_unary_ops_stay_int64(name, fn, ref_fn, data):
    array = np.rint(data.draw(shapes(max_dims=3).flatmap(values)))
    ref, t = data.draw(laid_out(array, dtype=I64))
    check(fn(t), ref_fn(ref.astype(np.int64)), I64)


@pytest.mark.parametrize("name,fn", [("exp", lambda t: t.exp()), ("log", lambda t: t.log()),
                                     ("sqrt", lambda t: t.sqrt()),
                                     ("sigmoid", lambda t: t.sigmoid()),
                                     ("tanh", lambda t: t.tanh())])
def test_float_functions_of_int_tensors_give_float32(name, fn):
    t = nb.tensor([1, 2, 3])
    out = fn(t)
    assert out.dtype == F32
    ref = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh,
           "sigmoid": lambda x: 1 / (1 + np.exp(-x))}[name](np.array([1.0, 2.0, 3.0]))
    check(out, ref, F32)


def test_unary_ops_on_special_values_follow_numpy():
    x = np.array([-np.inf, -2.0, -0.0, 0.0, 0.5, np.inf, np.nan])
    t = nb.tensor(x, dtype=F64)
    with np.errstate(all="ignore"):
        check(t.exp(), np.exp(x), F64)
        check(t.log(), np.log(x), F64)
        check(t.sqrt(), np.sqrt(x), F64)
        check(t.abs(), np.abs(x), F64)
        check(t.tanh(), np.tanh(x), F64)
        check(t.sigmoid(), 1 / (1 + np.exp(-x)), F64)
        check(t.relu(), np.where(np.isnan(x), np.nan, np.maximum(x, 0)), F64)


# ---- softmax ------------------------------------------------------------------------------

def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("form", ["method", "function"])
@pytest.mark.parametrize("dtype", FLOATS, ids=_id)
@given(data=st.data())
def test_softmax_and_log_softmax_match_numpy(form, dtype, data):
    array = data.draw(shapes(min_dims=1, max_dims=3).flatmap(
        lambda s: values(s, low=-20.0, high=20.0)))
    ref, t = data.draw(laid_out(array, dtype=dtype))
    dim = data.draw(st.integers(-ref.ndim, ref.ndim - 1))
    x = rounded(ref, dtype)
    sm = t.softmax(dim) if form == "method" else nb.softmax(t, dim)
    lsm = t.log_softmax(dim) if form == "method" else nb.log_softmax(t, dim)
    check(sm, _softmax(x, dim), dtype)
    check(lsm, np.log(_softmax(x, dim)), dtype, scale=10)


def test_softmax_is_stable_for_large_inputs():
    t = nb.tensor([[1000.0, 1001.0, 1002.0], [-1000.0, -1000.0, -1000.0]])
    expected = _softmax(np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 0.0]]), 1)
    check(t.softmax(1), expected, F32)
    check(t.log_softmax(1), np.log(expected), F32)


# ---- binary ops ---------------------------------------------------------------------------

BINARY = {
    "+": (lambda a, b: a + b, np.add, {}),
    "-": (lambda a, b: a - b, np.subtract, {}),
    "*": (lambda a, b: a * b, np.multiply, {}),
    "/": (lambda a, b: a / b, np.divide, dict(b=dict(avoid=0.0))),
    "**": (lambda a, b: a ** b, np.power, dict(a=dict(low=0.1, high=3.0))),
    "add": (lambda a, b: a.add(b), np.add, {}),
    "sub": (lambda a, b: a.sub(b), np.subtract, {}),
    "mul": (lambda a, b: a.mul(b), np.multiply, {}),
    "div": (lambda a, b: a.div(b), np.divide, dict(b=dict(avoid=0.0))),
    "pow": (lambda a, b: a.pow(b), np.power, dict(a=dict(low=0.1, high=3.0))),
    "maximum": (lambda a, b: a.maximum(b), np.maximum, {}),
    "minimum": (lambda a, b: a.minimum(b), np.minimum, {}),
    "nb.maximum": (lambda a, b: nb.maximum(a, b), np.maximum, {}),
    "nb.minimum": (lambda a, b: nb.minimum(a, b), np.minimum, {}),
    "nb.max(a, b)": (lambda a, b: nb.max(a, b), np.maximum, {}),
}
COMPARE = {
    "==": (lambda a, b: a == b, np.equal), "!=": (lambda a, b: a != b, np.not_equal),
    "<": (lambda a, b: a < b, np.less), "<=": (lambda a, b: a <= b, np.less_equal),
    ">": (lambda a, b: a > b, np.greater), ">=": (lambda a, b: a >= b, np.greater_equal),
}


def _coarse(array):
    """Values on a grid of 0.5, so that comparisons see ties."""
    return np.round(array * 2) / 2


@pytest.mark.parametrize("dtype", FLOATS, ids=_id)
@pytest.mark.parametrize("name", list(BINARY))
@given(data=st.data())
def test_binary_ops_broadcast_like_numpy(name, dtype, data):
    fn, ref_fn, bounds = BINARY[name]
    sa, sb = data.draw(broadcastable_pair())
    ra, ta = data.draw(laid_out(data.draw(values(sa, **bounds.get("a", {}))), dtype=dtype))
    rb, tb = data.draw(laid_out(data.draw(values(sb, **bounds.get("b", {}))), dtype=dtype))
    with np.errstate(all="ignore"):
        expected = ref_fn(rounded(ra, dtype), rounded(rb, dtype))
    check(fn(ta, tb), expected, dtype, scale=10)


@pytest.mark.parametrize("name", ["+", "-", "*", "/", "**"])
@given(data=st.data(), s=st.sampled_from([2, -3, 0.5, 2.5, -1.25]))
def test_binary_ops_with_python_scalars_on_either_side(name, data, s):
    fn, ref_fn, _ = BINARY[name]
    positive = name in ("**", "/")
    array = data.draw(shapes(max_dims=3).flatmap(
        lambda sh: values(sh, low=0.1, high=3.0) if positive else values(sh)))
    ref, t = data.draw(laid_out(array, dtype=F64))
    with np.errstate(all="ignore"):
        check(fn(t, s), ref_fn(ref, s), F64, scale=10)
        check(fn(s, t), ref_fn(s, ref), F64, scale=10)


@pytest.mark.parametrize("name", list(COMPARE))
@pytest.mark.parametrize("dtype", (F32, I64), ids=_id)
@given(data=st.data())
def test_comparisons_broadcast_and_give_bool(name, dtype, data):
    fn, ref_fn = COMPARE[name]
    sa, sb = data.draw(broadcastable_pair())
    ra, ta = data.draw(laid_out(_coarse(data.draw(values(sa))), dtype=dtype))
    rb, tb = data.draw(laid_out(_coarse(data.draw(values(sb))), dtype=dtype))
    check(fn(ta, tb), ref_fn(rounded(ra, dtype), rounded(rb, dtype)), BOOL)
    check(fn(ta, 0.5), ref_fn(rounded(ra, dtype), 0.5), BOOL)
    check(fn(1, tb), ref_fn(1, rounded(rb, dtype)), BOOL)


@pytest.mark.parametrize("name", ["+", "-", "*", "maximum", "minimum"])
@given(data=st.data())
def test_integer_binary_ops_are_exact(name, data):
    fn, ref_fn, _ = BINARY[name]
    sa, sb = data.draw(broadcastable_pair())
    ra, ta = data.draw(laid_out(np.rint(data.draw(values(sa))) * 1000, dtype=I64))
    rb, tb = data.draw(laid_out(np.rint(data.draw(values(sb))), dtype=I64))
    check(fn(ta, tb), ref_fn(ra.astype(np.int64), rb.astype(np.int64)), I64)


@given(data=st.data())
def test_where_picks_elementwise_with_broadcasting(data):
    sc, sa = data.draw(broadcastable_pair())
    rc, tc = data.draw(laid_out(data.draw(values(sc)) > 0, dtype=BOOL))
    ra, ta = data.draw(laid_out(data.draw(values(sa)), dtype=F64))
    check(nb.where(tc, ta, -1.5), np.where(rc, ra, -1.5), F64)
    check(nb.where(tc, 2.5, ta), np.where(rc, 2.5, ra), F64)
    check(nb.where(tc, ta, ta * 2), np.where(rc, ra, ra * 2), F64)


def test_where_with_a_comparison_as_condition():
    x = nb.tensor([-1.0, 0.5, 2.0])
    check(nb.where(x > 0, x, nb.zeros(3)), [0.0, 0.5, 2.0], F32)


# ---- reductions -----------------------------------------------------------------------------

@st.composite
def dims_of(draw, ndim):
    """None, an int (maybe negative) or a tuple of distinct dims (maybe empty)."""
    kind = draw(st.sampled_from(["none", "int", "tuple"] if ndim else ["none"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    picked = draw(st.sets(st.integers(0, ndim - 1), min_size=1))
    return tuple(d - ndim if draw(st.booleans()) else d for d in sorted(picked))


def _np_axis(dim):
    return dim if dim is None or isinstance(dim, int) else tuple(dim)


@pytest.mark.parametrize("name", ["sum", "mean", "nb.sum", "nb.mean"])
@pytest.mark.parametrize("dtype", FLOATS, ids=_id)
@given(data=st.data(), keepdim=st.booleans())
def test_sum_and_mean_over_any_dims(name, dtype, data, keepdim):
    array = data.draw(shapes(max_dims=4).flatmap(values))
    ref, t = data.draw(laid_out(array, dtype=dtype))
    dim = data.draw(dims_of(ref.ndim))
    op = name.split(".")[-1]
    out = getattr(nb, op)(t, dim, keepdim) if name.startswith("nb.") else \
        getattr(t, op)(dim=dim, keepdim=keepdim)
    expected = getattr(np, op)(rounded(ref, dtype), axis=_np_axis(dim), keepdims=keepdim)
    check(out, expected, dtype, scale=ref.size)


@pytest.mark.parametrize("dtype", (I64, BOOL), ids=_id)
@given(data=st.data())
def test_sum_of_int_and_bool_tensors_is_int64(dtype, data):
    array = np.rint(data.draw(shapes(max_dims=3).flatmap(values)))
    ref, t = data.draw(laid_out(array, dtype=dtype))
    dim = data.draw(dims_of(ref.ndim))
    check(t.sum(dim), np.sum(rounded(ref, dtype).astype(np.int64), axis=_np_axis(dim)), I64)


@pytest.mark.parametrize("unbiased", [True, False])
@given(data=st.data(), keepdim=st.booleans())
def test_var_over_any_dims(unbiased, data, keepdim):
    array = data.draw(shapes(max_dims=3).flatmap(values))
    ref, t = data.draw(laid_out(array, dtype=F64))
    dim = data.draw(dims_of(ref.ndim))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.var(ref, axis=_np_axis(dim), ddof=1 if unbiased else 0, keepdims=keepdim)
    out = t.var(dim, unbiased=unbiased, keepdim=keepdim) if dim is not None or keepdim else \
        t.var(unbiased=unbiased)
    check(out, expected, F64, scale=ref.size)


def test_var_defaults_to_the_unbiased_estimate():
    t = nb.tensor([1.0, 2.0, 3.0, 4.0])
    assert t.var().item() == pytest.approx(np.var([1, 2, 3, 4], ddof=1))


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("form", ["method", "function"])
@pytest.mark.parametrize("dtype", (F32, I64), ids=_id)
@given(data=st.data(), keepdim=st.booleans())
def test_max_and_min_along_a_dim_give_values_and_first_indices(op, form, dtype, data, keepdim):
    array = _coarse(data.draw(shapes(min_dims=1, max_dims=4).flatmap(values)))
    ref, t = data.draw(laid_out(array, dtype=dtype))
    dim = data.draw(st.integers(-ref.ndim, ref.ndim - 1))
    x = rounded(ref, dtype)
    result = getattr(t, op)(dim, keepdim=keepdim) if form == "method" else \
        getattr(nb, op)(t, dim, keepdim)
    values_, indices = result
    assert result.values is values_ and result.indices is indices
    check(values_, getattr(np, op)(x, axis=dim, keepdims=keepdim), dtype)
    arg = (np.argmax if op == "max" else np.argmin)(x, axis=dim, keepdims=keepdim)
    check(indices, arg, I64)


@pytest.mark.parametrize("op", ["max", "min"])
@given(data=st.data())
def test_max_and_min_of_all_elements(op, data):
    array = data.draw(shapes(max_dims=4).flatmap(values))
    ref, t = data.draw(laid_out(array, dtype=F64))
    check(getattr(t, op)(), getattr(np, op)(ref), F64)
    check(getattr(nb, op)(t), getattr(np, op)(ref), F64)


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@given(data=st.data(), keepdim=st.booleans())
def test_argmax_and_argmin_pick_the_first_extreme(op, data, keepdim):
    array = _coarse(data.draw(shapes(max_dims=4).flatmap(values)))
    ref, t = data.draw(laid_out(array, dtype=F32))
    dim = data.draw(st.one_of(st.none(), st.integers(-max(ref.ndim, 1), max(ref.ndim, 1) - 1)))
    if ref.ndim == 0 and dim is not None:
        dim = None
    got = getattr(t, op)(dim, keepdim=keepdim) if keepdim else getattr(t, op)(dim)
    expected = getattr(np, op)(ref, axis=dim, keepdims=keepdim)
    check(got, expected, I64)
    if op == "argmax" and not keepdim:
        check(nb.argmax(t, dim), expected, I64)


def test_max_and_argmax_treat_nan_as_the_largest():
    t = nb.tensor([[1.0, float("nan"), 3.0], [2.0, 2.0, 0.0]])
    assert np.isnan(t.max().item())
    values_, indices = t.max(1)
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    np.testing.assert_array_equal(t.argmax(1).numpy(), [1, 0])
    assert np.isnan(values_.numpy()[0])


# ---- matrix products --------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["@", "matmul", "nb.matmul"])
@pytest.mark.parametrize("dtype", (F32, F64, I64), ids=_id)
@given(data=st.data())
def test_matmul_matches_numpy_for_vectors_matrices_and_batches(form, dtype, data):
    ba, bb = data.draw(broadcastable_pair(max_dims=2, max_side=3))
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    a_vec, b_vec = data.draw(st.booleans()), data.draw(st.booleans())
    sa = (k,) if a_vec else ba + (n, k)
    sb = (k,) if b_vec else bb + (k, m)
    ra, ta = data.draw(laid_out(np.rint(data.draw(values(sa)) * 2), dtype=dtype))
    rb, tb = data.draw(laid_out(np.rint(data.draw(values(sb)) * 2), dtype=dtype))
    out = {"@": lambda: ta @ tb, "matmul": lambda: ta.matmul(tb),
           "nb.matmul": lambda: nb.matmul(ta, tb)}[form]()
    check(out, np.matmul(rounded(ra, dtype), rounded(rb, dtype)), dtype, scale=36 * k)


@pytest.mark.parametrize("form", ["method", "function"])
@given(data=st.data())
def test_mm_multiplies_matrices(form, data):
    n, k, m = (data.draw(st.integers(1, 5)) for _ in range(3))
    ra, ta = data.draw(laid_out(data.draw(values((n, k))), dtype=F64))
    rb, tb = data.draw(laid_out(data.draw(values((k, m))), dtype=F64))
    out = ta.mm(tb) if form == "method" else nb.mm(ta, tb)
    check(out, ra @ rb, F64, scale=10)


def test_matmul_of_mixed_dtypes_promotes():
    a = nb.ones(2, 3, dtype=F64)
    b = nb.ones(3, 2)
    assert (a @ b).dtype == F64
    assert (nb.ones(2, 3, dtype=I64) @ b).dtype == F32


# ---- shapes and views ---------------------------------------------------------------------------

@given(data=st.data())
def test_transpose_t_T_and_permute_match_numpy(data):
    array = data.draw(shapes(min_dims=1, max_dims=4).flatmap(values))
    ref, t = data.draw(laid_out(array, dtype=F64))
    nd = ref.ndim
    d0, d1 = data.draw(st.integers(-nd, nd - 1)), data.draw(st.integers(-nd, nd - 1))
    check(t.transpose(d0, d1), np.swapaxes(ref, d0, d1), F64)
    check(nb.transpose(t, d0, d1), np.swapaxes(ref, d0, d1), F64)
    perm = tuple(data.draw(st.permutations(range(nd))))
    check(t.permute(*perm), np.transpose(ref, perm), F64)
    check(t.permute(perm), np.transpose(ref, perm), F64)
    check(nb.permute(t, perm), np.transpose(ref, perm), F64)
    check(t.T, ref.T, F64)
    if nd <= 2:
        check(t.t(), ref.T, F64)


@given(data=st.data())
def test_reshape_view_and_flatten_match_numpy(data):
    array = data.draw(shapes(max_dims=4).flatmap(values))
    ref, t = data.draw(laid_out(array, dtype=F64))
    n = ref.size
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    d = data.draw(st.sampled_from(divisors))
    for shape in [(d, n // d), (n // d, -1), (-1,), (1, d, 1, n // d)]:
        check(t.reshape(shape), ref.reshape(shape), F64)
        check(t.reshape(*shape), ref.reshape(shape), F64)
        check(nb.reshape(t, shape), ref.reshape(shape), F64)
    check(t.contiguous().view(d, -1), ref.reshape(d, -1), F64)
    check(t.contiguous().view((d, -1)), ref.reshape(d, -1), F64)
    check(t.flatten(), ref.reshape(-1), F64)
    check(nb.flatten(t), ref.reshape(-1), F64)
    if ref.ndim >= 2:
        s, e = sorted(data.draw(st.lists(st.integers(0, ref.ndim - 1), min_size=2,
                                         max_size=2)))
        expected = ref.reshape(ref.shape[:s] + (-1,) + ref.shape[e + 1:])
        check(t.flatten(s, e), expected, F64)
        check(t.flatten(s - ref.ndim, e - ref.ndim), expected, F64)


@given(data=st.data())
def test_squeeze_and_unsqueeze_match_numpy(data):
    shape = data.draw(shapes(max_dims=4, max_side=3))
    shape = tuple(1 if data.draw(st.booleans()) else s for s in shape)
    ref, t = data.draw(laid_out(data.draw(values(shape)), dtype=F64))
    check(t.squeeze(), np.squeeze(ref), F64)
    check(nb.squeeze(t), np.squeeze(ref), F64)
    for d in range(-ref.ndim, ref.ndim):
        expected = np.squeeze(ref, d) if ref.shape[d] == 1 else ref  # PyTorch: no-op if not 1
        check(t.squeeze(d), expected, F64)
    for d in range(-ref.ndim - 1, ref.ndim + 1):
        check(t.unsqueeze(d), np.expand_dims(ref, d), F64)
        check(nb.unsqueeze(t, d), np.expand_dims(ref, d), F64)


@given(data=st.data())
def test_expand_matches_numpy_broadcast_to(data):
    sa, sb = data.draw(broadcastable_pair())
    target = np.broadcast_shapes(sa, sb)
    ref, t = data.draw(laid_out(data.draw(values(sa)), dtype=F64))
    check(t.expand(*target), np.broadcast_to(ref, target), F64)
    check(t.expand(target), np.broadcast_to(ref, target), F64)
    lead = len(target) - ref.ndim
    with_minus = tuple(-1 if i >= lead and ref.shape[i - lead] == s else s
                       for i, s in enumerate(target))
    check(t.expand(*with_minus), np.broadcast_to(ref, target), F64)
    check(t.expand_as(nb.zeros(target)), np.broadcast_to(ref, target), F64)


@pytest.mark.parametrize("form", ["cat", "stack"])
@given(data=st.data())
def test_cat_and_stack_match_numpy(form, data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    count = data.draw(st.integers(1, 3))
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1) if form == "cat" else st.integers(-nd - 1, nd))
    refs, ts = [], []
    for _ in range(count):
        s = list(shape)
        if form == "cat":
            s[dim] = data.draw(st.integers(0, 3))
        r, t = data.draw(laid_out(data.draw(values(tuple(s))), dtype=F64))
        refs.append(r)
        ts.append(t)
    out = nb.cat(ts, dim) if form == "cat" else nb.stack(ts, dim)
    expected = np.concatenate(refs, dim) if form == "cat" else np.stack(refs, dim)
    check(out, expected, F64)


def test_cat_promotes_dtypes():
    out = nb.cat([nb.tensor([1, 2]), nb.tensor([0.5])])
    check(out, [1.0, 2.0, 0.5], F32)


# ---- attributes and conversions ----------------------------------------------------------------

def test_tensor_attributes():
    t = nb.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.size() == (2, 3, 4)
    assert t.size(1) == 3 and t.size(-1) == 4
    assert t.ndim == 3 and t.dim() == 3 and t.numel() == 24 and len(t) == 2
    assert t.dtype == nb.float32 and t.device == nb.device("cpu") and str(t.device) == "cpu"
    assert t.requires_grad is False and t.grad is None and t.grad_fn is None and t.is_leaf
    assert t.T.shape == (4, 3, 2)
    assert nb.is_tensor(t) and not nb.is_tensor(np.zeros(2))


@pytest.mark.parametrize("target", ALL, ids=_id)
@pytest.mark.parametrize("source", ALL, ids=_id)
def test_to_dtype_converts_like_numpy_astype(source, target):
    x = np.array([[-2.7, -1.0, 0.0], [0.4, 1.5, 3.0]])
    t = nb.tensor(x, dtype=source)
    src_values = t.numpy()
    for converted in (t.to(target), t.to(target.numpy), t.to(target.name), t.to(dtype=target)):
        check(converted, src_values.astype(target.numpy), target)
    if source is target:
        assert t.to(target) is t


def test_float_double_long_and_bool_shortcuts():
    t = nb.tensor([1.7, -2.2, 0.0])
    assert t.float().dtype == F32 and t.double().dtype == F64
    assert t.long().dtype == I64 and t.bool().dtype == BOOL
    np.testing.assert_array_equal(t.long().numpy(), [1, -2, 0])
    np.testing.assert_array_equal(t.bool().numpy(), [True, True, False])
    assert t.to("cpu") is t and t.cpu() is t and t.to(nb.device("cpu")) is t


def test_conversions_copy_values_when_the_dtype_changes():
    t = nb.tensor([1.0, 2.0])
    d = t.double()
    d.fill_(5)
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])


# ---- dtype promotion ----------------------------------------------------------------------------

ORDER = {BOOL: 0, I64: 1, F32: 2, F64: 3}


@pytest.mark.parametrize("b", ALL, ids=_id)
@pytest.mark.parametrize("a", ALL, ids=_id)
def test_tensor_tensor_promotion_follows_bool_int_float32_float64(a, b):
    x = nb.ones(3, dtype=a)
    y = nb.ones(3, dtype=b)
    expected = a if ORDER[a] >= ORDER[b] else b
    assert (x + y).dtype == expected
    assert (x * y).dtype == expected
    assert nb.maximum(x, y).dtype == expected
    assert nb.where(x > 0, x, y).dtype == expected
    assert (x / y).dtype == (expected if expected.is_floating_point else F32)
    for result in (x < y, x == y, x >= y):
        assert result.dtype == BOOL
    if a is not BOOL and b is not BOOL:  # subtraction with a bool operand is refused
        assert (x - y).dtype == expected
    else:
        with pytest.raises(RuntimeError, match="bool"):
            x - y


@pytest.mark.parametrize("dtype,op,scalar,expected", [
    (I64, "*", 2.5, F32), (I64, "+", 2, I64), (I64, "*", True, I64),
    (F32, "*", 2.0, F32), (F32, "+", 2, F32), (F32, "*", 1e300, F32),
    (F64, "*", 2.0, F64), (F64, "+", 2, F64),
    (BOOL, "+", 1, I64), (BOOL, "*", 1.5, F32), (BOOL, "+", True, BOOL),
    (I64, "/", 2, F32), (I64, "/", 2.0, F32), (F64, "/", 2, F64), (F32, "/", 3, F32),
    (I64, "**", 2, I64), (I64, "**", 0.5, F32), (F32, "**", 2, F32),
    (I64, "-", 2.5, F32), (BOOL, "-", 1, None),
    (I64, "*", np.float64(2.5), F32), (F32, "*", np.float64(2.0), F32),
    (I64, "+", np.int64(3), I64),
], ids=str)
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_python_scalars_are_weak_in_promotion(dtype, op, scalar, expected):
    t = nb.ones(3, dtype=dtype)
    fn = {"*": lambda a, b: a * b, "+": lambda a, b: a + b, "-": lambda a, b: a - b,
          "/": lambda a, b: a / b, "**": lambda a, b: a ** b}[op]
    if expected is None:  # refused, as in PyTorch
        with pytest.raises(RuntimeError):
            fn(t, scalar)
        return
    assert fn(t, scalar).dtype == expected
    if op in "*+":
        assert fn(scalar, t).dtype == expected


def test_true_division_of_int_tensors_gives_float32():
    a, b = nb.tensor([1, 2, 7]), nb.tensor([2, 4, 2])
    check(a / b, [0.5, 0.5, 3.5], F32)
    check(a / 2, [0.5, 1.0, 3.5], F32)
    check(7 / b, [3.5, 1.75, 3.5], F32)
    check(2.0 ** nb.tensor([1, 2]), [2.0, 4.0], F32)
    check(2 ** nb.tensor([1, 2]), [2, 4], I64)


@pytest.mark.parametrize("dtype", ALL, ids=_id)
def test_comparisons_with_scalars_give_bool(dtype):
    t = nb.tensor([0, 1, 2], dtype=dtype)
    for result in (t < 1, t <= 1.5, t > 0, t >= True, t == 1, t != 2.5, 1 < t, 0.5 > t):
        assert result.dtype == BOOL


def test_zero_dim_tensors_promote_like_scalars_within_a_category():
    """PyTorch: a 0-d tensor decides the result dtype only when it is of a higher category."""
    assert (nb.ones(3) + nb.ones(2, dtype=F64).sum()).dtype == F32
    assert (nb.ones(3, dtype=I64) + nb.ones(2, dtype=F64).sum()).dtype == F64


# ---- creation -----------------------------------------------------------------------------------

def test_tensor_infers_the_dtype_like_pytorch():
    assert nb.tensor([1, 2]).dtype == I64
    assert nb.tensor([1.0, 2]).dtype == F32
    assert nb.tensor([True, False]).dtype == BOOL
    assert nb.tensor([[1, 2], [3, 4]]).shape == (2, 2)
    assert nb.tensor(np.zeros(2, np.float64)).dtype == F64
    assert nb.tensor(np.zeros(2, np.float32)).dtype == F32
    assert nb.tensor(np.zeros(2, np.int32)).dtype == I64
    assert nb.tensor(np.zeros(2, np.bool_)).dtype == BOOL
    assert nb.tensor([1, 2], dtype=F64).dtype == F64
    assert nb.tensor([1, 2], dtype="float32").dtype == F32
    assert nb.tensor([1, 2], dtype=np.float64).dtype == F64
    assert nb.Tensor([1.0, 2.0]).dtype == F32


@pytest.mark.parametrize("value,dtype", [(3.5, F32), (3, I64), (True, BOOL),
                                         (np.float64(2.0), None), (np.array(2.0), F64)],
                         ids=str)
def test_tensor_of_a_scalar_is_zero_dimensional(value, dtype):
    t = nb.tensor(value)
    assert t.shape == () and t.ndim == 0 and t.numel() == 1
    if dtype is not None:
        assert t.dtype == dtype
    assert t.item() == value


def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0])
    t = nb.tensor(a)
    a[0] = 9
    assert t.tolist() == [1.0, 2.0]
    u = nb.tensor(t)
    u.fill_(0)
    assert t.tolist() == [1.0, 2.0]
    v = nb.tensor([1.0, 2.0], requires_grad=True)
    assert v.requires_grad and v.is_leaf


def test_tensor_of_ragged_lists_raises_a_clear_error():
    with pytest.raises((TypeError, ValueError)):
        nb.tensor([[1, 2], [3]])


@pytest.mark.parametrize("np_dtype", [np.float32, np.float64, np.int64, np.bool_])
def test_from_numpy_shares_memory_both_ways(np_dtype):
    a = np.zeros((2, 3), np_dtype)
    t = nb.from_numpy(a)
    assert t.dtype.numpy == np.dtype(np_dtype) and t.shape == (2, 3)
    a[0, 1] = 1
    assert t.tolist()[0][1] == 1
    t.fill_(1)
    assert (a == 1).all()
    assert np.shares_memory(t.numpy(), a)


def test_from_numpy_of_a_strided_array_shares_memory():
    a = np.arange(12.0).reshape(3, 4)
    t = nb.from_numpy(a[:, ::2])
    check(t, a[:, ::2], F64)
    a[0, 2] = -1
    assert t.tolist()[0][1] == -1


def test_from_numpy_of_a_negatively_strided_array_shares_memory_or_raises():
    """from_numpy promises shared memory; a silent copy would lose writes (PyTorch raises)."""
    a = np.arange(4.0)
    try:
        t = nb.from_numpy(a[::-1])
    except (ValueError, TypeError):
        return
    a[0] = 100
    assert t.tolist()[-1] == 100, "from_numpy copied a reversed array instead of sharing it"


SIZED = {
    "zeros": (nb.zeros, lambda shape: np.zeros(shape)),
    "ones": (nb.ones, lambda shape: np.ones(shape)),
    "empty": (nb.empty, None),
    "rand": (nb.rand, None),
    "randn": (nb.randn, None),
}


@pytest.mark.parametrize("name", list(SIZED))
@pytest.mark.parametrize("size", [(), (0,), (3,), (2, 3), (2, 1, 3)], ids=str)
def test_sized_creation_takes_sizes_as_args_tuple_or_list(name, size):
    fn, ref = SIZED[name]
    made = (fn(size), fn(list(size))) + ((fn(*size),) if size else ())  # fn() is a TypeError
    for t in made:
        assert t.shape == size and t.dtype == F32 and not t.requires_grad
        if ref is not None:
            check(t, ref(size), F32)
    for dtype in (F64, "float64", np.float64):
        assert fn(size, dtype=dtype).dtype == F64
    t = fn(size, requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad is None
    assert fn(size, device="cpu").device == nb.device("cpu")


@pytest.mark.parametrize("dtype", (I64, BOOL), ids=_id)
def test_zeros_and_ones_of_int_and_bool(dtype):
    check(nb.zeros(2, 2, dtype=dtype), np.zeros((2, 2)), dtype)
    check(nb.ones(3, dtype=dtype), np.ones(3), dtype)


@pytest.mark.parametrize("fn", (nb.zeros, nb.ones, nb.empty, nb.rand, nb.randn),
                         ids=lambda f: f.__name__)
def test_creation_without_a_size_is_a_type_error_and_an_empty_size_is_0_d(fn):
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'size'"):
        fn()  # as PyTorch; a 0-d tensor is asked for with ()
    assert fn(()).shape == () and fn([]).shape == ()


def test_rand_is_in_the_unit_interval_and_randn_is_normal():
    nb.manual_seed(0)
    r = nb.rand(100, 100).numpy()
    assert r.min() >= 0 and r.max() < 1 and abs(r.mean() - 0.5) < 0.02
    n = nb.randn(100, 100, dtype=F64).numpy()
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05


@pytest.mark.parametrize("value,dtype", [(1.5, F32), (7, I64), (True, BOOL), (-2.0, F32)],
                         ids=str)
def test_full_infers_the_dtype_from_the_fill_value(value, dtype):
    t = nb.full((2, 3), value)
    check(t, np.full((2, 3), value), dtype)
    check(nb.full([4], value, dtype=F64), np.full(4, value), F64)
    check(nb.full((), value), np.full((), value), dtype)
    assert nb.full((2,), 1.0, requires_grad=True).requires_grad


@pytest.mark.parametrize("args,kwargs,expected,dtype", [
    ((5,), {}, np.arange(5), I64),
    ((2, 7), {}, np.arange(2, 7), I64),
    ((0, 10, 3), {}, np.arange(0, 10, 3), I64),
    ((5, 0, -2), {}, np.arange(5, 0, -2), I64),
    ((1, 2, 0.25), {}, np.arange(1, 2, 0.25), F32),
    ((0, 1, 0.1), {}, np.arange(0, 1, 0.1), F32),
    ((3.0,), {}, np.arange(3.0), F32),
    ((4,), {"dtype": F64}, np.arange(4.0), F64),
    ((4,), {"dtype": F32}, np.arange(4.0), F32),
    ((3, 3), {}, np.arange(3, 3), I64),
], ids=str)
def test_arange_matches_numpy(args, kwargs, expected, dtype):
    check(nb.arange(*args, **kwargs), expected, dtype)


def test_arange_with_a_zero_step_raises_as_in_pytorch():
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        nb.arange(0, 5, 0)


@pytest.mark.parametrize("n,m", [(1, None), (3, None), (2, 4), (4, 2), (0, None)], ids=str)
def test_eye_matches_numpy(n, m):
    check(nb.eye(n, m), np.eye(n, m), F32)
    check(nb.eye(n, m, dtype=I64), np.eye(n, m), I64)


def test_randint_forms_and_range():
    nb.manual_seed(0)
    for t in (nb.randint(10, (200,)), nb.randint(0, 10, (200,)), nb.randint(0, 10, size=(200,)),
              nb.randint(low=0, high=10, size=(200,))):
        assert t.dtype == I64 and t.shape == (200,)
        a = t.numpy()
        assert a.min() >= 0 and a.max() < 10 and len(set(a.tolist())) > 5
    t = nb.randint(-3, -1, (2, 3))
    assert t.shape == (2, 3) and set(t.numpy().ravel().tolist()) <= {-3, -2}
    assert nb.randint(0, 5, (3,), dtype=F32).dtype == F32


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "randn_like", "rand_like",
                                  "empty_like"])
def test_like_functions_copy_shape_and_dtype(name):
    fn = getattr(nb, name)
    base = nb.zeros(2, 3, dtype=F64)
    t = fn(base)
    assert t.shape == (2, 3) and t.dtype == F64 and not t.requires_grad
    assert fn(base, dtype=F32).dtype == F32
    assert fn(base, requires_grad=True).requires_grad
    if name == "zeros_like":
        check(t, np.zeros((2, 3)), F64)
    if name == "ones_like":
        check(t, np.ones((2, 3)), F64)
        check(fn(nb.zeros(3, dtype=I64)), np.ones(3), I64)
    t.fill_(1)
    assert base.sum().item() == 0, "a *_like tensor must not share memory with its model"


def test_full_like():
    check(nb.full_like(nb.zeros(2, dtype=I64), 4), np.full(2, 4), I64)


@pytest.mark.parametrize("fn", [
    lambda: nb.randn(4, 3), lambda: nb.rand(5), lambda: nb.randint(0, 100, (6,)),
    lambda: nb.randn_like(nb.zeros(3, dtype=F64)), lambda: nb.rand(2, dtype=F64),
], ids=["randn", "rand", "randint", "randn_like", "rand f64"])
def test_manual_seed_makes_random_draws_repeat(fn):
    nb.manual_seed(42)
    first = [fn().numpy().copy() for _ in range(3)]
    nb.manual_seed(42)
    second = [fn().numpy().copy() for _ in range(3)]
    nb.manual_seed(43)
    other = fn().numpy()
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(first[0], first[1])
    assert not np.array_equal(first[0], other)


def test_manual_seed_covers_a_mixed_sequence_of_draws():
    def draws():
        return [nb.randn(3).numpy().copy(), nb.rand(2, 2).numpy().copy(),
                nb.randint(0, 1000, (4,)).numpy().copy(), nb.randn(2, dtype=F64).numpy().copy()]

    nb.manual_seed(7)
    a = draws()
    nb.manual_seed(7)
    b = draws()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_manual_seed_rejects_non_ints():
    with pytest.raises(TypeError):
        nb.manual_seed(1.5)


# ---- views share memory ---------------------------------------------------------------------

VIEWS = {  # name: (view of a (2, 3, 4) tensor, its shape)
    "transpose": (lambda t: t.transpose(0, 2), (4, 3, 2)),
    "nb.transpose": (lambda t: nb.transpose(t, 1, 2), (2, 4, 3)),
    "permute": (lambda t: t.permute(2, 0, 1), (4, 2, 3)),
    "nb.permute": (lambda t: nb.permute(t, (2, 0, 1)), (4, 2, 3)),
    "T": (lambda t: t.T, (4, 3, 2)),
    "t": (lambda t: t[0].t(), (4, 3)),
    "reshape": (lambda t: t.reshape(6, 4), (6, 4)),
    "view": (lambda t: t.view(2, 12), (2, 12)),
    "view -1": (lambda t: t.view(-1), (24,)),
    "flatten": (lambda t: t.flatten(), (24,)),
    "slice": (lambda t: t[1:, ::2, 1:3], (1, 2, 2)),
    "int index": (lambda t: t[1], (3, 4)),
    "int index 2": (lambda t: t[1, 2], (4,)),
    "int index 3": (lambda t: t[1, 2, 3], ()),
    "negative int index": (lambda t: t[-1, :, -2], (3,)),
    "ellipsis": (lambda t: t[..., 1], (2, 3)),
    "None": (lambda t: t[None, :, 1], (1, 2, 4)),
    "squeeze": (lambda t: t[:, :1].squeeze(1), (2, 4)),
    "squeeze all": (lambda t: t[:1, :1].squeeze(), (4,)),
    "unsqueeze": (lambda t: t.unsqueeze(1), (2, 1, 3, 4)),
    "detach": (lambda t: t.detach(), (2, 3, 4)),
    "data": (lambda t: t.data, (2, 3, 4)),
    "view of a view": (lambda t: t.transpose(0, 1)[1:].permute(2, 0, 1), (4, 2, 2)),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_views_share_memory_with_their_base(name):
    make, shape = VIEWS[name]
    base = nb.arange(24, dtype=F64).reshape(2, 3, 4)
    v = make(base)
    assert v.shape == shape
    assert np.shares_memory(v.numpy(), base.numpy()), f"{name} copied its data"
    # a write through the view shows in the base
    v.fill_(-1.0)
    assert (base.numpy() == -1).sum() == v.numel()
    # a write into the base shows in the view
    base.fill_(5.0)
    assert (v.numpy() == 5).all()


def test_expand_is_a_view_of_its_base():
    base = nb.tensor([[1.0], [2.0]])
    e = base.expand(2, 3)
    assert np.shares_memory(e.numpy(), base.numpy())
    base.mul_(10)
    check(e, [[10, 10, 10], [20, 20, 20]], F32)


def test_contiguous_of_a_contiguous_tensor_is_itself():
    t = nb.zeros(2, 3)
    assert t.contiguous() is t
    c = t.T.contiguous()
    assert c.is_contiguous() and not np.shares_memory(c.numpy(), t.numpy())


def test_view_of_a_non_viewable_layout_raises():
    t = nb.arange(6).reshape(2, 3).t()
    with pytest.raises(RuntimeError, match="view"):
        t.view(6)
    with pytest.raises(RuntimeError):
        t.view(-1)


def test_reshape_of_a_non_viewable_layout_copies():
    base = nb.arange(6).reshape(2, 3)
    r = base.t().reshape(6)
    check(r, [0, 3, 1, 4, 2, 5], I64)
    assert not np.shares_memory(r.numpy(), base.numpy())
    r.fill_(0)
    check(base, np.arange(6).reshape(2, 3), I64)


def test_clone_does_not_share_memory():
    base = nb.ones(3)
    c = base.clone()
    c.fill_(0)
    check(base, np.ones(3), F32)


# ---- interop, tolist, item, repr ------------------------------------------------------------

@pytest.mark.parametrize("dtype", ALL, ids=_id)
def test_numpy_asarray_gives_the_values_and_shares_memory(dtype):
    t = nb.tensor([[0, 1], [2, 3]], dtype=dtype)
    a = np.asarray(t)
    assert isinstance(a, np.ndarray) and a.dtype == dtype.numpy and a.shape == (2, 2)
    np.testing.assert_array_equal(a, np.array([[0, 1], [2, 3]]).astype(dtype.numpy))
    assert np.shares_memory(a, t.numpy())
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.array(t).shape == (2, 2)


def test_numpy_asarray_of_a_view():
    t = nb.arange(12).reshape(3, 4).t()[1:]
    np.testing.assert_array_equal(np.asarray(t), np.arange(12).reshape(3, 4).T[1:])


def test_tolist_gives_python_numbers():
    assert nb.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    fl = nb.tensor([0.5, 1.5]).tolist()
    assert fl == [0.5, 1.5] and all(type(v) is float for v in fl)
    assert nb.tensor([True, False]).tolist() == [True, False]
    assert type(nb.tensor([True]).tolist()[0]) is bool
    assert nb.zeros(2, 0).tolist() == [[], []]
    assert nb.ones(2, 2).t().tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert nb.ones(3).sum().tolist() == 3.0


@pytest.mark.parametrize("t,value,kind", [
    (lambda: nb.tensor([2.5]), 2.5, float), (lambda: nb.tensor([[7]]), 7, int),
    (lambda: nb.tensor([True]), True, bool), (lambda: nb.ones(4).sum(), 4.0, float),
    (lambda: nb.arange(5)[3], 3, int), (lambda: nb.ones(2, dtype=F64).mean(), 1.0, float),
], ids=["float", "int", "bool", "sum", "index", "mean"])
def test_item_gives_a_python_number(t, value, kind):
    v = t().item()
    assert v == value and type(v) is kind


def test_python_number_conversions():
    t = nb.tensor([2.75])
    assert float(t) == 2.75 and int(t) == 2 and bool(t) is True
    assert [1, 2, 3][nb.tensor(1)] == 2


@pytest.mark.parametrize("make,text", [
    (lambda: nb.tensor([1.0, 2.0]), "tensor([1., 2.])"),
    (lambda: nb.tensor([1, 2, 3]), "tensor([1, 2, 3])"),
    (lambda: nb.tensor([True, False]), "tensor([ True, False])"),
    (lambda: nb.tensor([1.0, 2.0], dtype=F64), "tensor([1., 2.], dtype=numbanet.float64)"),
    (lambda: nb.tensor([1.0, 2.0], requires_grad=True), "tensor([1., 2.], requires_grad=True)"),
    (lambda: nb.tensor([[1.0, 2.0], [3.0, 4.0]]), "tensor([[1., 2.],\n        [3., 4.]])"),
], ids=["float", "int", "bool", "float64", "requires_grad", "matrix"])
def test_repr_looks_like_pytorch(make, text):
    assert repr(make()) == text
    assert str(make()) == text


def test_repr_names_the_grad_fn():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    r = repr(x * 2)
    assert r.startswith("tensor([2., 4.], grad_fn=<") and r.endswith(">)")
    assert repr(nb.tensor(2.5)).startswith("tensor(2.5")


def test_requires_grad_detach_and_retain_grad():
    x = nb.ones(3)
    assert x.requires_grad_() is x and x.requires_grad and x.is_leaf
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.numpy(), x.detach().numpy())
    y = x * 2
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
    y.retain_grad()
    y.sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [1, 1, 1])
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2, 2])
    assert x.requires_grad_(False) is x and not x.requires_grad


def test_manual_seed_before_any_op_makes_a_fresh_process_repeat():
    """The seed must reach a device's generator even when the device is first used later."""
    import os
    import subprocess
    import sys
    code = ("import numbanet as nb; nb.manual_seed(7); "
            "print(nb.randn(4).tolist(), nb.rand(2).tolist(), nb.randint(0, 9, (3,)).tolist())")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           cwd=root, timeout=120).stdout for _ in range(2)]
    assert runs[0] and runs[0] == runs[1]
