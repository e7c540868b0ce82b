"""Recording a graph by running ordinary numbanet code on a *graph device*.

Every op of numbanet ends in calls to the backend of its tensors' device
(``backend/__init__.py``). A graph device is a device whose backend computes
nothing: its "arrays" are :class:`SymArray` objects that know only their shape
and dtype, and each primitive it is asked to run appends a node to a
:class:`~numbanet.graph.ir.Graph` instead. So the same Python code that trains
a network eagerly builds its graph when its tensors live on a graph device:

    >>> rec = Recorder()
    >>> x = rec.tensor(rec.placeholder("x", (2, 3), nb.float32))
    >>> y = (x * 2.0).relu().sum()        # ordinary numbanet ops
    >>> rec.graph                          # unary, binary, reduce nodes

Why record at the level of the backend, rather than of the differentiable
ops? Because everything goes through it: the forward passes, but also every
backward rule of autograd (written with Tensor ops, or calling the backend
directly as ReLU's and matmul's do), the engine's gradient accumulation and the
optimizers' updates. ``numbanet.static.gradients`` is autograd's own
``grad`` run on graph tensors, so no gradient rule is written twice, and a
traced function (``numbanet.jit.trace``) gives exactly the primitives its
eager run would launch. Elementwise primitives name the scalar functions of
``backend/scalar.py``, which is what kernel fusion needs.

Dynamic code writes in place (``out=`` arguments, ``x += y``, views that
share memory). The graph is immutable (SSA): writing into an array makes a new
value and rebinds the array to it; writing through a view (a slice, a
transpose, a reshape) makes the new value of the viewed array (a ``setslice``,
or the inverse transpose/reshape), and every other view of that array
re-derives its value when it is next read, as NumPy views would see the write.

Code that needs the *values* of a graph tensor while the graph is being built
(``.item()``, ``.numpy()``, ``bool(t)``, ``print(t)``, data-dependent shapes
such as ``nonzero``) gets a :class:`DataDependentError`: a graph records one
path through the code, and such code would take a path that depends on data.
"""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes as dt
from ..backend import Backend, layout
from ..device import device as _device
from ..tensor import Tensor
from .ir import Graph, Value


class DataDependentError(RuntimeError):
    """Code asked for the values of a tensor while a graph was being recorded."""


def _dtype_of(np_dtype) -> dt.DType:
    return dt.from_numpy_dtype(np_dtype)


class SymArray:
    """A stand-in for a backend array while recording: a shape, a dtype and the graph
    value it holds now. A *root* holds its value; a *view* derives its value from its root
    through a chain of view transforms (permute, reshape, broadcast, slice)."""

    __slots__ = ("rec", "shape", "dtype", "_root", "_chain", "_value", "_version", "_cache")

    def __init__(self, rec: "Recorder", shape, np_dtype, value: Value | None = None,
                 root: "SymArray | None" = None, chain=()):
        self.rec = rec
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(np_dtype)
        self._root = root
        self._chain = chain
        self._value = value
        self._version = 0
        self._cache = None

    # ---- array-like attributes read by the tensor layer -----------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def strides(self) -> tuple:
        return layout.c_strides(self.shape, self.dtype.itemsize)

    def __repr__(self) -> str:
        return f"SymArray(shape={self.shape}, dtype={self.dtype})"

    def __array__(self, *args, **kwargs):
        raise self.rec.data_error("to convert it to a NumPy array")

    # ---- reading and writing -----------------------------------------------------------
    def read(self) -> Value:
        """The graph value this array holds now."""
        root = self._root
        if root is None:
            if self._value is None:  # never written: an uninitialised allocation (np.empty)
                self._value = self.rec.add("empty", (), {}, self.shape, self.dtype)
            return self._value
        cache = self._cache
        if cache is not None and cache[0] is root and cache[1] == root._version:
            return cache[2]
        v = root.read()
        for kind, attr, shape in self._chain:
            v = self.rec.view(kind, v, attr, shape)
        self._cache = (root, root._version, v)
        return v

    def write(self, v: Value):
        """Make this array hold ``v`` (of this array's shape): rebinds the root, through the
        inverse of the view chain when this is a view."""
        root = self._root
        if root is None:
            self._value = v
            self._version += 1
            return
        levels = [root.read()]
        for kind, attr, shape in self._chain[:-1]:
            levels.append(self.rec.view(kind, levels[-1], attr, shape))
        new = v
        for (kind, attr, _shape), old in zip(reversed(self._chain), reversed(levels)):
            if kind == "reshape":
                new = self.rec.view("reshape", new, old.shape, old.shape)
            elif kind == "permute":
                inverse = [0] * len(attr)
                for i, p in enumerate(attr):
                    inverse[p] = i
                new = self.rec.view("permute", new, tuple(inverse), old.shape)
            elif kind == "slice":
                new = self.rec.add("setslice", (old, new), {"key": attr}, old.shape,
                                   old.dtype.numpy)
            else:  # broadcast views are refused by is_writable before any kernel runs
                raise RuntimeError("cannot write into a broadcast view")
        root._value = new
        root._version += 1

    def derive(self, kind: str, attr, shape) -> "SymArray":
        root = self if self._root is None else self._root
        return SymArray(self.rec, shape, self.dtype, root=root,
                        chain=self._chain + ((kind, attr, tuple(shape)),))


def _operand(x):
    """A kernel operand as a node input: the array's value, or the scalar literal."""
    if isinstance(x, SymArray):
        return x.read()
    return x


class GraphBackend(Backend):
    """The backend of a graph device: every primitive appends a node to the recorder's
    graph and returns :class:`SymArray` results."""

    name = "graph"

    # Its arrays hold no values on the host, not even later: ``to_host`` and ``nonzero``
    # raise DataDependentError. Code that validates values on the host before a kernel
    # runs (index bounds: ``if idx.max() >= n: raise IndexError``) asks ``be.symbolic``
    # first and, when it is true, leaves the check to the kernels, which check every
    # index as they run (``index_select``, ``index_add``, ``index_put``), or records the
    # check as ops that make a bad index one those kernels refuse.
    symbolic = True

    def __init__(self, rec: "Recorder"):
        self.rec = rec

    def _new(self, op, inputs, attrs, shape, np_dtype) -> SymArray:
        v = self.rec.add(op, inputs, attrs, shape, np_dtype)
        return SymArray(self.rec, shape, np_dtype, value=v)

    # -- memory ---------------------------------------------------------------------------
    def empty(self, shape, dtype):
        return SymArray(self.rec, shape, dtype.numpy)

    def full(self, shape, value, dtype):
        value = dtype.numpy.type(value).item()
        return self._new("full", (), {"value": value}, shape, dtype.numpy)

    def arange(self, start, stop, step, dtype):
        n = max(0, math.ceil((stop - start) / step))
        return self._new("arange", (), {"start": start, "stop": stop, "step": step},
                         (n,), dtype.numpy)

    def from_host(self, array):
        v = self.rec.graph.constant(np.asarray(array))
        return SymArray(self.rec, v.shape, v.dtype.numpy, value=v)

    def to_host(self, a):
        raise self.rec.data_error("to copy them to the host (.item(), .numpy(), .tolist(), "
                                  "bool(), float(), print, or a move to another device)")

    # -- random numbers -------------------------------------------------------------------
    def manual_seed(self, seed):
        pass  # the graph draws at run time, from the generator of the device it runs on

    def rand(self, shape, dtype):
        return self._new("rand", (), {}, shape, dtype.numpy)

    def randn(self, shape, dtype):
        return self._new("randn", (), {}, shape, dtype.numpy)

    def randint(self, low, high, shape):
        return self._new("randint", (), {"low": int(low), "high": int(high)}, shape, np.int64)

    # -- views ------------------------------------------------------------------------------
    def basic_index(self, a, key):
        key = tuple(k if isinstance(k, slice) else int(k) for k in key)
        _, shape, _ = layout.index_view(a.shape, a.strides, key)
        return a.derive("slice", key, shape)

    def permute(self, a, perm):
        perm = tuple(int(p) for p in perm)
        return a.derive("permute", perm, tuple(a.shape[p] for p in perm))

    def reshape_view(self, a, shape):
        shape = tuple(int(s) for s in shape)
        if shape == a.shape:
            return a
        return a.derive("reshape", shape, shape)

    def broadcast_to(self, a, shape):
        return a.derive("broadcast", tuple(shape), tuple(shape))

    def is_contiguous(self, a):
        return a._root is None or all(kind == "reshape" for kind, _, _ in a._chain)

    def is_writable(self, a):
        return all(kind != "broadcast" for kind, _, _ in a._chain)

    def contiguous(self, a):
        if self.is_contiguous(a):
            return a
        return self._new("contiguous", (a.read(),), {}, a.shape, a.dtype)

    # -- elementwise ------------------------------------------------------------------------
    def unary(self, op, a, out):
        # an op enum's member is recorded as its name (``str``): a graph's attributes and
        # fusion's program keys hold plain strings
        out.write(self.rec.add("unary", (_operand(a),), {"op": str(op)}, out.shape, out.dtype))
        return out

    def binary(self, op, a, b, out):
        out.write(self.rec.add("binary", (_operand(a), _operand(b)), {"op": str(op)}, out.shape,
                               out.dtype))
        return out

    def where(self, cond, a, b, out):
        out.write(self.rec.add("where", (_operand(cond), _operand(a), _operand(b)), {},
                               out.shape, out.dtype))
        return out

    # -- reductions ------------------------------------------------------------------------
    def reduce(self, op, a, axes, dtype):
        axes = tuple(int(x) for x in axes)
        shape = layout.reduced_shape(a.shape, axes)
        return self._new("reduce", (a.read(),), {"op": str(op), "axes": axes, "dtype": dtype},
                         shape, dtype.numpy)

    def argreduce(self, op, a, axis):
        shape = layout.reduced_shape(a.shape, (axis,))
        return self._new("argreduce", (a.read(),), {"op": str(op), "axis": int(axis)}, shape,
                         np.int64)

    # -- linear algebra ---------------------------------------------------------------------
    def matmul(self, a, b):
        dtype = np.result_type(a.dtype, b.dtype)
        return self._new("matmul", (a.read(), b.read()), {}, layout.matmul_shape(a.shape, b.shape),
                         dtype)

    # -- gather / scatter -------------------------------------------------------------------
    def index_select(self, a, axis, index):
        shape = a.shape[:axis] + (index.shape[0],) + a.shape[axis + 1:]
        return self._new("index_select", (a.read(), index.read()), {"axis": int(axis)},
                         shape, a.dtype)

    def index_add(self, dst, axis, index, src):
        dst.write(self.rec.add("index_add", (dst.read(), index.read(), src.read()),
                               {"axis": int(axis)}, dst.shape, dst.dtype))
        return dst

    def index_put(self, dst, axis, index, src):
        dst.write(self.rec.add("index_put", (dst.read(), index.read(), src.read()),
                               {"axis": int(axis)}, dst.shape, dst.dtype))
        return dst

    def nonzero(self, a):
        raise self.rec.data_error("for an op whose result's shape depends on them "
                                  "(nonzero, or indexing with a boolean mask)")

    # -- sliding windows ----------------------------------------------------------------------
    def im2col(self, x, geo, out_hw):
        n, c = x.shape[:2]
        shape = (c * geo[0] * geo[1], n, out_hw[0] * out_hw[1])  # the backend's layout
        return self._new("im2col", (x.read(),), {"geo": tuple(geo), "out_hw": tuple(out_hw)},
                         shape, x.dtype)

    def col2im(self, cols, geo, out_hw, shape):
        return self._new("col2im", (cols.read(),), {"geo": tuple(geo), "out_hw": tuple(out_hw),
                                                    "shape": tuple(shape)}, shape, cols.dtype)

    def max_pool2d(self, x, geo, out_hw):
        shape = tuple(x.shape[:2]) + tuple(out_hw)
        v = self.rec.add_multi("max_pool2d", (x.read(),),
                               {"geo": tuple(geo), "out_hw": tuple(out_hw)},
                               [(shape, x.dtype), (shape, np.dtype(np.int64))])
        return (SymArray(self.rec, shape, x.dtype, value=v[0]),
                SymArray(self.rec, shape, np.int64, value=v[1]))

    def max_pool2d_backward(self, g, indices, geo, shape):
        return self._new("max_pool2d_backward", (g.read(), indices.read()),
                         {"geo": tuple(geo), "shape": tuple(shape)}, shape, g.dtype)

    def avg_pool2d(self, x, geo, out_hw, count_include_pad, divisor_override):
        shape = tuple(x.shape[:2]) + tuple(out_hw)
        return self._new("avg_pool2d", (x.read(),),
                         {"geo": tuple(geo), "out_hw": tuple(out_hw),
                          "count_include_pad": bool(count_include_pad),
                          "divisor_override": int(divisor_override or 0)}, shape, x.dtype)

    def avg_pool2d_backward(self, g, geo, shape, count_include_pad, divisor_override):
        return self._new("avg_pool2d_backward", (g.read(),),
                         {"geo": tuple(geo), "shape": tuple(shape),
                          "count_include_pad": bool(count_include_pad),
                          "divisor_override": int(divisor_override or 0)}, shape, g.dtype)

    # -- fused optimizer update -------------------------------------------------------------
    def adam_step(self, p, g, m, v, *numbers):
        outs = self.rec.add_multi("adam_step", (p.read(), g.read(), m.read(), v.read()),
                                  {"numbers": tuple(float(x) for x in numbers)},
                                  [(p.shape, p.dtype)] * 3)
        p.write(outs[0])
        m.write(outs[1])
        v.write(outs[2])


class Recorder:
    """A graph being recorded, and the graph device whose tensors record into it."""

    def __init__(self, graph: Graph | None = None, purpose: str = "a graph is being built"):
        self.graph = graph if graph is not None else Graph()
        self.purpose = purpose
        dev = object.__new__(_device)
        dev.type = "graph"
        dev.index = None
        dev.backend = GraphBackend(self)
        self.device = dev

    # ---- node creation -------------------------------------------------------------------
    def add(self, op, inputs, attrs, shape, np_dtype) -> Value:
        return self.graph.add(op, inputs, attrs, [(tuple(shape), _dtype_of(np_dtype))]).out

    def add_multi(self, op, inputs, attrs, specs) -> list:
        node = self.graph.add(op, inputs, attrs,
                              [(tuple(s), _dtype_of(d)) for s, d in specs])
        return node.outputs

    def view(self, kind: str, v: Value, attr, shape) -> Value:
        return self.add(kind, (v,), {_VIEW_ATTR[kind]: attr}, shape, v.dtype.numpy)

    def data_error(self, what: str) -> DataDependentError:
        return DataDependentError(
            f"the values of a graph tensor are not known while {self.purpose}, but the code "
            f"asked for them {what}. A graph records the operations once and runs them later "
            "on any data, so code cannot branch on (or print) values while it is recorded. "
            "Compute such values inside the graph (e.g. nb.where instead of `if`), or fetch "
            "them after a run.")

    # ---- sources ------------------------------------------------------------------------
    def source(self, op: str, name: str, shape, dtype: dt.DType, attrs=None) -> Value:
        attrs = dict(attrs or {})
        attrs["name"] = name
        return self.graph.add(op, (), attrs, [(tuple(shape), dtype)], name).out

    def tensor(self, v: Value, requires_grad: bool = False) -> Tensor:
        """A numbanet tensor on this recorder's graph device holding the value ``v``."""
        t = Tensor._wrap(SymArray(self, v.shape, v.dtype.numpy, value=v), self.device, v.dtype)
        if requires_grad and v.dtype.is_floating_point:
            t._requires_grad = True
        return t

    def value_of(self, t: Tensor) -> Value:
        """The graph value a tensor of this recorder's device holds now."""
        return value_of(t)

    def recorded_value(self, t: Tensor) -> Value | None:
        """The graph value ``t`` holds now if it is a tensor of this recorder's device, else
        None (a tensor of another device, or of another recorder's)."""
        data = t._data
        if data.__class__ is SymArray and data.rec is self:
            return data.read()
        return None

    def symbolic_weights(self, named) -> "SymbolicWeights":
        """A context manager under which the tensors ``named`` ((name, tensor) pairs, e.g. a
        module's parameters and buffers) are ``variable`` nodes of this graph; see
        :class:`SymbolicWeights`."""
        return SymbolicWeights(self, named)


class SymbolicWeights:
    """Existing tensors standing in a graph as its variables, for the time of a ``with``
    block: how ``numbanet.jit.trace`` records a module whose parameters and buffers hold
    values.

        >>> with rec.symbolic_weights(model.named_parameters()) as weights:
        ...     y = model(x)             # model's ops on its parameters record nodes
        >>> weights.written()            # [] unless the code wrote into a parameter

    On entry each tensor moves to the recorder's graph device and holds the value of a new
    ``variable`` node named as given (its shape and dtype unchanged); the code that runs in
    the block reads and writes it as any graph tensor. On exit, raised or not, every tensor
    gets its own data and device back, untouched: what the block wrote went into the
    graph. A tensor given twice (a shared parameter) is one variable, of its first name."""

    def __init__(self, rec: Recorder, named):
        self.rec = rec
        self._named = list(named)
        self._saved = []  # (tensor, data, device), in the order they were swapped
        self._arrays = []  # (name, SymArray) of every variable

    def __enter__(self) -> "SymbolicWeights":
        rec, seen = self.rec, set()
        try:
            for name, t in self._named:
                if id(t) in seen:
                    continue
                seen.add(id(t))
                v = rec.source("variable", name, t.shape, t.dtype)
                array = SymArray(rec, v.shape, v.dtype.numpy, value=v)
                self._saved.append((t, t._data, t._device))
                self._arrays.append((name, array))
                t._data, t._device = array, rec.device
        except BaseException:
            self._restore()
            raise
        return self

    def __exit__(self, *exc) -> bool:
        self._restore()
        return False

    def _restore(self):
        for t, data, device in reversed(self._saved):
            t._data, t._device = data, device
        self._saved.clear()

    def names(self) -> list:
        """The variables' names, one per distinct tensor, in the order given."""
        return [name for name, _ in self._arrays]

    def written(self) -> list:
        """The names of the variables that the code wrote into (in place, or through a
        view) while it ran in the block."""
        return [name for name, array in self._arrays if array._version]


_VIEW_ATTR = {"permute": "perm", "reshape": "shape", "broadcast": "shape", "slice": "key"}


def is_graph_tensor(t) -> bool:
    """Whether ``t`` is a tensor of a graph device (its values exist only in a graph)."""
    return isinstance(t, Tensor) and isinstance(t._data, SymArray)


def value_of(t: Tensor) -> Value:
    """The graph value that ``t``, a tensor of a graph device, holds now: after every write
    into it, or into the array it is a view of (``numbanet.static`` names its tensors by
    it). TypeError for a tensor that holds values (of the CPU or a GPU)."""
    data = t._data
    if data.__class__ is not SymArray:
        raise TypeError(f"value_of: expected a tensor of a graph device, got one on "
                        f"{t.device}")
    return data.read()
