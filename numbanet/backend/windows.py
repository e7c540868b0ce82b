"""Sliding windows over images, written once for both backends.

Convolution and pooling look at an (N, C, H, W) image through a window of
``kh x kw`` taps that slides with a stride, over an image padded with zeros (or,
for max pooling, with -inf), and whose taps may be spread apart (dilation). Every
kernel of that family takes the window as one tuple, the *geometry*, which the contract
names ``Window`` (``backend/__init__.py``)::

    geo = Window(kh, kw, sh, sw, ph, pw, dh, dw)   # kernel size, stride, padding, dilation

``check`` hands the kernels a plain tuple of its ints (one compiled signature for any
tuple the caller built).

Output position ``(oh, ow)`` and tap ``(i, j)`` read input pixel::

    ih = oh * sh - ph + i * dh
    iw = ow * sw - pw + j * dw                # outside 0..H-1 / 0..W-1: padding

The functions here compute one output element (or one input element's gradient)
each. They use only arithmetic and array reads, so ``cuda_kernels.py`` compiles them
with ``cuda.jit(device=True)`` (one GPU thread per element) and ``cpu_windows.py``
with ``njit``: one definition of what a pooling window means. Where a serial CPU loop is
much faster when written another way (im2col and col2im row by row, max pooling with
the kernel size fixed at compile time, 2x2 max pooling with pairwise selects)
``cpu_windows.py`` has its own loop; the conformance tests hold both backends to the same
references.
"""
import math
import operator
from types import SimpleNamespace

import numpy as np

from .specialise import specialise


def source_pixel(o, tap, stride, pad, dilation):
    """The input coordinate that output coordinate ``o`` reads at tap ``tap``."""
    return o * stride - pad + tap * dilation


def covering_output(i, tap, stride, pad, dilation, n_out):
    """The output coordinate whose tap ``tap`` reads input coordinate ``i``, or -1 when no
    output does (the inverse of ``source_pixel``, used by gradients that gather)."""
    t = i + pad - tap * dilation
    if t < 0 or t % stride != 0:
        return -1
    o = t // stride
    return o if o < n_out else -1


def max_window(x, n, c, oh, ow, geo):
    """(max, flat index ih * W + iw of where it is) over the window of output (oh, ow) of
    plane (n, c), padding excluded; NaN wins (the last NaN), as in PyTorch. A window wholly in
    the padding (possible with dilation) gives (-inf, -1)."""
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    height, width = x.shape[2], x.shape[3]
    best = -math.inf
    where = -1
    for i in range(kh):
        ih = source_pixel(oh, i, sh, ph, dh)
        if 0 <= ih < height:
            for j in range(kw):
                iw = source_pixel(ow, j, sw, pw, dw)
                if 0 <= iw < width:
                    v = x[n, c, ih, iw]
                    if where < 0 or v > best or v != v:
                        best = v
                        where = ih * width + iw
    return best, where


def avg_divisor(oh, ow, height, width, geo, count_include_pad, divisor_override):
    """What the sum over window (oh, ow) is divided by, by PyTorch's rule: the window clipped
    to the padded image (``count_include_pad``) or to the image itself, unless overridden.
    0 for a window that holds no pixel of the image (its output is 0)."""
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    h0 = oh * sh - ph
    w0 = ow * sw - pw
    h1 = min(h0 + kh, height + ph)
    w1 = min(w0 + kw, width + pw)
    padded = (h1 - h0) * (w1 - w0)
    h0, w0 = max(h0, 0), max(w0, 0)
    h1, w1 = min(h1, height), min(w1, width)
    if h0 >= h1 or w0 >= w1:
        return 0
    if divisor_override > 0:
        return divisor_override
    if count_include_pad:
        return padded
    return (h1 - h0) * (w1 - w0)


def avg_window(x, n, c, oh, ow, geo, count_include_pad, divisor_override):
    """The average over the window of output (oh, ow) of plane (n, c) (float64)."""
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    height, width = x.shape[2], x.shape[3]
    divisor = avg_divisor(oh, ow, height, width, geo, count_include_pad, divisor_override)
    if divisor == 0:
        return 0.0
    total = 0.0
    for i in range(kh):
        ih = source_pixel(oh, i, sh, ph, 1)
        if 0 <= ih < height:
            for j in range(kw):
                iw = source_pixel(ow, j, sw, pw, 1)
                if 0 <= iw < width:
                    total += x[n, c, ih, iw]
    return total / divisor


def window_count(size, kernel, stride, pad, dilation, ceil_mode):
    """How many windows fit along one dimension, by PyTorch's rule (``ceil_mode`` keeps a
    last partial window unless it would start in the right padding)."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _ints(op, what, values, length):
    try:
        values = tuple(operator.index(v) for v in values)
    except TypeError:
        raise TypeError(f"{op}: {what} must be a tuple of {length} ints, got {values!r}") \
            from None
    if len(values) != length:
        raise ValueError(f"{op}: {what} must be a tuple of {length} ints, got {values!r}")
    return values


def check(op, shape, geo, out_hw, dilation=True):
    """``(shape, geo, out_hw)`` as tuples of Python ints, after checking that they agree:
    an (N, C, H, W) image shape, a window with kernel, stride and dilation at least 1 and
    padding at least 0 (dilation 1 where the op has none), and the output size the window
    gives on that image (with or without ``ceil_mode``). Every window primitive runs this
    before its kernel: a graph file can give it anything, and the kernels index memory with
    these numbers unchecked. Raises ValueError (TypeError for what is not an int)."""
    shape = _ints(op, "the image shape", shape, 4)
    geo = _ints(op, "the window geometry (kh, kw, sh, sw, ph, pw, dh, dw)", geo, 8)
    out_hw = _ints(op, "the output size (OH, OW)", out_hw, 2)
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    if min(shape) < 0 or min(kh, kw, sh, sw, dh, dw) < 1 or min(ph, pw) < 0 or \
            (not dilation and (dh, dw) != (1, 1)):
        raise ValueError(f"{op}: the image shape {shape} and window geometry {geo} (kernel, "
                         "stride, padding, dilation as (h, w) pairs) need sizes >= 0, kernel "
                         "and stride >= 1, padding >= 0 and dilation >= 1"
                         + ("" if dilation else f" (1: {op} has no dilation)"))
    for side, got, size, k, st, p, d in (("height", out_hw[0], shape[2], kh, sh, ph, dh),
                                         ("width", out_hw[1], shape[3], kw, sw, pw, dw)):
        lo, hi = (window_count(size, k, st, p, d, ceil) for ceil in (False, True))
        if not (got >= 1 and got in (lo, hi)):  # hi < lo is possible (padding > kernel/2)
            expected = str(lo) if lo == hi else f"{lo} (or {hi} with ceil_mode)"
            raise ValueError(f"{op}: an output {side} of {got} does not fit an input {side} "
                             f"of {size} with kernel {k}, stride {st}, padding {p} and "
                             f"dilation {d}: expected {expected} (image {shape}, geometry "
                             f"{geo}, output {out_hw})")
    return shape, geo, out_hw


def check_gradient(op, g_shape, shape, geo, dilation=True):
    """``check`` for a backward pass whose incoming gradient ``g_shape`` is (N, C, OH, OW)
    over an image of ``shape``: also the N and C of the two must agree."""
    g_shape = _ints(op, "the gradient's shape", g_shape, 4)
    shape, geo, out_hw = check(op, shape, geo, g_shape[2:], dilation)
    if g_shape[:2] != shape[:2]:
        raise ValueError(f"{op}: a gradient of shape {g_shape} does not fit an image of shape "
                         f"{shape}: their first two dims (N, C) must agree")
    return shape, geo, out_hw


def check_columns(cols_shape, shape, geo, out_hw):
    """Raise ValueError unless ``cols_shape`` is what ``im2col`` makes of an image of
    ``shape``: (C*kh*kw, N, OH*OW)."""
    n, c = shape[0], shape[1]
    expected = (c * geo[0] * geo[1], n, out_hw[0] * out_hw[1])
    if tuple(cols_shape) != expected:
        raise ValueError(f"col2im: columns of shape {tuple(cols_shape)} do not fit an image "
                         f"of shape {shape} with geometry {geo} and output {out_hw}: expected "
                         f"{expected}, (C*kh*kw, N, OH*OW)")


def check_pool_indices(indices_shape, indices_dtype, g_shape):
    """Raise unless max pooling's saved indices are int64 of the gradient's shape."""
    if tuple(indices_shape) != tuple(g_shape) or indices_dtype != np.int64:
        raise ValueError(f"max_pool2d_backward: the saved indices ({indices_dtype}, shape "
                         f"{tuple(indices_shape)}) must be int64 of the gradient's shape "
                         f"{tuple(g_shape)}")


def compiled(jit, target: str) -> SimpleNamespace:
    """These functions compiled by ``jit`` for ``target``, each calling the compiled
    versions of the ones before it (a compiled function cannot call a Python one)."""
    done: dict = {}
    for fn in (source_pixel, covering_output, avg_divisor, max_window, avg_window):
        done[fn.__name__] = specialise(fn, jit, target, **done)
    return SimpleNamespace(**done)
