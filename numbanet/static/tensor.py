"""Graph tensors, operations and variables of ``numbanet.static``.

A static :class:`Tensor` is a symbolic value: it has a name, a shape and a
dtype, but no numbers until ``Session.run`` computes it. Inside it holds a
numbanet tensor on its graph's *graph device* (see
``numbanet/graph/recorder.py``): arithmetic on static tensors is ordinary
numbanet arithmetic, and it records nodes instead of computing.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes as dt
from ..autograd.grad_mode import set_grad_enabled
from ..graph.recorder import value_of
from ..tensor import Tensor as _NbTensor
from .graph import Graph, get_default_graph

_NUMBERS = (int, float, bool, np.integer, np.floating, np.bool_)


class Tensor:
    """A value computed by a graph, named like TensorFlow's (``'MatMul:0'``).

    Use it in ops and operators (``+ - * / ** @``, unary ``-``), and compute it with
    ``sess.run(t)`` or ``t.eval()`` inside a ``with tf.Session():`` block."""

    __array_priority__ = 1000  # ``ndarray * tensor`` calls Tensor.__rmul__

    def __init__(self, graph: Graph, t: _NbTensor, op_name: str):
        self.graph = graph
        self._t = t
        self._value = value_of(t)
        self.name = f"{op_name}:0"
        self.op_name = op_name
        graph._register(self.name, self)

    # ---- description ---------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self._value.shape

    def get_shape(self) -> tuple:
        return self._value.shape

    @property
    def dtype(self) -> dt.DType:
        return self._value.dtype

    @property
    def ndim(self) -> int:
        return len(self._value.shape)

    def __repr__(self) -> str:
        return (f"<numbanet.static.Tensor '{self.name}' shape={tuple(self.shape)} "
                f"dtype={self.dtype.name}>")

    def eval(self, feed_dict=None, session=None):
        """``session.run(self, feed_dict)``, with the default session if none is given."""
        from .session import _default_session
        return _default_session(session, "Tensor.eval()").run(self, feed_dict=feed_dict)

    # ---- no values while building --------------------------------------------------------
    def __bool__(self):
        raise TypeError(f"using the graph tensor '{self.name}' as a Python bool is not allowed: "
                        "it has no value until the graph runs. Compute the condition in the "
                        "graph (tf.maximum, tf.where...) or fetch it with sess.run first.")

    def __array__(self, *args, **kwargs):
        raise TypeError(f"the graph tensor '{self.name}' has no values to convert to a NumPy "
                        f"array: run it first, e.g. value = sess.run({self.op_name.lower()})")

    def __iter__(self):
        raise TypeError(f"a graph tensor ('{self.name}') is not iterable while the graph is "
                        "built; index it (t[0]) or fetch it with sess.run")

    __hash__ = object.__hash__  # tensors are dict keys (feed_dict); == is identity, as in TF1

    # ---- operators ------------------------------------------------------------------------
    def __add__(self, other):
        return binary_op(self, other, "add")

    def __radd__(self, other):
        return binary_op(other, self, "add")

    def __sub__(self, other):
        return binary_op(self, other, "sub")

    def __rsub__(self, other):
        return binary_op(other, self, "sub")

    def __mul__(self, other):
        return binary_op(self, other, "mul")

    def __rmul__(self, other):
        return binary_op(other, self, "mul")

    def __truediv__(self, other):
        return binary_op(self, other, "truediv")

    def __rtruediv__(self, other):
        return binary_op(other, self, "truediv")

    def __pow__(self, other):
        return binary_op(self, other, "pow")

    def __rpow__(self, other):
        return binary_op(other, self, "pow")

    def __matmul__(self, other):
        from .ops import matmul
        return matmul(self, other)

    def __rmatmul__(self, other):
        from .ops import matmul
        return matmul(other, self)

    def __neg__(self):
        return record(self.graph, lambda: -self._t, "Neg")

    def __abs__(self):
        return record(self.graph, lambda: self._t.abs(), "Abs")

    def __lt__(self, other):
        return binary_op(self, other, "less")

    def __le__(self, other):
        return binary_op(self, other, "less_equal")

    def __gt__(self, other):
        return binary_op(self, other, "greater")

    def __ge__(self, other):
        return binary_op(self, other, "greater_equal")

    def __getitem__(self, key):
        _check_index(key)
        return record(self.graph, lambda: self._t[key], "strided_slice")


_SLICE_TYPE_ERROR = ("Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and "
                     "scalar tf.int32/tf.int64 tensors are valid indices")


def _check_index(key):
    """TensorFlow 1's rule for ``t[key]``: a TypeError for anything else than ints, slices
    of ints, Ellipsis and None (a list is not a list of entries to pick, as in NumPy)."""
    for k in key if isinstance(key, tuple) else (key,):
        if k is None or k is Ellipsis or isinstance(k, (int, np.integer)):
            continue
        if isinstance(k, slice) and all(b is None or isinstance(b, (int, np.integer))
                                        for b in (k.start, k.stop, k.step)):
            continue
        if isinstance(k, Tensor):
            raise TypeError(f"{_SLICE_TYPE_ERROR}, got the tensor '{k.name}': numbanet.static "
                            "slices with Python ints only (it has no dynamic slicing); "
                            "compute the index in Python, or fetch it first")
        hint = " (a list is not an index: write t[0, 2] for one entry per dimension)" \
            if isinstance(k, (list, np.ndarray)) else ""
        raise TypeError(f"{_SLICE_TYPE_ERROR}, got {k!r}{hint}")


_BINARY = {
    "add": (lambda a, b: a + b, "add"), "sub": (lambda a, b: a - b, "sub"),
    "mul": (lambda a, b: a * b, "mul"), "truediv": (lambda a, b: a / b, "truediv"),
    "pow": (lambda a, b: a ** b, "pow"), "less": (lambda a, b: a < b, "Less"),
    "less_equal": (lambda a, b: a <= b, "LessEqual"),
    "greater": (lambda a, b: a > b, "Greater"),
    "greater_equal": (lambda a, b: a >= b, "GreaterEqual"),
}


def record(graph: Graph, compute, op_name: str) -> Tensor:
    """Run ``compute()`` (numbanet ops on graph tensors, recording nodes and the autograd
    graph that ``tf.gradients`` uses) and wrap its result as a static Tensor."""
    with set_grad_enabled(True):
        t = compute()
    return Tensor(graph, t, graph.unique_name(op_name))


def graph_of(*items, what: str = "op") -> Graph:
    """The graph the static tensors among ``items`` belong to (the default graph if none);
    an error if they come from different graphs."""
    found = None
    for x in items:
        if isinstance(x, (Tensor, Operation)):
            if found is None:
                found = x.graph
            elif x.graph is not found:
                raise ValueError(f"{what}: '{x.name}' belongs to another graph than the other "
                                 "inputs; build every op of a computation in one graph (one "
                                 "`with graph.as_default():` block)")
    return found if found is not None else get_default_graph()


def as_nb(x, graph: Graph, dtype: dt.DType | None = None, what: str = "op"):
    """``x`` as an operand of numbanet ops in ``graph``: the graph tensor of a static Tensor,
    a Python number as it is, arrays and lists as constants of the graph."""
    if isinstance(x, Tensor):
        if x.graph is not graph:
            raise ValueError(f"{what}: '{x.name}' belongs to another graph; build every op "
                             "of a computation in one graph")
        return x._t
    if isinstance(x, _NUMBERS) and dtype is None:
        return x
    if isinstance(x, _NbTensor):
        x = x.detach().cpu().numpy()
    array = np.asarray(x)
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise TypeError(f"{what}: cannot use a {type(x).__name__} as a tensor; expected a "
                        "graph tensor, a number, a list of numbers or a NumPy array")
    if dtype is None:
        dtype = dt.DEFAULT_FLOAT if array.dtype.kind == "f" and not isinstance(x, np.ndarray) \
            else dt.from_numpy_dtype(array.dtype)
    rec = graph._recorder
    return rec.tensor(rec.graph.constant(array.astype(dtype.numpy)))


def binary_op(a, b, kind: str) -> Tensor:
    graph = graph_of(a, b, what=kind)
    fn, name = _BINARY[kind]
    like = a if isinstance(a, Tensor) else b
    # arrays and lists beside a tensor take its dtype (TensorFlow would insist on it)
    ta = as_nb(a, graph, None if isinstance(a, (Tensor,) + _NUMBERS) else like.dtype, kind)
    tb = as_nb(b, graph, None if isinstance(b, (Tensor,) + _NUMBERS) else like.dtype, kind)
    return record(graph, lambda: fn(ta, tb), name)


class Operation:
    """A graph node run for its effect (``assign``, ``group``, an initializer): fetching it
    runs it and gives ``None``."""

    def __init__(self, graph: Graph, value, name: str):
        self.graph = graph
        self._value = value  # the IR value that stands for the op (for pruning)
        self.name = name
        graph._register(name, self)

    def run(self, feed_dict=None, session=None):
        from .session import _default_session
        return _default_session(session, "Operation.run()").run(self, feed_dict=feed_dict)

    def __repr__(self) -> str:
        return f"<numbanet.static.Operation '{self.name}'>"


def assign(ref, value, name: str | None = None) -> Tensor:
    """Store ``value`` into the variable ``ref`` when the run ends; the result is the new
    value (``tf.assign(w, w - lr * g)``, or ``w.assign(...)``)."""
    if not isinstance(ref, Variable):
        raise TypeError(f"assign: the first argument must be a tf.Variable, got "
                        f"{type(ref).__name__}; only variables keep values between runs")
    graph = ref.graph
    t = as_nb(value, graph, ref.dtype, "assign")
    if not isinstance(t, _NbTensor):  # a Python number: a constant of the variable's dtype
        t = as_nb(np.full(ref.shape, t), graph, ref.dtype, "assign")
    if t.shape != ref.shape:
        if t.numel() == 1 or len(t.shape) <= len(ref.shape):
            with set_grad_enabled(False):
                try:
                    t = t.expand(ref.shape)
                except ValueError:
                    pass
        if t.shape != ref.shape:
            raise ValueError(f"assign: the value has shape {tuple(t.shape)} but variable "
                             f"'{ref.name}' has shape {tuple(ref.shape)}")
    if t.dtype is not ref.dtype:
        t = t.to(ref.dtype)
    rec = graph._recorder
    name = graph.unique_name(name or "Assign")
    v = graph.ir.add("assign", (value_of(t),), {"name": ref._var_name},
                     [(ref.shape, ref.dtype)], name).out
    return Tensor(graph, rec.tensor(v), name)


def group(*inputs, name: str | None = None) -> Operation:
    """One op that runs all of ``inputs`` (tensors or operations): ``tf.group(a, b)``."""
    items = []
    for x in inputs:
        if isinstance(x, (list, tuple)):
            items.extend(x)
        else:
            items.append(x)
    graph = graph_of(*items, what="group")
    values = []
    for x in items:
        if isinstance(x, (Tensor, Operation)):
            values.append(x._value)
        elif x is not None:
            raise TypeError(f"group: expected tensors or operations, got {type(x).__name__}")
    name = graph.unique_name(name or "group_deps")
    v = graph.ir.add("group", values, {}, [((), dt.bool_)], name).out
    return Operation(graph, v, name)


class Variable(Tensor):
    """A tensor whose value persists in the Session between runs, changed only by
    ``assign``. TensorFlow 1's signature; the usual forms are::

        w = tf.Variable(tf.random_normal((D, H)))        # initial value: a tensor
        w = tf.Variable(np.zeros((D, H)), dtype=tf.float32)

    and the seed lecture's shorthand ``tf.Variable(tf.float32, shape=(D, H))``, read as
    "a float32 variable of that shape", initialised from a standard normal draw (the
    values its first TensorFlow program feeds by hand). Run
    ``tf.global_variables_initializer()`` before reading variables."""

    def __init__(self, initial_value=None, trainable: bool = True, collections=None,
                 validate_shape: bool = True, caching_device=None, name: str | None = None,
                 variable_def=None, dtype=None, expected_shape=None, import_scope=None,
                 constraint=None, use_resource=None, shape=None, **kwargs):
        graph = initial_value.graph if isinstance(initial_value, Tensor) else \
            get_default_graph()
        init = _initial_tensor(initial_value, dtype, shape, graph)
        if dtype is not None and not isinstance(initial_value, (dt.DType, type)):
            init = init if init.dtype is dt.as_dtype(dtype) else \
                record(graph, lambda: init._t.to(dt.as_dtype(dtype)), "Cast")
        var_name = graph.unique_name(name or "Variable")
        self._var_name = var_name
        rec = graph._recorder
        v = rec.source("variable", var_name, init.shape, init.dtype)
        t = rec.tensor(v, requires_grad=True)
        self.graph = graph
        self._t = t
        self._value = v
        self.name = f"{var_name}:0"
        self.op_name = var_name
        self.trainable = bool(trainable)
        graph._register(self.name, self)
        graph._register(var_name, self)
        self.initial_value = init
        self.initializer = group(assign(self, init, name=f"{var_name}/Assign"),
                                 name=f"{var_name}/initializer")
        graph._variables.append(self)
        if self.trainable:
            graph._trainable.append(self)

    def assign(self, value, use_locking=None, name=None, read_value=True):
        return assign(self, value, name=name)

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        return assign(self, self + delta, name=name)

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        return assign(self, self - delta, name=name)

    def read_value(self) -> Tensor:
        return self

    def initialized_value(self) -> Tensor:
        return self.initial_value

    def __repr__(self) -> str:
        return (f"<numbanet.static.Variable '{self.name}' shape={tuple(self.shape)} "
                f"dtype={self.dtype.name}>")


def _initial_tensor(initial_value, dtype, shape, graph) -> Tensor:
    if initial_value is None:
        raise ValueError("Variable: an initial value is required, e.g. "
                         "tf.Variable(tf.random_normal((D, H))) or tf.Variable(np.zeros(3))")
    if isinstance(initial_value, (dt.DType, type)) or (
            isinstance(initial_value, str) and initial_value in dt._BY_NAME):
        # the seed's tf.Variable(tf.float32, shape=(D, H))
        if shape is None:
            raise ValueError("Variable(dtype, shape=...): give the shape, e.g. "
                             "tf.Variable(tf.float32, shape=(1000, 100))")
        from .ops import random_normal
        return random_normal(_check_shape(shape, "Variable"), dtype=dt.as_dtype(initial_value))
    if callable(initial_value) and not isinstance(initial_value, Tensor):
        initial_value = initial_value()
    if isinstance(initial_value, Tensor):
        return initial_value
    t = as_nb(initial_value, graph, dt.as_dtype(dtype) if dtype is not None else None,
              "Variable")
    if not isinstance(t, _NbTensor):
        t = as_nb(np.asarray(t), graph, dt.as_dtype(dtype) if dtype is not None else None,
                  "Variable")
    return Tensor(graph, t, graph.unique_name("Const"))


def _check_shape(shape, what: str) -> tuple:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    shape = tuple(shape)
    for s in shape:
        if s is None or (isinstance(s, (int, np.integer)) and s < 0):
            raise ValueError(
                f"{what}: shape {shape} has an unknown dimension; numbanet graphs have static "
                "shapes (each kernel is planned for them), so give every size, e.g. the batch "
                "size: tf.placeholder(tf.float32, shape=(64, 1000))")
        if not isinstance(s, (int, np.integer)):
            raise TypeError(f"{what}: shape {shape} must hold ints")
    return tuple(int(s) for s in shape)
