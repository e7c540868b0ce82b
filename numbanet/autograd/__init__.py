"""Dynamic autograd: every op records itself; ``backward`` walks the record.

- ``Function``: define an op with static ``forward``/``backward`` (``function.py``).
- ``backward``, ``grad``: run the engine (``engine.py``).
- ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``set_detect_anomaly``.
- ``gradcheck``: check a backward against central differences.
"""
from __future__ import annotations

import sys as _sys

from .. import tensor as _tensor
from ..tensor import Tensor
from .engine import run_backward
from .function import Function, Node
from .grad_mode import (
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from .gradcheck import gradcheck
from .hooks import RemovableHandle, register_hook
from .ops.dispatch import device_mismatch


def _seed_grads(outputs, grad_outputs, what: str):
    grads = []
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"{what}: got {len(grad_outputs)} gradients for {len(outputs)} "
                           "outputs; pass one gradient (or None) per output")
    for i, (o, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(o, Tensor):
            raise TypeError(f"{what}: the outputs must be Tensors, but element {i} is a "
                            f"{type(o).__name__}")
        if not o.requires_grad:
            raise RuntimeError(f"{what}: element {i} of the outputs does not require grad and "
                               "has no grad_fn: nothing recorded a graph for it (was it made "
                               "under no_grad, or from tensors without requires_grad=True?)")
        if g is None:
            if o.numel() != 1:
                raise RuntimeError(f"{what}: a gradient can only be created implicitly for a "
                                   f"scalar output, but this output has shape {o._shape}; pass "
                                   "gradient= (a tensor of that shape), or reduce it first, "
                                   "e.g. loss.sum().backward()")
            dev = o._device
            grads.append(Tensor._wrap(dev.backend.full(o._shape, 1, o._dtype), dev, o._dtype))
            continue
        if not isinstance(g, Tensor):
            raise TypeError(f"{what}: gradients must be Tensors or None, got "
                            f"{type(g).__name__} for output {i}")
        if g._shape != o._shape:
            raise RuntimeError(f"{what}: the gradient has shape {g._shape} but the output has "
                               f"shape {o._shape} (output {i}); pass a gradient of the output's "
                               "shape")
        if g._device is not o._device:
            raise device_mismatch(f"{what} (output {i} and its gradient)", o._device, g._device)
        if g._dtype is not o._dtype:
            g = g.to(o._dtype)  # as PyTorch: the gradient is taken in the output's dtype
        grads.append(g.detach() if g.grad_fn is None else g)
    return grads


def _as_list(values, what: str, name: str) -> list:
    """Tensors given as one tensor, None or a sequence, as a list."""
    if values is None or isinstance(values, Tensor):
        return [values]
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"{what}: {name} must be a Tensor or None, got "
                        f"{type(values).__name__}; pass a tensor, e.g. nb.tensor(2.0)")
    return list(values)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False):
    """Accumulate into the leaves' ``.grad`` the gradients of ``tensors``."""
    tensors = _as_list(tensors, "backward", "tensors")
    grad_tensors = [None] * len(tensors) if grad_tensors is None else \
        _as_list(grad_tensors, "backward", "gradient")
    grads = _seed_grads(tensors, grad_tensors, "backward")
    run_backward(tensors, grads, create_graph if retain_graph is None else retain_graph,
                 create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         allow_unused: bool = False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned as a tuple
    (``.grad`` fields are left alone)."""
    outputs = _as_list(outputs, "grad", "outputs")
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad, so it has no gradient")
    grad_outputs = [None] * len(outputs) if grad_outputs is None else \
        _as_list(grad_outputs, "grad", "grad_outputs")
    grads = _seed_grads(outputs, grad_outputs, "grad")
    return run_backward(outputs, grads, create_graph if retain_graph is None else retain_graph,
                        create_graph, inputs=inputs, allow_unused=allow_unused)


def Variable(tensor, requires_grad: bool = False, volatile: bool = False) -> Tensor:
    """Legacy wrapper from PyTorch 0.3: returns a tensor sharing ``tensor``'s data."""
    if not isinstance(tensor, Tensor):
        from ..creation import tensor as make
        tensor = make(tensor)
    out = tensor.detach()
    out.requires_grad = requires_grad
    return out


__all__ = ["Function", "Node", "Variable", "backward", "grad", "gradcheck", "no_grad",
           "enable_grad", "set_grad_enabled", "is_grad_enabled", "set_detect_anomaly",
           "detect_anomaly", "is_anomaly_enabled"]


_tensor._autograd = _sys.modules[__name__]  # Tensor.backward runs the engine through it
