"""Running a graph: compile the part that is asked for into a plan, then run the plan.

A :class:`Plan` is made once for a set of fetched values and side effects on
one device, and run many times (``Session.run`` keeps one per distinct fetch).
Making it:

1. ``prune``: only the nodes the fetches and side effects depend on;
2. ``fold_constants``: pure nodes of constant inputs become constants;
3. ``fuse_elementwise``: chains of elementwise nodes become one kernel each;
4. every remaining node becomes one *step*, a small closure over slots of an
   environment list, with the kernels and attributes it needs looked up once.

Running it is a loop over the steps. There is no autograd bookkeeping and no
Tensor objects, which is where a static graph gains over eager mode for small
networks; on CUDA, elementwise steps write into buffers allocated at the first
run and reused after it (values that leave the plan, fetched or assigned, get
fresh arrays). Constants are copied to the device once, when the plan is made, and
variables live on the device between runs in the ``variables`` dict that the
caller keeps (a Session's, a traced graph's): the weights never travel through
the host.

Order of effects: every ``variable`` node reads the value the variable had when
the run started; ``assign`` nodes store their values when the run ends, in
graph order. That is what TensorFlow's seed programs rely on when they fetch
``[loss, updates]`` together: the loss of the weights before the update.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes as dt
from . import kernels
from .ir import Graph, Value
from .passes import fold_constants, fuse_elementwise, prune

# steps that launch no kernel (views, reads, bookkeeping)
_NO_KERNEL = frozenset({"placeholder", "variable", "constant", "assign", "group", "permute",
                        "broadcast", "slice", "reshape", "empty"})


class GraphRunError(RuntimeError):
    """A graph cannot run as asked (a missing feed, an uninitialised variable)."""


class UninitializedVariableError(GraphRunError):
    """A variable was read before any value was assigned to it."""


class Plan:
    """The compiled steps that compute ``fetches`` (Values) and run ``targets`` (assign or
    group nodes) of ``graph`` on ``device``. ``optimize=False`` skips constant folding and
    fusion (to compare, or to debug)."""

    def __init__(self, graph: Graph, fetches, targets, device, optimize: bool = True):
        self.graph = graph
        self.device = device
        self.be = device.backend
        roots = list(fetches) + list(targets)
        nodes = prune(graph.nodes, roots)
        fetches = list(fetches)
        constants = dict(graph.constants)
        if optimize:
            nodes, mapping, folded = fold_constants(nodes, constants)
            constants.update(folded)
            fetches = [_resolve(mapping, v) for v in fetches]
            keep = set(fetches)
            for n in nodes:
                if n.op == "assign":
                    keep.add(n.inputs[0])
            nodes, mapping = fuse_elementwise(nodes, keep)
            fetches = [_resolve(mapping, v) for v in fetches]
            # what the targets needed before is what they need now
            nodes = prune(nodes, fetches + [n for n in nodes if n.op in ("assign", "group")])
        self.nodes = nodes
        self.fetches = fetches
        self.placeholders = [n for n in nodes if n.op == "placeholder"]
        self.variables = [n for n in nodes if n.op == "variable"]
        self._build(constants)

    # ---- compile ----------------------------------------------------------------------------
    def _build(self, constants):
        be = self.be
        slot: dict = {}
        for n in self.nodes:
            for v in n.outputs:
                slot[v] = len(slot)
        self.n_slots = len(slot)
        self.slot = slot
        escaping = set(self.fetches)
        for n in self.nodes:
            if n.op == "assign":
                escaping.add(n.inputs[0])
        self.assigns = []
        self.steps = []
        self.step_nodes = []  # the node of each step
        self.const_slots = []  # (slot, device array): filled once
        self.feed_slots = {n.attrs["name"]: slot[n.out] for n in self.placeholders}
        self.var_slots = {n.attrs["name"]: slot[n.out] for n in self.variables}
        self.fresh = set()  # Values computed into a new array at every run
        for n in self.nodes:
            op = n.op
            if op in ("placeholder", "variable", "group"):
                continue
            if op == "constant":
                self.const_slots.append((slot[n.out], to_device(self.device, constants[n.id])))
                continue
            if op == "assign":
                src = n.inputs[0]
                self.steps.append(_alias_step(slot[src], slot[n.out]))
                self.step_nodes.append(n)
                self.assigns.append((n.attrs["name"], slot[src], self._is_fresh(src)))
                if self._is_fresh(src):
                    self.fresh.add(n.out)
                continue
            if op in ("full", "arange"):  # immutable: made once, like a constant
                self.const_slots.append((slot[n.out], kernels.evaluate(be, n, [])[0]))
                continue
            ins = [(slot[x], None) if isinstance(x, Value) else (None, x) for x in n.inputs]
            outs = [slot[v] for v in n.outputs]
            # On CUDA an allocation costs a driver call: elementwise outputs get a buffer
            # each, kept from run to run. On the CPU the allocator hands back the block just
            # freed, still in cache, which is faster than a buffer per value.
            reuse = self.device.type != "cpu" and not any(v in escaping for v in n.outputs)
            if op == "fused":
                self.steps.append(_fused_step(self.device, n, ins, outs, reuse))
            elif op in kernels.ELEMENTWISE:
                self.steps.append(_elementwise_step(be, n, ins, outs[0], reuse))
            else:
                self.steps.append(_generic_step(be, n, ins, outs))
                reuse = False
            self.step_nodes.append(n)
            if not reuse and op not in kernels.VIEW_OPS:
                self.fresh.update(n.outputs)
        self._schedule()

    def _schedule(self):
        """Pair each step with the slots that are read for the last time by it."""
        keep = {self.slot[v] for v in self.fetches}
        keep.update(s for _, s, _ in self.assigns)
        last = {}
        for i, n in enumerate(self.step_nodes):
            for x in n.inputs:
                if isinstance(x, Value):
                    last[self.slot[x]] = i
        dead = [[] for _ in self.steps]
        for s, i in last.items():
            if s not in keep:
                dead[i].append(s)
        self.schedule = [(step, tuple(d)) for step, d in zip(self.steps, dead)]

    def _is_fresh(self, v: Value) -> bool:
        return v in self.fresh

    def kernel_count(self) -> int:
        """How many steps of this plan launch kernels (views and reads launch none)."""
        return sum(1 for n in self.nodes if n.op not in _NO_KERNEL and n.op not in ("full",
                                                                                    "arange"))

    def describe(self) -> str:
        """The plan's nodes, one a line (fused nodes show their ops)."""
        lines = []
        for n in self.nodes:
            if n.op == "fused":
                ops = " -> ".join(name for _, name, _, _ in n.attrs["program"]["ops"])
                lines.append(f"fused[{ops}] -> {[v.shape for v in n.outputs]}")
            else:
                lines.append(repr(n))
        return "\n".join(lines)

    # ---- run --------------------------------------------------------------------------
    def run(self, feeds: dict, variables: dict, describe_missing=None) -> list:
        """Run once. ``feeds``: placeholder name -> device array; ``variables``: variable
        name -> device array, updated in place by assigns. Returns the fetched arrays (on
        the device; arrays that the plan may reuse or that alias an input are copied)."""
        env = [None] * self.n_slots
        for s, a in self.const_slots:
            env[s] = a
        for name, s in self.feed_slots.items():
            a = feeds.get(name)
            if a is None:
                raise GraphRunError(describe_missing(name) if describe_missing else
                                    f"no value was fed for placeholder '{name}'")
            env[s] = a
        for name, s in self.var_slots.items():
            a = variables.get(name)
            if a is None:
                raise UninitializedVariableError(
                    f"attempting to use the uninitialized variable '{name}': run "
                    "sess.run(tf.global_variables_initializer()) (or the variable's "
                    "initializer) before running ops that read it")
            env[s] = a
        for step, dead in self.schedule:
            step(env)
            for s in dead:  # free values at their last use: the allocator reuses them hot
                env[s] = None
        for name, s, fresh in self.assigns:
            a = env[s]
            variables[name] = a if fresh else kernels.copy(self.be, a)
        out = []
        for v in self.fetches:
            a = env[self.slot[v]]
            out.append(a if v in self.fresh else kernels.copy(self.be, a))
        return out


def _resolve(mapping: dict, v: Value) -> Value:
    while v in mapping:
        v = mapping[v]
    return v




def _alias_step(src: int, dst: int):
    def step(env):
        env[dst] = env[src]
    return step


def _elementwise_step(be, n, ins, out_slot, reuse: bool):
    v = n.out
    shape, dtype = v.shape, v.dtype
    impl_name = n.op
    op = n.attrs.get("op")
    buf = [None]

    def out_array():
        if not reuse:
            return be.empty(shape, dtype)
        if buf[0] is None:
            buf[0] = be.empty(shape, dtype)
        return buf[0]

    if impl_name == "binary":
        (sa, la), (sb, lb) = ins
        if sa is not None and sb is not None:
            def step(env):
                out = out_array()
                be.binary(op, env[sa], env[sb], out)
                env[out_slot] = out
        elif sa is not None:
            def step(env):
                out = out_array()
                be.binary(op, env[sa], lb, out)
                env[out_slot] = out
        else:
            def step(env):
                out = out_array()
                be.binary(op, la, env[sb], out)
                env[out_slot] = out
        return step
    if impl_name == "unary":
        (sa, la), = ins

        def step(env):
            out = out_array()
            be.unary(op, env[sa] if sa is not None else la, out)
            env[out_slot] = out
        return step

    def step(env):  # where
        out = out_array()
        args = [env[s] if s is not None else lit for s, lit in ins]
        be.where(args[0], args[1], args[2], out)
        env[out_slot] = out
    return step


def _generic_step(be, n, ins, outs):
    op = n.op
    attrs = n.attrs
    if op in kernels.IMPLS_ARGS:
        impl = kernels.IMPLS_ARGS[op]
        if len(outs) == 1 and all(s is not None for s, _ in ins):
            slots = [s for s, _ in ins]
            o = outs[0]
            if len(slots) == 1:
                s0 = slots[0]

                def step(env):
                    env[o] = impl(be, attrs, (env[s0],))[0]
            else:
                def step(env):
                    env[o] = impl(be, attrs, [env[s] for s in slots])[0]
            return step

        def step(env):
            results = impl(be, attrs, [env[s] if s is not None else lit for s, lit in ins])
            for o, r in zip(outs, results):
                env[o] = r
        return step
    if op in kernels.IMPLS:
        impl = kernels.IMPLS[op]
        shape, dtype = n.out.shape, n.out.dtype
        o = outs[0]

        def step(env):
            env[o] = impl(be, attrs, (), shape, dtype)[0]
        return step
    raise ValueError(f"graph node {n.id} has the op {op!r}, which this version of numbanet "
                     "cannot run")


def _fused_step(device, n, ins, outs, reuse: bool):
    """A step running a ``fused`` node: its program's kernels for this device (generated
    by ``fusion.kernels_for``), launched by the backend (``Backend.elementwise_program``)."""
    from .fusion import kernels_for
    program = n.attrs["program"]
    be = device.backend
    run = be.elementwise_program(kernels_for(program, be.name), tuple(program["shape"]),
                                 [s is not None for s, _ in ins])
    specs = [(v.shape, v.dtype) for v in n.outputs]
    bufs = [None]

    def step(env):
        args = [env[s] if s is not None else lit for s, lit in ins]
        if reuse and bufs[0] is not None:
            out = bufs[0]
        else:
            out = [be.empty(s, d) for s, d in specs]
            if reuse:
                bufs[0] = out
        run(args, out)
        for o, a in zip(outs, out):
            env[o] = a
    return step


# ---- arrays in and out of a plan -----------------------------------------------------------
# A plan runs on backend arrays. These functions are the way between them and what the
# layers above see (NumPy arrays, tensors), so that ``numbanet.static`` and ``numbanet.jit``
# never handle a backend.

def to_device(device, array: np.ndarray):
    """A host array (a constant, a saved weight) as an array on ``device``: the array
    itself on the CPU, a C-contiguous copy elsewhere."""
    if device.type == "cpu":
        return array
    return device.backend.from_host(np.ascontiguousarray(array))


def to_device_array(device, value, shape, dtype: dt.DType):
    """A fed value (a tensor, an array, a list) as an array on ``device`` of ``dtype``;
    a copy is made only when needed. The caller has checked ``shape``."""
    from ..tensor import Tensor
    if isinstance(value, Tensor):
        if value.device is device and value.dtype is dtype:
            return value._data
        value = value.detach().to(device=device, dtype=dtype)
        return value._data
    array = np.ascontiguousarray(value, dtype=dtype.numpy)
    if device.type == "cpu":
        return array
    return device.backend.from_host(array)


def to_host_arrays(device, arrays) -> list:
    """The arrays a plan on ``device`` returned, as NumPy arrays (copies, except on the
    CPU, where they are the arrays themselves)."""
    if device.type == "cpu":
        return list(arrays)
    to_host = device.backend.to_host
    return [to_host(a) for a in arrays]


def host_copy(t) -> np.ndarray:
    """A C-contiguous NumPy copy of the values of the tensor ``t`` (a weight to save with a
    graph), in memory of its own."""
    if t.device.type == "cpu":
        return t._data.copy()  # NumPy: a C-contiguous copy
    return np.ascontiguousarray(t.device.backend.to_host(t._data))


def as_tensors(arrays, device, values) -> list:
    """Tensors around the arrays a plan on ``device`` returned (no copy: a plan's results
    are its caller's), one per fetched graph value in ``values`` (for the dtype)."""
    from ..tensor import Tensor
    wrap = Tensor._wrap
    return [wrap(a, device, v.dtype) for a, v in zip(arrays, values)]
