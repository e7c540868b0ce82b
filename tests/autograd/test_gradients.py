"""Property tests: the gradient of every differentiable op matches central differences.

Each test draws inputs with the shared strategies (``values``, ``laid_out``, ``shapes``,
``broadcastable_pair``) and runs ``nb.autograd.gradcheck`` in float64 with the tolerances
of DESIGN.md ("Devices and tests": eps 1e-6, atol 1e-5, rtol 1e-3).

``gradcheck`` perturbs the memory of its input tensors in place, so its inputs must be
contiguous leaves. An input drawn in a non-contiguous layout (transposed, strided, or
broadcast with stride 0) is therefore passed as the contiguous leaf that ``laid_out`` built
the view from, and the same view is taken again *inside* the function under test: the op
sees the non-contiguous layout, and the gradient flows back through the view to the leaf.
``Arg`` below does this and checks that the rebuilt view has exactly ``laid_out``'s shape,
strides and values, so the layouts really are exercised.

Every test runs on each device (the ``device`` fixture makes it the default device of new
tensors); on the CUDA simulator with fewer examples (``conftest.py``).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import (
    LAYOUTS,
    broadcastable_pair,
    laid_out,
    same_layout,
    shapes,
    torch_index,
    values,
)

import numbanet as nb
from numbanet.autograd import gradcheck, ops
from numbanet.autograd.ops.registry import BINARY, UNARY

F64 = dict(eps=1e-6, atol=1e-5, rtol=1e-3)  # DESIGN.md: PyTorch's defaults, float64 only
F32 = dict(eps=1e-3, atol=1e-2, rtol=1e-2)  # DESIGN.md: float32 smoke tests only
MAX_SIDE = 4

DEVICES = ["cpu", "cuda"]


@pytest.fixture(scope="module", autouse=True, params=DEVICES)
def device(request):
    """Every test of this module runs on each device: new tensors go to it by default."""
    nb.set_default_device(request.param)
    yield request.param
    nb.set_default_device(None)


small_shapes = shapes(min_dims=0, max_dims=3, max_side=MAX_SIDE)
nonscalar_shapes = shapes(min_dims=1, max_dims=3, max_side=MAX_SIDE)


# ---- inputs: a contiguous leaf plus the drawn layout, rebuilt inside the function ----------

def _view_recipe(layout: str, shape: tuple):
    """The view ``laid_out`` takes for ``layout`` (identity where it falls back)."""
    if layout == "transposed" and len(shape) >= 2:
        return lambda base: base.transpose(-1, -2)
    if layout == "strided" and len(shape) >= 1:
        return lambda base: base[..., ::2]
    if layout == "broadcast" and len(shape) >= 1 and shape[0] > 1:
        return lambda base: base.expand(*shape)
    return lambda base: base


class Arg:
    """An input of the function under test: ``leaf`` is what gradcheck perturbs,
    ``view(leaf)`` has the drawn layout and the values ``ref``."""

    def __init__(self, leaf, view, ref, layout):
        self.leaf, self.view, self.ref, self.layout = leaf, view, ref, layout

    def pull(self, arr: np.ndarray) -> np.ndarray:
        """The adjoint of ``view`` in NumPy: a gradient at the view's shape -> at the leaf's."""
        shape = self.ref.shape
        if self.layout == "transposed" and len(shape) >= 2:
            return np.swapaxes(arr, -1, -2)
        if self.layout == "strided" and len(shape) >= 1:
            out = np.zeros(self.leaf.shape)
            out[..., ::2] = arr
            return out
        if self.layout == "broadcast" and len(shape) >= 1 and shape[0] > 1:
            return arr.sum(axis=0, keepdims=True)
        return arr

    def __repr__(self):
        return f"Arg({self.layout}, leaf shape {self.leaf.shape}, ref={self.ref!r})"


@st.composite
def arg(draw, array: np.ndarray, layouts=LAYOUTS, dtype=nb.float64):
    """An ``Arg`` holding ``array`` in a layout drawn (by ``laid_out``) from ``layouts``."""
    layout = draw(st.sampled_from(layouts))
    ref, laid = draw(laid_out(array, layouts=(layout,), dtype=dtype))
    assert laid.shape == ref.shape, f"laid_out (nb.tensor) made a tensor of shape " \
        f"{laid.shape} from an array of shape {ref.shape}"
    base = laid._base if laid._base is not None else laid  # the contiguous tensor laid_out made
    assert base.is_contiguous()
    leaf = nb.tensor(np.array(base.cpu().numpy()), dtype=dtype, requires_grad=True)
    view = _view_recipe(layout, array.shape)
    seen = view(leaf)
    assert seen.shape == laid.shape and seen.stride() == laid.stride(), \
        f"the rebuilt {layout} view differs from laid_out's: {seen.stride()} vs {laid.stride()}"
    np.testing.assert_array_equal(seen.detach().cpu().numpy(), ref.astype(dtype.numpy))
    return Arg(leaf, view, ref, layout)


def draw_arg(data, shape, layouts=LAYOUTS, dtype=nb.float64, **value_kw):
    return data.draw(arg(data.draw(values(shape, **value_kw)), layouts, dtype))


def check(fn, *args, tol=F64, expected=None):
    """gradcheck ``fn`` with respect to the leaves of ``args``; ``fn`` gets their views.
    With ``expected``, also compare the forward value with a NumPy reference."""
    def on_views(*leaves):
        return fn(*(a.view(leaf) for a, leaf in zip(args, leaves)))

    leaves = tuple(a.leaf for a in args)
    if expected is not None:
        out = on_views(*leaves)
        got = out.detach().cpu().numpy()
        assert got.shape == np.shape(expected), f"shape {got.shape}, expected {np.shape(expected)}"
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert gradcheck(on_views, leaves, **tol)


def away(arr: np.ndarray, point: float, gap: float = 0.05) -> np.ndarray:
    """``arr`` with the elements within ``gap`` of ``point`` moved 2*gap up (off a kink)."""
    return np.where(np.abs(arr - point) <= gap, arr + 2 * gap, arr)


@st.composite
def distinct(draw, shape, spacing=0.1):
    """Values without ties (every two at least spacing/2 apart), drawn with ``values``."""
    n = math.prod(shape)
    ranks = np.array(draw(st.permutations(range(n))), dtype=np.float64).reshape(shape)
    jitter = draw(values(shape, low=0.0, high=0.5))
    return np.asarray((ranks - n / 2 + jitter) * spacing)


@st.composite
def fitting_into(draw, shape):
    """A shape that broadcasts to ``shape``: some leading dims dropped, some dims set to 1."""
    lead = draw(st.integers(0, len(shape)))
    return tuple(1 if draw(st.booleans()) else s for s in shape[lead:])


def dims_of(ndim: int):
    """A dim argument for a reduction: None, an int or a tuple of distinct dims (may be < 0)."""
    if ndim == 0:
        return st.sampled_from([None, 0, -1])
    one = st.integers(-ndim, ndim - 1)
    many = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).flatmap(
        lambda ds: st.tuples(*(st.sampled_from([d, d - ndim]) for d in ds)))
    return st.none() | one | many


def _dims_tuple(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else dim
    return tuple(sorted({d % max(ndim, 1) for d in dims})) if ndim else ()


# ---- elementwise: unary ---------------------------------------------------------------------

def _unary_test(spec):
    """The registry's op ``spec`` in every form it has, against its NumPy reference."""
    forms = [spec.function, getattr(nb, spec.name), getattr(ops, spec.name)]
    if spec.method:
        forms.append(lambda x: getattr(x, spec.name)())
    if spec.operator:
        forms.append(lambda x: getattr(x, spec.operator)())
    low, high = spec.domain
    domain = dict(low=low, high=high) if spec.domain != (-3.0, 3.0) else {}
    if spec.avoid is not None:
        domain["avoid"] = spec.avoid

    @given(st.data())
    def test(data):
        x = draw_arg(data, data.draw(small_shapes), **domain)
        fn = data.draw(st.sampled_from(forms), label="form")
        check(fn, x, expected=spec.ref(x.ref))

    test.__name__ = f"test_{spec.name}_grad_matches_central_difference"
    return test


for _spec in UNARY.values():  # one test per op of the registry: exp, relu, sin...
    if _spec.grad is not None:
        globals()[f"test_{_spec.name}_grad_matches_central_difference"] = _unary_test(_spec)


def test_the_registry_declares_the_unary_ops():
    assert {"neg", "exp", "log", "sqrt", "abs", "relu", "sigmoid", "tanh", "sin",
            "cos"} <= set(UNARY)


@given(st.data())
def test_clamp_grad_matches_central_difference(data):
    lo = data.draw(st.floats(-2.0, 1.0), label="lo")
    hi = lo + data.draw(st.floats(0.5, 2.0), label="hi - lo")
    mode = data.draw(st.sampled_from(["min", "max", "both"]), label="mode")
    lo, hi = (lo if mode != "max" else None), (hi if mode != "min" else None)
    shape = data.draw(small_shapes)
    raw = data.draw(values(shape, avoid=lo if lo is not None else hi))
    if lo is not None and hi is not None:
        raw = away(raw, hi)  # the other bound is at least 0.5 away
    x = data.draw(arg(raw))
    fn = data.draw(st.sampled_from([
        lambda x: nb.clamp(x, min=lo, max=hi),
        lambda x: ops.clamp(x, lo, hi),
        lambda x: x.clamp(lo, hi),
        lambda x: x.clamp(min=lo, max=hi),
        lambda x: x.clip(lo, hi),
    ]), label="form")
    check(fn, x, expected=np.clip(x.ref, lo, hi))


# ---- elementwise: binary, on broadcast shape pairs ------------------------------------------

def _binary_test(name, np_fn, forms, scalar_forms=(), a_domain=None, b_domain=None):
    """``forms`` take two tensors; ``scalar_forms`` are (side of the scalar, fn(tensor, s))."""
    a_domain, b_domain = a_domain or {}, b_domain or {}
    scalars = st.floats(-2.0, 2.0).filter(lambda s: abs(s) > 0.1) | \
        st.integers(-3, 3).filter(bool)

    @given(st.data())
    def test(data):
        sa, sb = data.draw(broadcastable_pair(max_dims=3, max_side=MAX_SIDE), label="shapes")
        if scalar_forms and data.draw(st.booleans(), label="scalar operand"):
            s = data.draw(scalars, label="scalar")
            side, fn = data.draw(st.sampled_from(scalar_forms), label="form")
            if side == "right":
                a = draw_arg(data, sa, **a_domain)
                expected = np_fn(a.ref, s)
            else:
                a = draw_arg(data, sa, **b_domain)
                expected = np_fn(s, a.ref)
            check(lambda a: fn(a, s), a, expected=expected)
            return
        a, b = draw_arg(data, sa, **a_domain), draw_arg(data, sb, **b_domain)
        fn = data.draw(st.sampled_from(forms), label="form")
        check(fn, a, b, expected=np_fn(a.ref, b.ref))

    test.__name__ = f"test_{name}_grad_matches_central_difference"
    return test


def _registry_binary_test(spec):
    """The registry's binary op ``spec`` in every form it has: the functions, the method, the
    operator and its reflected form, with tensors and with a number on either side."""
    fn = spec.function
    forms = [fn, getattr(nb, spec.name), getattr(ops, spec.name)]
    forms += [getattr(nb, alias) for alias in spec.aliases]
    if spec.method:
        forms.append(lambda a, b: getattr(a, spec.name)(b))
    if spec.operator:
        forms.append(lambda a, b: getattr(a, spec.operator)(b))
    if spec.reflected:
        forms.append(lambda a, b: getattr(b, spec.reflected)(a))
    if spec.alpha:
        forms.append(lambda a, b: fn(a, b / 2, alpha=2))
    scalar_forms = [("right", fn), ("left", lambda a, s: fn(s, a))]
    if spec.operator:
        scalar_forms.append(("right", lambda a, s: getattr(a, spec.operator)(s)))
    if spec.reflected:
        scalar_forms.append(("left", lambda a, s: getattr(a, spec.reflected)(s)))
    if spec.untied:
        return _extremum_test(spec.name, forms, spec.ref)
    a_domain, b_domain = spec.domains
    if spec.name == "pow":  # numbers on either side have tests of their own below
        scalar_forms = []
    return _binary_test(spec.name, spec.ref, forms, scalar_forms, a_domain, b_domain)


@given(st.data())
def test_pow_tensor_scalar_grad_matches_central_difference(data):
    p = data.draw(st.sampled_from([2, 3, -1, -2, 1, 0, 2.0, 0.5, 1.5, -0.5, -2.5]), label="p")
    shape = data.draw(small_shapes)
    # integer powers are defined for negative bases too; fractional ones need a positive base
    domain = dict(avoid=0.0) if isinstance(p, int) else dict(low=0.2, high=3.0)
    x = draw_arg(data, shape, **domain)
    fn = data.draw(st.sampled_from([lambda x: x ** p, lambda x: nb.pow(x, p),
                                    lambda x: x.pow(p), lambda x: ops.pow(x, p)]), label="form")
    check(fn, x, expected=np.power(x.ref, float(p)))


@given(st.data())
def test_pow_scalar_tensor_grad_matches_central_difference(data):
    base = data.draw(st.sampled_from([2, 0.5, 3.0, math.e, 10.0]), label="base")
    x = draw_arg(data, data.draw(small_shapes), low=-2.0, high=2.0)
    fn = data.draw(st.sampled_from([lambda x: base ** x, lambda x: nb.pow(base, x),
                                    lambda x: ops.pow(base, x)]), label="form")
    check(fn, x, expected=np.power(float(base), x.ref))


@st.composite
def untied_pair(draw):
    """Two arrays of broadcastable shapes that differ everywhere by at least 0.1: ``a`` is
    on the grid 0.2 k + 0.1, ``b`` on the grid 0.2 k."""
    sa, sb = draw(broadcastable_pair(max_dims=3, max_side=MAX_SIDE))
    a = np.floor(draw(values(sa)) * 5) / 5 + 0.1
    b = np.floor(draw(values(sb)) * 5) / 5
    return a, b


def _extremum_test(name, forms, np_fn):
    @given(st.data())
    def test(data):
        a_arr, b_arr = data.draw(untied_pair(), label="arrays")
        a, b = data.draw(arg(a_arr)), data.draw(arg(b_arr))
        if data.draw(st.booleans(), label="swap"):
            a, b = b, a
        fn = data.draw(st.sampled_from(forms), label="form")
        check(fn, a, b, expected=np_fn(a.ref, b.ref))

    test.__name__ = f"test_{name}_grad_matches_central_difference"
    return test


for _spec in BINARY.values():  # add, sub, mul, div, pow, maximum, minimum
    if _spec.grads is not None:
        globals()[f"test_{_spec.name}_grad_matches_central_difference"] = \
            _registry_binary_test(_spec)


def test_the_registry_declares_the_binary_ops():
    assert {"add", "sub", "mul", "div", "pow", "maximum", "minimum"} <= {
        name for name, spec in BINARY.items() if spec.grads is not None}
    assert {"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "bitwise_and"} <= set(BINARY)


@given(st.data())
def test_repeated_input_grad_matches_central_difference(data):
    """One tensor used as both operands: the two gradients add up at the leaf."""
    x = draw_arg(data, data.draw(nonscalar_shapes), low=0.2, high=2.0)
    name = data.draw(st.sampled_from(["add", "sub", "mul", "div", "pow", "maximum", "matmul"]),
                     label="op")
    fn, np_fn = {
        "add": (lambda x: x + x, lambda r: r + r),
        "sub": (lambda x: x - x, lambda r: r - r),
        "mul": (lambda x: x * x, lambda r: r * r),
        "div": (lambda x: x / x, lambda r: r / r),
        "pow": (lambda x: x ** x, lambda r: r ** r),
        "maximum": (lambda x: nb.maximum(x, x), lambda r: r),  # ties share the gradient
        "matmul": (lambda x: x @ x.transpose(-1, -2) if x.ndim > 1 else x @ x,
                   lambda r: r @ np.swapaxes(r, -1, -2) if r.ndim > 1 else r @ r),
    }[name]
    check(fn, x, expected=np_fn(x.ref))


@given(st.data())
def test_where_grad_matches_central_difference(data):
    sa, sb = data.draw(broadcastable_pair(max_dims=3, max_side=MAX_SIDE), label="shapes")
    out_shape = np.broadcast_shapes(sa, sb)
    cond_np = data.draw(hnp.arrays(np.bool_, data.draw(fitting_into(out_shape))), label="cond")
    cond = nb.tensor(cond_np)
    a, b = draw_arg(data, sa), draw_arg(data, sb)
    form = data.draw(st.sampled_from(["tensors", "ops", "scalar a", "scalar b"]), label="form")
    if form == "tensors":
        check(lambda a, b: nb.where(cond, a, b), a, b,
              expected=np.where(cond_np, a.ref, b.ref))
    elif form == "ops":
        check(lambda a, b: ops.where(cond, a, b), a, b,
              expected=np.where(cond_np, a.ref, b.ref))
    elif form == "scalar a":
        check(lambda b: nb.where(cond, -1.5, b), b, expected=np.where(cond_np, -1.5, b.ref))
    else:
        check(lambda a: nb.where(cond, a, 0.5), a, expected=np.where(cond_np, a.ref, 0.5))


# ---- reductions -----------------------------------------------------------------------------

@given(st.data())
def test_sum_grad_matches_central_difference(data):
    x = draw_arg(data, data.draw(small_shapes))
    dim = data.draw(dims_of(x.ref.ndim), label="dim")
    keepdim = data.draw(st.booleans(), label="keepdim")
    fn = data.draw(st.sampled_from([lambda x: nb.sum(x, dim, keepdim),
                                    lambda x: x.sum(dim, keepdim=keepdim),
                                    lambda x: ops.sum(x, dim=dim, keepdim=keepdim)]), label="form")
    check(fn, x, expected=np.sum(x.ref, axis=_dims_tuple(dim, x.ref.ndim), keepdims=keepdim))


@given(st.data())
def test_mean_grad_matches_central_difference(data):
    x = draw_arg(data, data.draw(small_shapes))
    dim = data.draw(dims_of(x.ref.ndim), label="dim")
    keepdim = data.draw(st.booleans(), label="keepdim")
    fn = data.draw(st.sampled_from([lambda x: nb.mean(x, dim, keepdim),
                                    lambda x: x.mean(dim, keepdim=keepdim)]), label="form")
    check(fn, x, expected=np.mean(x.ref, axis=_dims_tuple(dim, x.ref.ndim), keepdims=keepdim))


@given(st.data())
def test_var_grad_matches_central_difference(data):
    x = draw_arg(data, data.draw(small_shapes))
    dim = data.draw(dims_of(x.ref.ndim), label="dim")
    keepdim = data.draw(st.booleans(), label="keepdim")
    correction = data.draw(st.sampled_from([0, 1]), label="correction")
    axes = _dims_tuple(dim, x.ref.ndim)
    assume(math.prod(x.ref.shape[d] for d in axes) > correction)
    fn = data.draw(st.sampled_from([
        lambda x: nb.var(x, dim, unbiased=bool(correction), keepdim=keepdim),
        lambda x: x.var(dim, keepdim=keepdim, correction=correction),
    ]), label="form")
    check(fn, x, expected=np.var(x.ref, axis=axes, ddof=correction, keepdims=keepdim))


@given(st.data())
def test_max_min_full_reduction_grad_matches_central_difference(data):
    x = data.draw(arg(data.draw(distinct(data.draw(small_shapes)))))
    op = data.draw(st.sampled_from(["max", "min"]), label="op")
    fn = data.draw(st.sampled_from([lambda x: getattr(x, op)(), lambda x: getattr(nb, op)(x),
                                    lambda x: getattr(ops, op)(x)]), label="form")
    check(fn, x, expected=getattr(np, op)(x.ref))


@given(st.data())
def test_amax_grad_matches_central_difference(data):
    x = data.draw(arg(data.draw(distinct(data.draw(small_shapes)))))
    dim = data.draw(dims_of(x.ref.ndim), label="dim")
    keepdim = data.draw(st.booleans(), label="keepdim")
    check(lambda x: ops.amax(x, dim, keepdim), x,
          expected=np.amax(x.ref, axis=_dims_tuple(dim, x.ref.ndim), keepdims=keepdim))


@given(st.data())
def test_max_min_along_dim_grad_matches_central_difference(data):
    x = data.draw(arg(data.draw(distinct(data.draw(small_shapes)))))
    ndim = x.ref.ndim
    dim = data.draw(st.integers(-max(ndim, 1), max(ndim, 1) - 1), label="dim")
    keepdim = data.draw(st.booleans(), label="keepdim")
    op = data.draw(st.sampled_from(["max", "min"]), label="op")
    form = data.draw(st.sampled_from(["method", "function"]), label="form")
    call = (lambda x: getattr(x, op)(dim, keepdim=keepdim)) if form == "method" else \
        (lambda x: getattr(nb, op)(x, dim, keepdim))

    # the indices point at the extreme values (the broadcast layout has exact copies along
    # dim 0, so any of those is right)
    _, indices = call(x.view(x.leaf))
    assert isinstance(indices, nb.Tensor) and indices.dtype == nb.int64
    pick = data.draw(st.sampled_from([lambda r: r.values, lambda r: r[0]]), label="values")
    if ndim == 0:  # PyTorch: values = x, indices = 0
        assert indices.shape == () and indices.item() == 0
        check(lambda x: pick(call(x)), x, expected=x.ref)
        return
    idx = indices.cpu().numpy() if keepdim else np.expand_dims(indices.cpu().numpy(), dim)
    np.testing.assert_array_equal(np.take_along_axis(x.ref, idx, dim),
                                  getattr(np, op)(x.ref, axis=dim, keepdims=True))
    check(lambda x: pick(call(x)), x, expected=getattr(np, op)(x.ref, axis=dim, keepdims=keepdim))


@given(st.data())
def test_softmax_grad_matches_central_difference(data):
    x = draw_arg(data, data.draw(small_shapes))
    nd = max(x.ref.ndim, 1)  # a 0-d tensor takes dim 0 or -1, as in PyTorch
    dim = data.draw(st.integers(-nd, nd - 1), label="dim")
    fn = data.draw(st.sampled_from([lambda x: nb.softmax(x, dim), lambda x: x.softmax(dim),
                                    lambda x: ops.softmax(x, dim)]), label="form")
    r = x.ref.reshape(x.ref.shape or (1,))
    e = np.exp(r - r.max(axis=dim, keepdims=True))
    check(fn, x, expected=(e / e.sum(axis=dim, keepdims=True)).reshape(x.ref.shape))


@given(st.data())
def test_log_softmax_grad_matches_central_difference(data):
    x = draw_arg(data, data.draw(small_shapes))
    nd = max(x.ref.ndim, 1)
    dim = data.draw(st.integers(-nd, nd - 1), label="dim")
    fn = data.draw(st.sampled_from([lambda x: nb.log_softmax(x, dim),
                                    lambda x: x.log_softmax(dim),
                                    lambda x: ops.log_softmax(x, dim)]), label="form")
    r = x.ref.reshape(x.ref.shape or (1,))
    shifted = r - r.max(axis=dim, keepdims=True)
    expected = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
    check(fn, x, expected=expected.reshape(x.ref.shape))


# ---- linear algebra -------------------------------------------------------------------------

@given(st.data())
def test_matmul_grad_matches_central_difference(data):
    kind = data.draw(st.sampled_from(["1d@1d", "1d@2d", "2d@1d", "2d@2d", "batched",
                                      "1d@batched", "batched@1d"]), label="kind")
    n, k, m = (data.draw(st.integers(1, 3), label=s) for s in "nkm")
    ba, bb = data.draw(broadcastable_pair(max_dims=2, max_side=2), label="batch shapes")
    sa = {"1d@1d": (k,), "1d@2d": (k,), "2d@1d": (n, k), "2d@2d": (n, k),
          "batched": ba + (n, k), "1d@batched": (k,), "batched@1d": ba + (n, k)}[kind]
    sb = {"1d@1d": (k,), "1d@2d": (k, m), "2d@1d": (k,), "2d@2d": (k, m),
          "batched": bb + (k, m), "1d@batched": bb + (k, m), "batched@1d": (k,)}[kind]
    a, b = draw_arg(data, sa), draw_arg(data, sb)
    fn = data.draw(st.sampled_from([nb.matmul, ops.matmul, lambda a, b: a @ b,
                                    lambda a, b: a.matmul(b)]), label="form")
    check(fn, a, b, expected=np.matmul(a.ref, b.ref))


@given(st.data())
def test_mm_grad_matches_central_difference(data):
    n, k, m = (data.draw(st.integers(1, MAX_SIDE), label=s) for s in "nkm")
    a, b = draw_arg(data, (n, k)), draw_arg(data, (k, m))
    fn = data.draw(st.sampled_from([nb.mm, ops.mm, lambda a, b: a.mm(b)]), label="form")
    check(fn, a, b, expected=a.ref @ b.ref)


# ---- shapes and views -----------------------------------------------------------------------

@given(st.data())
def test_t_grad_matches_central_difference(data):
    x = draw_arg(data, data.draw(shapes(min_dims=0, max_dims=2, max_side=MAX_SIDE)))
    fn = data.draw(st.sampled_from([ops.t, lambda x: x.t(), lambda x: x.T]), label="form")
    check(fn, x, expected=x.ref.T)


@given(st.data())
def test_transpose_grad_matches_central_difference(data):
    x = draw_arg(data, data.draw(small_shapes))
    nd = max(x.ref.ndim, 1)  # a 0-d tensor takes dims 0 and -1, as in PyTorch
    d0, d1 = (data.draw(st.integers(-nd, nd - 1), label=s) for s in ("dim0", "dim1"))
    fn = data.draw(st.sampled_from([lambda x: nb.transpose(x, d0, d1),
                                    lambda x: x.transpose(d0, d1),
                                    lambda x: ops.transpose(x, d0, d1)]), label="form")
    check(fn, x, expected=np.swapaxes(x.ref, d0, d1) if x.ref.ndim else x.ref)


@given(st.data())
def test_permute_grad_matches_central_difference(data):
    # up to 4 dims: most permutations of 3 or 4 dims are not their own inverse
    x = draw_arg(data, data.draw(shapes(min_dims=0, max_dims=4, max_side=3)))
    perm = tuple(data.draw(st.permutations(range(x.ref.ndim)), label="perm"))
    fn = data.draw(st.sampled_from([lambda x: nb.permute(x, perm), lambda x: x.permute(*perm),
                                    lambda x: x.permute(perm)]), label="form")
    check(fn, x, expected=np.transpose(x.ref, perm))


@st.composite
def target_shape(draw, shape):
    """Another shape with as many elements, maybe with one -1."""
    n = math.prod(shape)
    factors, m, p = [], n, 2
    while m > 1:
        while m % p == 0:
            factors.append(p)
            m //= p
        p += 1
    ndim = draw(st.integers(0 if n == 1 else 1, 4))
    dims = [1] * ndim
    for f in factors:
        dims[draw(st.integers(0, ndim - 1))] *= f
    if dims and draw(st.booleans()):
        dims[draw(st.integers(0, ndim - 1))] = -1
    return tuple(dims)


@given(st.data())
def test_reshape_grad_matches_central_difference(data):
    x = draw_arg(data, data.draw(small_shapes))
    target = data.draw(target_shape(x.ref.shape), label="target")
    fn = data.draw(st.sampled_from([lambda x: nb.reshape(x, target), lambda x: x.reshape(target),
                                    lambda x: x.reshape(*target)]), label="form")
    check(fn, x, expected=x.ref.reshape(target))


@given(st.data())
def test_view_grad_matches_central_difference(data):
    x = draw_arg(data, data.draw(small_shapes))
    target = data.draw(target_shape(x.ref.shape), label="target")
    fn = data.draw(st.sampled_from([lambda x: x.view(target), lambda x: x.view(*target),
                                    lambda x: ops.view(x, target)]), label="form")
    try:  # the rule: a view exists exactly where NumPy reshapes without copying
        np.reshape(same_layout(x.view(x.leaf)), target, copy=False)
    except ValueError:
        with pytest.raises(RuntimeError):
            fn(x.view(x.leaf))
        return
    check(fn, x, expected=x.ref.reshape(target))


@given(st.data())
def test_flatten_grad_matches_central_difference(data):
    x = draw_arg(data, data.draw(small_shapes))
    nd = max(x.ref.ndim, 1)
    s, e = sorted(data.draw(st.integers(0, nd - 1), label=n) for n in ("start", "end"))
    if x.ref.ndim == 0:
        fn, expected = data.draw(st.sampled_from([nb.flatten, lambda x: x.flatten()])), \
            x.ref.reshape(1)
    else:
        s_arg = data.draw(st.sampled_from([s, s - nd]), label="start_dim")
        e_arg = data.draw(st.sampled_from([e, e - nd]), label="end_dim")
        fn = data.draw(st.sampled_from([lambda x: nb.flatten(x, s_arg, e_arg),
                                        lambda x: x.flatten(s_arg, e_arg)]), label="form")
        sh = x.ref.shape
        expected = x.ref.reshape(sh[:s] + (math.prod(sh[s:e + 1]),) + sh[e + 1:])
    check(fn, x, expected=expected)


@given(st.data())
def test_squeeze_grad_matches_central_difference(data):
    x = draw_arg(data, data.draw(shapes(min_dims=0, max_dims=4, max_side=2)))
    nd = x.ref.ndim
    dim = data.draw(st.none() if nd == 0 else dims_of(nd), label="dim")
    forms = [lambda x: nb.squeeze(x, dim), lambda x: x.squeeze(dim),
             lambda x: ops.squeeze(x, dim)]
    if dim is None:
        forms += [lambda x: x.squeeze(), nb.squeeze]
    fn = data.draw(st.sampled_from(forms), label="form")
    axes = tuple(d for d in _dims_tuple(dim, nd) if x.ref.shape[d] == 1)
    check(fn, x, expected=np.squeeze(x.ref, axis=axes))


@given(st.data())
def test_unsqueeze_grad_matches_central_difference(data):
    x = draw_arg(data, data.draw(small_shapes))
    nd = x.ref.ndim
    dim = data.draw(st.integers(-nd - 1, nd), label="dim")
    fn = data.draw(st.sampled_from([lambda x: nb.unsqueeze(x, dim), lambda x: x.unsqueeze(dim),
                                    lambda x: ops.unsqueeze(x, dim)]), label="form")
    check(fn, x, expected=np.expand_dims(x.ref, dim))


@given(st.data())
def test_expand_grad_matches_central_difference(data):
    x = draw_arg(data, data.draw(shapes(min_dims=0, max_dims=3, max_side=3)))
    lead = data.draw(st.lists(st.integers(1, 3), max_size=2), label="new leading sizes")
    own = [data.draw(st.sampled_from([1, 2, 3, -1] if s == 1 else [s, -1])) for s in x.ref.shape]
    sizes = tuple(lead + own)
    full = tuple(lead) + tuple(s if o == -1 else o for s, o in zip(x.ref.shape, own))
    fn = data.draw(st.sampled_from([lambda x: x.expand(*sizes), lambda x: x.expand(sizes),
                                    lambda x: ops.expand(x, sizes),
                                    lambda x: x.expand_as(nb.zeros(full))]), label="form")
    check(fn, x, expected=np.broadcast_to(x.ref, full))


# ---- indexing -------------------------------------------------------------------------------

@st.composite
def basic_key(draw, shape):
    """An index of ints, slices (with steps), None and Ellipsis."""
    entries = []
    for s in shape:
        kind = draw(st.sampled_from(["int", "slice", "full"]))
        if kind == "int":
            entries.append(draw(st.integers(-s, s - 1)))
        elif kind == "slice":
            bound = st.none() | st.integers(-s - 1, s + 1)
            entries.append(slice(draw(bound), draw(bound), draw(st.none() | st.integers(1, 3))))
        else:
            entries.append(slice(None))
    if draw(st.booleans()):  # Ellipsis stands for the full slices of dims i..j-1
        i = draw(st.integers(0, len(entries)))
        j = draw(st.integers(i, len(entries)))
        entries[i:j] = [Ellipsis]
    else:  # the trailing dims stay implicit
        entries = entries[:draw(st.integers(0, len(entries)))]
    for _ in range(draw(st.integers(0, 2))):
        entries.insert(draw(st.integers(0, len(entries))), None)
    if len(entries) == 1 and draw(st.booleans()):
        return entries[0]
    return tuple(entries)


def _index_as(draw, idx: np.ndarray):
    form = draw(st.sampled_from(["tensor", "list", "ndarray"]))
    if form == "tensor" or idx.ndim == 0:
        return nb.tensor(idx, dtype=nb.int64)
    return idx.tolist() if form == "list" else idx


@st.composite
def advanced_key(draw, shape):
    """An index with one or two int arrays (repeats and negatives allowed) among ints and
    slices; the indexed dims go to the front when the arrays are not adjacent once the ints
    have selected (PyTorch's rule: ``torch_index``)."""
    ndim = len(shape)
    n_adv = draw(st.integers(1, min(2, ndim)))
    adv_dims = sorted(draw(st.permutations(range(ndim)))[:n_adv])
    idx_shapes = draw(broadcastable_pair(max_dims=2, max_side=3))
    entries = []
    for d, s in enumerate(shape):
        if d in adv_dims:
            ishape = idx_shapes[adv_dims.index(d)]
            idx = draw(hnp.arrays(np.int64, ishape, elements=st.integers(-s, s - 1)))
            if idx.size > 1 and draw(st.booleans()):  # a repeat, maybe as its negative twin
                first = idx.flat[0]
                idx.flat[-1] = first - s if first >= 0 and draw(st.booleans()) else first
            entries.append(idx)
        else:
            entries.append(draw(st.sampled_from([slice(None), slice(None, None, 2),
                                                 slice(1, None), -1, 0])))
    entries = entries[:draw(st.integers(adv_dims[-1] + 1, ndim))]
    return tuple(entries)


@given(st.data())
def test_getitem_basic_grad_matches_central_difference(data):
    x = draw_arg(data, data.draw(small_shapes))
    key = data.draw(basic_key(x.ref.shape), label="key")
    fn = data.draw(st.sampled_from([lambda x: x[key], lambda x: ops.getitem(x, key)]),
                   label="form")
    check(fn, x, expected=x.ref[key])


@given(st.data())
def test_getitem_int_tensor_grad_matches_central_difference(data):
    x = draw_arg(data, data.draw(nonscalar_shapes))
    key_np = data.draw(advanced_key(x.ref.shape), label="key")
    key = tuple(_index_as(data.draw, k) if isinstance(k, np.ndarray) else k for k in key_np)
    check(lambda x: x[key], x, expected=torch_index(x.ref, key_np))


@given(st.data())
def test_getitem_bool_mask_grad_matches_central_difference(data):
    x = draw_arg(data, data.draw(nonscalar_shapes))
    sh = x.ref.shape
    d = data.draw(st.integers(0, len(sh) - 1), label="mask starts at")
    k = data.draw(st.integers(1, len(sh) - d), label="mask dims")
    mask = data.draw(hnp.arrays(np.bool_, sh[d:d + k]), label="mask")
    prefix = (Ellipsis,) if d + k == len(sh) and d and data.draw(st.booleans()) else \
        (slice(None),) * d
    key_np = prefix + (mask,)
    as_tensor = data.draw(st.booleans(), label="mask as tensor")
    key = prefix + ((nb.tensor(mask),) if as_tensor else (mask,))
    if d == 0 and data.draw(st.booleans(), label="bare mask"):
        key_np, key = mask, key[0]
    check(lambda x: x[key], x, expected=x.ref[key_np])


# ---- joining ----------------------------------------------------------------------------------

@given(st.data())
def test_cat_grad_matches_central_difference(data):
    shape = data.draw(shapes(min_dims=1, max_dims=3, max_side=3))
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1), label="dim")
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3), label="sizes")
    args = [draw_arg(data, shape[:dim % nd] + (s,) + shape[dim % nd + 1:]) for s in sizes]
    fn = data.draw(st.sampled_from([lambda *ts: nb.cat(list(ts), dim),
                                    lambda *ts: nb.cat(ts, dim=dim),
                                    lambda *ts: ops.cat(ts, dim)]), label="form")
    check(fn, *args, expected=np.concatenate([a.ref for a in args], axis=dim))


@given(st.data())
def test_stack_grad_matches_central_difference(data):
    shape = data.draw(shapes(min_dims=0, max_dims=2, max_side=3))
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)), label="dim")
    count = data.draw(st.integers(1, 3), label="count")
    args = [draw_arg(data, shape) for _ in range(count)]
    fn = data.draw(st.sampled_from([lambda *ts: nb.stack(list(ts), dim),
                                    lambda *ts: nb.stack(ts, dim=dim),
                                    lambda *ts: ops.stack(ts, dim)]), label="form")
    check(fn, *args, expected=np.stack([a.ref for a in args], axis=dim))


# ---- copies and casts -----------------------------------------------------------------------

@given(st.data())
def test_clone_grad_matches_central_difference(data):
    x = draw_arg(data, data.draw(small_shapes))
    fn = data.draw(st.sampled_from([lambda x: x.clone(), nb.clone, ops.clone,
                                    lambda x: x.contiguous(), ops.contiguous,
                                    lambda x: ops.to_device(x, x.device)]), label="form")
    check(fn, x, expected=x.ref)


@pytest.mark.filterwarnings("ignore:gradcheck:UserWarning")
@given(st.data())
def test_cast_grad_matches_central_difference(data):
    """float32 <-> float64 casts: the float32 side rounds, so the check uses the float32
    smoke-test step and tolerances; the gradient comes back in the leaf's dtype."""
    shape = data.draw(small_shapes)
    direction = data.draw(st.sampled_from(["32->64", "64->32", "64->32->64"]), label="direction")
    if direction == "32->64":
        x = data.draw(arg(data.draw(values(shape)), dtype=nb.float32))
        fn = data.draw(st.sampled_from([lambda x: x.to(nb.float64), lambda x: x.double(),
                                        lambda x: x.to("float64"), lambda x: x.to(dtype=nb.float64),
                                        lambda x: ops.cast(x, nb.float64)]), label="form")
        want_dtype, leaf_dtype = nb.float64, nb.float32
    else:
        x = draw_arg(data, shape)
        down = data.draw(st.sampled_from([lambda x: x.to(nb.float32), lambda x: x.float(),
                                          lambda x: x.to(np.float32),
                                          lambda x: ops.cast(x, nb.float32)]), label="form")
        fn = down if direction == "64->32" else (lambda x: down(x).to(nb.float64))
        want_dtype = nb.float32 if direction == "64->32" else nb.float64
        leaf_dtype = nb.float64
    out = fn(x.view(x.leaf))
    assert out.dtype == want_dtype
    w = nb.tensor(np.arange(out.numel(), dtype=np.float64).reshape(out.shape), dtype=want_dtype)
    (out * w).sum().backward()
    assert x.leaf.grad.dtype == leaf_dtype
    np.testing.assert_allclose(x.leaf.grad.cpu().numpy(),
                               x.pull(np.arange(out.numel(), dtype=np.float64)
                                      .reshape(out.shape)), rtol=1e-6)
    x.leaf.grad = None
    check(fn, x, tol=F32)


# ---- item assignment and in-place ops recorded by autograd -----------------------------------

@st.composite
def assign_key(draw, shape):
    """A key for ``y[key] = v``: basic, int indices without duplicates, or a bool mask."""
    kind = draw(st.sampled_from(["basic", "int tensor", "mask"]) if shape else st.just("basic"))
    if kind == "basic":
        key = draw(basic_key(shape))
        return key, key
    d = draw(st.integers(0, len(shape) - 1))
    if kind == "int tensor":
        s = shape[d]
        picks = draw(st.permutations(range(s)))[:draw(st.integers(1, s))]
        idx = np.array([i - s if draw(st.booleans()) else i for i in picks], dtype=np.int64)
        key_np = (slice(None),) * d + (idx,)
        return key_np, (slice(None),) * d + (_index_as(draw, idx),)
    k = draw(st.integers(1, len(shape) - d))
    mask = draw(hnp.arrays(np.bool_, shape[d:d + k]))
    if d == 0 and draw(st.booleans()):  # x[mask] = v (a fast path when v has one element)
        return mask, nb.tensor(mask)
    return (slice(None),) * d + (mask,), (slice(None),) * d + (nb.tensor(mask),)


@given(st.data())
def test_setitem_grad_matches_central_difference(data):
    """``y = x * 1; y[key] = v`` with x and v requiring grad."""
    x = draw_arg(data, data.draw(small_shapes))
    key_np, key = data.draw(assign_key(x.ref.shape), label="key")
    indexed = x.ref[key_np].shape
    if data.draw(st.booleans(), label="scalar value"):
        value = data.draw(st.floats(-3, 3), label="value")
        expected = x.ref.copy()
        expected[key_np] = value

        def fn(x):
            y = x * 1
            y[key] = value
            return y

        check(fn, x, expected=expected)
        return
    v = draw_arg(data, data.draw(fitting_into(indexed), label="value shape"))
    expected = x.ref.copy()
    expected[key_np] = v.ref

    def fn(x, v):
        y = x * 1
        y[key] = v
        return y

    check(fn, x, v, expected=expected)


@given(st.data())
def test_inplace_ops_grad_matches_central_difference(data):
    """``y = x * 1`` changed in place (``+=``, ``mul_``, ``clamp_``...) records the op."""
    x = draw_arg(data, data.draw(small_shapes), avoid=0.0)
    v = draw_arg(data, data.draw(fitting_into(x.ref.shape)), avoid=0.0)
    op = data.draw(st.sampled_from(["+=", "-=", "*=", "/=", "add_", "sub_", "mul_", "div_",
                                    "copy_", "clamp_", "relu_", "fill_"]), label="op")
    ref = {"+=": x.ref + v.ref, "-=": x.ref - v.ref, "*=": x.ref * v.ref, "/=": x.ref / v.ref,
           "add_": x.ref + 2 * v.ref, "sub_": x.ref - 2 * v.ref, "mul_": x.ref * v.ref,
           "div_": x.ref / v.ref, "copy_": np.broadcast_to(v.ref, x.ref.shape),
           "clamp_": np.clip(x.ref, -1.0, 1.0), "relu_": np.maximum(x.ref, 0),
           "fill_": np.full(x.ref.shape, 2.0)}[op]
    if op == "clamp_":
        x = data.draw(arg(away(away(x.ref, -1.0), 1.0)))
        ref = np.clip(x.ref, -1.0, 1.0)

    def fn(x, v):
        y = x * 1
        if op == "+=":
            y += v
        elif op == "-=":
            y -= v
        elif op == "*=":
            y *= v
        elif op == "/=":
            y /= v
        elif op == "add_":
            y.add_(v, alpha=2)
        elif op == "sub_":
            y.sub_(v, alpha=2)
        elif op == "mul_":
            y.mul_(v)
        elif op == "div_":
            y.div_(v)
        elif op == "copy_":
            y.copy_(v)
        elif op == "clamp_":
            y.clamp_(-1.0, 1.0)
        elif op == "relu_":
            y.relu_()
        else:
            y.fill_(2.0)
        return y * v

    check(fn, x, v, expected=ref * v.ref)


# ---- float32 smoke test ---------------------------------------------------------------------

F32_OPS = {
    "mul": (2, lambda a, b: a * b),
    "div": (2, lambda a, b: a / (b * b + 1)),
    "exp": (1, lambda x: x.exp()),
    "tanh": (1, lambda x: x.tanh()),
    "sigmoid": (1, lambda x: x.sigmoid()),
    "sum": (1, lambda x: x.sum(-1)),
    "softmax": (1, lambda x: x.softmax(-1) if x.ndim else x.exp()),
    "getitem": (1, lambda x: x[..., ::2] if x.ndim else x * 2),
}


@pytest.mark.filterwarnings("ignore:gradcheck:UserWarning")
@given(st.data())
def test_float32_grad_matches_central_difference(data):
    """float32 smoke test: eps 1e-3 and tolerances 1e-2 (DESIGN.md); gradients stay float32."""
    name = data.draw(st.sampled_from(sorted(F32_OPS)), label="op")
    arity, fn = F32_OPS[name]
    if arity == 2:
        sa, sb = data.draw(broadcastable_pair(max_dims=3, max_side=MAX_SIDE), label="shapes")
        args = [data.draw(arg(data.draw(values(s)), dtype=nb.float32)) for s in (sa, sb)]
    else:
        args = [data.draw(arg(data.draw(values(data.draw(small_shapes))), dtype=nb.float32))]
    out = fn(*(a.view(a.leaf) for a in args))
    assert out.dtype == nb.float32
    out.sum().backward()
    assert all(a.leaf.grad.dtype == nb.float32 for a in args)
    for a in args:
        a.leaf.grad = None
    check(fn, *args, tol=F32)


@pytest.mark.filterwarnings("ignore:gradcheck:UserWarning")
@given(st.data())
def test_float32_matmul_grad_matches_central_difference(data):
    n, k, m = (data.draw(st.integers(1, MAX_SIDE), label=s) for s in "nkm")
    a = data.draw(arg(data.draw(values((n, k))), dtype=nb.float32))
    b = data.draw(arg(data.draw(values((k, m))), dtype=nb.float32))
    check(lambda a, b: a @ b, a, b, tol=F32)


@pytest.mark.filterwarnings("ignore:gradcheck:UserWarning")
@given(st.data())
def test_mixed_dtype_grad_matches_central_difference(data):
    """float32 with float64 computes in float64 (unless one is 0-d: then, as in PyTorch, the
    tensor with dims decides); each leaf gets its gradient in its own dtype."""
    sa, sb = data.draw(broadcastable_pair(max_dims=3, max_side=MAX_SIDE), label="shapes")
    a = data.draw(arg(data.draw(values(sa)), dtype=nb.float32))
    b = draw_arg(data, sb)
    fn = data.draw(st.sampled_from([lambda a, b: a * b, lambda a, b: b - a,
                                    lambda a, b: a / (b * b + 1)]), label="form")
    out = fn(a.view(a.leaf), b.view(b.leaf))
    if (sa == ()) != (sb == ()):
        assert out.dtype == (nb.float32 if sb == () else nb.float64)
    else:
        assert out.dtype == nb.float64
    out.sum().backward()
    assert a.leaf.grad.dtype == nb.float32 and b.leaf.grad.dtype == nb.float64
    a.leaf.grad = b.leaf.grad = None
    check(fn, a, b, tol=F32)


# ---- second derivatives -----------------------------------------------------------------------

def _grad(*args, **kw):
    return nb.autograd.grad(*args, **kw)


def _second_test(name, f, f1, f2, **domain):
    """For elementwise ``f``: d/dx sum f(x) = f'(x) and d/dx sum f'(x) = f''(x), the first
    taken with ``create_graph=True``."""
    @given(st.data())
    def test(data):
        x = draw_arg(data, data.draw(small_shapes), **domain)
        (g,) = _grad(f(x.view(x.leaf)).sum(), x.leaf, create_graph=True)
        assert g.requires_grad
        np.testing.assert_allclose(g.detach().cpu().numpy(), x.pull(f1(x.ref)), rtol=1e-10,
                                   atol=1e-12)
        (h,) = _grad(g.sum(), x.leaf)
        np.testing.assert_allclose(h.cpu().numpy(), x.pull(f2(x.ref)), rtol=1e-10, atol=1e-12)

    test.__name__ = f"test_{name}_second_derivative_matches_analytic"
    return test


def _sig(x):
    return 1 / (1 + np.exp(-x))


test_exp_second_derivative_matches_analytic = _second_test(
    "exp", lambda x: x.exp(), np.exp, np.exp)
test_sigmoid_second_derivative_matches_analytic = _second_test(
    "sigmoid", lambda x: x.sigmoid(), lambda x: _sig(x) * (1 - _sig(x)),
    lambda x: _sig(x) * (1 - _sig(x)) * (1 - 2 * _sig(x)))
test_tanh_second_derivative_matches_analytic = _second_test(
    "tanh", lambda x: x.tanh(), lambda x: 1 - np.tanh(x) ** 2,
    lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2))
test_square_second_derivative_matches_analytic = _second_test(
    "square", lambda x: x * x, lambda x: 2 * x, lambda x: np.full_like(x, 2.0))


@given(st.data())
def test_pow_second_derivative_matches_analytic(data):
    kind = data.draw(st.sampled_from(["tensor ** p", "s ** tensor", "tensor ** tensor"]),
                     label="kind")
    shape = data.draw(small_shapes)
    x = draw_arg(data, shape, low=0.2, high=2.0)
    if kind == "tensor ** p":
        p = data.draw(st.sampled_from([2, 3, -1, 0.5, 1.5, -2.5]), label="p")
        (g,) = _grad((x.view(x.leaf) ** p).sum(), x.leaf, create_graph=True)
        np.testing.assert_allclose(g.detach().cpu().numpy(), x.pull(p * x.ref ** (p - 1)),
                                   rtol=1e-10)
        (h,) = _grad(g.sum(), x.leaf)
        np.testing.assert_allclose(h.cpu().numpy(), x.pull(p * (p - 1) * x.ref ** (p - 2)),
                                   rtol=1e-10)
    elif kind == "s ** tensor":
        s = data.draw(st.sampled_from([2.0, 0.5, math.e, 3]), label="s")
        (g,) = _grad((s ** x.view(x.leaf)).sum(), x.leaf, create_graph=True)
        np.testing.assert_allclose(g.detach().cpu().numpy(), x.pull(s ** x.ref * math.log(s)),
                                   rtol=1e-10)
        (h,) = _grad(g.sum(), x.leaf)
        np.testing.assert_allclose(h.cpu().numpy(), x.pull(s ** x.ref * math.log(s) ** 2),
                                   rtol=1e-10)
    else:
        y = draw_arg(data, shape, low=-2.0, high=2.0)
        X, Y = x.ref, y.ref
        gx, gy = _grad((x.view(x.leaf) ** y.view(y.leaf)).sum(), (x.leaf, y.leaf),
                       create_graph=True)
        np.testing.assert_allclose(gx.detach().cpu().numpy(), x.pull(Y * X ** (Y - 1)), rtol=1e-10)
        np.testing.assert_allclose(gy.detach().cpu().numpy(), y.pull(X ** Y * np.log(X)),
                                   rtol=1e-10)
        hxx, hxy = _grad(gx.sum(), (x.leaf, y.leaf))
        np.testing.assert_allclose(hxx.cpu().numpy(), x.pull(Y * (Y - 1) * X ** (Y - 2)),
                                   rtol=1e-10)
        np.testing.assert_allclose(hxy.cpu().numpy(), y.pull(X ** (Y - 1) * (1 + Y * np.log(X))),
                                   rtol=1e-10)


@given(st.data())
def test_mul_second_derivative_matches_analytic(data):
    """z = sum(x * y): dz/dx = y, and d(sum dz/dx)/dy = 1 while it does not depend on x."""
    shape = data.draw(small_shapes)
    x, y = draw_arg(data, shape), draw_arg(data, shape)
    gx, gy = _grad((x.view(x.leaf) * y.view(y.leaf)).sum(), (x.leaf, y.leaf), create_graph=True)
    np.testing.assert_allclose(gx.detach().cpu().numpy(), x.pull(y.ref), rtol=1e-12)
    np.testing.assert_allclose(gy.detach().cpu().numpy(), y.pull(x.ref), rtol=1e-12)
    hxx, hxy = _grad(gx.sum(), (x.leaf, y.leaf), allow_unused=True)
    assert hxx is None or not hxx.cpu().numpy().any()
    np.testing.assert_allclose(hxy.cpu().numpy(), y.pull(np.ones(shape)), rtol=1e-12)


@given(st.data())
def test_matmul_second_derivative_matches_analytic(data):
    """L = sum((A @ B) * W): dL/dA = W B^T, and d(sum(dL/dA * V))/dB = V^T W."""
    n, k, m = (data.draw(st.integers(1, MAX_SIDE), label=s) for s in "nkm")
    a, b = draw_arg(data, (n, k)), draw_arg(data, (k, m))
    W = data.draw(values((n, m)), label="W")
    V = data.draw(values(a.leaf.shape), label="V")
    A, B = a.view(a.leaf), b.view(b.leaf)
    (ga,) = _grad(((A @ B) * nb.tensor(W)).sum(), a.leaf, create_graph=True)
    np.testing.assert_allclose(ga.detach().cpu().numpy(), a.pull(W @ b.ref.T), rtol=1e-10,
                               atol=1e-12)
    hab, = _grad((ga * nb.tensor(V)).sum(), b.leaf)
    # push V through A's view: the weight each element of A gets
    pushed = a.view(nb.tensor(V)).cpu().numpy()
    np.testing.assert_allclose(hab.cpu().numpy(), b.pull(pushed.T @ W), rtol=1e-10, atol=1e-12)


# ---- gradients of gradients against central differences --------------------------------------

GRADGRAD_OPS = {
    "mul": lambda x: x * x.sum(),
    "div": lambda x: 1 / (x * x + 1),
    "pow": lambda x: (x * x + 1) ** 1.5,
    "softmax": lambda x: x.softmax(-1) if x.ndim else x.exp(),
    "log_softmax": lambda x: x.log_softmax(0) if x.ndim else x.exp(),
    "var": lambda x: x.var() if x.numel() > 1 else x * x,
    "matmul": lambda x: x @ x.transpose(-1, -2) if x.ndim >= 2 else x * x,
    "getitem": lambda x: (x * x)[..., ::2] if x.ndim else x * x,
    "getitem_int": lambda x: (x * x)[..., [0, -1, 0]] if x.ndim else x * x,
    "expand": lambda x: (x * x).expand(2, *x.shape),
    "maximum": lambda x: nb.maximum(x * x, nb.ones(x.shape, dtype=nb.float64)),
    "max": lambda x: (x * x).max(),
}


def _inside_domain(spec):
    """The registry's op on inputs it takes smoothly. An op with a domain of its own gets
    ``mid + half * tanh(x)``, inside that domain; one with a kink at ``avoid`` gets
    ``x * x + 1`` (at least 1); a linear op (its gradient reads neither input nor output)
    gets ``x * x``, so that its first gradient depends on x."""
    if spec.domain != (-3.0, 3.0):
        low, high = spec.domain
        mid, half = (low + high) / 2, (high - low) / 2 * 0.9
        return lambda x: spec.function(mid + half * x.tanh())
    if spec.avoid is not None:
        return lambda x: spec.function(x * x + 1)
    if spec.saves is None:
        return lambda x: spec.function(x * x)
    return spec.function


GRADGRAD_OPS.update({name: _inside_domain(spec) for name, spec in UNARY.items()
                     if spec.grad is not None})


@given(st.data())
def test_grad_of_grad_matches_central_difference(data):
    """The first gradient, built with ``create_graph=True``, is itself differentiable:
    gradcheck of ``x -> d/dx sum(f(x) * w)``."""
    name = data.draw(st.sampled_from(sorted(GRADGRAD_OPS)), label="op")
    f = GRADGRAD_OPS[name]
    shape = data.draw(shapes(min_dims=0, max_dims=2, max_side=3))
    if name == "max":  # positive values without ties, so x*x has none either
        raw = data.draw(distinct(shape))
        raw = raw - raw.min() + 0.1 if raw.size else raw
    else:
        raw = away(away(data.draw(values(shape, low=-2.0, high=2.0)), -1.0), 1.0)
    x = data.draw(arg(raw))
    w = nb.tensor(data.draw(values(f(x.view(x.leaf)).shape), label="w"))

    def first_grad(leaf):
        with nb.enable_grad():  # gradcheck runs its central differences under no_grad
            (g,) = _grad((f(x.view(leaf)) * w).sum(), leaf, create_graph=True)
        return g

    assert gradcheck(first_grad, (x.leaf,), **F64)
