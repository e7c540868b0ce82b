"""Convolution and pooling as functions: conv2d, max_pool2d, avg_pool2d, and the window
arithmetic (PyTorch's output-size formula, 'same' padding) that the layers share."""
from __future__ import annotations

from ...autograd.ops import convolution as _ops_conv
from ...autograd.ops import pooling as _ops_pool
from ...autograd.ops.dispatch import same_device
from ...tensor import Tensor
from .checks import _not_a_tensor


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
    geo = _ops_conv.Window(kh, kw, *stride, *pad, *dilation)
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
    return _ops_conv.Window(*kernel, *stride, *pad, *dilation), out_hw


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
