"""The kernels of the CUDA backend (``cuda.py``), and the launch sizes they are built for.

Elementwise kernels are compiled from the same scalar definitions as the CPU ones
(``backend/scalar.py``, each wrapped in ``cuda.jit(device=True)``), from a few
templates: a flat grid-stride loop for contiguous operands, a 4-D strided loop with
broadcasting for everything else, and variants taking one operand as a scalar kernel
argument (``x * 2.0`` launches one kernel and copies nothing). Reductions finish across
blocks, pass after pass; matmul uses shared-memory tiles with register blocking.

Under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) the kernels run as Python,
so the sizes below are small there: every simulated thread costs.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from numba import config, cuda

with warnings.catch_warnings():  # on the simulator, Numba's random module warns as it loads
    warnings.simplefilter("ignore")
    from numba.cuda.random import (
        xoroshiro128p_normal_float32,
        xoroshiro128p_normal_float64,
        xoroshiro128p_uniform_float32,
        xoroshiro128p_uniform_float64,
    )

from . import optimizers, scalar, windows
from .specialise import fingerprint, specialise

SIMULATED = bool(config.ENABLE_CUDASIM)  # type: ignore[attr-defined]  # set at run time

# Launch sizes. On the simulator each thread is a Python thread: keep them few.
THREADS = 2 if SIMULATED else 256  # threads per block of elementwise and reduction kernels
MAX_BLOCKS = 1 if SIMULATED else 8192  # elementwise blocks (grid-stride loops do the rest)
RANDOM_STATES = 64 if SIMULATED else 65536  # one xoroshiro128+ state per random-kernel thread
# Matmul tiles: a block computes BM x BN outputs, each thread TM x TN of them.
BM, BN, BK, TM, TN = (4, 4, 2, 2, 2) if SIMULATED else (128, 128, 8, 8, 8)


def launch(n):
    """(blocks, threads) for a grid-stride kernel over ``n`` elements."""
    threads = max(1, min(THREADS, n))
    return max(1, min((n + threads - 1) // threads, MAX_BLOCKS)), threads


_kernel_jit = cuda.jit(cache=not SIMULATED)
_device_jit = cuda.jit(device=True)


# ---- elementwise templates (``fn`` is bound per op by ``specialise``) ----------------------

def fn(*args):
    raise NotImplementedError  # placeholder name, replaced in each specialised copy


def _unary_flat(a, out):
    i = cuda.grid(1)
    while i < out.shape[0]:
        out[i] = fn(a[i])
        i += cuda.gridsize(1)


def _unary_flat_s(a, out):
    i = cuda.grid(1)
    while i < out.shape[0]:
        out[i] = fn(a)
        i += cuda.gridsize(1)


def _binary_flat(a, b, out):
    i = cuda.grid(1)
    while i < out.shape[0]:
        out[i] = fn(a[i], b[i])
        i += cuda.gridsize(1)


def _binary_flat_as(a, b, out):
    i = cuda.grid(1)
    while i < out.shape[0]:
        out[i] = fn(a[i], b)
        i += cuda.gridsize(1)


def _binary_flat_sa(a, b, out):
    i = cuda.grid(1)
    while i < out.shape[0]:
        out[i] = fn(a, b[i])
        i += cuda.gridsize(1)


# The strided templates walk the 4-D output in C order; an operand dimension of size 1
# broadcasts (min(i, 0) is 0).

@_device_jit
def _coords(i, shape):
    """The 4-D index of the i-th element of ``shape`` in C order."""
    l, r = i % shape[3], i // shape[3]
    k, r = r % shape[2], r // shape[2]
    return r // shape[1], r % shape[1], k, l


@_device_jit
def _at(a, h, j, k, l):
    """``a[h, j, k, l]``, a dimension of size 1 broadcasting."""
    s = a.shape
    return a[min(h, s[0] - 1), min(j, s[1] - 1), min(k, s[2] - 1), min(l, s[3] - 1)]


def _unary_strided(a, out):
    i = cuda.grid(1)
    while i < out.size:
        h, j, k, l = _coords(i, out.shape)
        out[h, j, k, l] = fn(_at(a, h, j, k, l))
        i += cuda.gridsize(1)


def _unary_strided_s(a, out):
    i = cuda.grid(1)
    while i < out.size:
        h, j, k, l = _coords(i, out.shape)
        out[h, j, k, l] = fn(a)
        i += cuda.gridsize(1)


def _binary_strided(a, b, out):
    i = cuda.grid(1)
    while i < out.size:
        h, j, k, l = _coords(i, out.shape)
        out[h, j, k, l] = fn(_at(a, h, j, k, l), _at(b, h, j, k, l))
        i += cuda.gridsize(1)


def _binary_strided_as(a, b, out):
    i = cuda.grid(1)
    while i < out.size:
        h, j, k, l = _coords(i, out.shape)
        out[h, j, k, l] = fn(_at(a, h, j, k, l), b)
        i += cuda.gridsize(1)


def _binary_strided_sa(a, b, out):
    i = cuda.grid(1)
    while i < out.size:
        h, j, k, l = _coords(i, out.shape)
        out[h, j, k, l] = fn(a, _at(b, h, j, k, l))
        i += cuda.gridsize(1)


class _Kernels(dict):
    """op name -> {template name: compiled kernel}, made on first use."""

    def __init__(self, table, templates):
        super().__init__()
        self.table, self.templates = table, templates

    def __missing__(self, op):
        fn_ = self.table[op]
        suffix = f"{op}_{fingerprint(fn_)}"
        device_fn = _device_jit(fn_)
        kernels = {t.__name__: specialise(t, _kernel_jit, suffix, fn=device_fn)
                   for t in self.templates}
        self[op] = kernels
        return kernels


# The elementwise kernels by op name: UNARY["relu"]["_unary_flat"] is relu's flat kernel.
UNARY = _Kernels(scalar.UNARY, (_unary_flat, _unary_flat_s, _unary_strided, _unary_strided_s))
BINARY = _Kernels(scalar.BINARY, (_binary_flat, _binary_flat_as, _binary_flat_sa,
                                  _binary_strided, _binary_strided_as, _binary_strided_sa))


# ---- reductions: rows of a (rows, cols) view, across blocks, pass after pass ------------

def _reduce_pass(a, out, span):
    """Block (bx, by) reduces columns [bx*span, (bx+1)*span) of rows by, by+gridDim.y, ...
    into out[row, bx]; ``acc_t`` (float64 or int64) is bound per accumulator type."""
    values = cuda.shared.array(THREADS, acc_t)
    has = cuda.shared.array(THREADS, np.int8)
    tid = cuda.threadIdx.x
    rows, cols = a.shape
    c0 = cuda.blockIdx.x * span
    c1 = min(cols, c0 + span)
    row = cuda.blockIdx.y
    while row < rows:
        acc = acc_t(0)
        got = 0
        c = c0 + tid
        while c < c1:
            v = acc_t(a[row, c])
            acc = fn(acc, v) if got else v
            got = 1
            c += cuda.blockDim.x
        values[tid] = acc
        has[tid] = got
        cuda.syncthreads()
        step = cuda.blockDim.x // 2
        while step > 0:
            if tid < step and has[tid + step]:
                values[tid] = fn(values[tid], values[tid + step]) if has[tid] \
                    else values[tid + step]
                has[tid] = 1
            cuda.syncthreads()
            step //= 2
        if tid == 0:
            out[row, cuda.blockIdx.x] = values[0]
        cuda.syncthreads()
        row += cuda.gridDim.y


class _ReduceKernels(dict):
    def __missing__(self, key):
        op, acc = key
        fn_ = scalar.REDUCE[op]
        kernel = specialise(_reduce_pass, _kernel_jit, f"{op}_{acc.__name__}_{fingerprint(fn_)}",
                            fn=_device_jit(fn_), acc_t=acc)
        self[key] = kernel
        return kernel


# The reduction kernels by op name and accumulator: REDUCE["sum", np.float64] is the sum
# kernel (``_reduce_pass`` combining with ``scalar.REDUCE["sum"]``, i.e. ``scalar.add``).
REDUCE = _ReduceKernels()


@_device_jit
def _prefer(v, i, w, j, want_max):
    """Whether (value w, index j) beats (v, i): NaN first, then larger/smaller, then the
    smaller index."""
    if v != v:
        return w != w and j < i
    if w != w:
        return True
    if w == v:
        return j < i
    return w > v if want_max else w < v


def _argreduce_pass(a, index_in, first, want_max, out_v, out_i, span):
    values = cuda.shared.array(THREADS, acc_t)
    where = cuda.shared.array(THREADS, np.int64)
    tid = cuda.threadIdx.x
    rows, cols = a.shape
    c0 = cuda.blockIdx.x * span
    c1 = min(cols, c0 + span)
    row = cuda.blockIdx.y
    while row < rows:
        best = acc_t(0)
        at = np.int64(-1)
        c = c0 + tid
        while c < c1:
            v = acc_t(a[row, c])
            j = np.int64(c) if first else index_in[row, c]
            if at < 0 or _prefer(best, at, v, j, want_max):
                best = v
                at = j
            c += cuda.blockDim.x
        values[tid] = best
        where[tid] = at
        cuda.syncthreads()
        step = cuda.blockDim.x // 2
        while step > 0:
            if tid < step and where[tid + step] >= 0:
                if where[tid] < 0 or _prefer(values[tid], where[tid], values[tid + step],
                                             where[tid + step], want_max):
                    values[tid] = values[tid + step]
                    where[tid] = where[tid + step]
            cuda.syncthreads()
            step //= 2
        if tid == 0:
            out_v[row, cuda.blockIdx.x] = values[0]
            out_i[row, cuda.blockIdx.x] = where[0]
        cuda.syncthreads()
        row += cuda.gridDim.y


ARGREDUCE = {acc: specialise(_argreduce_pass, _kernel_jit, acc.__name__, acc_t=acc)
              for acc in (np.float64, np.int64)}


# ---- other kernels -------------------------------------------------------------------------

def _matmul_tiled(a, b, out):
    """out[z] = a[z] @ b[z] over (batch, rows, cols) views; a batch dim of size 1 broadcasts.
    Each block computes a BM x BN tile, each thread TM x TN outputs of it."""
    tile_a = cuda.shared.array((BK, BM), elem_t)
    tile_b = cuda.shared.array((BK, BN), elem_t)
    acc = cuda.local.array((TM, TN), elem_t)
    reg_a = cuda.local.array(TM, elem_t)
    reg_b = cuda.local.array(TN, elem_t)
    tid = cuda.threadIdx.x
    tx = tid % (BN // TN)
    ty = tid // (BN // TN)
    m_size = out.shape[1]
    n_size = out.shape[2]
    k_size = a.shape[2]
    row0 = cuda.blockIdx.y * BM
    col0 = cuda.blockIdx.x * BN
    z = cuda.blockIdx.z
    while z < out.shape[0]:
        za = min(z, a.shape[0] - 1)
        zb = min(z, b.shape[0] - 1)
        for m in range(TM):
            for n in range(TN):
                acc[m, n] = 0
        for k0 in range(0, k_size, BK):
            e = tid
            while e < BM * BK:
                r = e // BK
                c = e % BK
                if row0 + r < m_size and k0 + c < k_size:
                    tile_a[c, r] = a[za, row0 + r, k0 + c]
                else:
                    tile_a[c, r] = 0
                e += NT
            e = tid
            while e < BK * BN:
                r = e // BN
                c = e % BN
                if k0 + r < k_size and col0 + c < n_size:
                    tile_b[r, c] = b[zb, k0 + r, col0 + c]
                else:
                    tile_b[r, c] = 0
                e += NT
            cuda.syncthreads()
            for kk in range(BK):
                for m in range(TM):
                    reg_a[m] = tile_a[kk, ty + (BM // TM) * m]
                for n in range(TN):
                    reg_b[n] = tile_b[kk, tx + (BN // TN) * n]
                for m in range(TM):
                    for n in range(TN):
                        acc[m, n] += reg_a[m] * reg_b[n]
            cuda.syncthreads()
        for m in range(TM):
            r = row0 + ty + (BM // TM) * m
            if r < m_size:
                for n in range(TN):
                    c = col0 + tx + (BN // TN) * n
                    if c < n_size:
                        out[z, r, c] = acc[m, n]
        z += cuda.gridDim.z


NT = (BM // TM) * (BN // TN)  # threads per matmul block
_MATMUL: dict = {}


def _matmul_kernel(dtype):
    kernel = _MATMUL.get(dtype)
    if kernel is None:
        elem = dtype.type
        kernel = specialise(_matmul_tiled, _kernel_jit, elem.__name__, elem_t=elem, NT=NT)
        _MATMUL[dtype] = kernel
    return kernel


@_kernel_jit
def _where_strided(cond, a, b, out):
    i = cuda.grid(1)
    while i < out.size:
        h, j, k, l = _coords(i, out.shape)
        out[h, j, k, l] = _at(a, h, j, k, l) if _at(cond, h, j, k, l) else _at(b, h, j, k, l)
        i += cuda.gridsize(1)


@_kernel_jit
def _arange(start, step, out):
    i = cuda.grid(1)
    while i < out.shape[0]:
        out[i] = start + i * step
        i += cuda.gridsize(1)


# The index kernels check every index they read: an index in [-n, 0) counts from the end,
# one outside [-n, n) is skipped and its position k recorded with ``atomic.min(bad, 0, k)``
# (``bad`` holds NO_BAD_INDEX until then); the host reads ``bad`` back after the kernel.
NO_BAD_INDEX = np.iinfo(np.int64).max


@_kernel_jit
def _gather(a, index, out, bad):
    outer, count, inner = out.shape
    n = a.shape[1]
    i = cuda.grid(1)
    while i < outer * count * inner:
        x = i % inner
        r = i // inner
        k = r % count
        o = r // count
        src = index[k]
        if src < 0:
            src += n
        if 0 <= src < n:
            out[o, k, x] = a[o, src, x]
        else:
            cuda.atomic.min(bad, 0, k)
        i += cuda.gridsize(1)


@_kernel_jit
def _scatter(dst, index, src, accumulate, bad):
    outer, count, inner = src.shape
    n = dst.shape[1]
    i = cuda.grid(1)
    while i < outer * count * inner:
        x = i % inner
        r = i // inner
        k = r % count
        o = r // count
        at = index[k]
        if at < 0:
            at += n
        if not 0 <= at < n:
            cuda.atomic.min(bad, 0, k)
        elif accumulate:
            cuda.atomic.add(dst, (o, at, x), src[o, k, x])
        else:
            dst[o, at, x] = src[o, k, x]
        i += cuda.gridsize(1)


@_kernel_jit
def _nonzero_coords(flat, shape, out):
    """One thread writes the coordinates of the non-zero entries in order (serial, so the
    order is C order without a prefix sum); never more rows than ``out`` has, were ``flat``
    to change after it was counted."""
    if cuda.grid(1) == 0:
        row = 0
        for i in range(flat.shape[0]):
            if flat[i] != 0 and row < out.shape[0]:
                rest = i
                for d in range(shape.shape[0] - 1, -1, -1):
                    out[row, d] = rest % shape[d]
                    rest //= shape[d]
                row += 1


_OPTIMIZERS = optimizers.compiled(_device_jit, "cuda")
_adam_constants, _adam_element = _OPTIMIZERS.adam_constants, _OPTIMIZERS.adam_element


@_kernel_jit
def _adam_step(p, g, m, v, lr, beta1, beta2, eps, bias_correction1, bias_correction2_sqrt,
               weight_decay):
    constants = _adam_constants(p, lr, beta1, beta2, eps, bias_correction1,
                                bias_correction2_sqrt, weight_decay)
    i = cuda.grid(1)
    while i < p.shape[0]:
        _adam_element(p, g, m, v, i, constants)
        i += cuda.gridsize(1)


def _random_template(states, out, a, b):
    """out[i] = a + b * draw(), each thread drawing from its own state."""
    t = cuda.grid(1)
    i = t
    while i < out.shape[0]:
        out[i] = a + b * draw(states, t)
        i += cuda.gridsize(1)


_RANDOM = {(kind, np.dtype(dtype)): specialise(_random_template, _kernel_jit,
                                               f"{kind}_{np.dtype(dtype).name}", draw=draw)
           for kind, dtype, draw in (("uniform", np.float32, xoroshiro128p_uniform_float32),
                                     ("uniform", np.float64, xoroshiro128p_uniform_float64),
                                     ("normal", np.float32, xoroshiro128p_normal_float32),
                                     ("normal", np.float64, xoroshiro128p_normal_float64))}


@_kernel_jit
def _floor_to_int(u, low, span, out):
    i = cuda.grid(1)
    while i < out.shape[0]:
        v = low + np.int64(math.floor(u[i] * span))
        out[i] = v if v < low + span else low + span - 1
        i += cuda.gridsize(1)


# ---- sliding windows: convolution and pooling (see backend/windows.py) ---------------------
# One thread per output element. The gradients (col2im and the pooling backwards) gather:
# a thread per input pixel adds up what the windows over it send back, so no two threads
# write one address and no atomics are needed.

_WINDOWS = windows.compiled(_device_jit, "cuda")
_source_pixel, _covering_output = _WINDOWS.source_pixel, _WINDOWS.covering_output
_max_window, _avg_window, _avg_divisor = \
    _WINDOWS.max_window, _WINDOWS.avg_window, _WINDOWS.avg_divisor


@_kernel_jit
def _im2col(x, geo, out):
    """out (C*kh*kw, N, OH, OW)[(c, i, j), n, oh, ow] = x[n, c, ih, iw], 0 in the padding."""
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    e = cuda.grid(1)
    while e < out.size:
        k, n, oh, ow = _coords(e, out.shape)
        j = k % kw
        i = (k // kw) % kh
        c = k // (kw * kh)
        ih = _source_pixel(oh, i, sh, ph, dh)
        iw = _source_pixel(ow, j, sw, pw, dw)
        if 0 <= ih < x.shape[2] and 0 <= iw < x.shape[3]:
            out[k, n, oh, ow] = x[n, c, ih, iw]
        else:
            out[k, n, oh, ow] = 0
        e += cuda.gridsize(1)


@_kernel_jit
def _col2im(cols, geo, out):
    """out[n, c, ih, iw] = the sum of the column entries im2col copies pixel (ih, iw) to."""
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    out_h, out_w = cols.shape[2], cols.shape[3]
    e = cuda.grid(1)
    while e < out.size:
        n, c, ih, iw = _coords(e, out.shape)
        acc = 0.0
        for i in range(kh):
            oh = _covering_output(ih, i, sh, ph, dh, out_h)
            if oh >= 0:
                for j in range(kw):
                    ow = _covering_output(iw, j, sw, pw, dw, out_w)
                    if ow >= 0:
                        acc += cols[(c * kh + i) * kw + j, n, oh, ow]
        out[n, c, ih, iw] = acc
        e += cuda.gridsize(1)


@_kernel_jit
def _max_pool(x, geo, out, indices):
    e = cuda.grid(1)
    while e < out.size:
        n, c, oh, ow = _coords(e, out.shape)
        value, where = _max_window(x, n, c, oh, ow, geo)
        out[n, c, oh, ow] = value
        indices[n, c, oh, ow] = where
        e += cuda.gridsize(1)


@_kernel_jit
def _max_pool_backward(g, indices, geo, out, bad):
    """out[n, c, ih, iw] = the sum of g over the windows whose maximum was pixel (ih, iw).
    The threads also check every saved index (-1 or a pixel of the plane), recording the
    flat position of the first one out of range in ``bad``, as the index kernels do."""
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    out_h, out_w = g.shape[2], g.shape[3]
    plane = out.shape[2] * out.shape[3]
    e = cuda.grid(1)
    while e < indices.size:
        n, c, oh, ow = _coords(e, indices.shape)
        v = indices[n, c, oh, ow]
        if v < -1 or v >= plane:
            cuda.atomic.min(bad, 0, e)
        e += cuda.gridsize(1)
    e = cuda.grid(1)
    while e < out.size:
        n, c, ih, iw = _coords(e, out.shape)
        here = ih * out.shape[3] + iw
        acc = 0.0
        for i in range(kh):
            oh = _covering_output(ih, i, sh, ph, dh, out_h)
            if oh >= 0:
                for j in range(kw):
                    ow = _covering_output(iw, j, sw, pw, dw, out_w)
                    if ow >= 0 and indices[n, c, oh, ow] == here:
                        acc += g[n, c, oh, ow]
        out[n, c, ih, iw] = acc
        e += cuda.gridsize(1)


@_kernel_jit
def _avg_pool(x, geo, count_include_pad, divisor_override, out):
    e = cuda.grid(1)
    while e < out.size:
        n, c, oh, ow = _coords(e, out.shape)
        out[n, c, oh, ow] = _avg_window(x, n, c, oh, ow, geo, count_include_pad,
                                        divisor_override)
        e += cuda.gridsize(1)


@_kernel_jit
def _avg_pool_backward(g, geo, count_include_pad, divisor_override, out):
    """out[n, c, ih, iw] = the sum over the windows holding pixel (ih, iw) of their gradient
    divided as the forward divided."""
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    out_h, out_w = g.shape[2], g.shape[3]
    height, width = out.shape[2], out.shape[3]
    e = cuda.grid(1)
    while e < out.size:
        n, c, ih, iw = _coords(e, out.shape)
        acc = 0.0
        for i in range(kh):
            oh = _covering_output(ih, i, sh, ph, 1, out_h)
            if oh >= 0:
                for j in range(kw):
                    ow = _covering_output(iw, j, sw, pw, 1, out_w)
                    if ow >= 0:
                        divisor = _avg_divisor(oh, ow, height, width, geo, count_include_pad,
                                               divisor_override)
                        if divisor > 0:
                            acc += g[n, c, oh, ow] / divisor
        out[n, c, ih, iw] = acc
        e += cuda.gridsize(1)
