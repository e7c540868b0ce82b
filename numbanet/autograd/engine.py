"""The backward engine: walk the recorded graph from the outputs back to the leaves.

Each ``Node`` runs once, after every consumer of its outputs has handed it a
gradient (Kahn's topological order); gradients arriving at a leaf add up in
its ``.grad``. A gradient whose shape is that of a broadcast input is summed
back to the input's shape here, once for all ops.
"""
from __future__ import annotations

from ..tensor import Tensor
from .function import Node
from .grad_mode import state
from .ops.inplace import add_into, writable, zeros_on
from .ops.shape import sum_to_shape


def _fit(g: Tensor, edge, node: Node, index: int) -> Tensor:
    """``g`` reduced to the shape and dtype of the input that ``edge`` leads to."""
    _, _, shape, dtype, device = edge
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
            if e is not None and isinstance(e[0], Node):
                child = e[0]
                deps[child] = deps.get(child, 0) + 1
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
    return deps


def run_backward(tensors, grad_tensors, retain_graph: bool, create_graph: bool,
                 inputs=None, allow_unused: bool = False):
    """Backpropagate ``grad_tensors`` from ``tensors``. With ``inputs`` given (autograd.grad),
    return the gradients of those inputs instead of accumulating into ``.grad``."""
    capture = None
    if inputs is not None:
        capture = {}
        wanted_leaf = {id(t): i for i, t in enumerate(inputs) if t.grad_fn is None}
        wanted_node = {(t.grad_fn, t._output_nr): i for i, t in enumerate(inputs)
                       if t.grad_fn is not None}
    owned = set()  # ids of gradients already stored somewhere: store copies of them instead

    def deliver(leaf: Tensor, g: Tensor):
        if capture is not None:
            i = wanted_leaf.get(id(leaf))
            if i is not None:
                capture[i] = g if i not in capture else capture[i] + g
            return
        if id(g) in owned or g._base is not None:
            g = g.clone()
        if not create_graph:
            g = g.detach() if g.grad_fn is not None else g
        grad = leaf._grad
        if grad is None:
            leaf._grad = g
            owned.add(id(g))
        elif grad._shape != g._shape or grad._device is not g._device:
            raise RuntimeError(f"backward: the .grad of a leaf of shape {leaf._shape} on "
                               f"{leaf._device} has shape {grad._shape} on {grad._device}; it "
                               "was assigned before the leaf's data changed. Set .grad = None "
                               "first")
        elif create_graph or not writable(grad):
            leaf._grad = grad + g  # out of place: a graph, or a broadcast or read-only .grad
        else:
            add_into(grad, g)

    buffers = {}
    roots = []
    for t, g in zip(tensors, grad_tensors):
        owned.add(id(g))
        if t.grad_fn is None:
            deliver(t, g)
            continue
        node = t.grad_fn
        if node not in buffers:
            buffers[node] = [None] * len(node._outputs)
            roots.append(node)
        slot = buffers[node]
        slot[t._output_nr] = g if slot[t._output_nr] is None else slot[t._output_nr] + g

    deps = _collect(roots)
    ready = [n for n in roots if n not in deps]
    prev_mode = state.enabled
    state.enabled = create_graph
    anomaly = state.anomaly
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node)
            retained = node._retained
            simple = len(grads) == 1 and grads[0] is not None and capture is None \
                and not retained
            for nr, g in enumerate(() if simple else grads):
                if g is None:
                    if node.materialize_grads and node._outputs[nr] is not None:
                        shape, dtype, device = node._outputs[nr]
                        grads[nr] = zeros_on(shape, dtype, device)
                    continue
                if retained and nr in retained:
                    keeper = retained[nr]
                    keeper._grad = g if keeper._grad is None else keeper._grad + g
                if capture is not None:
                    i = wanted_node.get((node, nr))
                    if i is not None:
                        capture[i] = g
            result = node._fn.backward(node, *grads)
            if not isinstance(result, tuple):
                result = (result,)
            edges = node._edges
            if len(result) < len(edges):
                raise RuntimeError(f"function {node.name()} returned an incorrect number of "
                                   f"gradients (expected {len(edges)}, got {len(result)})")
            if not retain_graph:
                node._freed = bool(node._saved)
                node._saved = ()
            for edge, g in zip(edges, result):
                if edge is None or g is None:
                    continue
                if g.__class__ is not Tensor or g._shape != edge[2] or \
                        g._dtype is not edge[3] or g._device is not edge[4]:
                    g = _fit(g, edge, node, _index(edges, edge))
                if anomaly:
                    _check_anomaly(g, node, _index(edges, edge))
                target = edge[0]
                if isinstance(target, Tensor):
                    deliver(target, g)
                    continue
                slot = buffers.get(target)
                if slot is None:
                    slot = buffers[target] = [None] * len(target._outputs)
                nr = edge[1]
                slot[nr] = g if slot[nr] is None else slot[nr] + g
                waiting = deps[target] - 1
                deps[target] = waiting
                if not waiting:
                    ready.append(target)
    finally:
        state.enabled = prev_mode

    if capture is None:
        return None
    out = []
    for i, t in enumerate(inputs):
        if i not in capture and not allow_unused:
            raise RuntimeError(f"input {i} (shape {t.shape}) was not used to compute the "
                               "outputs, so it has no gradient; pass allow_unused=True to get "
                               "None for it")
        out.append(capture.get(i))
    return tuple(out)
