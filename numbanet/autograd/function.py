"""``Function``: an op with a forward and a backward, and the graph node it leaves.

A custom op subclasses ``Function`` with two static methods::

    class MyReLU(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_y):
            x, = ctx.saved_tensors
            grad_x = grad_y.clone()
            grad_x[x < 0] = 0
            return grad_x

    y = MyReLU.apply(x)

Every built-in op of numbanet is a Function too (``autograd/ops``), so there is
one place where the graph is recorded: ``Function.apply``.
"""
from __future__ import annotations

import traceback
from typing import Any, NamedTuple

from .. import dtypes as _dt
from ..device import device as _device
from ..tensor import Tensor
from .grad_mode import state

_STATIC_FORM = """
    class {name}(numbanet.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return ...

        @staticmethod
        def backward(ctx, grad_output):
            x, = ctx.saved_tensors
            return ...

    y = {name}.apply(x)"""


def _legacy_error(cls):
    return RuntimeError(
        f"{cls.__name__} is an old-style autograd Function (forward and backward as instance "
        "methods, called as an object). numbanet, like PyTorch since 1.3, needs the static "
        "form: write forward(ctx, ...) and backward(ctx, ...) as @staticmethod, keep state on "
        "ctx instead of self, and call the class's apply:" + _STATIC_FORM.format(name=cls.__name__))


class Edge(NamedTuple):
    """Where the gradient of one input of a node goes, and what it must look like there."""
    target: object  # the Node that made the input, or the input itself if it is a leaf
    output_nr: int  # which output of that node the input is
    shape: tuple
    dtype: _dt.DType
    device: _device


_new_tuple = tuple.__new__  # Edge(...) without NamedTuple's Python-level __new__: hot path


class Node:
    """A recorded op: the ``ctx`` of its forward and the ``grad_fn`` of its outputs."""

    # Defaults live on the class: a node is made for every op, so its __init__ stays short.
    _fn: Any = None  # the Function class; set by Function.apply
    needs_input_grad: tuple = ()
    _edges: Any = None  # a list: an Edge, or None, per input; set by _record
    _saved: tuple = ()  # the tensors (and other values) of save_for_backward
    _versions: tuple | list = ()  # the version of each saved tensor when saved (None for others)
    _freed = False
    _outputs: tuple = ()  # (shape, dtype, device) of each output, to materialise zeros
    _retained: dict | None = None  # output_nr -> tensor that asked for retain_grad
    _hooks: dict | None = None  # output_nr -> the gradient hooks of that output (hooks.py)
    _saved_outputs: dict | None = None  # index in _saved -> output_nr, for saved outputs
    _non_differentiable: tuple = ()  # ids of the outputs of mark_non_differentiable
    _dirty: tuple = ()  # ids of the inputs of mark_dirty
    _trace: str | None = None
    materialize_grads = True

    # ---- the ctx API ------------------------------------------------------------------
    def save_for_backward(self, *tensors):
        versions = []
        for t in tensors:  # a loop, not a comprehension: this runs for most ops
            versions.append(t._vc[0] if isinstance(t, Tensor) else None)
        self._saved = tensors
        self._versions = versions

    @property
    def saved_tensors(self):
        if self._freed:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (or to read saved "
                f"tensors of {self.name()} after they were freed). The saved tensors are freed "
                "after the first backward; call .backward(retain_graph=True) or "
                "autograd.grad(..., retain_graph=True) if you need to backward twice.")
        saved = self._saved
        for t, version in zip(saved, self._versions):
            if version is not None and t._vc[0] != version:
                raise RuntimeError(
                    f"one of the tensors needed by {self.name()} to compute gradients has been "
                    f"modified by an in-place operation: a tensor of shape {t._shape} is at "
                    f"version {t._vc[0]}; expected version {version}. Use an out-of-place op "
                    "(x = x + y instead of x += y) or clone() the tensor before changing it.")
        if self._saved_outputs:
            saved = list(saved)
            for i, nr in self._saved_outputs.items():
                saved[i] = _reattached(saved[i], self, nr)
        return saved

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors):
        """Say that the forward changed these inputs in place and returns them: each keeps
        its identity and this node becomes its grad_fn, as in PyTorch (the in-place op that
        changed it moved its version on already)."""
        self._dirty = self._dirty + tuple(id(t) for t in tensors)

    def mark_non_differentiable(self, *tensors):
        """Outputs that get no gradient (indices, masks): they do not require grad, and the
        backward receives zeros for them (or None, with set_materialize_grads(False))."""
        self._non_differentiable = self._non_differentiable + tuple(id(t) for t in tensors)

    # ---- graph inspection ----------------------------------------------------------
    def name(self) -> str:
        return f"{self._fn.__name__}Backward"

    @property
    def output_metadata(self) -> tuple:
        """(shape, dtype, device) of each output of the op (None where it is no tensor)."""
        return self._outputs

    @property
    def retained_tensors(self) -> tuple:
        """The outputs of the op that asked for ``retain_grad()``."""
        return tuple((self._retained or {}).values())

    @property
    def next_functions(self):
        """((node or leaf tensor or None, output index), ...) for each input, like PyTorch's."""
        return tuple((None, 0) if e is None else (e.target, e.output_nr)
                     for e in (self._edges or ()))

    def __repr__(self) -> str:
        return f"<{self.name()}>"


class _Unrecorded(Node):
    """The ctx of a forward that is not recorded: what it saves is dropped at once."""

    def save_for_backward(self, *tensors):
        pass


class Function:
    """Base class of differentiable ops; see the module docstring for an example."""

    _legacy = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        fwd = cls.__dict__.get("forward")
        if fwd is not None and not isinstance(fwd, staticmethod):
            cls._legacy = True

    def __call__(self, *args, **kwargs):
        raise _legacy_error(type(self))

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must define @staticmethod forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("a Function subclass must define "
                                  "@staticmethod backward(ctx, ...)")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward``; record the op in the graph when grad mode is on and an input
        requires grad."""
        if cls._legacy:
            raise _legacy_error(cls)
        if state.enabled:
            for a in args:
                if isinstance(a, Tensor) and a._requires_grad:
                    ctx = Node()
                    ctx._fn = cls
                    return _record(cls, ctx, args, kwargs)
        # Not recorded (no_grad, or no input requires grad): a ctx that keeps nothing, so
        # that an op costs little more than its kernel and no second path is needed.
        ctx = _Unrecorded()
        ctx._fn = cls
        ctx.needs_input_grad = (False,) * len(args)
        return cls.forward(ctx, *args, **kwargs)


def _record(cls, ctx: Node, args, kwargs):
    needs = []
    edges: list = []
    for a in args:
        if isinstance(a, Tensor) and a._requires_grad:
            needs.append(True)
            node = a.grad_fn  # where the gradient of this input goes: its node, or the leaf
            edges.append(_new_tuple(Edge, (a if node is None else node, a._output_nr, a._shape,
                                           a._dtype, a._device)))
        else:
            needs.append(False)
            edges.append(None)
    ctx.needs_input_grad = tuple(needs)
    ctx._edges = edges
    st = state
    st.enabled = False  # the forward's own ops are not recorded
    try:
        out = cls.forward(ctx, *args, **kwargs)
    finally:
        st.enabled = True
    if isinstance(out, Tensor):  # the common case, without _connect's tests
        owned = _own(ctx, out, 0, args)
        if owned is out:
            for t in ctx._saved:  # the output saved for backward (tanh's, softmax's)?
                if t is out:
                    _unhook_saved_outputs(ctx, (out,))
                    break
        out = owned
        ctx._outputs = ((out._shape, out._dtype, out._device),)
    else:
        out = _connect(ctx, out, args)
    if st.anomaly:
        ctx._trace = "".join(traceback.format_stack()[:-3])
    return out


def _own(ctx: Node, o: Tensor, nr: int, args) -> Tensor:
    """Output ``o`` of ``ctx``'s forward, made to point back at ``ctx``."""
    marked = bool(ctx._non_differentiable) and id(o) in ctx._non_differentiable
    for a in args:
        if o is a:  # an input returned as is: a new identity, unless changed in place
            if id(o) not in ctx._dirty:
                o = o._alias()
            elif o.grad_fn is None and o._requires_grad:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   f"in-place operation ({ctx._fn.__name__}, which called "
                                   "mark_dirty); clone() it first")
            break
    if o._dtype.is_floating_point and not marked:
        o._requires_grad = True
        o.grad_fn = ctx
        o._output_nr = nr
    return o


def _unhook_saved_outputs(ctx: Node, outputs):
    """An output that the forward saved for backward is kept without its grad_fn (the node
    itself: a reference cycle) and given it back when the backward unpacks it, as PyTorch's
    saved variables are; so a backward that reads the output (softmax's, tanh's) still
    reaches the inputs when the gradient is differentiated again (``create_graph=True``)."""
    saved = list(ctx._saved)
    for i, t in enumerate(saved):
        for nr, o in enumerate(outputs):
            if t is o and isinstance(o, Tensor) and o.grad_fn is ctx:
                kept = Tensor._wrap(o._data, o._device, o._dtype)
                kept._vc = o._vc  # the version check still sees in-place changes
                saved[i] = kept
                if ctx._saved_outputs is None:
                    ctx._saved_outputs = {}
                ctx._saved_outputs[i] = nr
    ctx._saved = tuple(saved)


def _reattached(t: Tensor, node: Node, nr: int) -> Tensor:
    out = Tensor._wrap(t._data, t._device, t._dtype)
    out._vc = t._vc
    out._requires_grad = True
    out.grad_fn = node
    out._output_nr = nr
    return out


def _connect(ctx: Node, out, args):
    """Make ``ctx`` the grad_fn of the outputs of a forward that returned a tuple (or
    something else); ``_record`` handles a single tensor itself."""
    if not isinstance(out, tuple):  # not a tensor: nothing to connect
        ctx._outputs = (None,)
        return out
    result = []
    metas: list = []
    for nr, o in enumerate(out):
        if isinstance(o, Tensor):
            o = _own(ctx, o, nr, args)
            metas.append((o._shape, o._dtype, o._device))
        else:
            metas.append(None)
        result.append(o)
    ctx._outputs = tuple(metas)
    if ctx._saved:
        _unhook_saved_outputs(ctx, result)
    return tuple(result)
