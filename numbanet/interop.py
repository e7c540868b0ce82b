"""Zero-copy exchange with other array libraries: DLPack both ways, and the CUDA array
interface for CUDA tensors. The capsule structs live in ``dlpack.py``."""
from __future__ import annotations

import numpy as np

from . import dtypes as dt
from .device import CPU, device
from .dlpack import DEVICE_CPU, DEVICE_CUDA, make_capsule, open_capsule
from .shapes import check_layout
from .tensor import Tensor


def _check_shareable(t: Tensor, what: str):
    if t._requires_grad:
        raise RuntimeError(f"{what}: can't share a tensor that requires grad (its values are "
                           "part of autograd's graph); share tensor.detach() instead")


def _simulated() -> bool:
    from .backend import cuda
    return cuda.SIMULATED


def _device_pointer(t: Tensor) -> int:
    return t._data.device_ctypes_pointer.value or 0


def cuda_array_interface(t: Tensor) -> dict:
    _check_shareable(t, "__cuda_array_interface__")
    if _simulated():
        raise AttributeError("CUDA tensors on Numba's simulator live in host memory and have "
                             "no __cuda_array_interface__")
    return t._data.__cuda_array_interface__


def to_dlpack(t: Tensor, stream=None, max_version=None, dl_device=None, copy=None):
    _check_shareable(t, "__dlpack__")
    if copy:
        t = t.clone()
    target = t.__dlpack_device__()
    if dl_device is not None and tuple(dl_device) != target:
        raise BufferError(f"__dlpack__: the tensor is on {t.device}, DLPack device {target}; "
                          f"it can't be exported to DLPack device {tuple(dl_device)} without "
                          "a copy; move it with .to(...) first")
    itemsize = t._dtype.itemsize
    strides = tuple(s // itemsize for s in t._data.strides)
    versioned = max_version is not None and tuple(max_version) >= (1, 0)
    if t._device.type == "cuda":
        if _simulated():
            raise BufferError("__dlpack__: CUDA tensors on Numba's simulator live in host "
                              "memory; there is no device memory to share")
        if stream is not None and stream != -1:
            from numba import cuda
            cuda.synchronize()  # every kernel of numbanet runs on the default stream
        ptr = _device_pointer(t)
    else:
        ptr = t._data.ctypes.data
    return make_capsule(ptr, tuple(t._shape), strides, t._dtype.numpy, target, t._data,
                        versioned=versioned)


class _HostMemory:
    """Exposes a DLPack view's memory to NumPy and keeps the view (and the producer's
    memory) alive as long as the array."""

    def __init__(self, view):
        self.view = view
        self.__array_interface__ = {
            "data": (view.ptr, bool(view.readonly)), "shape": tuple(view.shape),
            "strides": tuple(s * view.dtype.itemsize for s in view.strides),
            "typestr": view.dtype.str, "version": 3}


def _dtype_of(view) -> dt.DType:
    """The numbanet dtype with exactly the view's memory layout (no conversion: zero copy)."""
    found = dt.from_numpy_dtype(view.dtype) if view.dtype.kind in "fib" else None
    if found is None or found.numpy != view.dtype:
        raise TypeError(f"from_dlpack: numbanet has no dtype for DLPack data of NumPy dtype "
                        f"{view.dtype}; convert it to float32, float64, int64 or bool on the "
                        "producer's side first")
    return found


def from_dlpack(obj) -> Tensor:
    """A tensor sharing memory with ``obj``: anything with ``__dlpack__`` (PyTorch, CuPy, JAX,
    NumPy arrays, numbanet tensors) or a DLPack capsule."""
    if hasattr(obj, "__dlpack__"):
        try:
            capsule = obj.__dlpack__(max_version=(1, 0))
        except TypeError:  # a producer older than DLPack 1.0's keyword
            capsule = obj.__dlpack__()
    else:
        capsule = obj
    view = open_capsule(capsule)
    dtype = _dtype_of(view)
    itemsize = view.dtype.itemsize
    check_layout(tuple(s * itemsize for s in view.strides), itemsize, view.ptr % itemsize == 0,
                 "from_dlpack")
    kind, index = view.device
    if kind == DEVICE_CPU:
        array = np.asarray(_HostMemory(view))
        return Tensor._wrap_foreign(array, CPU, dtype)
    if kind == DEVICE_CUDA:
        from numba import cuda
        if not cuda.is_available():
            raise RuntimeError("from_dlpack: the data is on a CUDA device, but CUDA is not "
                               "available in this process")
        interface = {"shape": tuple(view.shape), "data": (view.ptr, bool(view.readonly)),
                     "strides": tuple(s * view.dtype.itemsize for s in view.strides),
                     "typestr": view.dtype.str, "version": 3}
        array = cuda.from_cuda_array_interface(interface, owner=view, sync=False)
        return Tensor._wrap_foreign(array, device("cuda", index), dtype)
    raise BufferError(f"from_dlpack: DLPack device type {kind} is not supported; numbanet "
                      "reads CPU (1) and CUDA (2) memory")
