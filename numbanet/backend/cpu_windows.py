"""The CPU backend's sliding-window kernels: im2col and col2im for convolution, max and
average pooling and their backward passes, as serial ``@njit`` loops.

The meaning of a window is ``backend/windows.py``'s, shared with CUDA; where a serial
loop runs much faster written another way (im2col and col2im row by row over flat
arrays, max pooling with the kernel size fixed at compile time, 2x2 max pooling with
pairwise selects), the loop here is its own. ``cpu.py``'s backend calls these.
"""
import numpy as np
from numba import njit

from . import windows
from .specialise import specialise

_jit = njit(cache=True, error_model="numpy")  # as cpu.py's kernels (see there why "numpy")

_WINDOWS = windows.compiled(njit, "cpu")
_avg_window, _avg_divisor = _WINDOWS.avg_window, _WINDOWS.avg_divisor


# Offsets into the flattened arrays are unsigned (``_u``): Numba wraps every signed index
# that might be negative (``a[-1]``), and that select kept the row loops from vectorising.
# With unsigned offsets im2col and col2im ran 1.5-2.6x faster (LeNet-5 shapes).
_u = np.uint64


@_jit
def im2col(x, shape, geo, out, out_hw):
    """out[(c, i, j), n, oh, ow] = x[n, c, ih, iw] (0 in the padding), over flat
    C-contiguous arrays, row by row: the columns of a row that read inside the image,
    [lo, hi), are found once per tap, so the copy between them has no bounds checks."""
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    n_img, channels, height, width = shape
    out_h, out_w = out_hw
    for c in range(channels):
        for i in range(kh):
            for j in range(kw):
                k = (c * kh + i) * kw + j
                lo, hi = _valid_outputs(j, sw, pw, dw, width, out_w)
                shift = j * dw - pw
                for n in range(n_img):
                    image = (n * channels + c) * height * width
                    row = _u((k * n_img + n) * out_h * out_w)
                    for oh in range(out_h):
                        ih = oh * sh - ph + i * dh
                        if ih < 0 or ih >= height:
                            for ow in range(out_w):
                                out[row + _u(ow)] = 0
                        else:
                            for ow in range(lo):
                                out[row + _u(ow)] = 0
                            src, dst = _u(image + ih * width + lo * sw + shift), row + _u(lo)
                            if sw == 1:
                                for t in range(_u(hi - lo)):
                                    out[dst + t] = x[src + t]
                            else:
                                for t in range(_u(hi - lo)):
                                    out[dst + t] = x[src + t * _u(sw)]
                            for ow in range(hi, out_w):
                                out[row + _u(ow)] = 0
                        row += _u(out_w)


@_jit
def _valid_outputs(tap, stride, pad, dilation, size, n_out):
    """[lo, hi): the output positions o whose tap ``tap`` reads inside 0..size-1, i.e.
    0 <= o*stride - pad + tap*dilation < size (computed once per tap, not per element)."""
    first = pad - tap * dilation
    last = size - 1 + pad - tap * dilation
    lo = 0 if first <= 0 else (first + stride - 1) // stride
    hi = 0 if last < 0 else min(n_out, last // stride + 1)
    return lo, max(lo, hi)


@_jit
def col2im(cols, geo, out, shape, out_hw):
    """The adjoint of ``im2col``, over flat C-contiguous arrays: each column entry is
    added back to the pixel it was copied from (a pixel under several windows gets the
    sum). ``out`` starts at zero."""
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    n_img, channels, height, width = shape
    out_h, out_w = out_hw
    for n in range(n_img):
        for c in range(channels):
            image = (n * channels + c) * height * width
            for i in range(kh):
                for j in range(kw):
                    k = (c * kh + i) * kw + j
                    lo, hi = _valid_outputs(j, sw, pw, dw, width, out_w)
                    shift = j * dw - pw
                    src = _u((k * n_img + n) * out_h * out_w + lo)
                    for oh in range(out_h):
                        ih = oh * sh - ph + i * dh
                        if 0 <= ih < height:
                            dst = _u(image + ih * width + lo * sw + shift)
                            if sw == 1:
                                for t in range(_u(hi - lo)):
                                    out[dst + t] += cols[src + t]
                            else:
                                for t in range(_u(hi - lo)):
                                    out[dst + t * _u(sw)] += cols[src + t]
                        src += _u(out_w)


KH = KW = 1  # placeholders, bound per kernel size by ``max_pool_kernel``


def _max_pool_template(x, geo, out, indices):
    """Max pooling with the kernel size KH x KW bound at compile time (see
    ``max_pool_kernel``); the window semantics are those of ``windows.max_window``.
    Windows wholly inside the image, the common case, skip the bounds checks."""
    _, _, sh, sw, ph, pw, dh, dw = geo
    n_img, channels, height, width = x.shape
    out_h, out_w = out.shape[2], out.shape[3]
    for n in range(n_img):
        for c in range(channels):
            for oh in range(out_h):
                h0 = oh * sh - ph
                rows_inside = h0 >= 0 and h0 + (KH - 1) * dh < height
                for ow in range(out_w):
                    w0 = ow * sw - pw
                    if rows_inside and w0 >= 0 and w0 + (KW - 1) * dw < width:
                        best = x[n, c, h0, w0]
                        where = h0 * width + w0
                        for i in range(KH):
                            for j in range(KW):
                                v = x[n, c, h0 + i * dh, w0 + j * dw]
                                if v > best or v != v:
                                    best = v
                                    where = (h0 + i * dh) * width + w0 + j * dw
                        out[n, c, oh, ow] = best
                        indices[n, c, oh, ow] = where
                        continue
                    best = -np.inf
                    where = -1
                    for i in range(KH):
                        ih = h0 + i * dh
                        if 0 <= ih < height:
                            for j in range(KW):
                                iw = w0 + j * dw
                                if 0 <= iw < width:
                                    v = x[n, c, ih, iw]
                                    if v > best or where < 0 or v != v:
                                        best = v
                                        where = ih * width + iw
                    out[n, c, oh, ow] = best
                    indices[n, c, oh, ow] = where


@_jit
def max_pool_2x2(x, out, indices, planes, height, width, out_h, out_w):
    """``MaxPool2d(2)``, the common case, over flat C-contiguous arrays: 2x2 windows at
    stride 2, all inside the image. Each row's pair is compared first, then the two
    winners: without NaNs, the result of the taps in order (``windows.max_window``: the
    first maximum). The comparisons are selects that do not wait on each other, 2.3x
    faster than the general kernel on LeNet-5's first pooling. Returns whether the
    input held a NaN: the caller then runs the general kernel, which propagates it."""
    saw_nan = False
    for p in range(planes):
        image, first_out = _u(p * height * width), _u(p * out_h * out_w)
        for oh in range(out_h):
            top = 2 * oh * width
            r0, r1 = image + _u(top), image + _u(top + width)
            o = first_out + _u(oh * out_w)
            for ow in range(out_w):
                c = _u(2 * ow)
                a0, a1, b0, b1 = x[r0 + c], x[r0 + c + _u(1)], x[r1 + c], x[r1 + c + _u(1)]
                # ``not <=``: one comparison each (``>`` with a NaN test ran 2.3x slower)
                right_a, right_b = not (a1 <= a0), not (b1 <= b0)
                m0, m1 = (a1 if right_a else a0), (b1 if right_b else b0)
                lower = not (m1 <= m0)
                out[o + _u(ow)] = m1 if lower else m0
                at = top + 2 * ow
                indices[o + _u(ow)] = (at + width + right_b) if lower else (at + right_a)
                saw_nan |= (a0 != a0) | (a1 != a1) | (b0 != b0) | (b1 != b1)
    return saw_nan


_MAX_POOL: dict = {}


def max_pool_kernel(kh, kw):
    """The max pooling kernel for windows of kh x kw taps. Loops over a kernel size known
    only at run time ran 5x slower (LLVM prepares them for long trip counts: a 2x2 window
    has 4 taps), so each kernel size gets its own compiled copy, cached on disk."""
    kernel = _MAX_POOL.get((kh, kw))
    if kernel is None:
        kernel = _MAX_POOL[kh, kw] = specialise(_max_pool_template, _jit, f"k{kh}x{kw}",
                                                KH=kh, KW=kw)
    return kernel


@_jit
def max_pool_backward(g, indices, out, plane, per_plane):
    """Each output's gradient goes to the pixel its maximum came from, over flat
    C-contiguous arrays: output q belongs to (n, c) plane q // per_plane, and its index
    counts pixels within that plane of ``plane`` pixels. ``out`` starts at 0. Returns the
    position of the first index that is neither -1 nor in [0, plane), where it stops, or -1."""
    for q in range(g.shape[0]):
        at = indices[q]  # read once: the memory may be shared and change at any time
        if at >= 0 and at < plane:
            out[_u(q // per_plane * plane + at)] += g[q]
        elif at != -1:  # -1: a window wholly in the padding (its max is -inf)
            return q
    return -1


@_jit
def avg_pool(x, geo, count_include_pad, divisor_override, out):
    n_img, channels, out_h, out_w = out.shape
    for n in range(n_img):
        for c in range(channels):
            for oh in range(out_h):
                for ow in range(out_w):
                    out[n, c, oh, ow] = _avg_window(x, n, c, oh, ow, geo, count_include_pad,
                                                    divisor_override)


@_jit
def avg_pool_backward(g, geo, count_include_pad, divisor_override, out):
    """Each output's gradient, divided as the forward divided, to every pixel of its
    window. ``out`` starts at zero."""
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    n_img, channels, out_h, out_w = g.shape
    height, width = out.shape[2], out.shape[3]
    for oh in range(out_h):
        for ow in range(out_w):
            divisor = _avg_divisor(oh, ow, height, width, geo, count_include_pad,
                                   divisor_override)
            if divisor == 0:
                continue
            h0, w0 = oh * sh - ph, ow * sw - pw
            for n in range(n_img):
                for c in range(channels):
                    share = g[n, c, oh, ow] / divisor
                    for ih in range(max(h0, 0), min(h0 + kh, height)):
                        for iw in range(max(w0, 0), min(w0 + kw, width)):
                            out[n, c, ih, iw] += share
