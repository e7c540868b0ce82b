"""CUDA gathers, scatters, ``nonzero`` and the sliding windows of convolution and pooling.

These kernels read indices (or window positions) from data. Each checks every index it
reads and records the position of the first bad one in a device flag (``_bad_flag``),
which the host reads back after the kernel, one 8-byte copy, to raise IndexError. The
window geometry is checked before any kernel runs (``windows.check``).
"""
from __future__ import annotations

import math

import numpy as np

from . import checks, layout, windows
from .cuda_kernels import (
    NO_BAD_INDEX,
    _avg_pool,
    _avg_pool_backward,
    _col2im,
    _gather,
    _im2col,
    _max_pool,
    _max_pool_backward,
    _nonzero_coords,
    _scatter,
    launch,
)
from .cuda_memory import _alloc, _dtype_of


class IndexingOps:
    """The gather, scatter, ``nonzero`` and window primitives of ``CUDABackend`` (its
    ``_bad`` flag)."""

    # -- gather / scatter -------------------------------------------------------------------
    def _bad_flag(self):
        """The device int64 where the index kernels record the position of a bad index."""
        if self._bad is None:
            self._bad = self.from_host(np.array([NO_BAD_INDEX], np.int64))
        return self._bad

    def _bad_position(self):
        """The position a kernel recorded in ``_bad_flag()``, or -1: one 8-byte copy."""
        at = int(self.to_host(self._bad)[0])
        if at == NO_BAD_INDEX:
            return -1
        self._bad = None  # a fresh flag for the next kernel
        return at

    def _value_at(self, a, at):
        return self.to_host(a).reshape(-1)[at]

    def index_select(self, a, axis, index):
        checks.index_arguments("index_select", a.shape, axis, index)
        out_shape = tuple(a.shape[:axis]) + (index.shape[0],) + tuple(a.shape[axis + 1:])
        out = _alloc(out_shape, a.dtype)
        if out.size == 0:
            return out
        three = layout.gather_plan(a.shape, axis)
        src = self.reshape_view(self.contiguous(a), three)
        dst = self.reshape_view(out, (three[0], index.shape[0], three[2]))
        blocks, threads = launch(out.size)
        _gather[blocks, threads](src, index, dst, self._bad_flag())
        bad = self._bad_position()
        if bad >= 0:
            raise checks.out_of_bounds("index_select", self._value_at(index, bad), axis,
                                       three[1])
        return out

    def _scatter(self, op, dst, axis, index, src, accumulate):
        checks.index_arguments(op, dst.shape, axis, index, src.shape)
        three = layout.gather_plan(dst.shape, axis)
        if math.prod(three) == 0 or index.shape[0] == 0:
            return dst
        view = self.reshape_view(dst, three)
        target = view if view is not None else self.reshape_view(self.contiguous(dst), three)
        src3 = self.reshape_view(self.contiguous(src), (three[0], index.shape[0], three[2]))
        blocks, threads = launch(src3.size)
        _scatter[blocks, threads](target, index, src3, accumulate, self._bad_flag())
        if view is None:
            self.unary("identity", self.reshape_view(target, dst.shape), dst)
        bad = self._bad_position()
        if bad >= 0:
            raise checks.out_of_bounds(op, self._value_at(index, bad), axis, three[1])
        return dst

    def index_add(self, dst, axis, index, src):
        return self._scatter("index_add", dst, axis, index, src, True)

    def index_put(self, dst, axis, index, src):
        return self._scatter("index_put", dst, axis, index, src, False)

    # -- sliding windows ---------------------------------------------------------------------
    def _run(self, kernel, out, *args):
        """Launch ``kernel`` with one thread per element of ``out`` (its last argument)."""
        if out.size:
            blocks, threads = launch(out.size)
            kernel[blocks, threads](*args, out)
        return out

    def _four_d(self, cols, out_hw):
        """A (K, N, OH, OW) view of (K, N, OH*OW) columns (copied first if it must be)."""
        shape = tuple(cols.shape[:2]) + tuple(out_hw)
        view = self.reshape_view(cols, shape)
        return view if view is not None else self.reshape_view(self.contiguous(cols), shape)

    def im2col(self, x, geo, out_hw):
        (n, c, _, _), geo, out_hw = windows.check("im2col", x.shape, geo, out_hw)
        cols = _alloc((c * geo[0] * geo[1], n, out_hw[0] * out_hw[1]), x.dtype)
        self._run(_im2col, self._four_d(cols, out_hw), x, geo)
        return cols

    def col2im(self, cols, geo, out_hw, shape):
        shape, geo, out_hw = windows.check("col2im", shape, geo, out_hw)
        windows.check_columns(cols.shape, shape, geo, out_hw)
        return self._run(_col2im, _alloc(shape, cols.dtype), self._four_d(cols, out_hw), geo)

    def max_pool2d(self, x, geo, out_hw):
        _, geo, out_hw = windows.check("max_pool2d", x.shape, geo, out_hw)
        shape = tuple(x.shape[:2]) + out_hw
        out, indices = _alloc(shape, x.dtype), _alloc(shape, np.int64)
        if out.size:
            blocks, threads = launch(out.size)
            _max_pool[blocks, threads](x, geo, out, indices)
        return out, indices

    def max_pool2d_backward(self, g, indices, geo, shape):
        shape, geo, _ = windows.check_gradient("max_pool2d_backward", g.shape, shape, geo)
        windows.check_pool_indices(indices.shape, indices.dtype, g.shape)
        out = _alloc(shape, g.dtype)
        if out.size:
            blocks, threads = launch(max(out.size, indices.size))
            _max_pool_backward[blocks, threads](g, indices, geo, out, self._bad_flag())
            bad = self._bad_position()
            if bad >= 0:
                raise checks.bad_pool_index(self._value_at(indices, bad), shape[2:])
        return out

    def avg_pool2d(self, x, geo, out_hw, count_include_pad, divisor_override):
        _, geo, out_hw = windows.check("avg_pool2d", x.shape, geo, out_hw, dilation=False)
        out = _alloc(tuple(x.shape[:2]) + out_hw, x.dtype)
        return self._run(_avg_pool, out, x, geo, bool(count_include_pad), int(divisor_override))

    def avg_pool2d_backward(self, g, geo, shape, count_include_pad, divisor_override):
        shape, geo, _ = windows.check_gradient("avg_pool2d_backward", g.shape, shape, geo,
                                               dilation=False)
        return self._run(_avg_pool_backward, _alloc(shape, g.dtype), g, geo,
                         bool(count_include_pad), int(divisor_override))

    def nonzero(self, a):
        flat = self.reshape_view(self.contiguous(a), (a.size,))
        if a.size == 0:
            return _alloc((0, a.ndim), np.int64)
        flags = _alloc((a.size,), np.int64)
        self.unary("to_bool", flat, flags)
        count = int(self.to_host(self.reduce("sum", flags, (0,), _dtype_of(np.int64))))
        out = _alloc((count, a.ndim), np.int64)
        if count:
            shape = _alloc((a.ndim,), np.int64)
            for d, size in enumerate(a.shape):  # filled on the device, no copy
                self.unary("identity", np.int64(size), self.basic_index(shape, (slice(d, d + 1),)))
            _nonzero_coords[1, 1](flat, shape, out)
        return out
