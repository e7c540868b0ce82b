"""The op registry: each elementwise unary op of numbanet declared once.

An entry says everything about an op that is not its kernel:

- ``name``: the op's name, and the name of its scalar function in ``backend/scalar.py``
  (the forward kernel, compiled for every device; its ``@float_result`` mark is the
  op's dtype rule: integers computed as float32, as in PyTorch);
- ``grad(g, x, y)``: the gradient of the input from the output's gradient ``g``, the
  input ``x`` and the output ``y``, written with differentiable ops so that it can be
  differentiated again (``create_graph=True``);
- ``saves``: which of ``x`` and ``y`` the gradient reads (only that one is kept; None
  for neither);
- where the op appears: ``Tensor.<name>()``, ``Tensor.<name>_()`` (in place),
  ``numbanet.<name>`` and ``numbanet.autograd.ops.<name>``, a Python operator;
- ``ref`` and ``domain``: the NumPy reference and the inputs the property tests use.

From the entry come the ``Function`` (its class ``title`` names the ``grad_fn``:
``ExpBackward``), the function, the Tensor methods and operator, the graph recorder's and
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
from .dispatch import unary


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


def attach_methods(cls=Tensor):
    """``Tensor.<name>()``, ``Tensor.<name>_()`` and the operators of every registered op."""
    from .inplace import inplace_unary
    for spec in UNARY.values():
        fn = spec.function
        if spec.method:
            setattr(cls, spec.name, _method(fn, spec))
        if spec.inplace:
            setattr(cls, f"{spec.name}_", _inplace_method(fn, spec, inplace_unary))
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
