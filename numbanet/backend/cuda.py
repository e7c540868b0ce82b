"""The CUDA backend: the contract of ``backend/__init__.py`` over Numba device arrays.

Data never goes through the host: views are new device-array headers over the same
memory, every op launches kernels of ``cuda_kernels.py``, reductions finish on the
device in as many passes as they need, random numbers come from per-thread
xoroshiro128+ states kept on the device. Only ``from_host``/``to_host`` copy, and
``nonzero`` and the index kernels read back one number.

``CUDABackend`` is made of one part per file:

- ``cuda_memory.py``: allocation, host/device copies, views (``MemoryOps``);
- ``cuda_random.py``: random numbers (``RandomOps``);
- ``cuda_compute.py``: elementwise, reduction, matmul and fused-update launches
  (``ComputeOps``);
- ``cuda_indexing.py``: gathers, scatters, ``nonzero`` and the sliding windows
  (``IndexingOps``);
- ``cuda_kernels.py``: the kernels themselves, and their launch sizes.

Under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) device arrays are NumPy
arrays in disguise, and the same code runs (``cuda_simulator.py``). This module is
imported only when a tensor is put on a CUDA device.
"""
from __future__ import annotations

from numba import cuda

from . import Backend
from .cuda_compute import ComputeOps
from .cuda_indexing import IndexingOps
from .cuda_kernels import BM, BN, MAX_BLOCKS, NO_BAD_INDEX, NT, RANDOM_STATES, SIMULATED, THREADS
from .cuda_memory import MemoryOps
from .cuda_random import RandomOps

__all__ = ["CUDABackend", "backend_for", "is_available", "device_count", "SIMULATED",
           "THREADS", "MAX_BLOCKS", "RANDOM_STATES", "BM", "BN", "NT", "NO_BAD_INDEX"]


class CUDABackend(MemoryOps, RandomOps, ComputeOps, IndexingOps, Backend):
    name = "cuda"

    def __init__(self, index: int = 0):
        self.index = index
        self._states = None  # the random states (cuda_random.py)
        self._seed = None
        self._bad = None  # the bad-index flag (cuda_indexing.py)


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
