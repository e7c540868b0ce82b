"""CUDA device memory: allocation, the copies between host and device, and views.

A view is a new device-array header over the same memory (``_derive``), made with the
stride arithmetic of ``layout.py``; nothing here launches a kernel but ``full``,
``arange`` and ``contiguous``. ``_upload`` and ``_download`` are the only copies between
host and device in the backend: everything that reads values back (``to_host``, a bad
index, ``nonzero``'s count) goes through ``to_host``.

Under Numba's CUDA simulator device arrays are NumPy arrays in disguise; their versions
of the functions below are in ``cuda_simulator.py``.
"""
from __future__ import annotations

import math

import numpy as np
from numba import cuda

from . import checks, layout
from .cuda_kernels import SIMULATED, _arange, launch

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
    """``a`` as a 4-D view aligned to the right (leading dims of size 1), as the strided
    kernels take their operands."""
    if a.ndim == 4:
        return a
    return _derive(a, 0, *layout.right_aligned(a.shape, a.strides, 4))


def _flat(a):
    """A 1-D view of a C-contiguous array, as the flat kernels take their operands."""
    if a.ndim == 1:
        return a
    return _derive(a, 0, (a.size,), (a.dtype.itemsize,))


def _lead(x, i, ndim):
    """The i-th sub-array along the leading of ``ndim`` broadcast dims (or ``x`` itself if it
    does not reach that far or broadcasts there): ``layout.peel``."""
    if not _is_device_array(x):
        return x
    at = layout.peel(x.shape, i, ndim)
    if at is None:
        return x
    return _derive(x, at * x.strides[0], tuple(x.shape[1:]), tuple(x.strides[1:]))


def _dtype_of(np_dtype):
    from ..dtypes import from_numpy_dtype
    return from_numpy_dtype(np.dtype(np_dtype))


class MemoryOps:
    """The memory and view primitives of ``CUDABackend``."""

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
            blocks, threads = launch(n)
            _arange[blocks, threads](start, step, out)
        return out

    def from_host(self, array):
        return _upload(array)

    def to_host(self, a):
        return _download(self.contiguous(a))

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
