"""The CUDA backend: the contract of ``backend/__init__.py`` over Numba device arrays.

Data never goes through the host: views are new device-array headers over the same
memory, every op launches kernels of ``cuda_kernels.py``, reductions finish on the
device in as many passes as they need, random numbers come from per-thread
xoroshiro128+ states kept on the device. Only ``from_host``/``to_host`` copy, and
``nonzero`` reads back one count.

Under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) device arrays are NumPy
arrays in disguise, and the same code runs. This module is imported only when a
tensor is put on a CUDA device.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
from numba import cuda

from . import Backend, checks, layout, windows
from .cuda_kernels import (
    _ARGREDUCE,
    _BINARY,
    _RANDOM,
    _REDUCE,
    _UNARY,
    BM,
    BN,
    MAX_BLOCKS,
    NO_BAD_INDEX,
    NT,
    RANDOM_STATES,
    SIMULATED,
    THREADS,
    _adam_step,
    _arange,
    _avg_pool,
    _avg_pool_backward,
    _col2im,
    _floor_to_int,
    _gather,
    _im2col,
    _matmul_kernel,
    _max_pool,
    _max_pool_backward,
    _nonzero_coords,
    _scatter,
    _where_strided,
)

with warnings.catch_warnings():  # on the simulator, Numba's random module warns as it loads
    warnings.simplefilter("ignore")
    from numba.cuda.random import create_xoroshiro128p_states

# ---- device arrays ---------------------------------------------------------------------

if SIMULATED:  # device arrays of the simulator, and its patches: see cuda_simulator.py
    from .cuda_simulator import _alloc, _derive, _download, _is_device_array, _upload
else:
    from numba.cuda.cudadrv.devicearray import DeviceNDArray

    def _alloc(shape, dtype):
        return cuda.device_array(shape, dtype)

    def _derive(a, delta, shape, strides):
        if math.prod(shape) == 0:
            return _alloc(shape, a.dtype)
        memory = a.gpu_data.view(delta) if delta else a.gpu_data
        return DeviceNDArray(tuple(shape), tuple(strides), a.dtype, gpu_data=memory)

    def _upload(array):
        return cuda.to_device(np.ascontiguousarray(array))

    def _download(a):
        return a.copy_to_host()

    def _is_device_array(a):
        return cuda.is_cuda_array(a)


_is_c_contiguous = layout.is_c_contiguous


def _right(x, ndim):
    """``x`` with leading dims of size 1 added up to ``ndim`` (right-aligned broadcasting)."""
    if x.ndim >= ndim:
        return x
    return _derive(x, 0, *layout.right_aligned(x.shape, x.strides, ndim))


def _as4d(a):
    """``a`` as a 4-D view aligned to the right (leading dims of size 1)."""
    if a.ndim == 4:
        return a
    return _derive(a, 0, *layout.right_aligned(a.shape, a.strides, 4))


def _flat(a):
    """A 1-D view of a C-contiguous array."""
    if a.ndim == 1:
        return a
    return _derive(a, 0, (a.size,), (a.dtype.itemsize,))


def _launch(n):
    threads = max(1, min(THREADS, n))
    return max(1, min((n + threads - 1) // threads, MAX_BLOCKS)), threads


# ---- the backend ----------------------------------------------------------------------

class CUDABackend(Backend):
    name = "cuda"

    def __init__(self, index: int = 0):
        self.index = index
        self._states = None
        self._seed = None
        self._bad = None  # see _bad_flag

    # -- memory ---------------------------------------------------------------------------
    def empty(self, shape, dtype):
        return _alloc(shape, dtype.numpy)

    def full(self, shape, value, dtype):
        out = _alloc(shape, dtype.numpy)
        if out.size:
            self.unary("identity", dtype.numpy.type(value), out)
        return out

    def arange(self, start, stop, step, dtype):
        n = max(0, math.ceil((stop - start) / step))
        out = _alloc((n,), dtype.numpy)
        if n:
            blocks, threads = _launch(n)
            _arange[blocks, threads](start, step, out)
        return out

    def from_host(self, array):
        return _upload(array)

    def to_host(self, a):
        return _download(self.contiguous(a))

    # -- random numbers -------------------------------------------------------------------
    def manual_seed(self, seed):
        self._seed = seed
        self._states = None  # made again, from this seed, at the next draw

    def _random_states(self):
        if self._states is None:
            seed = self._seed if self._seed is not None else np.random.SeedSequence().entropy
            with warnings.catch_warnings():
                # the simulator runs Numba's state set-up in object mode, warning as it goes
                warnings.simplefilter("ignore")
                self._states = create_xoroshiro128p_states(RANDOM_STATES, seed=seed % 2**64)
        return self._states

    def _draw(self, kind, shape, dtype, a, b):
        out = _alloc(shape, dtype)
        n = out.size
        if n:
            blocks, threads = _launch(min(n, RANDOM_STATES))
            blocks = min(blocks, RANDOM_STATES // threads)
            flat = _flat(out)
            kernel = _RANDOM[kind, np.dtype(dtype)][blocks, threads]
            with warnings.catch_warnings():
                if SIMULATED:  # its xoroshiro128+ runs on NumPy uint64s, whose wrap-around warns
                    warnings.filterwarnings("ignore", "overflow encountered in scalar",
                                            RuntimeWarning)
                kernel(self._random_states(), flat, flat.dtype.type(a), flat.dtype.type(b))
        return out

    def rand(self, shape, dtype):
        return self._draw("uniform", shape, dtype.numpy, 0.0, 1.0)

    def randn(self, shape, dtype):
        return self._draw("normal", shape, dtype.numpy, 0.0, 1.0)

    def randint(self, low, high, shape):
        checks.random_range(low, high)
        u = self._draw("uniform", shape, np.float64, 0.0, 1.0)
        out = _alloc(shape, np.int64)
        if out.size:
            blocks, threads = _launch(out.size)
            _floor_to_int[blocks, threads](_flat(u), np.int64(low), np.int64(high - low),
                                           _flat(out))
        return out

    # -- views ------------------------------------------------------------------------------
    def basic_index(self, a, key):
        return _derive(a, *layout.index_view(a.shape, a.strides, key))

    def permute(self, a, perm):
        checks.permutation(perm, a.ndim)
        return _derive(a, 0, tuple(a.shape[p] for p in perm), tuple(a.strides[p] for p in perm))

    def reshape_view(self, a, shape):
        shape = tuple(shape)
        if shape == tuple(a.shape):
            return a
        layout.check_reshape(a.size, shape)
        if _is_c_contiguous(a):
            strides = layout.c_strides(shape, a.dtype.itemsize)
        else:
            strides = layout.nocopy_reshape(tuple(a.shape), tuple(a.strides), shape)
            if strides is None:
                return None
        return _derive(a, 0, shape, strides)

    def broadcast_to(self, a, shape):
        return _derive(a, 0, tuple(shape), layout.broadcast_strides(a.shape, a.strides, shape))

    def is_contiguous(self, a):
        return _is_c_contiguous(a)

    def is_writable(self, a):
        return all(s != 0 or n <= 1 for n, s in zip(a.shape, a.strides))

    def contiguous(self, a):
        if _is_c_contiguous(a):
            return a
        out = _alloc(a.shape, a.dtype)
        self.unary("identity", a, out)
        return out

    # -- elementwise ------------------------------------------------------------------------
    def _elementwise(self, kernels, kind, operands, out):
        n = out.size
        if n == 0:
            return out
        if out.ndim > 4:  # peel leading dims until four are left
            _check_broadcast(kind, operands, out)
            for i in range(out.shape[0]):
                self._elementwise(kernels, kind, [_lead(x, i, out.ndim) for x in operands],
                                  self.basic_index(out, (i,)))
            return out
        arrays = [x for x in operands if _is_device_array(x)]
        scalars = "".join("a" if _is_device_array(x) else "s" for x in operands)
        suffix = "" if "s" not in scalars else "_" + (scalars if kind == "binary" else "s")
        blocks, threads = _launch(n)
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
        return self._elementwise(_UNARY[op], "unary", (a,), out)

    def binary(self, op, a, b, out):
        return self._elementwise(_BINARY[op], "binary", (a, b), out)

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
        if out.ndim > 4:
            for i in range(out.shape[0]):
                self.where(*(_lead(x, i, out.ndim) for x in (cond, a, b)),
                           self.basic_index(out, (i,)))
            return out
        cond, a, b = (self._operand(x) for x in (cond, a, b))
        blocks, threads = _launch(out.size)
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
        kernel = _REDUCE[op, acc]
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
        kernel = _ARGREDUCE[acc]
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

    # -- gather / scatter -------------------------------------------------------------------
    def _bad_flag(self):
        """The device int64 where the index kernels record the position of a bad index."""
        if self._bad is None:
            self._bad = _upload(np.array([NO_BAD_INDEX], np.int64))
        return self._bad

    def _bad_position(self):
        """The position a kernel recorded in ``_bad_flag()``, or -1: one 8-byte copy."""
        at = int(_download(self._bad)[0])
        if at == NO_BAD_INDEX:
            return -1
        self._bad = None  # a fresh flag for the next kernel
        return at

    def _value_at(self, a, at):
        return _download(self.contiguous(a)).reshape(-1)[at]

    def index_select(self, a, axis, index):
        checks.index_arguments("index_select", a.shape, axis, index)
        out_shape = tuple(a.shape[:axis]) + (index.shape[0],) + tuple(a.shape[axis + 1:])
        out = _alloc(out_shape, a.dtype)
        if out.size == 0:
            return out
        three = layout.gather_plan(a.shape, axis)
        src = self.reshape_view(self.contiguous(a), three)
        dst = self.reshape_view(out, (three[0], index.shape[0], three[2]))
        blocks, threads = _launch(out.size)
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
        blocks, threads = _launch(src3.size)
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
            blocks, threads = _launch(out.size)
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
            blocks, threads = _launch(out.size)
            _max_pool[blocks, threads](x, geo, out, indices)
        return out, indices

    def max_pool2d_backward(self, g, indices, geo, shape):
        shape, geo, _ = windows.check_gradient("max_pool2d_backward", g.shape, shape, geo)
        windows.check_pool_indices(indices.shape, indices.dtype, g.shape)
        out = _alloc(shape, g.dtype)
        if out.size:
            blocks, threads = _launch(max(out.size, indices.size))
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

    def adam_step(self, p, g, m, v, *numbers):
        checks.update_arrays("adam_step", (p, g, m, v), _is_c_contiguous)
        if p.size:
            blocks, threads = _launch(p.size)
            _adam_step[blocks, threads](*(_flat(x) for x in (p, g, m, v)), *numbers)

    def nonzero(self, a):
        flat = self.reshape_view(self.contiguous(a), (a.size,))
        if a.size == 0:
            return _alloc((0, a.ndim), np.int64)
        flags = _alloc((a.size,), np.int64)
        self.unary("to_bool", flat, flags)
        count = int(_download(self.reduce("sum", flags, (0,), _dtype_of(np.int64))))
        out = _alloc((count, a.ndim), np.int64)
        if count:
            shape = _alloc((a.ndim,), np.int64)
            for d, size in enumerate(a.shape):  # filled on the device, no copy
                self.unary("identity", np.int64(size), self.basic_index(shape, (slice(d, d + 1),)))
            _nonzero_coords[1, 1](flat, shape, out)
        return out


def _dtype_of(np_dtype):
    from ..dtypes import from_numpy_dtype
    return from_numpy_dtype(np.dtype(np_dtype))


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


def _lead(x, i, ndim):
    """The i-th sub-array along the leading of ``ndim`` broadcast dims (or ``x`` itself if it
    does not reach that far or broadcasts there)."""
    if not _is_device_array(x):
        return x
    at = layout.peel(x.shape, i, ndim)
    if at is None:
        return x
    return _derive(x, at * x.strides[0], tuple(x.shape[1:]), tuple(x.strides[1:]))




_BACKENDS: dict = {}


def is_available() -> bool:
    return SIMULATED or cuda.is_available()


def device_count() -> int:
    if SIMULATED:
        return 1
    return len(cuda.gpus) if cuda.is_available() else 0


def backend_for(device):
    index = device.index or 0
    backend = _BACKENDS.get(index)
    if backend is None:
        if not is_available():
            raise RuntimeError(
                f"device '{device}': CUDA is not available here (no NVIDIA GPU or driver "
                "found by numba.cuda). Use device='cpu', or set NUMBA_ENABLE_CUDASIM=1 "
                "before importing numbanet to run CUDA code on Numba's simulator.")
        if index >= device_count():
            raise RuntimeError(f"device '{device}': there is no CUDA device {index}; this "
                               f"machine has {device_count()} (cuda:0 .. "
                               f"cuda:{device_count() - 1})")
        if not SIMULATED and index:
            cuda.select_device(index)
        backend = CUDABackend(index)
        _BACKENDS[index] = backend
    return backend
