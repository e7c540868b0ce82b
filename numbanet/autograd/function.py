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


class Node:
    """A recorded op: the ``ctx`` of its forward and the ``grad_fn`` of its outputs."""

    # Defaults live on the class: a node is made for every op, so its __init__ stays short.
    _fn = None  # the Function class; set by Function.apply
    needs_input_grad = ()
    _edges = None
    _saved = ()  # the tensors (and other values) of save_for_backward
    _versions = ()  # the version of each saved tensor when saved (None for other values)
    _freed = False
    _outputs = ()  # (shape, dtype, device) of each output, to materialise zeros
    _retained = None  # output_nr -> tensor that asked for retain_grad
    _trace = None
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
                    f"modified by an in-place operation: a tensor of shape {t.shape} is at "
                    f"version {t._vc[0]}; expected version {version}. Use an out-of-place op "
                    "(x = x + y instead of x += y) or clone() the tensor before changing it.")
        return saved

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors):
        pass  # in-place Functions are versioned through Tensor._vc already

    def mark_non_differentiable(self, *tensors):
        for t in tensors:
            t._requires_grad = False
            t.grad_fn = None

    # ---- graph inspection ----------------------------------------------------------
    def name(self) -> str:
        return f"{self._fn.__name__}Backward"

    @property
    def next_functions(self):
        """((node or leaf tensor or None, output index), ...) for each input, like PyTorch's."""
        return tuple((None, 0) if e is None else (e[0], e[1]) for e in (self._edges or ()))

    def __repr__(self) -> str:
        return f"<{self.name()}>"


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
        raise NotImplementedError("a Function subclass must define @staticmethod backward(ctx, ...)")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward``; record the op in the graph when grad mode is on and an input
        requires grad."""
        if cls._legacy:
            raise _legacy_error(cls)
        ctx = Node()
        ctx._fn = cls
        if state.enabled:
            for a in args:
                if isinstance(a, Tensor) and a._requires_grad:
                    return _record(cls, ctx, args, kwargs)
        ctx.needs_input_grad = (False,) * len(args)
        return cls.forward(ctx, *args, **kwargs)


def _record(cls, ctx: Node, args, kwargs):
    needs = []
    edges = []
    for a in args:
        if isinstance(a, Tensor) and a._requires_grad:
            needs.append(True)
            node = a.grad_fn  # where the gradient of this input goes: its node, or the leaf
            edges.append((a if node is None else node, a._output_nr, a._shape, a._dtype,
                          a._device))
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
        out = _own(ctx, out, 0, args)
        ctx._outputs = ((out._shape, out._dtype, out._device),)
    else:
        out = _connect(ctx, out, args)
    if st.anomaly:
        ctx._trace = "".join(traceback.format_stack()[:-3])
    return out


def _own(ctx: Node, o: Tensor, nr: int, args) -> Tensor:
    """Output ``o`` of ``ctx``'s forward, made to point back at ``ctx``."""
    for a in args:
        if o is a:  # an input returned as is: give it a new identity
            o = o._alias()
            break
    if o._dtype.is_floating_point:
        o._requires_grad = True
        o.grad_fn = ctx
        o._output_nr = nr
    return o


def _connect(ctx: Node, out, args):
    """Make ``ctx`` the grad_fn of the outputs of a forward that returned a tuple (or
    something else); ``_record`` handles a single tensor itself."""
    if not isinstance(out, tuple):  # not a tensor: nothing to connect
        ctx._outputs = (None,)
        return out
    result = []
    metas = []
    for nr, o in enumerate(out):
        if isinstance(o, Tensor):
            o = _own(ctx, o, nr, args)
            metas.append((o._shape, o._dtype, o._device))
        else:
            metas.append(None)
        result.append(o)
    ctx._outputs = tuple(metas)
    return tuple(result)
