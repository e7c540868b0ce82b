"""Gradient clipping: scale the gradients of parameters so that their total norm is at most
``max_norm`` (``clip_grad_norm_``), or clamp each gradient value (``clip_grad_value_``)::

    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()

``foreach`` is accepted for PyTorch's signatures; numbanet computes the same values either
way (its ops already work on one whole tensor per call).
"""
from __future__ import annotations

import math

from ... import dtypes
from ...autograd import no_grad
from ...autograd.ops.shape import stack
from ...creation import tensor
from ...tensor import Tensor


def _as_list(tensors, what: str) -> list:
    if isinstance(tensors, Tensor):
        return [tensors]
    try:
        return list(tensors)
    except TypeError:
        raise TypeError(f"{what} must be a Tensor or an iterable of Tensors, got "
                        f"{type(tensors).__name__}") from None


def _vector_norm(t: Tensor, p: float) -> Tensor:
    """``linalg.vector_norm(t, p)`` over all elements, as a 0-d tensor of ``t``'s dtype."""
    if p == math.inf:
        return t.abs().max()
    if p == -math.inf:
        return t.abs().min()
    if p == 0:
        return (t != 0).sum().to(t.dtype)
    if p == 1:
        return t.abs().sum()
    if p == 2:
        return (t * t).sum().sqrt()
    return (t.abs() ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The norm of the norms of ``tensors`` (the norm of all their values together), on the
    device of the first one."""
    tensors = _as_list(tensors, "tensors")
    norm_type = float(norm_type)
    if not tensors:
        return tensor(0.0)
    with no_grad():
        device = tensors[0].device
        wide = dtypes.float64 if any(t.dtype is dtypes.float64 for t in tensors) \
            else tensors[0].dtype
        norms = [_vector_norm(t, norm_type).to(device=device, dtype=wide) for t in tensors]
        total = _vector_norm(stack(norms), norm_type)
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           "`parameters` is non-finite, so it cannot be clipped. To disable "
                           "this error and scale the gradients by the non-finite norm anyway, "
                           "set `error_if_nonfinite=False`")
    return total


def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scale the gradients by ``max_norm / (total_norm + 1e-6)`` where that is below 1."""
    parameters = _as_list(parameters, "parameters")
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    with no_grad():
        coef = (float(max_norm) / (total_norm + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.to(device=g.device, dtype=g.dtype))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale the gradients of ``parameters`` in place so that their total ``norm_type``-norm
    (``inf`` for the largest absolute value) is at most ``max_norm``; returns the total norm
    before clipping. With ``error_if_nonfinite``, a NaN or infinite norm is an error."""
    parameters = _as_list(parameters, "parameters")
    grads = [p.grad for p in parameters if p.grad is not None]
    max_norm = float(max_norm)
    if not grads:
        return tensor(0.0)
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_value_(parameters, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient value of ``parameters`` into ``[-clip_value, clip_value]``, in
    place."""
    parameters = _as_list(parameters, "parameters")
    clip_value = float(clip_value)
    with no_grad():
        for p in parameters:
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)
