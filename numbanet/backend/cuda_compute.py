"""CUDA launches of the elementwise, reduction and matrix kernels of ``cuda_kernels.py``.

Elementwise ops launch the flat kernel of their op when every array operand is
C-contiguous and of the output's shape, else its strided kernel on 4-D views (broadcast
dims have stride 0); outputs of more than 4 dims are peeled (``layout.peel``). A scalar
operand is a kernel argument (``x * 2.0`` copies nothing). Reductions view their input as
rows (``layout.reduction_rows``) and finish across blocks, pass after pass of partial
results; ``reduce("sum", ...)`` launches ``REDUCE["sum", acc]``, the sum kernel.
"""
from __future__ import annotations

import math

import numpy as np

from . import checks, layout
from .cuda_kernels import (
    ARGREDUCE,
    BINARY,
    BM,
    BN,
    NT,
    REDUCE,
    SIMULATED,
    THREADS,
    UNARY,
    _adam_step,
    _matmul_kernel,
    _where_strided,
    launch,
)
from .cuda_memory import (
    _alloc,
    _as4d,
    _dtype_of,
    _flat,
    _is_c_contiguous,
    _is_device_array,
    _lead,
    _right,
)


class ComputeOps:
    """The elementwise, reduction, matmul and fused-update primitives of ``CUDABackend``."""

    # -- elementwise ------------------------------------------------------------------------
    def _elementwise(self, kernels, kind, operands, out):
        n = out.size
        if n == 0:
            return out
        if out.ndim > layout.KERNEL_DIMS:  # peel leading dims until four are left
            _check_broadcast(kind, operands, out)
            for i in range(out.shape[0]):
                self._elementwise(kernels, kind, [_lead(x, i, out.ndim) for x in operands],
                                  self.basic_index(out, (i,)))
            return out
        arrays = [x for x in operands if _is_device_array(x)]
        scalars = "".join("a" if _is_device_array(x) else "s" for x in operands)
        suffix = "" if "s" not in scalars else "_" + (scalars if kind == "binary" else "s")
        blocks, threads = launch(n)
        if _is_c_contiguous(out) and all(
                tuple(x.shape) == tuple(out.shape) and _is_c_contiguous(x) for x in arrays):
            args = [_flat(x) if _is_device_array(x) else x for x in operands]
            kernels[f"_{kind}_flat{suffix}"][blocks, threads](*args, _flat(out))
        else:  # the flat kernels take operands of out's shape only; these clamp (``_at``)
            _check_broadcast(kind, operands, out)
            args = [_as4d(x) if _is_device_array(x) else x for x in operands]
            kernels[f"_{kind}_strided{suffix}"][blocks, threads](*args, _as4d(out))
        return out

    def unary(self, op, a, out):
        return self._elementwise(UNARY[op], "unary", (a,), out)

    def binary(self, op, a, b, out):
        return self._elementwise(BINARY[op], "binary", (a, b), out)

    def _operand(self, x):
        """A device array for ``x``: scalars become one-element arrays (filled on the device)."""
        if _is_device_array(x):
            return x
        one = _alloc((1,), np.asarray(x).dtype)
        self.unary("identity", x, one)
        return one

    def where(self, cond, a, b, out):
        if out.size == 0:
            return out
        _check_broadcast("where", (cond, a, b), out)
        if out.ndim > layout.KERNEL_DIMS:
            for i in range(out.shape[0]):
                self.where(*(_lead(x, i, out.ndim) for x in (cond, a, b)),
                           self.basic_index(out, (i,)))
            return out
        cond, a, b = (self._operand(x) for x in (cond, a, b))
        blocks, threads = launch(out.size)
        _where_strided[blocks, threads](*(_as4d(_right(x, out.ndim)) for x in (cond, a, b)),
                                        _as4d(out))
        return out

    # -- reductions -------------------------------------------------------------------------
    def _rows(self, a, axes):
        perm, kept, rows = layout.reduction_rows(a.shape, axes)
        moved = self.permute(a, perm)
        view = self.reshape_view(moved, rows)
        if view is None:
            view = self.reshape_view(self.contiguous(moved), rows)
        return view, kept

    @staticmethod
    def _grid(rows, cols):
        span = THREADS * (16 if SIMULATED else 8)  # columns per block: one pass of partials
        return (max(1, -(-cols // span)), max(1, min(rows, 65535))), span

    def reduce(self, op, a, axes, dtype):
        rows, kept = self._rows(a, axes)
        n_rows, n_cols = rows.shape
        floating = a.dtype.kind == "f" or (dtype.is_floating_point and op in ("sum", "prod"))
        acc = np.float64 if floating else np.int64
        if n_cols == 0:
            result = self.full((n_rows,), 0 if op == "sum" else 1, dtype)
            return self.reshape_view(result, kept)
        kernel = REDUCE[op, acc]
        data = rows
        while True:
            grid, span = self._grid(*data.shape)
            partial = _alloc((data.shape[0], grid[0]), acc)
            kernel[grid, THREADS](data, partial, span)
            data = partial
            if partial.shape[1] == 1:
                break
        result = self.reshape_view(data, kept)
        if result.dtype != dtype.numpy:
            cast = _alloc(kept, dtype.numpy)
            self.unary("identity", result, cast)
            result = cast
        return result

    def argreduce(self, op, a, axis):
        rows, kept = self._rows(a, (axis,))
        acc = np.float64 if a.dtype.kind == "f" else np.int64
        kernel = ARGREDUCE[acc]
        data, index, first = rows, _alloc((1, 1), np.int64), True
        while True:
            grid, span = self._grid(*data.shape)
            values = _alloc((data.shape[0], grid[0]), acc)
            where = _alloc((data.shape[0], grid[0]), np.int64)
            kernel[grid, THREADS](data, index, first, op == "max", values, where, span)
            data, index, first = values, where, False
            if where.shape[1] == 1:
                break
        return self.reshape_view(index, kept)

    # -- linear algebra ---------------------------------------------------------------------
    def matmul(self, a, b):
        shape = layout.matmul_shape(a.shape, b.shape)
        batch, (m, n) = shape[:-2], shape[-2:]
        out = _alloc(shape, np.result_type(a.dtype, b.dtype))
        if out.size == 0:
            return out
        if a.shape[-1] == 0:
            return self.full(out.shape, 0, _dtype_of(out.dtype))
        if len(batch) > 1:  # one launch per leading batch index
            for i in range(batch[0]):
                sub = self.matmul(_lead(a, i, len(batch) + 2), _lead(b, i, len(batch) + 2))
                self.unary("identity", sub, self.basic_index(out, (i,)))
            return out
        a3, b3, out3 = (_right(x, 3) for x in (a, b, out))
        grid = (-(-n // BN), -(-m // BM), max(1, min(out3.shape[0], 65535)))
        _matmul_kernel(out.dtype)[grid, NT](a3, b3, out3)
        return out

    # -- generated elementwise kernels (graph/fusion.py) ---------------------------------------
    def elementwise_program(self, kernels, shape, is_array):
        shape = tuple(shape)
        blocks, threads = launch(math.prod(shape))
        flat = kernels.flat[blocks, threads]
        strided = kernels.strided[blocks, threads]
        arrays = [k for k, flag in enumerate(is_array) if flag]

        def run(args, outs):
            for k in arrays:
                a = args[k]
                if tuple(a.shape) != shape or not _is_c_contiguous(a):
                    strided(*[_as4d(a) if flag else a for a, flag in zip(args, is_array)],
                            *[_as4d(o) for o in outs])
                    return
            flat(*[_flat(a) if flag else a for a, flag in zip(args, is_array)],
                 *[_flat(o) for o in outs])
        return run

    def adam_step(self, p, g, m, v, *numbers):
        checks.update_arrays("adam_step", (p, g, m, v), _is_c_contiguous)
        if p.size:
            blocks, threads = launch(p.size)
            _adam_step[blocks, threads](*(_flat(x) for x in (p, g, m, v)), *numbers)


def _check_broadcast(op, operands, out):
    """Raise ValueError unless every array operand broadcasts to ``out``: the strided kernels
    clamp each index to the operand's size (``_at``), which is only right for sizes 1 and
    out's, and reads outside an operand of size 0."""
    shape = tuple(out.shape)
    for x in operands:
        if _is_device_array(x) and not layout.broadcasts(x.shape, shape):
            shapes = [tuple(y.shape) for y in operands if _is_device_array(y)]
            raise ValueError(f"{op}: operands of shapes {shapes} do not broadcast to the "
                             f"output's shape {shape}")
