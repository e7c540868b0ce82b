"""The op registry: each elementwise op of numbanet declared once.

A unary entry (``unary_op``) says everything about an op that is not its kernel:

- ``name``: the op's name, and the name of its scalar function in ``backend/scalar.py``
  (the forward kernel, compiled for every device; its ``@float_result`` mark is the
  op's dtype rule: integers computed as float32, as in PyTorch);
- ``grad(g, x, y)``: the gradient of the input from the output's gradient ``g``, the
  input ``x`` and the output ``y``, written with differentiable ops so that it can be
  differentiated again (``create_graph=True``);
- ``saves``: which of ``x`` and ``y`` the gradient reads (only that one is kept; None
  for neither);
- where the op appears: ``Tensor.<name>()``, ``Tensor.<name>_()`` (in place),
  ``numbanet.<name>`` and ``numbanet.autograd.ops.<name>``, a Python operator, aliases;
- ``ref`` and ``domain``: the NumPy reference and the inputs the property tests use.

A binary entry (``binary_op``) is the same for two operands (tensors or numbers, broadcast
against each other): its scalar function (``kernel``), its dtype rule (``kind``: the
promoted type, float, or bool), one gradient formula per operand ``(g, a, b, y)``, the
operands it saves, and its operators (``__add__``, the reflected ``__radd__`` and the
in-place ``__iadd__``).

From the entry come the ``Function`` (its class ``title`` names the ``grad_fn``:
``ExpBackward``), the function, the Tensor methods and operators, the graph recorder's and
fusion's support (they run the same scalar function), and the conformance and gradient
property tests of both devices. Adding a unary op is its scalar function plus one
``unary_op(...)`` call; CONTRIBUTING.md walks through one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ... import dtypes as dt
from ...backend import scalar
from ...tensor import Tensor
from ..function import Function
from .dispatch import binary, unary


@dataclass(frozen=True)
class UnaryOp:
    name: str
    grad: Callable | None  # (g, x, y) -> gradient of x; None: not differentiable
    saves: str | None  # "input", "output" or None: what ``grad`` reads
    ref: Callable  # the NumPy reference of the tests
    domain: tuple = (-3.0, 3.0)  # where the gradient tests draw inputs
    avoid: float | None = None  # a kink the gradient tests keep away from
    method: bool = True  # Tensor.<name>()
    inplace: bool = True  # Tensor.<name>_()
    operator: str | None = None  # e.g. "__abs__"
    aliases: tuple = ()  # other names of the function and method (absolute for abs)
    title: str = ""  # the Function's class name
    check: Callable | None = None  # a guard run on the input first (neg refuses bools)
    doc: str = ""
    function: Callable = None  # type: ignore[assignment]  # made by unary_op
    cls: type = None  # type: ignore[assignment]

    @property
    def float_result(self) -> bool:
        return self.name in scalar.FLOAT_RESULT


UNARY: dict[str, UnaryOp] = {}


def unary_op(name: str, grad, saves: str | None, ref, **options) -> Callable:
    """Declare an elementwise unary op (see the module docstring); returns its function."""
    if name in UNARY:
        raise ValueError(f"unary_op: {name!r} is declared twice")
    if name not in scalar.UNARY:
        raise ValueError(f"unary_op: {name!r} has no scalar function in backend/scalar.py")
    if saves not in ("input", "output", None):
        raise ValueError(f"unary_op: saves must be 'input', 'output' or None, got {saves!r}")
    title = options.pop("title", "") or name.capitalize()
    spec = UnaryOp(name, grad, saves, ref, title=title, **options)
    cls = _function_class(spec)
    function = _function(spec, cls)
    object.__setattr__(spec, "cls", cls)
    object.__setattr__(spec, "function", function)
    UNARY[name] = spec
    return function


def _function_class(spec: UnaryOp) -> type[Function]:
    kind = "float" if spec.float_result else "same"
    name, grad, check = spec.name, spec.grad, spec.check
    saves = spec.saves

    def forward(ctx, x):
        if check is not None:
            check(x)
        y = unary(name, x, kind)
        if saves == "output":
            ctx.save_for_backward(y)
        elif saves == "input":
            ctx.save_for_backward(x)
        return y

    def backward(ctx, g):
        if saves == "output":
            return grad(g, None, ctx.saved_tensors[0])
        return grad(g, ctx.saved_tensors[0] if saves else None, None)

    return type(spec.title, (Function,), {
        "forward": staticmethod(forward), "backward": staticmethod(backward),
        "__doc__": spec.doc, "__module__": __name__})


def _function(spec: UnaryOp, cls: type[Function]) -> Callable:
    if spec.grad is None:
        name, kind = spec.name, "float" if spec.float_result else "same"

        def function(x):
            if spec.check is not None:
                spec.check(x)
            return unary(name, x, kind)
    else:
        apply = cls.apply

        def function(x):
            return apply(x)
    function.__name__ = function.__qualname__ = spec.name
    function.__doc__ = spec.doc
    return function


@dataclass(frozen=True)
class BinaryOp:
    name: str
    kernel: str  # its scalar function in backend/scalar.py
    grads: tuple | None  # (grad of a, grad of b), each (g, a, b, y) -> Tensor; None: no grad
    saves: str  # which of "a", "b" and "y" (the output) the gradients read, e.g. "ab"
    ref: Callable  # the NumPy reference of the tests
    kind: str = "same"  # the dtype rule: "same" (promoted), "float" (ints as float32), "bool"
    method: bool = True  # Tensor.<name>(other)
    inplace: bool = False  # Tensor.<name>_(other)
    operator: str | None = None  # e.g. "__add__": a + b
    reflected: str | None = None  # e.g. "__radd__": 1 + a
    inplace_operator: str | None = None  # e.g. "__iadd__": a += b
    alpha: bool = False  # takes ``alpha=``, scaling the second operand (add and sub)
    aliases: tuple = ()  # other names of the function and method (multiply for mul)
    check: Callable | None = None  # a guard run on the operands first (sub refuses bools)
    domains: tuple = ({}, {})  # where the gradient tests draw a and b (draw_arg's options)
    untied: bool = False  # the gradient tests keep a and b apart (maximum's kink at a == b)
    title: str = ""
    doc: str = ""
    function: Callable = None  # type: ignore[assignment]  # made by binary_op
    cls: type = None  # type: ignore[assignment]


BINARY: dict[str, BinaryOp] = {}


def binary_op(name: str, grads, saves: str, ref, kernel: str | None = None,
              **options) -> Callable:
    """Declare an elementwise binary op (see the module docstring); returns its function."""
    kernel = kernel or name
    if name in BINARY:
        raise ValueError(f"binary_op: {name!r} is declared twice")
    if kernel not in scalar.BINARY:
        raise ValueError(f"binary_op: {kernel!r} has no scalar function in backend/scalar.py")
    if not set(saves) <= set("aby"):
        raise ValueError(f"binary_op: saves takes the letters a, b and y, got {saves!r}")
    if options.get("kind", "same") not in ("same", "float", "bool"):
        raise ValueError(f"binary_op: kind must be 'same', 'float' or 'bool', "
                         f"got {options['kind']!r}")
    title = options.pop("title", "") or name.capitalize()
    spec = BinaryOp(name, kernel, grads, saves, ref, title=title, **options)
    cls = _binary_function_class(spec) if grads is not None else None
    function = _binary_function(spec, cls)
    object.__setattr__(spec, "cls", cls)
    object.__setattr__(spec, "function", function)
    BINARY[name] = spec
    return function


def _binary_function_class(spec: BinaryOp) -> type[Function]:
    name, kernel, kind, check = spec.name, spec.kernel, spec.kind, spec.check
    grad_a, grad_b = spec.grads  # type: ignore[misc]
    saves = spec.saves
    # Three shapes of forward and backward rather than one that tests what to keep: the
    # arithmetic operators run these for every op of a training step.
    if not saves:
        def forward(ctx, a, b):
            if check is not None:
                check(a, b)
            return binary(kernel, a, b, name, kind)

        def backward(ctx, g):
            na, nb = ctx.needs_input_grad
            return (grad_a(g, None, None, None) if na else None), \
                (grad_b(g, None, None, None) if nb else None)
    elif saves == "ab":
        def forward(ctx, a, b):
            if check is not None:
                check(a, b)
            ctx.save_for_backward(a, b)
            return binary(kernel, a, b, name, kind)

        def backward(ctx, g):
            a, b = ctx.saved_tensors
            na, nb = ctx.needs_input_grad
            return (grad_a(g, a, b, None) if na else None), (grad_b(g, a, b, None) if nb else None)
    else:
        keep_a, keep_b, keep_y = ("a" in saves), ("b" in saves), ("y" in saves)

        def forward(ctx, a, b):
            if check is not None:
                check(a, b)
            y = binary(kernel, a, b, name, kind)
            ctx.save_for_backward(a if keep_a else None, b if keep_b else None,
                                  y if keep_y else None)
            return y

        def backward(ctx, g):
            a, b, y = ctx.saved_tensors
            na, nb = ctx.needs_input_grad
            return (grad_a(g, a, b, y) if na else None), (grad_b(g, a, b, y) if nb else None)

    return type(spec.title, (Function,), {
        "forward": staticmethod(forward), "backward": staticmethod(backward),
        "__doc__": spec.doc, "__module__": __name__})


def _binary_function(spec: BinaryOp, cls: type[Function] | None) -> Callable:
    if cls is None:
        name, kernel, kind, check = spec.name, spec.kernel, spec.kind, spec.check

        def function(input, other):
            if check is not None:
                check(input, other)
            return binary(kernel, input, other, name, kind)
    elif spec.alpha:
        apply = cls.apply

        def function(input, other, *, alpha=1):  # type: ignore[misc]
            return apply(input, other if alpha == 1 else other * alpha)
    else:
        apply = cls.apply

        def function(input, other):  # type: ignore[misc]
            return apply(input, other)
    function.__name__ = function.__qualname__ = spec.name
    function.__doc__ = spec.doc
    return function


def attach_binary_methods(cls=Tensor):
    """The Tensor methods, in-place methods and operators of every registered binary op."""
    from .inplace import inplace, inplace_unary
    for spec in BINARY.values():
        fn = spec.function
        call = spec.cls.apply if spec.cls is not None else fn  # the operators' short path
        if spec.method:
            for name in (spec.name, *spec.aliases):
                setattr(cls, name, _named(fn, name, spec.doc))
        if spec.operator:
            setattr(cls, spec.operator, _named(call, spec.operator, spec.doc))
        if spec.reflected:
            setattr(cls, spec.reflected, _reflected(call, spec))
        if spec.inplace or spec.inplace_operator:
            method = _binary_inplace(fn, spec, inplace, inplace_unary)
            if spec.inplace:
                for name in (spec.name, *spec.aliases):
                    setattr(cls, f"{name}_", method)
            if spec.inplace_operator:
                setattr(cls, spec.inplace_operator, method)


def _named(fn, name, doc):
    def method(self, other, **options):
        return fn(self, other, **options)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = doc
    return method


def _reflected(call, spec):
    def method(self, other):
        return call(other, self)
    method.__name__ = method.__qualname__ = spec.reflected
    return method


# The ops that the backend runs straight into the first operand's memory (inplace()); the
# others compute out of place and write the result back (inplace_unary()).
_WRITTEN_IN_PLACE = frozenset({"add", "sub", "mul", "div"})


def _binary_inplace(fn, spec, inplace, inplace_unary):
    name = spec.name
    if spec.kernel in _WRITTEN_IN_PLACE:
        kernel, check = spec.kernel, spec.check

        def method(self, other, alpha=1):
            if check is not None:
                check(self, other)
            return inplace(kernel, self, other if alpha == 1 else other * alpha)
    else:
        def method(self, other):  # type: ignore[misc]
            def compute(t):
                y = fn(t, other)
                if y._dtype.category > t._dtype.category:
                    raise RuntimeError(f"{name}_: result type {_title(y._dtype)} can't be cast "
                                       f"to the desired output type {_title(t._dtype)}; use "
                                       f"{name}() instead")
                return y
            return inplace_unary(self, compute, other)
    method.__name__ = method.__qualname__ = f"{name}_"
    method.__doc__ = f"In-place {name}: ``x.{name}_(y)`` writes {name}(x, y) into x."
    return method


def functions() -> dict[str, Callable]:
    """The function of every registered op under its name and aliases: what
    ``numbanet.<name>`` and ``numbanet.autograd.ops.<name>`` export."""
    out: dict[str, Callable] = {}
    specs: list[UnaryOp | BinaryOp] = [*UNARY.values(), *BINARY.values()]
    for spec in specs:
        for name in (spec.name, *spec.aliases):
            out[name] = spec.function
    return out


def attach_methods(cls=Tensor):
    """``Tensor.<name>()``, ``Tensor.<name>_()`` and the operators of every registered op."""
    from .inplace import inplace_unary
    for spec in UNARY.values():
        fn = spec.function
        if spec.method:
            for name in (spec.name, *spec.aliases):
                setattr(cls, name, _method(fn, spec))
        if spec.inplace:
            for name in (spec.name, *spec.aliases):
                setattr(cls, f"{name}_", _inplace_method(fn, spec, inplace_unary))
        if spec.operator:
            setattr(cls, spec.operator, _method(fn, spec))


def _method(fn, spec):
    def method(self):
        return fn(self)
    method.__name__ = method.__qualname__ = spec.name
    method.__doc__ = spec.doc
    return method


def _inplace_method(fn, spec, inplace_unary):
    def method(self):
        if spec.float_result and not self._dtype.is_floating_point:
            raise RuntimeError(f"{spec.name}_: result type Float can't be cast to the desired "
                               f"output type {_title(self._dtype)}; use {spec.name}() or "
                               f".float().{spec.name}_()")
        return inplace_unary(self, fn)
    method.__name__ = method.__qualname__ = f"{spec.name}_"
    method.__doc__ = f"In-place {spec.name}: ``x.{spec.name}_()`` writes {spec.name}(x) into x."
    return method


def _title(dtype: dt.DType) -> str:
    return {"int64": "Long", "bool": "Bool", "float32": "Float", "float64": "Double"}.get(
        dtype.name, dtype.name)
