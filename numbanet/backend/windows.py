"""Sliding windows over images, written once for both backends.

Convolution and pooling look at an (N, C, H, W) image through a window of
``kh x kw`` taps that slides with a stride, over an image padded with zeros (or,
for max pooling, with -inf), and whose taps may be spread apart (dilation). Every
kernel of that family takes the window as one tuple, the *geometry*::

    geo = (kh, kw, sh, sw, ph, pw, dh, dw)   # kernel size, stride, padding, dilation

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
from types import SimpleNamespace

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


def compiled(jit, target: str) -> SimpleNamespace:
    """These functions compiled by ``jit`` for ``target``, each calling the compiled
    versions of the ones before it (a compiled function cannot call a Python one)."""
    done = {}
    for fn in (source_pixel, covering_output, avg_divisor, max_window, avg_window):
        done[fn.__name__] = specialise(fn, jit, target, **done)
    return SimpleNamespace(**done)
