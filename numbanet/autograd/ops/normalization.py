"""Batch normalization in training mode as one op.

For each channel c (dim 1), over the M values of the batch and the spatial dims::

    mean = sum(x) / M,   var = sum((x - mean)**2) / M          (biased: used to normalise)
    x_hat = (x - mean) / sqrt(var + eps)
    y = weight * x_hat + bias

The gradient with respect to x needs all M values of the channel, because each of
them moved the mean and the variance::

    grad_x = weight / sqrt(var + eps) / M * (M * g - sum(g) - x_hat * sum(g * x_hat))
    grad_weight = sum(g * x_hat),   grad_bias = sum(g)

The forward runs on the backend directly and keeps ``x_hat`` and ``1/sqrt(var + eps)``;
the backward is written with tensor ops, reading those two through the named primitives
``NormalizedInput`` and ``InverseStd``: their forward hands back the kept values (no
work), their backward is the derivative of ``x_hat`` and of ``1/sqrt(var + eps)`` with
respect to ``x``, so that under ``create_graph=True`` the gradient is itself
differentiable, to any order, through one backward. The running statistics are the
caller's business (``batch_norm_train``, ``nn.functional.batch_norm``).
"""
from __future__ import annotations

import math

from ...tensor import Tensor
from ..function import Function
from ..grad_mode import no_grad
from .dispatch import device_mismatch, wrap
from .shape import reshape


def channel_shape(x_shape) -> tuple:
    """(1, C, 1, ...): a per-channel vector shaped to broadcast against ``x``."""
    return (1, x_shape[1]) + (1,) * (len(x_shape) - 2)


def batch_stats(x: Tensor):
    """Backend arrays (mean, biased variance), each of shape (C,), over every dim but 1."""
    be, dtype = x._device.backend, x._dtype
    dims = (0,) + tuple(range(2, x.ndim))
    count = math.prod(x._shape[d] for d in dims)
    shape = channel_shape(x._shape)
    mean = be.reduce("sum", x._data, dims, dtype)
    be.binary("mul", mean, dtype.numpy.type(1.0 / count), mean)
    centered = be.empty(x._shape, dtype)
    be.binary("sub", x._data, be.reshape_view(mean, shape), centered)
    be.binary("mul", centered, centered, centered)
    var = be.reduce("sum", centered, dims, dtype)
    be.binary("mul", var, dtype.numpy.type(1.0 / count), var)
    return mean, var


class BatchNorm(Function):
    """y = weight * (x - mean) / sqrt(var + eps) + bias with the batch's own statistics
    (``mean``, ``var``: backend arrays of shape (C,) from ``batch_stats``)."""

    @staticmethod
    def forward(ctx, x, weight, bias, mean, var, eps):
        for name, p in (("weight", weight), ("bias", bias)):
            if p is None:
                continue
            if p._device is not x._device:
                raise device_mismatch("batch_norm", x._device, p._device)
            if p._shape != (x._shape[1],) or p._dtype is not x._dtype:
                raise ValueError(f"batch_norm: {name} must be a {x._dtype.name} tensor of "
                                 f"shape ({x._shape[1]},) for an input of shape {x._shape} "
                                 f"(one value per channel), got {p._dtype.name} {p._shape}")
        be, dtype = x._device.backend, x._dtype
        shape = channel_shape(x._shape)
        inv_std = be.empty(var.shape, dtype)
        be.binary("add", var, dtype.numpy.type(eps), inv_std)
        be.unary("sqrt", inv_std, inv_std)
        be.binary("div", dtype.numpy.type(1.0), inv_std, inv_std)
        x_hat = be.empty(x._shape, dtype)
        be.binary("sub", x._data, be.reshape_view(mean, shape), x_hat)
        be.binary("mul", x_hat, be.reshape_view(inv_std, shape), x_hat)
        if weight is None:
            out = be.empty(x._shape, dtype)
            be.unary("identity", x_hat, out)
        else:
            out = be.empty(x._shape, dtype)
            be.binary("mul", x_hat, be.reshape_view(weight._data, shape), out)
        if bias is not None:
            be.binary("add", out, be.reshape_view(bias._data, shape), out)
        ctx.eps = eps
        ctx.x_hat = wrap(x_hat, x._device, dtype)
        ctx.inv_std = wrap(be.reshape_view(inv_std, shape), x._device, dtype)
        ctx.has_bias = bias is not None
        ctx.save_for_backward(x, weight)
        return wrap(out, x._device, dtype)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        dims = (0,) + tuple(range(2, x.ndim))
        count = math.prod(x.shape[d] for d in dims)
        x_hat, inv_std = _kept(x, ctx.x_hat, ctx.inv_std)
        needs = ctx.needs_input_grad
        g_sum = g.sum(dims, keepdim=True)
        g_xhat_sum = (g * x_hat).sum(dims, keepdim=True)
        gx = gw = gb = None
        if needs[0]:
            scale = inv_std * (1.0 / count)
            if weight is not None:
                scale = scale * reshape(weight, channel_shape(x.shape))
            gx = scale * (g * float(count) - g_sum - x_hat * g_xhat_sum)
        if weight is not None and needs[1]:
            gw = reshape(g_xhat_sum, (x.shape[1],))
        if ctx.has_bias and needs[2]:
            gb = reshape(g_sum, (x.shape[1],))
        return gx, gw, gb, None, None, None


class NormalizedInput(Function):
    """``x_hat = (x - mean(x)) / sqrt(var(x) + eps)`` per channel, handed back from the
    forward that computed it (``x_hat``, ``inv_std``: the values kept for ``x``). Its
    gradient is the one of a batch norm without weight::

        grad_x = inv_std * (v - mean(v) - x_hat * mean(v * x_hat))
    """

    @staticmethod
    def forward(ctx, x, x_hat, inv_std):
        ctx.save_for_backward(x, x_hat, inv_std)  # kept only when recorded (create_graph)
        return x_hat

    @staticmethod
    def backward(ctx, v):
        x, x_hat, inv_std = ctx.saved_tensors
        dims = (0,) + tuple(range(2, x.ndim))
        xh, istd = _kept(x, x_hat, inv_std)
        gx = istd * (v - v.mean(dims, keepdim=True) - xh * (v * xh).mean(dims, keepdim=True))
        return gx, None, None


class InverseStd(Function):
    """``1 / sqrt(var(x) + eps)`` per channel (shape (1, C, 1, ...)), handed back from the
    forward that computed it. Since ``d var / dx = 2 (x - mean) / M``, its gradient is
    ``grad_x = -v * inv_std**2 * x_hat / M``."""

    @staticmethod
    def forward(ctx, x, x_hat, inv_std):
        ctx.save_for_backward(x, x_hat, inv_std)  # kept only when recorded (create_graph)
        return inv_std

    @staticmethod
    def backward(ctx, v):
        x, x_hat, inv_std = ctx.saved_tensors
        count = x.numel() // x.shape[1]
        xh, istd = _kept(x, x_hat, inv_std)
        return -(v * istd * istd * (1.0 / count)) * xh, None, None


def _kept(x: Tensor, x_hat: Tensor, inv_std: Tensor):
    """The values a batch-norm forward kept for ``x``, ``x_hat`` and ``inv_std``, as
    differentiable functions of ``x`` (for a backward that runs under ``create_graph``)."""
    return NormalizedInput.apply(x, x_hat, inv_std), InverseStd.apply(x, x_hat, inv_std)


def update_running_stats_(running_mean: Tensor | None, running_var: Tensor | None,
                          mean: Tensor, var: Tensor, momentum: float, count: int,
                          unbiased: bool = True):
    """``running = (1 - momentum) * running + momentum * batch`` for the mean and the
    variance, in place and outside the graph (PyTorch's update of BatchNorm's buffers;
    Keras's ``momentum`` m is PyTorch's ``1 - m``). ``mean`` and ``var`` are the batch's
    statistics over ``count`` values per channel, the biased variance; with ``unbiased``
    the variance that goes in is ``count / (count - 1)`` times it, as in PyTorch."""
    with no_grad():
        if running_mean is not None:
            running_mean.mul_(1.0 - momentum).add_(mean.to(running_mean.dtype) * momentum)
        if running_var is not None:
            batch = var * (count / (count - 1)) if unbiased else var
            running_var.mul_(1.0 - momentum).add_(batch.to(running_var.dtype) * momentum)


def batch_norm_train(input: Tensor, weight: Tensor | None, bias: Tensor | None,
                     running_mean: Tensor | None = None, running_var: Tensor | None = None,
                     momentum: float = 0.1, eps: float = 1e-5, unbiased: bool = True) -> Tensor:
    """Batch normalization with the batch's own statistics (training mode), one recorded
    op (``BatchNorm``); ``running_mean`` and ``running_var``, when given, are updated in
    place with ``update_running_stats_`` (PyTorch's ``momentum``, the weight of the batch's
    value; with ``unbiased=False`` the biased variance goes in, as in Keras, whose
    ``momentum`` m is ``1 - m`` here). The statistics are computed once, for both.
    Arguments are checked by the caller (``nn.functional.batch_norm``, Keras's
    ``BatchNormalization``): a floating (N, C, ...) input with more than one value per
    channel, per-channel tensors of shape (C,) on its device."""
    mean, var = batch_stats(input)
    if running_mean is not None or running_var is not None:
        count = input.numel() // input._shape[1]
        update_running_stats_(running_mean, running_var, wrap(mean, input._device, input._dtype),
                              wrap(var, input._device, input._dtype), momentum, count,
                              unbiased)
    return BatchNorm.apply(input, weight, bias, mean, var, eps)
