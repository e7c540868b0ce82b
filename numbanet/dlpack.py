"""DLPack capsules: zero-copy exchange of tensors with NumPy, PyTorch, CuPy and JAX.

DLPack is a small C header that every array library speaks. A producer describes its
memory in a ``DLManagedTensor`` struct (address, shape, strides, dtype, device) and
hands it over inside a ``PyCapsule`` named ``"dltensor"`` (since DLPack 1.0 also a
``DLManagedTensorVersioned``, which can say "read-only", named ``"dltensor_versioned"``).
The consumer renames the capsule ``"used_..."`` and, when it no longer needs the memory,
calls the ``deleter`` that the producer stored in the struct. This file implements both
sides with ``ctypes`` (and NumPy's C deleter, see "Producer" below), without reading the
memory itself, so it works the same for CPU memory and CUDA device pointers:

>>> import numpy as np
>>> a = np.arange(6, dtype=np.float32).reshape(2, 3)
>>> capsule = make_capsule(a.ctypes.data, a.shape, (3, 1), a.dtype, (DEVICE_CPU, 0), owner=a)
>>> view = open_capsule(capsule)
>>> view.shape, view.strides, view.ptr == a.ctypes.data
((2, 3), (3, 1), True)
>>> view.release()        # the producer's deleter runs; `a` is no longer held

Strides are counted in elements, as DLPack counts them, not in bytes as NumPy does.
"""
from __future__ import annotations

import ctypes
import datetime
import operator

import numpy as np

__all__ = ["DEVICE_CPU", "DEVICE_CUDA", "DLPackView", "make_capsule", "open_capsule"]

DEVICE_CPU = 1   # kDLCPU
DEVICE_CUDA = 2  # kDLCUDA

# DLManagedTensorVersioned.flags bits (DLPack >= 1.0).
FLAG_READ_ONLY = 1 << 0

# DLPack dtype codes.
_KDL_INT, _KDL_UINT, _KDL_FLOAT, _KDL_BOOL = 0, 1, 2, 6
_KDL_CODE_NAMES = {0: "kDLInt", 1: "kDLUInt", 2: "kDLFloat", 3: "kDLOpaqueHandle",
                   4: "kDLBfloat", 5: "kDLComplex", 6: "kDLBool"}


# --- The C structs of dlpack.h, field for field -------------------------------------------

class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p),
                ("device", DLDevice),
                ("ndim", ctypes.c_int32),
                ("dtype", DLDataType),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)),  # NULL: compact row-major
                ("byte_offset", ctypes.c_uint64)]


class DLManagedTensor(ctypes.Structure):
    # `deleter` is `void (*)(DLManagedTensor *)`; kept as an address so a NULL reads as None.
    _fields_ = [("dl_tensor", DLTensor),
                ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p)]


class DLPackVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint32), ("minor", ctypes.c_uint32)]


class DLManagedTensorVersioned(ctypes.Structure):
    _fields_ = [("version", DLPackVersion),
                ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p),
                ("flags", ctypes.c_uint64),
                ("dl_tensor", DLTensor)]


# A DLPack deleter takes a pointer to its managed struct and returns nothing.
_DELETER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


# --- The CPython C-API, through private prototypes -----------------------------------------
# Private prototypes rather than setting argtypes on ctypes.pythonapi.X, which is shared
# with every other library in the process. PYFUNCTYPE keeps the GIL and raises the
# Python exception a failing call sets.

def _c_api(name: str, restype, *argtypes):
    return ctypes.PYFUNCTYPE(restype, *argtypes)((name, ctypes.pythonapi))


_capsule_new = _c_api("PyCapsule_New", ctypes.py_object,
                      ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
_capsule_get_pointer = _c_api("PyCapsule_GetPointer", ctypes.c_void_p,
                              ctypes.py_object, ctypes.c_char_p)
_capsule_get_name = _c_api("PyCapsule_GetName", ctypes.c_char_p, ctypes.py_object)
_capsule_set_name = _c_api("PyCapsule_SetName", ctypes.c_int,
                           ctypes.py_object, ctypes.c_void_p)
_capsule_get_destructor = _c_api("PyCapsule_GetDestructor", ctypes.c_void_p, ctypes.py_object)
_py_incref = _c_api("Py_IncRef", None, ctypes.py_object)
_mem_malloc = _c_api("PyMem_Malloc", ctypes.c_void_p, ctypes.c_size_t)

_CAPSULE_TYPE = type(datetime.datetime_CAPI)


def _immortal_c_string(text: bytes) -> int:
    """The address of a NUL-terminated copy of `text` that is never freed.

    PyCapsule_New and PyCapsule_SetName keep the name pointer without copying it, and a
    capsule may outlive this module's globals at interpreter shutdown.
    """
    buffer = ctypes.create_string_buffer(text)
    _py_incref(buffer)  # a reference nobody drops
    return ctypes.addressof(buffer)


_NAMES = {name: _immortal_c_string(name)
          for name in (b"dltensor", b"used_dltensor",
                       b"dltensor_versioned", b"used_dltensor_versioned")}


# --- Producer: memory we describe to others ------------------------------------------------
# A producer gives DLPack two C function pointers: the deleter and the capsule destructor.
# Both are called from deallocation code (a consumer's array dying, an unconsumed capsule
# dying), which may run while an exception propagates, on a thread without the GIL, or
# after interpreter shutdown. A Python function behind a ctypes callback breaks the first
# case: returning from it with an exception pending raises SystemError and the original
# exception is lost, so ``np.from_dlpack(x)[10]`` would not even raise IndexError.
# NumPy's own functions are C and do exactly what DLPack asks of a producer, so we borrow
# them: the deleter frees the one PyMem_Malloc block at the struct's address (struct,
# shape and strides) and drops the reference held in manager_ctx (after checking that the
# interpreter is still running); the destructor calls the deleter only for a capsule that
# still has its unconsumed name.

def _numpy_dlpack_functions(versioned: bool) -> tuple[int, int] | None:
    """Addresses of NumPy's (deleter, capsule destructor), or None if it cannot export."""
    array = np.empty(0)
    try:
        capsule = array.__dlpack__(max_version=(1, 0)) if versioned else array.__dlpack__()
    except TypeError:  # NumPy < 2.1 makes no versioned capsules
        return None
    layout = DLManagedTensorVersioned if versioned else DLManagedTensor
    name = b"dltensor_versioned" if versioned else b"dltensor"
    managed = layout.from_address(_capsule_get_pointer(capsule, name))
    if managed.manager_ctx != id(array):
        raise ImportError(f"NumPy {np.__version__} no longer keeps the exported array in "
                          "manager_ctx; numbanet.dlpack cannot borrow its DLPack deleter")
    return managed.deleter, _capsule_get_destructor(capsule)


_DLPACK_FUNCTIONS = {DLManagedTensor: _numpy_dlpack_functions(versioned=False),
                     DLManagedTensorVersioned: _numpy_dlpack_functions(versioned=True)}


def make_capsule(ptr: int, shape: tuple, strides: tuple | None, dtype, device: tuple,
                 owner, *, versioned: bool = False, readonly: bool = False) -> object:
    """A DLPack capsule describing the memory at `ptr`, which `owner` keeps valid.

    `strides` are in elements (``None``: C-contiguous), `dtype` a NumPy dtype (bool,
    int8..int64, uint8..uint64, float16, float32, float64), `device` a pair
    ``(device_type, device_id)`` such as ``(DEVICE_CUDA, 0)``. `ptr` may be a CUDA device
    pointer: nothing here reads the memory. `owner` is kept alive until the consumer calls
    the deleter, or, if no one consumes the capsule, until the capsule is destroyed.

    By default the capsule is a legacy ``"dltensor"`` (a ``DLManagedTensor``), which every
    consumer reads. ``versioned=True`` makes a DLPack 1.0 ``"dltensor_versioned"`` instead,
    which may carry ``readonly``; give it to consumers that ask for ``max_version >= (1, 0)``:
    NumPy marks the arrays it reads from legacy capsules read-only.

    >>> class Exporter:
    ...     def __init__(self, a): self.a = a
    ...     def __dlpack_device__(self): return (DEVICE_CPU, 0)
    ...     def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
    ...         a = self.a
    ...         return make_capsule(a.ctypes.data, a.shape, None, a.dtype, (DEVICE_CPU, 0),
    ...                             owner=a, versioned=max_version is not None
    ...                             and max_version >= (1, 0))
    >>> np.from_dlpack(Exporter(np.ones(3)))
    array([1., 1., 1.])
    """
    ptr = operator.index(ptr)
    if ptr < 0:
        raise ValueError(f"make_capsule: ptr must be a non-negative address, received {ptr}")
    shape = tuple(operator.index(n) for n in shape)
    if any(n < 0 for n in shape):
        raise ValueError(f"make_capsule: shape must not be negative, received {shape}")
    if strides is not None:
        strides = tuple(operator.index(s) for s in strides)
        if len(strides) != len(shape):
            raise ValueError(f"make_capsule: {len(strides)} strides {strides} for "
                             f"{len(shape)} dimensions of shape {shape}; give one stride "
                             "(in elements) per dimension, or None for C-contiguous")
    code, bits = _dl_dtype_of(dtype)
    device_type, device_id = (operator.index(d) for d in device)
    if readonly and not versioned:
        raise ValueError("make_capsule: a legacy capsule cannot mark memory read-only; "
                         "pass versioned=True with readonly=True")
    layout = DLManagedTensorVersioned if versioned else DLManagedTensor
    if _DLPACK_FUNCTIONS[layout] is None:
        raise RuntimeError(f"make_capsule(versioned=True) needs NumPy >= 2.1, found "
                           f"{np.__version__}; make a legacy capsule instead")
    deleter, capsule_destructor = _DLPACK_FUNCTIONS[layout]

    ndim = len(shape)
    struct_size = ctypes.sizeof(layout)
    size = struct_size + 2 * ndim * ctypes.sizeof(ctypes.c_int64)
    address = _mem_malloc(size)  # freed by the deleter, as one block
    if not address:
        raise MemoryError(f"make_capsule: could not allocate {size} bytes")
    ctypes.memset(address, 0, size)
    shape_address = address + struct_size
    strides_address = shape_address + ndim * ctypes.sizeof(ctypes.c_int64)
    (ctypes.c_int64 * ndim).from_address(shape_address)[:] = shape
    if strides is not None:
        (ctypes.c_int64 * ndim).from_address(strides_address)[:] = strides

    managed = layout.from_address(address)
    tensor = managed.dl_tensor
    tensor.data = ptr
    tensor.device = DLDevice(device_type, device_id)
    tensor.ndim = ndim
    tensor.dtype = DLDataType(code, bits, 1)
    tensor.shape = ctypes.cast(shape_address, ctypes.POINTER(ctypes.c_int64))
    if strides is not None:
        tensor.strides = ctypes.cast(strides_address, ctypes.POINTER(ctypes.c_int64))
    tensor.byte_offset = 0
    if versioned:
        managed.version = DLPackVersion(1, 0)
        managed.flags = FLAG_READ_ONLY if readonly else 0
    _py_incref(owner)  # the deleter drops it
    managed.manager_ctx = id(owner)
    managed.deleter = deleter
    name = b"dltensor_versioned" if versioned else b"dltensor"
    try:
        return _capsule_new(address, _NAMES[name], capsule_destructor)
    except BaseException:
        _DELETER(deleter)(address)
        raise


# --- Consumer: memory others describe to us ------------------------------------------------

class DLPackView:
    """The tensor inside a consumed DLPack capsule, and the duty to release it.

    ``ptr`` (data address plus byte offset), ``shape``, ``strides`` (in elements),
    ``dtype`` (a NumPy dtype), ``device`` (``(device_type, device_id)``) and ``readonly``
    describe the memory, which stays valid until ``release()`` calls the producer's
    deleter. A view that is garbage-collected releases itself, so keep the view alive
    (for example as the ``base`` of whatever wraps ``ptr``) for as long as ``ptr`` is used.

    >>> with open_capsule(np.zeros((2, 3)).__dlpack__()) as view:
    ...     view.shape, view.strides, view.dtype
    ((2, 3), (3, 1), dtype('float64'))
    """

    def __init__(self, ptr: int, shape: tuple, strides: tuple, dtype: np.dtype,
                 device: tuple, readonly: bool, managed_address: int, deleter: int | None):
        self.ptr = ptr
        self.shape = shape
        self.strides = strides
        self.dtype = dtype
        self.device = device
        self.readonly = readonly
        self._managed_address = managed_address
        # Made now, so that releasing works even while module globals are torn down.
        self._deleter = _DELETER(deleter) if deleter else None

    def release(self) -> None:
        """Call the producer's deleter; the memory may be freed. Later calls do nothing."""
        deleter, self._deleter = self._deleter, None
        if deleter is not None:
            deleter(self._managed_address)

    def __enter__(self) -> DLPackView:
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()

    def __del__(self):
        self.release()

    def __repr__(self) -> str:
        released = ", released" if self._deleter is None else ""
        return (f"DLPackView(ptr={self.ptr:#x}, shape={self.shape}, strides={self.strides}, "
                f"dtype={self.dtype}, device={self.device}, readonly={self.readonly}{released})")


def open_capsule(capsule) -> DLPackView:
    """Consume a DLPack capsule (``"dltensor"`` or ``"dltensor_versioned"``).

    The capsule is renamed ``"used_..."``, so it cannot be consumed twice; the returned
    view owes the producer one call of its deleter (``view.release()``). A capsule whose
    tensor cannot be read (unsupported dtype or version) is left unconsumed.
    """
    if type(capsule) is not _CAPSULE_TYPE:
        hint = (" It has __dlpack__: pass obj.__dlpack__() instead."
                if hasattr(capsule, "__dlpack__") else "")
        raise TypeError(f"open_capsule expects a DLPack PyCapsule, received an object of "
                        f"type {type(capsule).__name__}.{hint}")
    name = _capsule_get_name(capsule)
    if name in (b"used_dltensor", b"used_dltensor_versioned"):
        raise ValueError(f"open_capsule received a DLPack capsule that was already consumed "
                         f"(named {name.decode()!r}); a capsule can be opened only once, "
                         "so ask the producer for a new one (call __dlpack__ again)")
    if name not in (b"dltensor", b"dltensor_versioned"):
        raise ValueError(f"open_capsule expects a capsule named 'dltensor' or "
                         f"'dltensor_versioned', received one named {name!r}")

    address = _capsule_get_pointer(capsule, name)
    if name == b"dltensor":
        managed = DLManagedTensor.from_address(address)
        readonly = False
    else:
        managed = DLManagedTensorVersioned.from_address(address)
        version = managed.version
        if version.major != 1:
            raise ValueError(f"open_capsule supports DLPack 1.x, received a capsule of "
                             f"version {version.major}.{version.minor}; ask the producer "
                             "for max_version=(1, 0)")
        readonly = bool(managed.flags & FLAG_READ_ONLY)
    view = _view_of(managed.dl_tensor, readonly, address, managed.deleter)
    # Renamed only now that the tensor is readable: a capsule we refuse stays the
    # producer's, and its destructor frees it.
    _capsule_set_name(capsule, _NAMES[b"used_" + name])
    return view


def _view_of(tensor: DLTensor, readonly: bool, managed_address: int,
             deleter: int | None) -> DLPackView:
    dtype = _numpy_dtype_of(tensor.dtype)
    ndim = tensor.ndim
    if not 0 <= ndim <= _MAX_NDIM:
        raise ValueError(f"open_capsule received a DLTensor with ndim={ndim}; expected 0 to "
                         f"{_MAX_NDIM} dimensions")
    if ndim and not tensor.shape:
        raise ValueError(f"open_capsule received a DLTensor with ndim={ndim} and a NULL shape")
    shape = tuple(tensor.shape[:ndim]) if ndim else ()
    if any(n < 0 for n in shape):
        raise ValueError(f"open_capsule received a DLTensor of shape {shape}: sizes must not "
                         "be negative")
    if tensor.strides and ndim:
        strides = tuple(tensor.strides[:ndim])
    else:
        strides = _c_contiguous_strides(shape)
    ptr = (tensor.data or 0) + tensor.byte_offset
    device = (tensor.device.device_type, tensor.device.device_id)
    return DLPackView(ptr, shape, strides, dtype, device, readonly, managed_address, deleter)


_MAX_NDIM = 64  # NumPy's limit; a larger ndim is a damaged struct, not a tensor


def _c_contiguous_strides(shape: tuple) -> tuple:
    """Row-major strides in elements: DLPack's meaning of NULL strides."""
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


# --- dtypes ---------------------------------------------------------------------------------

_DL_TYPE_OF_NUMPY = {np.dtype(np.bool_): (_KDL_BOOL, 8)} | {
    np.dtype(scalar_type): (code, 8 * np.dtype(scalar_type).itemsize)
    for code, scalar_types in ((_KDL_INT, (np.int8, np.int16, np.int32, np.int64)),
                               (_KDL_UINT, (np.uint8, np.uint16, np.uint32, np.uint64)),
                               (_KDL_FLOAT, (np.float16, np.float32, np.float64)))
    for scalar_type in scalar_types}
_NUMPY_OF_DL_TYPE = {dl: dtype for dtype, dl in _DL_TYPE_OF_NUMPY.items()}
_SUPPORTED = ", ".join(str(dtype) for dtype in _DL_TYPE_OF_NUMPY)


def _dl_dtype_of(dtype) -> tuple[int, int]:
    """(code, bits) of a NumPy dtype."""
    try:
        dl_type = _DL_TYPE_OF_NUMPY.get(np.dtype(dtype))
    except TypeError:
        dl_type = None
    if dl_type is None:
        raise TypeError(f"make_capsule cannot describe dtype {dtype!r} in DLPack; "
                        f"supported (native byte order): {_SUPPORTED}")
    return dl_type


def _numpy_dtype_of(dl_type: DLDataType) -> np.dtype:
    dtype = _NUMPY_OF_DL_TYPE.get((dl_type.code, dl_type.bits)) if dl_type.lanes == 1 else None
    if dtype is None:
        code_name = _KDL_CODE_NAMES.get(dl_type.code, "unknown")
        raise TypeError(f"open_capsule: unsupported DLPack dtype (code={dl_type.code} "
                        f"({code_name}), bits={dl_type.bits}, lanes={dl_type.lanes}); "
                        f"supported, with lanes=1: {_SUPPORTED}")
    return dtype
