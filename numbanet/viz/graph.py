"""The computational graph behind a tensor, as plain data: what ``draw_graph`` draws.

While the forward pass runs, autograd records one node per op (``tensor.grad_fn``).
Each node knows where the gradients of its inputs must go, in
``node.next_functions``: to the node of the op that made the input, or, for a
leaf, to the leaf tensor itself. Walking ``next_functions`` from a result back to
the leaves therefore visits exactly the ops and tensors that ``backward`` visits.

Inputs that do not require grad are not recorded at all (backward has nothing to
do for them), so they never appear in the graph: ``x * w`` with a plain ``x``
shows ``w`` and the multiplication, not ``x``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..autograd.function import Node
from ..tensor import Tensor

OUTPUT, OP, LEAF = "output", "op", "leaf"


@dataclass
class Vertex:
    """One box of the drawing: a result tensor, an op, or a leaf tensor."""
    kind: str                # OUTPUT, OP or LEAF
    title: str               # the first, bold line
    details: list[str]       # the lines under it
    requires_grad: bool = True
    has_grad: bool = False   # a .grad is there to show (after backward)


@dataclass
class Edge:
    """Data flowing from ``source`` into ``target`` (the reverse of the gradient's way)."""
    source: object
    target: object
    label: str = ""          # '×2' when an op uses the same input twice, '[1]' for output 1


@dataclass
class Graph:
    """Vertices (keyed by the id of their node or tensor, in the order of a depth-first walk
    from the outputs) and the edges between them."""
    vertices: dict = field(default_factory=dict)
    edges: list = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(v.kind == kind for v in self.vertices.values())


def format_shape(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _describe(shape, dtype, device) -> str:
    where = "" if str(device) == "cpu" else f" {device}"
    return f"{format_shape(shape)} {dtype.name}{where}"


def _grad_line(grad: Tensor) -> str:
    values = grad.detach().cpu().numpy().astype(np.float64)
    return f"grad: norm {np.linalg.norm(values):.4g}"


def _names(params) -> tuple[dict, dict]:
    """``params`` (a dict or (name, tensor) pairs, e.g. ``model.named_parameters()``) as two
    lookups: leaf tensors by id, and non-leaf tensors by (node, output index)."""
    leaves, results = {}, {}
    items = params.items() if hasattr(params, "items") else (params or ())
    for name, t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"draw_graph: params[{name!r}] should be a Tensor, got "
                            f"{type(t).__name__}")
        if t.grad_fn is None:
            leaves[id(t)] = str(name)
        else:
            results[(id(t.grad_fn), t.output_nr)] = str(name)
    return leaves, results


def _leaf_vertex(t: Tensor, name: str | None, kind: str = LEAF) -> Vertex:
    details = [_describe(t.shape, t.dtype, t.device)]
    if t.requires_grad and t.grad_fn is None:
        details.append("requires_grad")
    if t.grad is not None:
        details.append(_grad_line(t.grad))
    title = name or ("output" if kind == OUTPUT else "tensor")
    return Vertex(kind, title, details, t.requires_grad, t.grad is not None)


def _op_vertex(node: Node, result_names: dict) -> Vertex:
    details = []
    for nr, meta in enumerate(node.output_metadata):
        if meta is None:
            continue
        name = result_names.get((id(node), nr))
        shape = format_shape(meta[0])
        details.append(f"{name} {shape}" if name else shape)
    has_grad = False
    for kept in node.retained_tensors:  # tensors that asked for retain_grad()
        if kept.grad is not None:
            details.append(_grad_line(kept.grad))
            has_grad = True
    return Vertex(OP, node.name(), details, True, has_grad)


def trace(outputs, params=None) -> Graph:
    """The graph that ``backward`` would walk from ``outputs`` (a tensor or a sequence)."""
    if isinstance(outputs, Tensor):
        outputs = [outputs]
    if not isinstance(outputs, (list, tuple)) or not outputs or \
            not all(isinstance(t, Tensor) for t in outputs):
        got = type(outputs).__name__ if not isinstance(outputs, (list, tuple)) else \
            "[" + ", ".join(type(t).__name__ for t in outputs) + "]"
        raise TypeError(f"draw_graph expects a Tensor or a list of Tensors, got {got}")
    leaf_names, result_names = _names(params)
    graph = Graph()
    vertices = graph.vertices
    stack = []
    for i, t in enumerate(outputs):
        if t.grad_fn is None:  # a leaf: nothing was recorded behind it
            if id(t) not in vertices:
                vertices[id(t)] = _leaf_vertex(t, leaf_names.get(id(t)), OUTPUT)
            continue
        key = ("output", i)
        vertices[key] = _leaf_vertex(t, result_names.get((id(t.grad_fn), t.output_nr)), OUTPUT)
        label = f"[{t.output_nr}]" if len(t.grad_fn.output_metadata) > 1 else ""
        graph.edges.append(Edge(id(t.grad_fn), key, label))
        stack.append(t.grad_fn)
    stack.reverse()  # so the first output's graph is walked (and laid out) first
    while stack:
        node = stack.pop()
        if id(node) in vertices:
            continue
        vertices[id(node)] = _op_vertex(node, result_names)
        uses = {}  # (input, output index) -> how often this op uses it
        for source, nr in node.next_functions:
            if source is not None:
                uses[(id(source), nr)] = uses.get((id(source), nr), 0) + 1
        inputs = []
        for source, nr in node.next_functions:
            if source is None or (id(source), nr) not in uses:
                continue
            count = uses.pop((id(source), nr))
            parts = []
            if isinstance(source, Node) and len(source.output_metadata) > 1:
                parts.append(f"[{nr}]")
            if count > 1:
                parts.append(f"×{count}")
            graph.edges.append(Edge(id(source), id(node), " ".join(parts)))
            if isinstance(source, Tensor):
                if id(source) not in vertices:
                    vertices[id(source)] = _leaf_vertex(source, leaf_names.get(id(source)))
            else:
                inputs.append(source)
        stack.extend(reversed(inputs))
    return graph
