"""``numbanet.nn.functional``: layers and losses as functions, with PyTorch's semantics.

Everything here is composed from the differentiable tensor ops, so it runs on every
device and autograd derives every gradient::

    import numbanet.nn.functional as F
    logits = F.linear(x, w, b)                 # x @ w.T + b, w shaped (out, in)
    loss = F.cross_entropy(logits, labels)     # labels: int64 class indices
"""
from __future__ import annotations

import math
import numbers

from .. import dtypes as _dt
from ..autograd import Function, ops
from ..autograd.ops.dispatch import same_device
from ..autograd.ops import convolution as _ops_conv
from ..autograd.ops import normalization as _ops_norm
from ..autograd.ops import pooling as _ops_pool
from ..autograd.ops.indexing import pick_classes
from ..autograd.ops.linalg import linear
from ..creation import arange, full_like, rand
from ..shapes import broadcast_shapes
from ..tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


# ---- argument checks ------------------------------------------------------------------------
def _not_a_tensor(fn: str, name: str, position: int, value):
    """PyTorch's TypeError for an argument that should be a Tensor (a list, an array...)."""
    raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be Tensor, not "
                    f"{type(value).__name__}; convert it with nb.tensor(...)")


def _probability(p, fn: str, name: str = "dropout probability"):
    """``p`` as a probability in [0, 1]: TypeError for what is not a number, PyTorch's
    ValueError otherwise (NaN included)."""
    if not isinstance(p, numbers.Real):
        raise TypeError(f"{fn}: {name} must be a number in [0, 1], got {type(p).__name__} "
                        f"{p!r}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} has to be between 0 and 1, but got {p} ({fn})")
    return float(p)


def _loss_args(fn: str, input, target, weight=None):
    """The checks every loss starts with: ``input``, ``target`` (and ``weight``, when given)
    are tensors on one device."""
    if not isinstance(input, Tensor):
        _not_a_tensor(fn, "input", 1, input)
    if not isinstance(target, Tensor):
        _not_a_tensor(fn, "target", 2, target)
    if weight is None:
        same_device(fn, input, target)
        return
    if not isinstance(weight, Tensor):
        _not_a_tensor(fn, "weight", 3, weight)
    same_device(fn, input, target, weight)


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


# ---- layers ---------------------------------------------------------------------------------
# ``inplace=True`` writes the result into ``x`` and returns ``x``, as PyTorch does; a leaf
# that requires grad is refused by the in-place op itself.
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(input, 0)."""
    if not isinstance(input, Tensor):
        _not_a_tensor("relu", "input", 1, input)
    return input.relu_() if inplace else ops.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """input where input > 0, else ``negative_slope * input``."""
    if not isinstance(input, Tensor):
        _not_a_tensor("leaky_relu", "input", 1, input)
    if inplace:  # input times 1 or the slope: its gradient is that factor, as out of place
        return input.mul_(ops.where(input > 0, 1.0, full_like(input, negative_slope)))
    return ops.where(input > 0, input, input * negative_slope)


def sigmoid(input: Tensor) -> Tensor:
    if not isinstance(input, Tensor):
        _not_a_tensor("sigmoid", "input", 1, input)
    return ops.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    if not isinstance(input, Tensor):
        _not_a_tensor("tanh", "input", 1, input)
    return ops.tanh(input)


def softmax(input: Tensor, dim: int) -> Tensor:
    """exp(input) / sum(exp(input)) along ``dim``, computed stably."""
    if not isinstance(input, Tensor):
        _not_a_tensor("softmax", "input", 1, input)
    return ops.softmax(input, dim)


def log_softmax(input: Tensor, dim: int) -> Tensor:
    """log(softmax(input, dim)), computed stably (never takes the log of an underflowed 0)."""
    if not isinstance(input, Tensor):
        _not_a_tensor("log_softmax", "input", 1, input)
    return ops.log_softmax(input, dim)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p), so the
    expected value is unchanged; the identity when not ``training``."""
    if not isinstance(input, Tensor):
        _not_a_tensor("dropout", "input", 1, input)
    p = _probability(p, "dropout")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        factor = 0
    else:
        keep = rand(input.shape, dtype=input.dtype if input.dtype.is_floating_point else None,
                    device=input.device) >= p
        factor = _as_float(keep, input) * (1.0 / (1.0 - p))
    return input.mul_(factor) if inplace else input * factor


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if not isinstance(input, Tensor):
        _not_a_tensor("flatten", "input", 1, input)
    return ops.flatten(input, start_dim, end_dim)


# ---- regression losses ----------------------------------------------------------------------
def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean") -> Tensor:
    """Squared error (input - target)**2, averaged, summed or per element."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "mse_loss")
    _loss_args("mse_loss", input, target)
    _check_same_shape(input, target, "mse_loss")
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean") -> Tensor:
    """Absolute error |input - target|, averaged, summed or per element."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "l1_loss")
    _loss_args("l1_loss", input, target)
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
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "nll_loss")
    _loss_args("nll_loss", input, target, weight)
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
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "cross_entropy")
    _loss_args("cross_entropy", input, target, weight)
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
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy")
    _loss_args("binary_cross_entropy", input, target, weight)
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
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    _loss_args("binary_cross_entropy_with_logits", input, target, weight)
    _check_same_shape(input, target, "binary_cross_entropy_with_logits")
    _check_elementwise_weight(weight, input, "binary_cross_entropy_with_logits")
    # -|x| written so that its slope at x = 0 is +1: with relu's slope 0 there, the gradient
    # at 0 is the true sigmoid(0) - y rather than a subgradient.
    minus_abs = ops.where(input > 0, -input, input)
    loss = ops.relu(input) - input * target + ops.log(1 + ops.exp(minus_abs))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# ---- convolution and pooling ----------------------------------------------------------------
def _pair(value, what: str, fn: str, minimum: int) -> tuple:
    """An int or a pair of ints (height, width), each at least ``minimum``."""
    pair = (value, value) if isinstance(value, int) else tuple(value) \
        if isinstance(value, (tuple, list)) else None
    if pair is None or len(pair) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{fn}: {what} must be an int or a pair of ints (height, width), got "
                        f"{value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{fn}: {what} must be at least {minimum}, got {value!r}")
    return pair


def _window_output(size, kernel, stride, pad, dilation, ceil_mode=False) -> int:
    """How many windows fit along one dimension (PyTorch's formula)."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1  # the last window would start in the right padding
    return out


def _image_input(input, fn: str, what: str = "(N, C, H, W) or unbatched (C, H, W)"):
    """``input`` as a 4-D tensor, and whether it was unbatched (3-D)."""
    if not isinstance(input, Tensor):
        _not_a_tensor(fn, "input", 1, input)
    if input.ndim not in (3, 4):
        raise ValueError(f"{fn}: expected a 4-D input {what}, got shape {tuple(input.shape)}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"{fn}: input must be a floating point tensor, got {input.dtype.name}; "
                        "convert it with .float()")
    return (input.unsqueeze(0), True) if input.ndim == 3 else (input, False)


def _conv_padding(padding, kernel, dilation, stride, fn):
    """(padding used, rows/cols to crop from the start of the output) for an int, a pair,
    'valid' or 'same'. 'same' with an odd total padding pads one more on the right; it is
    done by padding the larger amount on both sides and dropping the first output row."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding != "same":
            raise ValueError(f"{fn}: padding must be an int, a pair of ints, 'valid' or "
                             f"'same', got {padding!r}")
        if stride != (1, 1):
            raise ValueError(f"{fn}: padding='same' is not supported for strided convolutions "
                             f"(stride {stride}); use stride=1 or give the padding as a number")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        pads = tuple(t - t // 2 for t in totals)
        crops = tuple(t % 2 for t in totals)
        return pads, crops
    return _pair(padding, "padding", fn, 0), (0, 0)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as in every deep-learning library) of an
    (N, C, H, W) input with an (O, C/groups, kh, kw) weight: (N, O, OH, OW) with
    ``OH = (H + 2*padding - dilation*(kh - 1) - 1) // stride + 1`` (the same for W).

    Computed as im2col + matrix product (see ``numbanet/autograd/ops/convolution.py``)::

        x = nb.randn(1, 3, 8, 8)
        w = nb.randn(16, 3, 3, 3)
        F.conv2d(x, w, padding=1).shape      # (1, 16, 8, 8)
    """
    return _conv2d(input, weight, bias, stride, padding, dilation, groups, "conv2d")


def _conv2d(input, weight, bias, stride, padding, dilation, groups, fn):
    x, unbatched = _image_input(input, fn)
    if not isinstance(weight, Tensor):
        _not_a_tensor(fn, "weight", 2, weight)
    if bias is not None and not isinstance(bias, Tensor):
        _not_a_tensor(fn, "bias", 3, bias)
    if weight.ndim != 4:
        raise ValueError(f"{fn}: weight must be a 4-D tensor (out_channels, in_channels/groups, "
                         f"kh, kw), got shape {tuple(weight.shape)}")
    if not isinstance(groups, int) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{fn}: groups must be a positive int, got {groups!r}")
    o, c_per_group, kh, kw = weight.shape
    if x.shape[1] != c_per_group * groups:
        raise ValueError(f"{fn}: expected input with {c_per_group * groups} channels (weight "
                         f"{tuple(weight.shape)}, groups={groups}), got input of shape "
                         f"{tuple(input.shape)}")
    if 0 in x.shape[2:]:
        raise RuntimeError(f"{fn}: Only zero batch or zero channel inputs are supported, but "
                           f"got input shape: {list(input.shape)}")
    if o % groups:
        raise ValueError(f"{fn}: out_channels {o} (weight {tuple(weight.shape)}) must be "
                         f"divisible by groups={groups}")
    if weight.dtype is not x.dtype or (bias is not None and bias.dtype is not x.dtype):
        raise TypeError(f"{fn}: input ({x.dtype.name}), weight ({weight.dtype.name})"
                        + (f" and bias ({bias.dtype.name})" if bias is not None else "")
                        + " must have the same dtype; convert with .to(dtype)")
    same_device(fn, x, weight, *(() if bias is None else (bias,)))
    if bias is not None and tuple(bias.shape) != (o,):
        raise ValueError(f"{fn}: bias of shape {tuple(bias.shape)} does not fit weight "
                         f"{tuple(weight.shape)}; expected ({o},)")
    stride = _pair(stride, "stride", fn, 1)
    dilation = _pair(dilation, "dilation", fn, 1)
    pad, crop = _conv_padding(padding, (kh, kw), dilation, stride, fn)
    h, w = x.shape[2], x.shape[3]
    reach = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    if h + 2 * pad[0] < reach[0] or w + 2 * pad[1] < reach[1]:
        raise ValueError(f"{fn}: the padded input ({h + 2 * pad[0]}, {w + 2 * pad[1]}) is "
                         f"smaller than the (dilated) kernel ({reach[0]}, {reach[1]}) of weight "
                         f"{tuple(weight.shape)}; input shape {tuple(input.shape)}. Use a "
                         "larger input, more padding or a smaller kernel")
    out_hw = (_window_output(h, kh, stride[0], pad[0], dilation[0]),
              _window_output(w, kw, stride[1], pad[1], dilation[1]))
    geo = (kh, kw) + stride + pad + dilation
    out = _ops_conv.Conv2d.apply(x, weight, bias, geo, groups, out_hw)
    if crop != (0, 0):
        out = out[:, :, crop[0]:, crop[1]:]
    return out.squeeze(0) if unbatched else out


def _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode, fn):
    kernel = _pair(kernel_size, "kernel_size", fn, 1)
    stride = kernel if stride is None or stride == () or stride == [] else \
        _pair(stride, "stride", fn, 1)
    pad = _pair(padding, "padding", fn, 0)
    dilation = _pair(dilation, "dilation", fn, 1)
    if pad[0] > kernel[0] // 2 or pad[1] > kernel[1] // 2:
        raise ValueError(f"{fn}: padding {pad} must be at most half of kernel_size {kernel}")
    if 0 in x.shape[1:]:
        raise RuntimeError(f"{fn}: Expected 3D or 4D (batch mode) tensor with optional 0 dim "
                           f"batch size for input, but got: {list(x.shape)}; only the batch "
                           "may be empty")
    h, w = x.shape[2], x.shape[3]
    out_hw = (_window_output(h, kernel[0], stride[0], pad[0], dilation[0], ceil_mode),
              _window_output(w, kernel[1], stride[1], pad[1], dilation[1], ceil_mode))
    if min(out_hw) < 1:
        raise ValueError(f"{fn}: input of shape {tuple(x.shape)} is too small for "
                         f"kernel_size {kernel}, stride {stride}, padding {pad}, dilation "
                         f"{dilation}: the output would be {out_hw}. Use a smaller kernel or "
                         "more padding")
    return kernel + stride + pad + dilation, out_hw


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """The maximum of each ``kernel_size`` window (stride defaults to the kernel size, so
    windows do not overlap). Padding counts as -inf. With ``return_indices``, also the
    flat position ``h * W + w`` of each maximum in its plane (int64)::

        F.max_pool2d(nb.randn(1, 8, 28, 28), 2).shape     # (1, 8, 14, 14)
    """
    x, unbatched = _image_input(input, "max_pool2d")
    geo, out_hw = _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode,
                                 "max_pool2d")
    values, indices = _ops_pool.MaxPool2d.apply(x, geo, out_hw)
    if unbatched:
        values, indices = values.squeeze(0), indices.squeeze(0)
    return (values, indices) if return_indices else values


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """The mean of each ``kernel_size`` window (stride defaults to the kernel size). With
    ``count_include_pad`` the zero padding counts in the divisor; ``divisor_override``
    replaces the divisor altogether."""
    x, unbatched = _image_input(input, "avg_pool2d")
    geo, out_hw = _pool_geometry(x, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")
    if divisor_override is not None and (not isinstance(divisor_override, int)
                                         or divisor_override <= 0):
        raise ValueError(f"avg_pool2d: divisor_override must be a positive int, got "
                         f"{divisor_override!r}")
    out = _ops_pool.AvgPool2d.apply(x, geo, out_hw, bool(count_include_pad),
                                    divisor_override or 0)
    return out.squeeze(0) if unbatched else out


# ---- normalization ----------------------------------------------------------------------------
def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) to zero mean and unit variance, then scale by
    ``weight`` and shift by ``bias``.

    ``training=True`` uses the batch's statistics (biased variance) and updates the running
    estimates in place: ``running = (1 - momentum) * running + momentum * batch``, with the
    unbiased variance, as PyTorch does. ``training=False`` uses the running estimates."""
    fn = "batch_norm"
    given = []
    for position, (name, t) in enumerate((("input", input), ("running_mean", running_mean),
                                          ("running_var", running_var), ("weight", weight),
                                          ("bias", bias)), 1):
        if t is not None or position == 1:
            if not isinstance(t, Tensor):
                _not_a_tensor(fn, name, position, t)
            given.append(t)
    same_device(fn, *given)
    if input.ndim < 2:
        raise ValueError(f"{fn}: expected an input of at least 2 dims (N, C, ...), got shape "
                         f"{tuple(input.shape)}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"{fn}: input must be a floating point tensor, got {input.dtype.name}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"{fn}: {name} of shape {tuple(t.shape)} does not fit an input of "
                             f"shape {tuple(input.shape)} with {c} channels; expected ({c},)")
    shape = _ops_norm.channel_shape(input.shape)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError(f"{fn}: running_mean and running_var are needed when not training")
        scale = (running_var + eps) ** -0.5
        if weight is not None:
            scale = scale * weight
        shift = -running_mean * scale
        if bias is not None:
            shift = shift + bias
        return input * scale.reshape(shape) + shift.reshape(shape)
    count = input.numel() // c
    if count <= 1:
        raise ValueError(f"{fn}: expected more than 1 value per channel when training, got "
                         f"input of shape {tuple(input.shape)}; use a larger batch or eval()")
    return _ops_norm.batch_norm_train(input, weight, bias, running_mean, running_var,
                                      momentum, eps)


# ---- embedding --------------------------------------------------------------------------------
def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm=None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by the int64 ``input``:
    shape ``input.shape + (embedding_dim,)``. The row at ``padding_idx`` gets no gradient."""
    fn = "embedding"
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError(f"{fn}: max_norm, scale_grad_by_freq and sparse are not "
                                  "supported; leave them at their defaults")
    if not isinstance(input, Tensor):
        _not_a_tensor(fn, "input", 1, input)
    if not isinstance(weight, Tensor):
        _not_a_tensor(fn, "weight", 2, weight)
    if input.dtype is not _dt.int64:
        raise TypeError(f"{fn}: input must be an int64 tensor of indices, got "
                        f"{input.dtype.name}; convert it with .long()")
    if weight.ndim != 2:
        raise ValueError(f"{fn}: weight must be 2-D (num_embeddings, embedding_dim), got shape "
                         f"{tuple(weight.shape)}")
    same_device(fn, input, weight)
    n = weight.shape[0]
    if padding_idx is not None:
        padding_idx = _padding_index(padding_idx, n, fn)
    if input.numel():
        low, high = int(input.min()), int(input.max())
        if low < 0 or high >= n:
            bad = low if low < 0 else high
            raise IndexError(f"{fn}: index {bad} is out of range for {n} embeddings (indices "
                             f"must be in [0, {n - 1}])")
    rows = weight[input]
    if padding_idx is None:
        return rows
    return ops.where((input == padding_idx).unsqueeze(-1), rows.detach(), rows)


def _padding_index(padding_idx, num_embeddings: int, fn: str) -> int:
    """``padding_idx`` as a row of the table, counted from the end when negative; PyTorch's
    AssertionError when it is outside the table."""
    if not isinstance(padding_idx, numbers.Integral) or isinstance(padding_idx, bool):
        raise TypeError(f"{fn}(): argument 'padding_idx' must be int, not "
                        f"{type(padding_idx).__name__}")
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise AssertionError(f"Padding_idx must be within num_embeddings: {fn} got padding_idx "
                             f"{padding_idx} for {num_embeddings} embeddings; use a value in "
                             f"[{-num_embeddings}, {num_embeddings - 1}] or None")
    return int(padding_idx) % num_embeddings


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
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "conv2d",
           "max_pool2d", "avg_pool2d", "batch_norm", "embedding"]
