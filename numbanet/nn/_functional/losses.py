"""Losses as functions: mse_loss, l1_loss, nll_loss, cross_entropy,
binary_cross_entropy and binary_cross_entropy_with_logits, with PyTorch's reductions,
class weights and ``ignore_index``."""
from __future__ import annotations

import math

from ... import dtypes as _dt
from ...autograd import Function, ops
from ...autograd.ops.indexing import pick_classes
from ...creation import arange
from ...tensor import Tensor
from .checks import (
    _as_float,
    _check_elementwise_weight,
    _check_same_shape,
    _loss_args,
    _reduce,
)


# ---- regression losses ----------------------------------------------------------------------
def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean") -> Tensor:
    """Squared error (input - target)**2, averaged, summed or per element."""
    reduction = _loss_args("mse_loss", input, target, None, size_average, reduce, reduction)
    _check_same_shape(input, target, "mse_loss")
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean") -> Tensor:
    """Absolute error |input - target|, averaged, summed or per element."""
    reduction = _loss_args("l1_loss", input, target, None, size_average, reduce, reduction)
    _check_same_shape(input, target, "l1_loss")
    return _reduce(ops.abs(input - target), reduction)


# ---- classification losses ------------------------------------------------------------------
def _check_class_target(input: Tensor, target: Tensor, fn: str):
    if target.dtype is not _dt.int64:
        raise TypeError(f"{fn}: class-index targets must be int64, got {target.dtype.name} "
                        f"with shape {tuple(target.shape)}; use target.long() (or, for class "
                        "probabilities, a float target with the input's shape)")
    if input.ndim == 0:
        raise ValueError(f"{fn}: input must have a class dimension, got a scalar")
    expected = () if input.ndim == 1 else (input.shape[0],) + tuple(input.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(f"{fn}: for input of shape {tuple(input.shape)} (batch, classes, ...) "
                         f"the target must have shape {expected}, got {tuple(target.shape)}")


def _check_class_range(target: Tensor, n_classes: int, ignore_index: int, fn: str):
    if target.numel() == 0:
        return
    valid = target != ignore_index
    if not bool(ops.any(valid)):
        return
    low = int(ops.where(valid, target, 0).min())
    high = int(ops.where(valid, target, 0).max())
    if low < 0 or high >= n_classes:
        bad = low if low < 0 else high
        raise IndexError(f"{fn}: target {bad} is out of bounds for {n_classes} classes "
                         f"(targets must be in [0, {n_classes - 1}])")


def _classes_last(x: Tensor) -> Tensor:
    """(N, C, d1, ...) -> (N*d1*..., C); (C,) -> (1, C)."""
    if x.ndim == 1:
        return x.unsqueeze(0)
    if x.ndim == 2:
        return x
    order = (0,) + tuple(range(2, x.ndim)) + (1,)
    return x.permute(*order).reshape(-1, x.shape[1])


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log likelihood: ``-input[n, target[n]]`` for log-probabilities ``input``
    of shape (N, C) (or (C,), or (N, C, d1, ...)) and int64 class indices ``target``.

    With ``weight`` (one per class), each term is scaled by its class's weight and 'mean'
    divides by the total weight, as in PyTorch; targets equal to ``ignore_index`` add
    nothing."""
    reduction = _loss_args("nll_loss", input, target, weight, size_average, reduce, reduction)
    _check_class_target(input, target, "nll_loss")
    n_classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    if weight is not None and tuple(weight.shape) != (n_classes,):
        raise ValueError(f"nll_loss: weight must have shape ({n_classes},), one per class, got "
                         f"{tuple(weight.shape)}")
    if weight is None and input.ndim == 2 and target.shape[0] and \
            not 0 <= ignore_index < n_classes:
        try:  # the common case: one gather instead of a dozen ops
            picked = pick_classes(input, target)
        except IndexError:  # an ignored target, or a bad one: the general path below
            picked = None
        if picked is not None:
            if reduction == "none":
                return -picked
            total = picked.sum()
            return total * (-1.0 / picked.shape[0]) if reduction == "mean" else -total
    _check_class_range(target, n_classes, ignore_index, "nll_loss")
    logp = _classes_last(input)
    flat_target = target.reshape(-1)
    valid = flat_target != ignore_index
    safe_target = ops.where(valid, flat_target, 0)
    picked = logp[arange(logp.shape[0], device=input.device), safe_target]
    w = _as_float(valid, input)
    if weight is not None:
        w = w * weight[safe_target]
    loss = -picked * w
    if reduction == "none":
        return loss.reshape(target.shape)
    if reduction == "sum":
        return loss.sum()
    total = w.sum()
    none = total == 0  # every target ignored: nan, as in PyTorch, but a zero gradient
    return loss.sum() / ops.where(none, 1.0, total) + ops.where(none, math.nan, 0.0)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean") -> Tensor:
    """Softmax cross entropy of raw scores ``input`` (N, C) against ``target``: int64
    class indices of shape (N,), or class probabilities with the input's shape.

    Computed as ``nll_loss(log_softmax(input, 1), target)``, which stays finite for any
    logits (a softmax followed by log would give log(0) = -inf)."""
    reduction = _loss_args("cross_entropy", input, target, weight, size_average, reduce, reduction)
    if input.ndim == 0:
        raise ValueError("cross_entropy: input must have a class dimension, got a scalar")
    class_dim = 0 if input.ndim == 1 else 1
    logp = ops.log_softmax(input, class_dim)
    if target.dtype.is_floating_point:
        if tuple(target.shape) != tuple(input.shape):
            raise TypeError(f"cross_entropy: class-index targets must be int64, got "
                            f"{target.dtype.name} with shape {tuple(target.shape)}; use "
                            "target.long(), or give class probabilities with the input's "
                            f"shape {tuple(input.shape)}")
        _check_same_shape(input, target, "cross_entropy (class probabilities)")
        if weight is not None:
            shape = [1] * input.ndim
            shape[class_dim] = input.shape[class_dim]
            logp = logp * weight.reshape(*shape)
        loss = -(logp * target).sum(class_dim)
        return _reduce(loss, reduction)
    return nll_loss(logp, target, weight=weight, ignore_index=ignore_index,
                    reduction=reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """-(y log(x) + (1-y) log(1-x)) for probabilities ``input`` in [0, 1]. Each log is
    clamped at -100, as in PyTorch, so x = 0 or 1 gives a finite loss."""
    reduction = _loss_args("binary_cross_entropy", input, target, weight, size_average, reduce,
                           reduction)
    _check_same_shape(input, target, "binary_cross_entropy")
    _check_elementwise_weight(weight, input, "binary_cross_entropy")
    for name, t in (("input", input), ("target", target)):
        d = t.detach()
        if not bool(ops.all((d >= 0) & (d <= 1))):  # NaN fails both comparisons
            raise RuntimeError(f"all elements of {name} should be between 0 and 1 "
                               f"(binary_cross_entropy got a {name} of shape {tuple(t.shape)} "
                               "with values outside [0, 1] or NaN)"
                               + ("; for raw scores use binary_cross_entropy_with_logits"
                                  if name == "input" else ""))
    loss = _BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


_BCE_EPSILON = 9.999999960041972e-13  # PyTorch's 1e-12, as a float32


class _BinaryCrossEntropy(Function):
    """The elementwise loss, with PyTorch's gradients: ``(x - y) / max(x (1 - x), eps)``
    for x, which is 0 where x = y = 0 or 1, and ``log(1 - x) - log(x)`` for y."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return -(y * _log_clamped_at_minus_100(x) + (1 - y) * _log_clamped_at_minus_100(1 - x))

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        nx, ny = ctx.needs_input_grad
        gx = _BinaryCrossEntropyBackward.apply(g, x, y) if nx else None
        gy = g * (ops.log(1 - x) - ops.log(x)) if ny else None
        return gx, gy


class _BinaryCrossEntropyBackward(Function):
    """``g (x - y) / d`` with ``d = max(x (1 - x), eps)``, and its own gradients as
    PyTorch's double backward: ``g (x² - 2xy + y) / d²`` for x and ``-g / d`` for y."""

    @staticmethod
    def forward(ctx, g, x, y):
        ctx.save_for_backward(g, x, y)
        return g * (x - y) / ops.clamp((1 - x) * x, min=_BCE_EPSILON)

    @staticmethod
    def backward(ctx, gg):
        g, x, y = ctx.saved_tensors
        ng, nx, ny = ctx.needs_input_grad
        d = ops.clamp((1 - x) * x, min=_BCE_EPSILON)
        return (gg * (x - y) / d if ng else None,
                gg * g * (x * x - 2 * x * y + y) / (d * d) if nx else None,
                -gg * g / d if ny else None)


def _log_clamped_at_minus_100(p: Tensor) -> Tensor:
    """max(log(p), -100) whose gradient stays finite at p = 0: log only ever sees positive
    values (a plain clamp(log(p)) would backpropagate 0 * inf = nan there)."""
    positive = p > 0
    safe = ops.where(positive, p, 1.0)
    return ops.where(positive, ops.clamp(ops.log(safe), min=-100), -100.0)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean") -> Tensor:
    """Binary cross entropy of ``sigmoid(input)``, in the stable form
    max(x, 0) - x*y + log(1 + exp(-|x|)), which never overflows exp."""
    reduction = _loss_args("binary_cross_entropy_with_logits", input, target, weight,
                           size_average, reduce, reduction)
    _check_same_shape(input, target, "binary_cross_entropy_with_logits")
    _check_elementwise_weight(weight, input, "binary_cross_entropy_with_logits")
    # -|x| written so that its slope at x = 0 is +1: with relu's slope 0 there, the gradient
    # at 0 is the true sigmoid(0) - y rather than a subgradient.
    minus_abs = ops.where(input > 0, -input, input)
    loss = ops.relu(input) - input * target + ops.log(1 + ops.exp(minus_abs))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)
