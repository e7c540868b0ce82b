"""DLPack capsules (numbanet.dlpack): NumPy and PyTorch read the memory that
make_capsule describes without copying it, open_capsule reads the capsules they
produce, and every owner is released exactly once.

Lifetimes are checked right after `del`, without gc.collect(): nothing here makes a
reference cycle, so CPython's reference counting must release owners at once."""
import ctypes
import datetime
import sys
import weakref

import numpy as np
import pytest

from numbanet.dlpack import DEVICE_CPU, DEVICE_CUDA, DLPackView, make_capsule, open_capsule

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def element_strides(a: np.ndarray) -> tuple:
    return tuple(s // a.itemsize for s in a.strides)


class Owner:
    """Holds the only reference to an array, so that its lifetime is the memory's."""

    def __init__(self, array: np.ndarray):
        self.array = array


class Exporter:
    """The smallest DLPack producer: an array plus the object make_capsule keeps alive.

    It answers consumers that ask for DLPack >= 1.0 with a versioned capsule, others (and
    every consumer when `legacy`) with a legacy one.
    """

    def __init__(self, array: np.ndarray, owner=None, legacy: bool = False):
        self.array = array
        self.owner = array if owner is None else owner
        self.legacy = legacy

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        a = self.array
        versioned = not self.legacy and max_version is not None and max_version >= (1, 0)
        return make_capsule(a.ctypes.data, a.shape, element_strides(a), a.dtype,
                            (DEVICE_CPU, 0), self.owner, versioned=versioned,
                            readonly=versioned and not a.flags.writeable)

    def __dlpack_device__(self):
        return (DEVICE_CPU, 0)


def exporter_of(owner: Owner) -> Exporter:
    return Exporter(owner.array, owner)


def sample(dtype, layout: str) -> np.ndarray:
    """A small array of `dtype` whose elements differ, laid out as named."""
    values = np.arange(12) % 2 == 1 if dtype == np.bool_ else np.arange(12) * 3 - 5
    grid = values.astype(dtype).reshape(3, 4)
    return {"contiguous": grid,
            "transposed": grid.T,
            "zero_dim": grid[1:2, 2:3].copy().reshape(()),
            "empty": grid[:0]}[layout]


def changed(value):
    return not value if isinstance(value, (bool, np.bool_)) else value + 7


DTYPES = [np.float32, np.float64, np.int64, np.bool_]
LAYOUTS = ["contiguous", "transposed", "zero_dim", "empty"]


@pytest.mark.skipif(ctypes.sizeof(ctypes.c_void_p) != 8, reason="offsets of a 64-bit build")
def test_struct_layouts_match_dlpack_h():
    from numbanet import dlpack

    assert ctypes.sizeof(dlpack.DLDevice) == 8
    assert (ctypes.sizeof(dlpack.DLDataType), dlpack.DLDataType.lanes.offset) == (4, 2)
    offsets = {name: getattr(dlpack.DLTensor, name).offset
               for name in ("data", "device", "ndim", "dtype", "shape", "strides",
                            "byte_offset")}
    assert offsets == {"data": 0, "device": 8, "ndim": 16, "dtype": 20, "shape": 24,
                       "strides": 32, "byte_offset": 40}
    assert ctypes.sizeof(dlpack.DLTensor) == 48
    assert (dlpack.DLManagedTensor.manager_ctx.offset,
            dlpack.DLManagedTensor.deleter.offset,
            ctypes.sizeof(dlpack.DLManagedTensor)) == (48, 56, 64)
    versioned = dlpack.DLManagedTensorVersioned
    assert (versioned.manager_ctx.offset, versioned.deleter.offset, versioned.flags.offset,
            versioned.dl_tensor.offset, ctypes.sizeof(versioned)) == (8, 16, 24, 32, 80)


# --- NumPy and PyTorch consume make_capsule ------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_from_dlpack_equals_and_shares_memory(dtype, layout):
    a = sample(dtype, layout)
    b = np.from_dlpack(Exporter(a))
    assert (b.dtype, b.shape, b.strides) == (a.dtype, a.shape, a.strides)
    assert np.array_equal(a, b)
    if a.size:
        assert b.ctypes.data == a.ctypes.data
        first, last = (0,) * a.ndim, tuple(n - 1 for n in a.shape)
        b[last] = changed(b[last])
        assert a[last] == b[last]
        a[first] = changed(a[first])
        assert b[first] == a[first]


def test_numpy_reads_legacy_capsule_as_read_only_view_of_the_same_memory():
    a = sample(np.float64, "transposed")
    b = np.from_dlpack(Exporter(a, legacy=True))
    assert not b.flags.writeable  # NumPy's rule for capsules that cannot say "writable"
    a[2, 1] = -100.0
    assert b[2, 1] == -100.0 and np.array_equal(a, b)


def test_read_only_flag_reaches_numpy_through_versioned_capsule():
    a = np.arange(4.0)
    a.flags.writeable = False
    b = np.from_dlpack(Exporter(a))
    assert not b.flags.writeable and b.ctypes.data == a.ctypes.data
    with pytest.raises(ValueError, match="legacy capsule cannot mark memory read-only"):
        make_capsule(a.ctypes.data, a.shape, (1,), a.dtype, (DEVICE_CPU, 0), a, readonly=True)


@pytest.mark.parametrize("dtype", [np.float16, np.int32, np.int8, np.uint8])
def test_numpy_from_dlpack_reads_the_smaller_dtypes(dtype):
    a = sample(dtype, "transposed")
    b = np.from_dlpack(Exporter(a))
    assert b.dtype == a.dtype and np.array_equal(a, b)


def test_numpy_from_dlpack_follows_negative_strides():
    a = np.arange(6.0)[::-2]
    b = np.from_dlpack(Exporter(a))
    assert np.array_equal(b, [5.0, 3.0, 1.0])
    b[0] = -1.0
    assert a[0] == -1.0


@needs_torch
@pytest.mark.parametrize("legacy", [False, True], ids=["versioned", "legacy"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_from_dlpack_equals_and_shares_memory(dtype, layout, legacy):
    a = sample(dtype, layout)
    t = torch.from_dlpack(Exporter(a, legacy=legacy))
    assert tuple(t.shape) == a.shape and t.stride() == element_strides(a)
    assert t.dtype == torch.from_numpy(np.empty(0, dtype)).dtype
    assert np.array_equal(t.numpy(), a)
    if a.size:
        assert t.data_ptr() == a.ctypes.data
        first, last = (0,) * a.ndim, tuple(n - 1 for n in a.shape)
        t[last] = changed(t[last].item())
        assert a[last] == t[last].item()
        a[first] = changed(a[first])
        assert t[first].item() == a[first]


# --- Ownership ------------------------------------------------------------------------------

def test_owner_lives_while_numpy_array_lives_and_dies_with_it():
    owner = Owner(np.arange(5.0))
    alive = weakref.ref(owner)
    b = np.from_dlpack(exporter_of(owner))
    del owner
    assert alive() is not None
    assert np.array_equal(b, np.arange(5.0))  # the memory is still the owner's array
    del b
    assert alive() is None


@needs_torch
def test_owner_lives_while_torch_tensor_lives_and_dies_with_it():
    owner = Owner(np.arange(5.0))
    alive = weakref.ref(owner)
    t = torch.from_dlpack(exporter_of(owner))
    del owner
    assert alive() is not None
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    del t
    assert alive() is None


def test_unconsumed_capsule_releases_its_owner_when_collected():
    owner = Owner(np.arange(5.0))
    alive = weakref.ref(owner)
    capsule = exporter_of(owner).__dlpack__()
    del owner
    assert alive() is not None
    del capsule
    assert alive() is None


def test_released_view_of_own_capsule_drops_owner_and_collected_view_too():
    owner = Owner(np.arange(5.0))
    alive = weakref.ref(owner)
    first, second = exporter_of(owner).__dlpack__(), exporter_of(owner).__dlpack__()
    del owner
    view = open_capsule(first)
    del first
    view.release()
    assert alive() is not None  # `second` still holds it
    forgotten = open_capsule(second)
    del second, forgotten  # a view nobody released releases itself when collected
    assert alive() is None


def test_every_consumer_drops_the_owner_reference_exactly_once():
    owner = Owner(np.arange(5.0))
    baseline = sys.getrefcount(owner)
    consumed_by_numpy = np.from_dlpack(exporter_of(owner))
    unconsumed = exporter_of(owner).__dlpack__()
    with open_capsule(exporter_of(owner).__dlpack__()) as view:
        held = sys.getrefcount(owner) - baseline
    view.release()  # a second release must not drop another reference
    consumed_by_torch = torch.from_dlpack(exporter_of(owner)) if torch is not None else None
    assert held == 3
    del consumed_by_numpy, unconsumed, consumed_by_torch, view
    assert sys.getrefcount(owner) == baseline


def pair(first, second):
    return first, second


def test_consumer_array_dying_while_an_exception_propagates_keeps_that_exception():
    # The temporary array dies, and calls the deleter, while IndexError is pending: a
    # deleter written in Python would replace it with SystemError (or crash).
    owner = Owner(np.arange(3.0))
    alive = weakref.ref(owner)
    exporter = exporter_of(owner)
    del owner
    with pytest.raises(IndexError):
        np.from_dlpack(exporter)[10]
    if torch is not None:
        with pytest.raises(IndexError):
            torch.from_dlpack(exporter)[10]
    del exporter
    assert alive() is None


def test_unconsumed_capsule_dying_while_an_exception_propagates_keeps_that_exception():
    owner = Owner(np.arange(3.0))
    alive = weakref.ref(owner)
    exporter = exporter_of(owner)
    del owner
    with pytest.raises(ZeroDivisionError):
        pair(exporter.__dlpack__(), 1 / 0)  # the capsule is freed during the unwinding
    del exporter
    assert alive() is None


# --- open_capsule reads NumPy's and PyTorch's capsules -------------------------------------

@pytest.mark.parametrize("max_version", [None, (1, 0)], ids=["legacy", "versioned"])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "zero_dim"])
def test_open_capsule_reads_numpy_capsule(layout, max_version):
    a = sample(np.float32, layout)
    capsule = a.__dlpack__(max_version=max_version)
    view = open_capsule(capsule)
    assert isinstance(view, DLPackView)
    assert view.ptr == a.ctypes.data
    assert (view.shape, view.strides) == (a.shape, element_strides(a))
    assert view.dtype == np.dtype(np.float32) and view.device == (DEVICE_CPU, 0)
    assert view.readonly is False
    view.release()
    view.release()
    with pytest.raises(ValueError, match="already consumed"):
        open_capsule(capsule)


def test_open_capsule_exposes_read_only_flag_of_versioned_capsule():
    a = np.arange(4.0)
    a.flags.writeable = False
    with open_capsule(a.__dlpack__(max_version=(1, 0))) as view:
        assert view.readonly is True
        assert view.ptr == a.ctypes.data


def test_view_holds_numpy_producer_array_until_release():
    a = np.arange(4.0)
    baseline = sys.getrefcount(a)
    capsule = a.__dlpack__()
    view = open_capsule(capsule)
    del capsule
    assert sys.getrefcount(a) > baseline
    view.release()
    assert sys.getrefcount(a) == baseline


@needs_torch
@pytest.mark.parametrize("max_version", [None, (1, 0)], ids=["legacy", "versioned"])
def test_open_capsule_reads_torch_capsule(max_version):
    tensor = torch.from_numpy(np.arange(12, dtype=np.int64).reshape(3, 4)).t()
    capsule = (tensor.__dlpack__() if max_version is None
               else tensor.__dlpack__(max_version=max_version))
    view = open_capsule(capsule)
    assert view.ptr == tensor.data_ptr()
    assert (view.shape, view.strides) == ((4, 3), (1, 4))
    assert view.dtype == np.dtype(np.int64) and view.device == (DEVICE_CPU, 0)
    view.release()
    with pytest.raises(ValueError, match="already consumed"):
        open_capsule(capsule)


def test_open_capsule_round_trips_a_cuda_pointer_without_touching_it():
    # No GPU needed: nothing dereferences the pointer, only the description travels.
    owner = Owner(None)
    alive = weakref.ref(owner)
    capsule = make_capsule(0x7F0000001000, (2, 3, 4), None, np.float16,
                           (DEVICE_CUDA, 1), owner)
    del owner
    view = open_capsule(capsule)
    assert (view.ptr, view.shape, view.strides) == (0x7F0000001000, (2, 3, 4), (12, 4, 1))
    assert view.dtype == np.dtype(np.float16) and view.device == (DEVICE_CUDA, 1)
    assert alive() is not None
    view.release()
    assert alive() is None


def test_open_capsule_reads_own_versioned_read_only_capsule():
    a = np.arange(6, dtype=np.int64).reshape(2, 3)
    capsule = make_capsule(a.ctypes.data, a.shape, (3, 1), a.dtype, (DEVICE_CPU, 0), a,
                           versioned=True, readonly=True)
    with open_capsule(capsule) as view:
        assert view.readonly is True
        assert (view.ptr, view.shape, view.strides) == (a.ctypes.data, (2, 3), (3, 1))
    with pytest.raises(ValueError, match="'used_dltensor_versioned'"):
        open_capsule(capsule)


def test_open_capsule_adds_byte_offset_to_the_data_pointer():
    from numbanet.dlpack import DLManagedTensor

    a = np.arange(4.0)
    capsule = make_capsule(a.ctypes.data, (3,), (1,), a.dtype, (DEVICE_CPU, 0), a)
    get_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
        ("PyCapsule_GetPointer", ctypes.pythonapi))
    # Describe a[1:] as some producers do: the base address plus an offset in bytes.
    DLManagedTensor.from_address(get_pointer(capsule, b"dltensor")).dl_tensor.byte_offset = 8
    with open_capsule(capsule) as view:
        assert view.ptr == a.ctypes.data + 8


# --- Errors ---------------------------------------------------------------------------------

def test_open_capsule_rejects_a_non_capsule_naming_its_type():
    with pytest.raises(TypeError, match="received an object of type int"):
        open_capsule(42)
    with pytest.raises(TypeError, match=r"type ndarray.*pass obj.__dlpack__\(\)"):
        open_capsule(np.zeros(2))


def test_open_capsule_rejects_a_capsule_of_another_kind():
    with pytest.raises(ValueError, match="datetime.datetime_CAPI"):
        open_capsule(datetime.datetime_CAPI)


def test_open_capsule_rejects_unsupported_dtype_and_leaves_capsule_unconsumed():
    capsule = np.ones(3, np.complex64).__dlpack__()
    for _ in range(2):  # still unconsumed: the same error, not "already consumed"
        with pytest.raises(TypeError, match=r"code=5 \(kDLComplex\), bits=64, lanes=1"):
            open_capsule(capsule)


@needs_torch
def test_open_capsule_rejects_torch_bfloat16():
    with pytest.raises(TypeError, match=r"code=4 \(kDLBfloat\), bits=16, lanes=1"):
        open_capsule(torch.ones(2, dtype=torch.bfloat16).__dlpack__())


def test_make_capsule_rejects_unsupported_dtype_and_mismatched_strides():
    with pytest.raises(TypeError, match="complex64"):
        make_capsule(0, (2,), (1,), np.complex64, (DEVICE_CPU, 0), None)
    with pytest.raises(ValueError, match=r"2 strides \(1, 1\) for 1 dimensions"):
        make_capsule(0, (2,), (1, 1), np.float32, (DEVICE_CPU, 0), None)
