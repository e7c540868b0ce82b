"""Argument checks shared by the functions of ``nn.functional`` (and by the layers that
check their arguments before calling them): tensors where tensors are expected,
probabilities, reductions and the legacy ``size_average``/``reduce`` arguments, target
shapes."""
from __future__ import annotations

import numbers

from ...autograd.ops.dispatch import not_a_tensor, same_device
from ...shapes import broadcast_shapes
from ...tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def _not_a_tensor(fn: str, name: str, position: int, value):
    """Raise PyTorch's TypeError for an argument that should be a Tensor (a list, an
    array...)."""
    raise not_a_tensor(fn, name, position, value)


def _probability(p, fn: str, name: str = "dropout probability"):
    """``p`` as a probability in [0, 1]: TypeError for what is not a number, PyTorch's
    ValueError otherwise (NaN included)."""
    if not isinstance(p, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a number in [0, 1], got {type(p).__name__} "
                        f"{p!r}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} has to be between 0 and 1, but got {p} ({fn})")
    return float(p)


def _loss_args(fn: str, input, target, weight=None, size_average=None, reduce=None,
               reduction: str = "mean") -> str:
    """The checks every loss starts with, returning its reduction: the legacy
    ``size_average``/``reduce`` mapped onto ``reduction`` (with PyTorch's warning), a known
    reduction, and ``input``, ``target`` (and ``weight``, when given) tensors on one
    device."""
    reduction = _legacy_reduction(size_average, reduce, reduction, stacklevel=4)
    _check_reduction(reduction, fn)
    if not isinstance(input, Tensor):
        _not_a_tensor(fn, "input", 1, input)
    if not isinstance(target, Tensor):
        _not_a_tensor(fn, "target", 2, target)
    if weight is None:
        same_device(fn, input, target)
        return reduction
    if not isinstance(weight, Tensor):
        _not_a_tensor(fn, "weight", 3, weight)
    same_device(fn, input, target, weight)
    return reduction


def _check_reduction(reduction: str, fn: str):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of 'mean', 'sum' or 'none', got "
                         f"{reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_same_shape(input: Tensor, target: Tensor, fn: str):
    """Refuse targets that would broadcast against the input (PyTorch only warns, and the
    broadcast silently computes a different loss, a classic bug with (N,) vs (N, 1))."""
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{fn}: target shape {tuple(target.shape)} differs from input shape "
                         f"{tuple(input.shape)}; they would broadcast into a different loss. "
                         "Reshape one of them (e.g. target.view(input.shape)) so they match")


def _check_elementwise_weight(weight: Tensor | None, input: Tensor, fn: str):
    """A weight per element must broadcast to the input's shape, never grow the loss (a
    (N, C, 1) weight beside an (N, C) input would make an (N, C, C) loss)."""
    shape = tuple(input.shape)
    if weight is not None and broadcast_shapes(f"{fn}: weight and input", tuple(weight.shape),
                                               shape) != shape:
        raise ValueError(f"{fn}: weight of shape {tuple(weight.shape)} does not broadcast to "
                         f"the input's shape {shape}; give one weight per element (or a shape "
                         "that broadcasts to it, such as the last dimension)")


def _as_float(t: Tensor, like: Tensor) -> Tensor:
    return t if t.dtype is like.dtype else t.to(like.dtype)


# ---- the legacy size_average / reduce arguments ----------------------------------------------
def _legacy_reduction(size_average, reduce, reduction: str, warn: bool = True,
                      stacklevel: int = 3) -> str:
    """Map PyTorch 0.3's ``size_average``/``reduce`` onto ``reduction``, as PyTorch does
    (the warning names the frame ``stacklevel`` up, the caller of the loss)."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    new = ("mean" if size_average else "sum") if reduce else "none"
    if warn:
        import warnings
        warnings.warn(f"size_average and reduce args are deprecated, please use "
                      f"reduction='{new}' instead.", DeprecationWarning, stacklevel=stacklevel)
    return new
