"""What numbanet changes in Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``), and why.

The CUDA backend runs unchanged on the simulator, which runs each GPU thread as a Python
thread over NumPy arrays. Two things differ from a real GPU, and this module, imported by
``cuda_memory.py`` only on the simulator, makes them alike:

- ``cuda.shared.array`` is patched (``FakeCUDAShared.array``): the simulator makes a
  block's shared array when its first thread asks, without a lock, so two threads that
  ask together can each get their own array, and a block reduction then reads values no
  thread wrote. Here the array is made under a lock, once per call site and block.
- Device arrays are ``_SimArray``, a ``FakeCUDAArray`` whose ``shape`` and ``strides``
  are plain tuples, as a real ``DeviceNDArray``'s are; views of them (``_derive``) share
  the memory through NumPy's array interface, as device views share device memory.

The functions at the end are the simulator's versions of the backend's device-array
helpers (``_alloc``, ``_derive``, ``_upload``, ``_download``, ``_is_device_array``).
"""
from __future__ import annotations

import math
import sys
import threading
import traceback

import numpy as np
from numba.core import types
from numba.cuda.np import numpy_support
from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
from numba.cuda.simulator.kernelapi import FakeCUDAShared

_SHARED_LOCK = threading.Lock()
_simulated_shared_array = FakeCUDAShared.array


def _shared_array(self, shape, dtype, alignment=None):
    """The simulator's shared arrays, made under a lock: without one, two threads of a
    block that reach ``cuda.shared.array`` together can each get their own array, and a
    block reduction then reads values no thread wrote."""
    if shape == 0 or alignment is not None:
        return _simulated_shared_array(self, shape, dtype, alignment)
    if isinstance(dtype, types.Type):
        dtype = numpy_support.as_dtype(dtype)
    caller = traceback.extract_stack(sys._getframe(1), limit=1)[-1][0:2]
    with _SHARED_LOCK:
        found = self._allocations.get(caller)
        if found is None:
            found = self._allocations[caller] = np.empty(shape, np.dtype(dtype))
    return found


FakeCUDAShared.array = _shared_array  # type: ignore[method-assign]  # patched on purpose


class _SimArray(FakeCUDAArray):
    """A simulated device array whose ``shape`` is a plain tuple, as on a real GPU."""

    @property
    def shape(self):
        return self._ary.shape

    @property
    def strides(self):
        return self._ary.strides


class _Memory:
    def __init__(self, interface, owner):
        self.__array_interface__ = interface
        self.owner = owner


def _alloc(shape, dtype):
    return _SimArray(np.empty(shape, dtype))


def _derive(a, delta, shape, strides):
    if math.prod(shape) == 0:
        return _alloc(shape, a.dtype)
    ptr = a._ary.__array_interface__["data"][0] + delta
    interface = {"data": (ptr, False), "shape": tuple(shape), "strides": tuple(strides),
                 "typestr": a.dtype.str, "version": 3}
    return _SimArray(np.asarray(_Memory(interface, a._ary)))


def _upload(array):
    return _SimArray(np.array(array, copy=True, order="C"))


def _download(a):
    return np.array(a._ary, copy=True, order="C")


def _is_device_array(a):
    return isinstance(a, FakeCUDAArray)
