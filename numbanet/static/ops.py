"""The ops of ``numbanet.static``: TensorFlow 1 names over numbanet's own ops.

Each function converts its arguments (graph tensors, numbers, arrays), calls the
numbanet op of the same meaning on graph tensors, and wraps the result; the
recording happens below, in the graph device (``numbanet/graph/recorder.py``).
"""
from __future__ import annotations

import builtins

import numpy as np

from .. import dtypes as dt
from ..autograd import grad as _autograd_grad
from ..autograd.grad_mode import set_grad_enabled
from ..autograd.ops import elementwise as _ew
from ..autograd.ops import reduction as _red
from ..creation import ones as _ones
from ..creation import rand as _rand
from ..creation import randn as _randn
from .graph import get_default_graph
from .tensor import Operation, Tensor, _check_shape, as_nb, graph_of, group, record

float32 = dt.float32
float64 = dt.float64
int64 = dt.int64
int32 = dt.int64  # numbanet's integers are int64; tf.int32 is accepted and means int64
bool = dt.bool_  # noqa: A001 (TensorFlow's name)
float16 = dt.float32  # computed in float32


# ---- sources ---------------------------------------------------------------------------

def placeholder(dtype, shape=None, name: str | None = None) -> Tensor:
    """A value fed at each run: ``x = tf.placeholder(tf.float32, shape=(N, D))``, then
    ``sess.run(..., feed_dict={x: array})``."""
    dtype = dt.as_dtype(dtype)
    if shape is None:
        raise ValueError("placeholder: give the shape, e.g. tf.placeholder(tf.float32, "
                         "shape=(64, 1000)); numbanet graphs have static shapes")
    shape = _check_shape(shape, "placeholder")
    graph = get_default_graph()
    op_name = graph.unique_name(name or "Placeholder")
    rec = graph._recorder
    v = rec.source("placeholder", op_name, shape, dtype)
    t = Tensor(graph, rec.tensor(v, requires_grad=True), op_name)
    return t


def constant(value, dtype=None, shape=None, name: str | None = None) -> Tensor:
    """A tensor holding ``value`` (a number, list or array), broadcast to ``shape``."""
    array = np.asarray(value)
    if dtype is None:
        dtype = dt.DEFAULT_FLOAT if array.dtype.kind == "f" and not isinstance(value, np.ndarray) \
            else dt.from_numpy_dtype(array.dtype)
    dtype = dt.as_dtype(dtype)
    if shape is not None:
        array = np.broadcast_to(array, _check_shape(shape, "constant"))
    graph = get_default_graph()
    return Tensor(graph, as_nb(array, graph, dtype, "constant"), graph.unique_name(name or "Const"))


def _filled(shape, value, dtype, name):
    graph = get_default_graph()
    shape = _check_shape(shape, name)
    dtype = dt.as_dtype(dtype)
    dev = graph._recorder.device
    return record(graph, lambda: _ones(shape, dtype=dtype, device=dev) * value
                  if value != 1 else _ones(shape, dtype=dtype, device=dev), name)


def zeros(shape, dtype=dt.float32, name: str | None = None) -> Tensor:
    return _filled(shape, 0, dtype, name or "zeros")


def ones(shape, dtype=dt.float32, name: str | None = None) -> Tensor:
    return _filled(shape, 1, dtype, name or "ones")


def zeros_like(x: Tensor, dtype=None, name: str | None = None) -> Tensor:
    return zeros(x.shape, dtype or x.dtype, name)


def ones_like(x: Tensor, dtype=None, name: str | None = None) -> Tensor:
    return ones(x.shape, dtype or x.dtype, name)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=dt.float32, seed=None,
                  name: str | None = None) -> Tensor:
    """Normal draws, new at every run (``nb.manual_seed`` makes runs repeat)."""
    graph = get_default_graph()
    shape = _check_shape(shape, "random_normal")
    dtype = dt.as_dtype(dtype)
    dev = graph._recorder.device

    def draw():
        t = _randn(shape, dtype=dtype, device=dev)
        if stddev != 1.0:
            t = t * stddev
        return t + mean if mean != 0.0 else t
    return record(graph, draw, name or "random_normal")


def random_uniform(shape, minval=0, maxval=None, dtype=dt.float32, seed=None,
                   name: str | None = None) -> Tensor:
    """Uniform draws in [minval, maxval) (maxval 1 by default), new at every run."""
    graph = get_default_graph()
    shape = _check_shape(shape, "random_uniform")
    dtype = dt.as_dtype(dtype)
    high = 1.0 if maxval is None else maxval
    dev = graph._recorder.device

    def draw():
        t = _rand(shape, dtype=dtype, device=dev)
        if high - minval != 1:
            t = t * (high - minval)
        return t + minval if minval != 0 else t
    return record(graph, draw, name or "random_uniform")


# ---- arithmetic ---------------------------------------------------------------------------

def _unary(fn, x, op_name, name):
    graph = graph_of(x, what=op_name)
    t = as_nb(x, graph, what=op_name)
    if not hasattr(t, "_data"):
        t = as_nb(np.asarray(t), graph, what=op_name)
    return record(graph, lambda: fn(t), name or op_name)


def _binary(fn, a, b, op_name, name):
    graph = graph_of(a, b, what=op_name)
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    dtype = like.dtype if like is not None else None
    ta = as_nb(a, graph, None if isinstance(a, Tensor) or np.isscalar(a) else dtype, op_name)
    tb = as_nb(b, graph, None if isinstance(b, Tensor) or np.isscalar(b) else dtype, op_name)
    if not hasattr(ta, "_data") and not hasattr(tb, "_data"):
        ta = as_nb(np.asarray(ta), graph, None, op_name)
    return record(graph, lambda: fn(ta, tb), name or op_name)


def add(x, y, name=None):
    return _binary(lambda a, b: a + b, x, y, "Add", name)


def subtract(x, y, name=None):
    return _binary(lambda a, b: a - b, x, y, "Sub", name)


def multiply(x, y, name=None):
    return _binary(lambda a, b: a * b, x, y, "Mul", name)


def divide(x, y, name=None):
    return _binary(lambda a, b: a / b, x, y, "truediv", name)


def pow(x, y, name=None):  # noqa: A001 (TensorFlow's name)
    return _binary(lambda a, b: a ** b, x, y, "Pow", name)


def maximum(x, y, name=None):
    """Elementwise maximum; ``tf.maximum(h, 0)`` is the seed's ReLU."""
    return _binary(lambda a, b: _ew.maximum(a, b) if hasattr(a, "_data") else
                   _ew.maximum(b, a), x, y, "Maximum", name)


def minimum(x, y, name=None):
    return _binary(lambda a, b: _ew.minimum(a, b) if hasattr(a, "_data") else
                   _ew.minimum(b, a), x, y, "Minimum", name)


def square(x, name=None):
    return _unary(lambda t: t * t, x, "Square", name)


def sqrt(x, name=None):
    return _unary(_ew.sqrt, x, "Sqrt", name)


def exp(x, name=None):
    return _unary(_ew.exp, x, "Exp", name)


def log(x, name=None):
    return _unary(_ew.log, x, "Log", name)


def abs(x, name=None):  # noqa: A001
    return _unary(_ew.abs, x, "Abs", name)


def negative(x, name=None):
    return _unary(lambda t: -t, x, "Neg", name)


def sigmoid(x, name=None):
    return _unary(_ew.sigmoid, x, "Sigmoid", name)


def tanh(x, name=None):
    return _unary(_ew.tanh, x, "Tanh", name)


def where(condition, x, y, name=None):
    graph = graph_of(condition, x, y, what="where")
    c = as_nb(condition, graph, what="where")
    a = as_nb(x, graph, what="where")
    b = as_nb(y, graph, what="where")
    return record(graph, lambda: _ew.where(c, a, b), name or "Select")


def cast(x, dtype, name=None):
    return _unary(lambda t: t.to(dt.as_dtype(dtype)), x, "Cast", name)


def matmul(a, b, transpose_a: bool = False, transpose_b: bool = False, name=None) -> Tensor:
    """Matrix product ``a @ b`` (optionally of the transposes)."""
    graph = graph_of(a, b, what="matmul")
    ta, tb = as_nb(a, graph, what="matmul"), as_nb(b, graph, what="matmul")
    for t in (ta, tb):
        if not hasattr(t, "_data"):
            raise TypeError("matmul: both operands must be tensors (or arrays), got a number; "
                            "use * to scale")
    if ta.dtype is not tb.dtype:
        raise TypeError(f"matmul: operands of dtypes {ta.dtype.name} and {tb.dtype.name}; "
                        "cast one with tf.cast first")

    def product():
        x = ta.transpose(-1, -2) if transpose_a else ta
        y = tb.transpose(-1, -2) if transpose_b else tb
        return x.matmul(y)
    return record(graph, product, name or "MatMul")


def reshape(x, shape, name=None):
    return _unary(lambda t: t.reshape(tuple(int(s) for s in shape)), x, "Reshape", name)


def transpose(x, perm=None, name=None):
    return _unary(lambda t: t.permute(tuple(perm) if perm is not None else
                                      tuple(range(t.ndim - 1, -1, -1))), x, "transpose", name)


# ---- reductions --------------------------------------------------------------------------

def _axis(axis, reduction_indices):
    if axis is None:
        axis = reduction_indices
    if isinstance(axis, list):
        axis = tuple(axis)
    return axis


def _reduce(fn, x, axis, keepdims, reduction_indices, keep_dims, op_name, name):
    keep = builtins.bool(keepdims if keep_dims is None else keep_dims)
    return _unary(lambda t: fn(t, _axis(axis, reduction_indices), keep), x, op_name, name)


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None,
               keep_dims=None) -> Tensor:
    """Sum over ``axis`` (all axes by default)."""
    return _reduce(_red.sum, input_tensor, axis, keepdims, reduction_indices, keep_dims, "Sum",
                   name)


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None,
                keep_dims=None) -> Tensor:
    """Mean over ``axis`` (all axes by default)."""
    return _reduce(_red.mean, input_tensor, axis, keepdims, reduction_indices, keep_dims, "Mean",
                   name)


def reduce_max(input_tensor, axis=None, keepdims=False, name=None, reduction_indices=None,
               keep_dims=None) -> Tensor:
    return _reduce(_red.amax, input_tensor, axis, keepdims, reduction_indices, keep_dims, "Max",
                   name)


# ---- gradients ---------------------------------------------------------------------------

def gradients(ys, xs, grad_ys=None, name: str = "gradients", **kwargs) -> list:
    """Symbolic gradients of ``sum(ys)`` with respect to each of ``xs``: a list of graph
    tensors (None where a ``x`` does not affect ``ys``), as ``tf.gradients``.

    They are built by numbanet's own autograd: its backward pass runs on graph tensors
    and records its ops into this graph, so static and dynamic gradients are the same
    computation."""
    ys_list = list(ys) if isinstance(ys, (list, tuple)) else [ys]
    single = not isinstance(xs, (list, tuple))
    xs_list = [xs] if single else list(xs)
    graph = graph_of(*ys_list, *xs_list, what="gradients")
    if grad_ys is not None:
        grad_ys = list(grad_ys) if isinstance(grad_ys, (list, tuple)) else [grad_ys]
    wanted = [(i, x) for i, x in enumerate(xs_list) if x._t.requires_grad]
    outputs, seeds = [], []
    for k, y in enumerate(ys_list):
        if not isinstance(y, Tensor):
            raise TypeError(f"gradients: ys must be graph tensors, got {type(y).__name__}")
        if not y._t.requires_grad:
            continue  # y depends on no placeholder or variable: no gradient flows from it
        outputs.append(y._t)
        if grad_ys is not None and grad_ys[k] is not None:
            seeds.append(as_nb(grad_ys[k], graph, y.dtype, "gradients"))
        else:
            seeds.append(None)
    result = [None] * len(xs_list)
    if outputs and wanted:
        dev = graph._recorder.device
        with set_grad_enabled(True):
            seeds = [s if s is not None else _ones(o.shape, dtype=o.dtype, device=dev)
                     for s, o in zip(seeds, outputs)]
            grads = _autograd_grad(outputs, [x._t for _, x in wanted], grad_outputs=seeds,
                                   retain_graph=True, allow_unused=True)
        for (i, x), g in zip(wanted, grads):
            if g is not None:
                result[i] = Tensor(graph, g.detach() if g.requires_grad else g,
                                   graph.unique_name(f"{name}/{x.op_name}_grad"))
    return result


# ---- variables ---------------------------------------------------------------------------

def global_variables() -> list:
    return list(get_default_graph()._variables)


def trainable_variables() -> list:
    return list(get_default_graph()._trainable)


def variables_initializer(var_list, name: str = "init") -> Operation:
    """One op that runs the initializers of ``var_list``."""
    if not var_list:
        graph = get_default_graph()
        n = graph.unique_name(name)
        return Operation(graph, graph.ir.add("group", (), {}, [((), dt.bool_)], n).out, n)
    return group(*[v.initializer for v in var_list], name=name)


def global_variables_initializer() -> Operation:
    """One op that initialises every variable made so far in the default graph; run it
    once, first: ``sess.run(tf.global_variables_initializer())``."""
    return variables_initializer(global_variables())


