"""The graph IR: nodes are backend primitives, edges are the arrays between them.

A :class:`Graph` is a list of :class:`Node` objects in the order they were
made, which is a topological order (a node's inputs exist before it). Each
node names one primitive of the backend contract (``unary``, ``binary``,
``matmul``, ``reduce``, ``permute``...) or one of the graph's own ops:

==============  ===========================================================
``placeholder`` a value fed at each run (``attrs['name']``)
``variable``    the current value of a variable kept between runs
``constant``    an array stored with the graph (``Graph.constants``)
``assign``      stores its input into a variable when the run ends; its
                output is the stored value
``group``       no output: runs its inputs (``tf.group``)
``fused``       a chain of elementwise nodes compiled into one kernel
                (made by ``passes.fuse_elementwise``, never saved)
==============  ===========================================================

A :class:`Value` is one output of one node, with its shape and dtype (a
numbanet :class:`~numbanet.dtypes.DType`). An input of a node is a Value or a
*literal*: a NumPy scalar (``x * 2.0`` records the 2.0 in the node). Every
value is immutable: where dynamic code writes in place, the recorder
(``recorder.py``) makes a new value and rebinds the name, so the graph is in
SSA form and every pass can reason locally.

Graphs are saved as JSON (``to_json``/``from_json``) plus ``.npy`` arrays
(``serialization.py``); nothing in them is executable Python.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes as dt


class Value:
    """Output ``index`` of ``node``: an array of ``shape`` and ``dtype`` at run time."""

    __slots__ = ("node", "index", "shape", "dtype")

    def __init__(self, node: "Node", index: int, shape: tuple, dtype: dt.DType):
        self.node = node
        self.index = index
        self.shape = tuple(shape)
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"%{self.node.id}.{self.index}:{self.dtype.name}{list(self.shape)}"


class Node:
    """One op of the graph: ``op`` with ``inputs`` (Values or literals) and ``attrs``."""

    __slots__ = ("id", "op", "inputs", "attrs", "outputs", "name")

    def __init__(self, id_: int, op: str, inputs, attrs: dict, out_specs, name: str | None):
        self.id = id_
        self.op = op
        self.inputs = list(inputs)
        self.attrs = attrs
        self.outputs = [Value(self, i, shape, dtype) for i, (shape, dtype) in enumerate(out_specs)]
        self.name = name

    @property
    def out(self) -> Value:
        """The single output of a one-output node."""
        return self.outputs[0]

    def __repr__(self) -> str:
        args = ", ".join(repr(x) for x in self.inputs)
        attrs = "".join(f", {k}={v!r}" for k, v in self.attrs.items())
        outs = ", ".join(repr(v) for v in self.outputs) or "()"
        return f"{outs} = {self.op}({args}{attrs})"


# Ops whose result depends only on their inputs and attributes: candidates for constant
# folding. Random draws, feeds, variables and side effects are not.
PURE_OPS = frozenset({
    "unary", "binary", "where", "reduce", "argreduce", "matmul", "permute", "reshape",
    "broadcast", "slice", "setslice", "contiguous", "index_select", "index_add", "index_put",
    "im2col", "col2im", "max_pool2d", "max_pool2d_backward", "avg_pool2d",
    "avg_pool2d_backward", "adam_step", "full", "arange"})
ELEMENTWISE_OPS = frozenset({"unary", "binary", "where"})


class Graph:
    """An append-only list of nodes, the constants they refer to, and the names in use."""

    def __init__(self):
        self.nodes: list[Node] = []
        self.constants: dict[int, np.ndarray] = {}  # node id -> host array
        self._names: dict[str, int] = {}

    def add(self, op: str, inputs=(), attrs=None, out_specs=(), name: str | None = None) -> Node:
        """Append a node and return it; ``out_specs`` is a list of (shape, DType)."""
        node = Node(len(self.nodes), op, inputs, attrs or {}, out_specs, name)
        self.nodes.append(node)
        return node

    def unique_name(self, base: str) -> str:
        """``base``, or ``base_1``, ``base_2``... (TensorFlow's naming) if it is taken."""
        n = self._names.get(base)
        if n is None:
            self._names[base] = 0
            return base
        while True:
            n += 1
            candidate = f"{base}_{n}"
            if candidate not in self._names:
                self._names[base] = n
                self._names[candidate] = 0
                return candidate

    def constant(self, array: np.ndarray, name: str | None = None) -> Value:
        """A node holding a copy of ``array``."""
        array = np.array(array, copy=True, order="C")
        array.setflags(write=False)
        node = self.add("constant", (), {}, [(array.shape, dt.from_numpy_dtype(array.dtype))], name)
        self.constants[node.id] = array
        return node.out

    def __repr__(self) -> str:
        return "\n".join(repr(n) for n in self.nodes)

    # ---- JSON ---------------------------------------------------------------------------
    def to_json(self) -> dict:
        """The graph's structure as JSON-able data (constants are referred to by node id)."""
        nodes = []
        for n in self.nodes:
            nodes.append({
                "id": n.id, "op": n.op, "name": n.name,
                "inputs": [_encode_input(x) for x in n.inputs],
                "attrs": {k: _encode_attr(v) for k, v in n.attrs.items()},
                "outputs": [{"shape": list(v.shape), "dtype": v.dtype.name} for v in n.outputs],
            })
        return {"nodes": nodes}

    @classmethod
    def from_json(cls, data: dict, constants: dict, where: str = "graph") -> "Graph":
        """The graph that ``to_json`` described, every node checked by ``schema.py`` (the
        JSON may come from any file: an ArchiveError naming ``where`` if it is wrong)."""
        from .schema import graph_from_json  # the schema is written in terms of this module
        return graph_from_json(data, constants, where)


def _encode_input(x):
    if isinstance(x, Value):
        return {"node": x.node.id, "index": x.index}
    x = np.asarray(x)
    return {"literal": x.item(), "dtype": dt.from_numpy_dtype(x.dtype).name}


def _encode_attr(v):
    if isinstance(v, slice):
        return {"slice": [v.start, v.stop, v.step]}
    if isinstance(v, dt.DType):
        return {"dtype": v.name}
    if isinstance(v, (tuple, list)):
        return {"tuple": [_encode_attr(x) for x in v]}
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        return v.item()
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    raise TypeError(f"graph attribute of type {type(v).__name__} cannot be saved")
