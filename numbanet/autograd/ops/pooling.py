"""Max and average pooling over 2-D windows, and their gradients as ops of their own.

Each pooling op's gradient is a linear map of the incoming gradient, written as a
Function whose own gradient is the adjoint map again: average pooling and "spread
back over the window" are each other's adjoints, and so are "send to the argmax
pixel" and "gather from the argmax pixel". Gradients of every order therefore exist.
The window ``geo`` is a ``Window`` of the backend contract (kh, kw, sh, sw, ph, pw, dh, dw,
see backend/windows.py); arguments are checked by ``nn.functional`` before these run.
"""
from __future__ import annotations

from ... import dtypes as dt
from ...creation import arange
from ..function import Function
from .dispatch import wrap
from .elementwise import where
from .shape import reshape


class MaxPool2d(Function):
    """(values, indices) of the maximum of every window; indices are int64 flat positions
    ``ih * W + iw`` within each (H, W) plane, as PyTorch's ``return_indices=True`` gives."""

    @staticmethod
    def forward(ctx, x, geo, out_hw):
        values, indices = x._device.backend.max_pool2d(x._data, geo, out_hw)
        indices = wrap(indices, x._device, dt.int64)
        ctx.geo, ctx.shape = geo, x._shape
        ctx.save_for_backward(indices)
        return wrap(values, x._device, x._dtype), indices

    @staticmethod
    def backward(ctx, g, _):
        indices, = ctx.saved_tensors
        return MaxPool2dBackward.apply(g, indices, ctx.geo, ctx.shape), None, None


class MaxPool2dBackward(Function):
    """Each output gradient sent to the pixel its window's maximum came from."""

    @staticmethod
    def forward(ctx, g, indices, geo, shape):
        ctx.save_for_backward(indices)
        ctx.shape = shape
        out = g._device.backend.max_pool2d_backward(g._data, indices._data, geo, shape)
        return wrap(out, g._device, g._dtype)

    @staticmethod
    def backward(ctx, gg):
        indices, = ctx.saved_tensors
        return _gather_at(gg, indices, ctx.shape), None, None, None


def _gather_at(image, indices, shape):
    """``image[n, c].flatten()[indices[n, c]]`` for every plane, 0 where the index is -1 (a
    window wholly in the padding, which sent nothing): the adjoint of sending to the indexed
    pixels, as a differentiable gather."""
    n, c, h, w = shape
    planes = reshape(arange(n * c, device=indices.device) * (h * w), (n, c, 1, 1))
    sent = indices >= 0
    flat = reshape(where(sent, indices, 0) + planes, (-1,))
    return where(sent, reshape(reshape(image, (-1,))[flat], indices.shape), 0.0)


class AvgPool2d(Function):
    """The mean of every window (divided by PyTorch's rule, see backend/windows.py)."""

    @staticmethod
    def forward(ctx, x, geo, out_hw, count_include_pad, divisor_override):
        ctx.args = (geo, x._shape, count_include_pad, divisor_override)
        ctx.out_hw = out_hw
        out = x._device.backend.avg_pool2d(x._data, geo, out_hw, count_include_pad,
                                           divisor_override)
        return wrap(out, x._device, x._dtype)

    @staticmethod
    def backward(ctx, g):
        return AvgPool2dBackward.apply(g, ctx.out_hw, *ctx.args), None, None, None, None


class AvgPool2dBackward(Function):
    """Each output gradient, divided as the forward divided, spread over its window."""

    @staticmethod
    def forward(ctx, g, out_hw, geo, shape, count_include_pad, divisor_override):
        ctx.args = (geo, out_hw, count_include_pad, divisor_override)
        out = g._device.backend.avg_pool2d_backward(g._data, geo, shape, count_include_pad,
                                                    divisor_override)
        return wrap(out, g._device, g._dtype)

    @staticmethod
    def backward(ctx, gg):
        return (AvgPool2d.apply(gg, *ctx.args),) + (None,) * 5
