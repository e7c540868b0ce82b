"""``numbanet.nn.functional``: layers and losses as functions, with PyTorch's semantics.

Everything here is composed from the differentiable tensor ops, so it runs on every
device and autograd derives every gradient::

    import numbanet.nn.functional as F
    logits = F.linear(x, w, b)                 # x @ w.T + b, w shaped (out, in)
    loss = F.cross_entropy(logits, labels)     # labels: int64 class indices
"""
from __future__ import annotations

from .. import dtypes as _dt
from ..autograd import Function, ops
from ..autograd.grad_mode import state
from ..autograd.ops.dispatch import same_device
from ..autograd.ops.indexing import Gather, _Advanced
from ..creation import arange, rand
from ..tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


# ---- checks shared by the losses --------------------------------------------------------------
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
    if not isinstance(target, Tensor):
        raise TypeError(f"{fn}: target must be a Tensor, got {type(target).__name__}")
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{fn}: target shape {tuple(target.shape)} differs from input shape "
                         f"{tuple(input.shape)}; they would broadcast into a different loss. "
                         "Reshape one of them (e.g. target.view(input.shape)) so they match")


def _as_float(t: Tensor, like: Tensor) -> Tensor:
    return t if t.dtype is like.dtype else t.to(like.dtype)


# ---- layers ---------------------------------------------------------------------------------
def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias``, with ``weight`` shaped (out_features, in_features)."""
    if x.ndim == 0 or weight.ndim != 2 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {tuple(x.shape)} can't be multiplied by a "
                         f"weight of shape {tuple(weight.shape)} (out_features, in_features): "
                         "the input's last dimension must equal in_features")
    same = weight.dtype is x.dtype and (bias is None or bias.dtype is x.dtype)
    if not same or not x.dtype.is_floating_point or weight.ndim != 2:
        out = ops.matmul(x, weight.t())
        return out if bias is None else out + bias
    same_device("linear", x, weight, *(() if bias is None else (bias,)))
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"linear: bias of shape {tuple(bias.shape)} does not fit a weight of "
                         f"shape {tuple(weight.shape)}; expected ({weight.shape[0]},)")
    return _Linear.apply(x, weight, bias)


class _Linear(Function):
    """``x @ weight.T + bias`` as one recorded op, like PyTorch's addmm: one graph node
    instead of three, and a backward that makes the weight's gradient in the weight's own
    layout (``g.T @ x``) instead of transposing a gradient of ``weight.T``."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        flat = x if x.ndim == 2 else ops.reshape(x, (-1, x.shape[-1]))
        be = x._device.backend
        out = be.matmul(flat._data, be.permute(weight._data, (1, 0)))
        if bias is not None:
            be.binary("add", out, bias._data, out)
        out = Tensor._wrap(out, x._device, x._dtype)
        return out if x.ndim == 2 else ops.reshape(out, tuple(x.shape[:-1]) + (weight.shape[0],))

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        if not state.enabled and x.ndim == 2:  # no create_graph: straight to the backend
            be, dev, dtype = g._device.backend, g._device, g._dtype
            gx = Tensor._wrap(be.matmul(g._data, weight._data), dev, dtype) if nx else None
            gw = Tensor._wrap(be.matmul(be.permute(g._data, (1, 0)), x._data), dev, dtype) \
                if nw else None
            gb = Tensor._wrap(be.reduce("sum", g._data, (0,), dtype), dev, dtype) \
                if nb and ctx.has_bias else None
            return gx, gw, gb
        g2 = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
        gx = g2.mm(weight).reshape(x.shape) if nx else None
        gw = g2.t().mm(x if x.ndim == 2 else x.reshape(-1, x.shape[-1])) if nw else None
        gb = g2.sum(0) if nb and ctx.has_bias else None
        return gx, gw, gb


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0). ``inplace`` is accepted for PyTorch compatibility and ignored."""
    return ops.relu(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else ``negative_slope * x``."""
    return ops.where(x > 0, x, x * negative_slope)


def sigmoid(x: Tensor) -> Tensor:
    return ops.sigmoid(x)


def tanh(x: Tensor) -> Tensor:
    return ops.tanh(x)


def softmax(x: Tensor, dim: int) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, computed stably."""
    return ops.softmax(x, dim)


def log_softmax(x: Tensor, dim: int) -> Tensor:
    """log(softmax(x, dim)), computed stably (never takes the log of an underflowed 0)."""
    return ops.log_softmax(x, dim)


def dropout(x: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p), so the
    expected value is unchanged; the identity when not ``training``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0
    keep = rand(*x.shape, dtype=x.dtype if x.dtype.is_floating_point else None,
                device=x.device) >= p
    return x * _as_float(keep, x) * (1.0 / (1.0 - p))


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return ops.flatten(x, start_dim, end_dim)


# ---- regression losses ----------------------------------------------------------------------
def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean") -> Tensor:
    """Squared error (input - target)**2, averaged, summed or per element."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "mse_loss")
    _check_same_shape(input, target, "mse_loss")
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean") -> Tensor:
    """Absolute error |input - target|, averaged, summed or per element."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "l1_loss")
    _check_same_shape(input, target, "l1_loss")
    return _reduce(ops.abs(input - target), reduction)


# ---- classification losses ------------------------------------------------------------------
def _check_class_target(input: Tensor, target: Tensor, fn: str):
    if not isinstance(target, Tensor):
        raise TypeError(f"{fn}: target must be a Tensor of int64 class indices, got "
                        f"{type(target).__name__}")
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


def _pick_classes(logp: Tensor, target: Tensor, n_classes: int) -> Tensor | None:
    """``logp[n, target[n]]`` of a (N, C) ``logp`` as one recorded gather, or None when the
    targets are not all in [0, C) (then the general path skips the ignored ones and names
    a bad one)."""
    same_device("nll_loss", logp, target)
    n = target.shape[0]
    if n == 0:
        return None
    be = target._device.backend
    low = be.to_host(be.reduce("min", target._data, (0,), _dt.int64)).item()
    high = be.to_host(be.reduce("max", target._data, (0,), _dt.int64)).item()
    if low < 0 or high >= n_classes:
        return None
    flat = be.arange(0, n * n_classes, n_classes, _dt.int64)  # row n starts at n * C
    be.binary("add", flat, target._data, flat)
    return Gather.apply(logp, _Advanced((n, n_classes), [0, 1], flat, (n,), True))


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log likelihood: ``-input[n, target[n]]`` for log-probabilities ``input``
    of shape (N, C) (or (C,), or (N, C, d1, ...)) and int64 class indices ``target``.

    With ``weight`` (one per class), each term is scaled by its class's weight and 'mean'
    divides by the total weight, as in PyTorch; targets equal to ``ignore_index`` add
    nothing."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "nll_loss")
    _check_class_target(input, target, "nll_loss")
    n_classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    if weight is not None and tuple(weight.shape) != (n_classes,):
        raise ValueError(f"nll_loss: weight must have shape ({n_classes},), one per class, got "
                         f"{tuple(weight.shape)}")
    if weight is None and input.ndim == 2 and not 0 <= ignore_index < n_classes:
        picked = _pick_classes(input, target, n_classes)
        if picked is not None:  # the common case: one gather instead of a dozen ops
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
    return loss.sum() / w.sum()


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean") -> Tensor:
    """Softmax cross entropy of raw scores ``input`` (N, C) against ``target``: int64
    class indices of shape (N,), or class probabilities with the input's shape.

    Computed as ``nll_loss(log_softmax(input, 1), target)``, which stays finite for any
    logits (a softmax followed by log would give log(0) = -inf)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "cross_entropy")
    if input.ndim == 0:
        raise ValueError("cross_entropy: input must have a class dimension, got a scalar")
    class_dim = 0 if input.ndim == 1 else 1
    logp = ops.log_softmax(input, class_dim)
    if isinstance(target, Tensor) and target.dtype.is_floating_point:
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
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy")
    _check_same_shape(input, target, "binary_cross_entropy")
    if input.numel() and bool(ops.any((input.detach() < 0) | (input.detach() > 1))):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 "
                         "and 1 (probabilities); for raw scores use "
                         "binary_cross_entropy_with_logits")
    log_x, log_1mx = _log_clamped_at_minus_100(input), _log_clamped_at_minus_100(1 - input)
    loss = -(target * log_x + (1 - target) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


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
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    _check_same_shape(input, target, "binary_cross_entropy_with_logits")
    # -|x| written so that its slope at x = 0 is +1: with relu's slope 0 there, the gradient
    # at 0 is the true sigmoid(0) - y rather than a subgradient.
    minus_abs = ops.where(input > 0, -input, input)
    loss = ops.relu(input) - input * target + ops.log(1 + ops.exp(minus_abs))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# ---- the legacy size_average / reduce arguments ----------------------------------------------
def _legacy_reduction(size_average, reduce, reduction: str, warn: bool = True) -> str:
    """Map PyTorch 0.3's ``size_average``/``reduce`` onto ``reduction``, as PyTorch does."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    new = ("mean" if size_average else "sum") if reduce else "none"
    if warn:
        import warnings
        warnings.warn(f"size_average and reduce args are deprecated, please use "
                      f"reduction='{new}' instead.", DeprecationWarning, stacklevel=3)
    return new


__all__ = ["linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax",
           "dropout", "flatten", "mse_loss", "l1_loss", "nll_loss", "cross_entropy",
           "binary_cross_entropy", "binary_cross_entropy_with_logits"]
