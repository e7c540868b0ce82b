"""The backward engine: walk the recorded graph from the outputs back to the leaves.

Each ``Node`` runs once, after every consumer of its outputs has handed it a
gradient (Kahn's topological order); gradients arriving at a leaf add up in
its ``.grad`` (``backward``) or are handed back (``autograd.grad``). A gradient
whose shape is that of a broadcast input is summed back to the input's shape
here, once for all ops. The core loop is ``_run``::

    while ready:
        node = ready.pop()
        grads = node.backward(gradients of its outputs)
        for edge, g in zip(node's edges, grads):
            a leaf: add g into it;  a node: add g to what it has, run it when complete
"""
from __future__ import annotations

from ..tensor import Tensor
from .function import Edge, Node
from .grad_mode import state
from .hooks import LEAF_HOOKS, leaf_gradient, run_hooks
from .ops.inplace import add_into, writable, zeros_on
from .ops.reduction import sum_to_shape

__all__ = ["Edge", "run_backward"]


def _fit(g: Tensor, edge: Edge, node: Node, index: int) -> Tensor:
    """``g`` reduced to the shape and dtype of the input that ``edge`` leads to."""
    shape, dtype, device = edge.shape, edge.dtype, edge.device
    if not isinstance(g, Tensor):
        raise TypeError(f"{node.name()} returned a {type(g).__name__} as gradient {index}; "
                        "backward must return Tensors (or None)")
    if g._device is not device:
        raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index "
                           f"{index} - expected device {device} but got {g._device}: a "
                           "gradient lives on the device of its input; move it there with "
                           f".to('{device}')")
    if g._shape != shape:
        fitted = sum_to_shape(g, shape)
        if fitted is None:
            raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index "
                               f"{index}: got shape {g._shape} but expected shape compatible "
                               f"with {shape}")
        g = fitted
    if g._dtype is not dtype:
        g = g.to(dtype)
    return g


def _index(edges, edge) -> int:
    """The input index of ``edge``, for messages (the hot loop does not count)."""
    return next(i for i, e in enumerate(edges) if e is edge)


def _check_anomaly(g: Tensor, node: Node, index: int):
    if g._dtype.is_floating_point and bool((g != g).any()):
        where = node._trace or "(the forward ran before anomaly detection was switched on)\n"
        raise RuntimeError(f"Function '{node.name()}' returned nan values in its {index}th "
                           f"output. The forward op that made it was called at:\n{where}")


def _collect(roots):
    """Count, for every node reachable from ``roots``, the edges that lead into it."""
    deps = {}
    stack = list(roots)
    seen = set(roots)
    while stack:
        node = stack.pop()
        for e in node._edges:
            if e is not None and isinstance(e.target, Node):
                child = e.target
                deps[child] = deps.get(child, 0) + 1
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
    return deps


class _Accumulate:
    """``backward``: gradients reaching a leaf add up in its ``.grad``."""

    captures = False

    def __init__(self, create_graph: bool):
        self.create_graph = create_graph
        # ids of gradients stored somewhere already: store copies instead
        self.owned: set[int] = set()

    def seed(self, g: Tensor):
        self.owned.add(id(g))

    def leaf(self, leaf: Tensor, g: Tensor):
        if id(g) in self.owned or g._base is not None:
            g = g.clone()
        if not self.create_graph:
            g = g.detach() if g.grad_fn is not None else g
        grad = leaf._grad
        if grad is None:
            leaf._grad = g
            self.owned.add(id(g))
        elif grad._shape != g._shape or grad._device is not g._device:
            raise RuntimeError(f"backward: the .grad of a leaf of shape {leaf._shape} on "
                               f"{leaf._device} has shape {grad._shape} on {grad._device}; it "
                               "was assigned before the leaf's data changed. Set .grad = None "
                               "first")
        elif self.create_graph or not writable(grad):
            leaf._grad = grad + g  # out of place: a graph, or a broadcast or read-only .grad
        else:
            add_into(grad, g)

    def output(self, node: Node, nr: int, g: Tensor):
        pass

    def result(self, allow_unused: bool):
        return None


class _Capture:
    """``autograd.grad``: the gradients of ``inputs`` are collected and returned; no
    ``.grad`` changes."""

    captures = True

    def __init__(self, inputs):
        self.inputs = inputs
        self.found = {}
        self.leaves = {id(t): i for i, t in enumerate(inputs) if t.grad_fn is None}
        self.outputs = {(t.grad_fn, t._output_nr): i for i, t in enumerate(inputs)
                        if t.grad_fn is not None}

    def seed(self, g: Tensor):
        pass

    def leaf(self, leaf: Tensor, g: Tensor):
        i = self.leaves.get(id(leaf))
        if i is not None:
            self.found[i] = g if i not in self.found else self.found[i] + g

    def output(self, node: Node, nr: int, g: Tensor):
        i = self.outputs.get((node, nr))
        if i is not None:
            self.found[i] = g

    def result(self, allow_unused: bool):
        for i, t in enumerate(self.inputs):
            if i not in self.found and not allow_unused:
                raise RuntimeError(f"input {i} (shape {t._shape}) was not used to compute the "
                                   "outputs, so it has no gradient; pass allow_unused=True to "
                                   "get None for it")
        return tuple(self.found.get(i) for i in range(len(self.inputs)))


def run_backward(tensors, grad_tensors, retain_graph: bool, create_graph: bool,
                 inputs=None, allow_unused: bool = False):
    """Backpropagate ``grad_tensors`` from ``tensors``. With ``inputs`` given (autograd.grad),
    return the gradients of those inputs instead of accumulating into ``.grad``."""
    sink = _Accumulate(create_graph) if inputs is None else _Capture(inputs)
    buffers, roots = _seed(tensors, grad_tensors, sink)
    prev_mode = state.enabled
    state.enabled = create_graph  # the backward's own ops are recorded only for create_graph
    try:
        _run(roots, buffers, sink, retain_graph)
    finally:
        state.enabled = prev_mode
    return sink.result(allow_unused)


def _seed(tensors, grad_tensors, sink):
    """The starting gradients: each output's goes to its node (or to itself, a leaf)."""
    buffers = {}  # node -> the gradients of its outputs received so far
    roots = []
    for t, g in zip(tensors, grad_tensors):
        sink.seed(g)
        if t.grad_fn is None:
            sink.leaf(t, leaf_gradient(t, g) if LEAF_HOOKS else g)
            continue
        node = t.grad_fn
        if node not in buffers:
            buffers[node] = [None] * len(node._outputs)
            roots.append(node)
        _add(buffers[node], t._output_nr, g)
    return buffers, roots


def _add(slot: list, nr: int, g: Tensor):
    slot[nr] = g if slot[nr] is None else slot[nr] + g


def _run(roots, buffers, sink, retain_graph: bool):
    """Run every node reachable from ``roots`` once, in Kahn's order."""
    deps = _collect(roots)
    ready = [n for n in roots if n not in deps]
    anomaly = state.anomaly
    held: dict = {}  # id -> [leaf, gradient] of the leaves with hooks
    while ready:
        node = ready.pop()
        grads = buffers.pop(node, None)
        edges = node._edges
        if grads is None:  # every gradient that reached it was None: nothing to run
            result = (None,) * len(edges)
        else:
            if len(grads) != 1 or grads[0] is None or sink.captures or node._retained \
                    or node._hooks:
                grads = _output_gradients(node, grads, sink)  # not the common case
            result = _call_backward(node, grads, retain_graph)
        for edge, g in zip(edges, result):
            if edge is None:
                continue
            target = edge.target
            if g is not None:
                if g.__class__ is not Tensor or g._shape != edge.shape or \
                        g._dtype is not edge.dtype or g._device is not edge.device:
                    g = _fit(g, edge, node, _index(edges, edge))
                if anomaly:
                    _check_anomaly(g, node, _index(edges, edge))
                if isinstance(target, Tensor):  # a leaf
                    if LEAF_HOOKS and id(target) in LEAF_HOOKS:
                        _hold(held, target, g)  # its hooks see the sum of its gradients
                    else:
                        sink.leaf(target, g)
                    continue
                slot = buffers.get(target)
                if slot is None:
                    slot = buffers[target] = [None] * len(target._outputs)
                nr = edge.output_nr
                slot[nr] = g if slot[nr] is None else slot[nr] + g
            elif isinstance(target, Tensor):
                continue
            deps[target] -= 1  # a None (a zero gradient) counts too: the node waits one less
            if not deps[target]:
                ready.append(target)
    for leaf, g in held.values():
        sink.leaf(leaf, leaf_gradient(leaf, g))


def _hold(held: dict, leaf: Tensor, g: Tensor):
    entry = held.get(id(leaf))
    if entry is None:
        held[id(leaf)] = [leaf, g]
    else:
        entry[1] = entry[1] + g


def _output_gradients(node: Node, grads: list, sink) -> list:
    """The gradients of ``node``'s outputs, zeros for those that got none (unless the node
    asked not to), passed through the outputs' hooks, and handed to ``retain_grad`` tensors
    and to ``autograd.grad`` on the way."""
    retained, hooks = node._retained, node._hooks
    for nr, g in enumerate(grads):
        if g is None:
            if node.materialize_grads and node._outputs[nr] is not None:
                shape, dtype, device = node._outputs[nr]
                grads[nr] = zeros_on(shape, dtype, device)
            continue
        if hooks and nr in hooks and hooks[nr]:
            g = grads[nr] = run_hooks(hooks[nr], g)
        if retained and nr in retained:
            keeper = retained[nr]
            keeper._grad = g if keeper._grad is None else keeper._grad + g
        sink.output(node, nr, g)
    return grads


def _call_backward(node: Node, grads: list, retain_graph: bool) -> tuple:
    result = node._fn.backward(node, *grads)
    if not isinstance(result, tuple):
        result = (result,)
    if len(result) < len(node._edges):
        raise RuntimeError(f"function {node.name()} returned an incorrect number of "
                           f"gradients (expected {len(node._edges)}, got {len(result)})")
    if not retain_graph:
        node._freed = bool(node._saved)
        node._saved = ()
    return result
