"""``numbanet.jit``: record one run of eager code as a graph; save it; run it anywhere.

    >>> model = Net()                                  # any nn.Module (or a function)
    >>> graph = numbanet.jit.trace(model, nb.randn(64, 1000))
    >>> y = graph(x)                                   # runs the optimised graph
    >>> graph.save("net.nbg")
    >>> numbanet.jit.load("net.nbg")(x)                # no need for Net's code

Tracing runs the model once on tensors of a *graph device*
(``numbanet/graph/recorder.py``): every op it launches becomes a node, and the
module's parameters and buffers become variables whose values are copied into
the traced graph. What the code does with Python values (loops, ``if`` on
shapes, which layers it calls) is fixed at that run; what it would do with
tensor values cannot be, so code that reads values while it is traced
(``.item()``, ``.numpy()``, ``bool(t)``, ``print(t)``) gets a
:class:`TracingError`. Shapes are fixed too: calling the graph with inputs of
another shape is an error that says so.

The traced graph runs through the same compiler as ``numbanet.static``:
dead nodes dropped, constants folded, elementwise chains fused into one
generated kernel each, weights kept on the device they are used on.
"""
from __future__ import annotations

import numpy as np

from ..autograd.grad_mode import no_grad
from ..creation import tensor as _tensor
from ..device import CPU
from ..graph.executor import Plan, as_tensors, host_copy, to_device, to_device_array
from ..graph.recorder import DataDependentError, Recorder
from ..graph.serialization import load_graph, save_graph
from ..tensor import Tensor


class TracingError(RuntimeError):
    """The traced code cannot be recorded as a graph (see the message for why)."""


class TracedGraph:
    """A recorded computation: call it with inputs of the traced shapes and dtypes.

    ``graph`` is the IR; ``describe(device)`` shows the optimised plan that runs;
    ``save(path)`` writes it with its weights (see ``numbanet/graph/serialization.py``)."""

    def __init__(self, graph, inputs, outputs, structure: str, weights: dict,
                 name: str = "graph"):
        self.graph = graph
        self.inputs = list(inputs)  # (name, shape, DType)
        self.outputs = list(outputs)
        self.structure = structure
        self.weights = dict(weights)  # variable name -> host array
        self.name = name
        self._plans: dict = {}
        self._variables: dict = {}  # device -> {name: device array}

    def _plan(self, device, optimize: bool = True) -> Plan:
        key = (device, optimize)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = Plan(self.graph, self.outputs, [], device,
                                           optimize=optimize)
        return plan

    def _variables_on(self, device) -> dict:
        found = self._variables.get(device)
        if found is None:
            found = {name: to_device(device, a) for name, a in self.weights.items()}
            self._variables[device] = found
        return found

    def __call__(self, *inputs, optimize: bool = True):
        """Run the graph on ``inputs`` (tensors or arrays, of the traced shapes); the
        results are tensors on the inputs' device."""
        if len(inputs) != len(self.inputs):
            raise TypeError(f"{self.name} was traced with {len(self.inputs)} input(s), got "
                            f"{len(inputs)}")
        device = next((x.device for x in inputs if isinstance(x, Tensor)), CPU)
        feeds = {}
        for i, (x, (name, shape, dtype)) in enumerate(zip(inputs, self.inputs)):
            if isinstance(x, Tensor):
                if x.device is not device:
                    raise ValueError(f"{self.name}: input {i} is on {x.device} but input 0 is "
                                     f"on {device}; put every input on one device")
                got_shape, got_dtype = x.shape, x.dtype.numpy
            else:
                x = np.asarray(x)
                got_shape, got_dtype = x.shape, x.dtype
            if tuple(got_shape) != shape:
                raise ValueError(
                    f"{self.name}: input {i} has shape {tuple(got_shape)}, but the graph was "
                    f"traced with shape {shape}. A trace records fixed shapes; trace again "
                    "with an example of the new shape: numbanet.jit.trace(model, example)")
            if got_dtype.kind not in "biuf" or not np.can_cast(got_dtype, dtype.numpy,
                                                               casting="same_kind"):
                raise TypeError(f"{self.name}: input {i} has dtype {np.dtype(got_dtype).name} "
                                f"but the graph was traced with {dtype.name}; convert it first")
            feeds[name] = to_device_array(device, x, shape, dtype)
        arrays = self._plan(device, optimize).run(feeds, self._variables_on(device))
        outs = as_tensors(arrays, device, self.outputs)
        if self.structure == "tensor":
            return outs[0]
        return tuple(outs) if self.structure == "tuple" else outs

    def describe(self, device="cpu") -> str:
        """The optimised plan that runs on ``device``, one step a line."""
        from ..device import as_device
        return self._plan(as_device(device)).describe()

    def kernel_count(self, device="cpu", optimize: bool = True) -> int:
        from ..device import as_device
        return self._plan(as_device(device), optimize).kernel_count()

    def save(self, path):
        """Write the graph and its weights to ``path`` (a zip of JSON and .npy files, no
        code); ``numbanet.jit.load(path)`` reads it back."""
        save_graph(path, self.graph, self.inputs, self.outputs, self.structure, self.weights)

    def __repr__(self) -> str:
        shapes = ", ".join(str(s) for _, s, _ in self.inputs)
        return f"<TracedGraph {self.name}({shapes}): {len(self.graph.nodes)} nodes>"


def load(path) -> TracedGraph:
    """A graph saved by ``TracedGraph.save``, ready to call; needs only numbanet."""
    graph, inputs, outputs, structure, weights = load_graph(path)
    return TracedGraph(graph, inputs, outputs, structure, weights, name=str(path))


def trace(module_or_fn, example_inputs, name: str | None = None) -> TracedGraph:
    """Record one run of ``module_or_fn(*example_inputs)`` as a graph.

    ``module_or_fn`` is an ``nn.Module`` (its parameters and buffers become the graph's
    weights, under their ``state_dict`` names) or a function of tensors only;
    ``example_inputs`` a tensor, an array, or a tuple of them. It returns a tensor or a
    tuple/list of tensors. The run is recorded without autograd (an inference graph)."""
    from ..nn.module import Module
    examples = example_inputs if isinstance(example_inputs, (tuple, list)) else \
        (example_inputs,)
    rec = Recorder(purpose="numbanet.jit.trace records the code")
    inputs, sym_inputs = [], []
    for i, x in enumerate(examples):
        if not isinstance(x, Tensor):
            arr = np.asarray(x)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"trace: example input {i} is a {type(x).__name__}; expected "
                                "tensors or arrays of numbers")
            x = _tensor(arr)
        spec = (f"input_{i}", tuple(x.shape), x.dtype)
        inputs.append(spec)
        sym_inputs.append(rec.tensor(rec.source("placeholder", *spec)))
    label = name or getattr(module_or_fn, "__name__", type(module_or_fn).__name__)

    named = []
    if isinstance(module_or_fn, Module):
        named = list(module_or_fn.named_parameters()) + list(module_or_fn.named_buffers())
    weights = {name: host_copy(p) for name, p in named}
    symbolic = rec.symbolic_weights(named)
    try:
        with symbolic, no_grad():
            result = module_or_fn(*sym_inputs)
    except DataDependentError as e:
        raise TracingError(f"trace({label}): {e}") from None
    except (TypeError, RuntimeError, ValueError) as e:
        text = str(e)
        if "graph tensor" in text or "device graph" in text:
            raise TracingError(f"trace({label}): the traced code asked for the values of a "
                               f"tensor ({text}). A trace records operations, not values: "
                               "avoid .numpy(), .item(), bool() and print() on tensors inside "
                               "the traced code") from None
        if "graph and" in text or "and graph" in text:
            raise TracingError(
                f"trace({label}): the traced code used a tensor that is neither an input nor "
                f"a parameter or buffer of the traced module ({text}). A tensor captured from "
                "outside (a global, a closure) cannot be recorded: pass it as an input, or "
                "hold it in an nn.Module as a Parameter or buffer and trace the module") \
                from None
        raise
    changed = symbolic.written()
    if changed:
        raise TracingError(f"trace({label}): the traced code changed weights in place "
                           f"({len(changed)} of them, e.g. an optimizer step or BatchNorm "
                           "statistics in training mode). Trace inference code (model.eval()); "
                           "build training steps with numbanet.static")
    if isinstance(result, Tensor):
        structure, results = "tensor", [result]
    elif isinstance(result, (tuple, list)) and all(isinstance(r, Tensor) for r in result):
        structure, results = ("tuple" if isinstance(result, tuple) else "list"), list(result)
    else:
        raise TracingError(f"trace({label}): the traced code must return a tensor or a tuple or "
                           f"list of tensors, got {type(result).__name__}")
    outputs = []
    for r in results:
        v = rec.recorded_value(r)
        if v is None:  # a result that does not depend on the inputs: a constant of the graph
            v = rec.graph.constant(r.detach().cpu().numpy())
        outputs.append(v)
    return TracedGraph(rec.graph, inputs, outputs, structure, weights, name=label)


__all__ = ["trace", "load", "TracedGraph", "TracingError"]
