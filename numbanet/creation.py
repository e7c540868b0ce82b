"""Functions that make tensors: ``tensor``, ``zeros``, ``randn``, ``arange``...

Sizes may be given as ``zeros(2, 3)`` or ``zeros((2, 3))``; every function takes
``dtype=``, ``device=`` and ``requires_grad=``.
"""
from __future__ import annotations

import math
import weakref

import numpy as np

from . import dtypes as dt
from .device import CPU, as_device
from .random import draws, host_generator
from .shapes import check_extent, check_layout, size_args
from .tensor import ForeignVersion, Tensor


def _finish(data, device, dtype, requires_grad) -> Tensor:
    t = Tensor._wrap(data, device, dtype)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _on_device(array: np.ndarray, device) -> object:
    return device.backend.from_host(array) if device is not CPU else array


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor with a copy of ``data`` (numbers, nested lists, NumPy arrays, tensors).

    >>> nb.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    """
    if isinstance(data, Tensor):
        source = data.detach()
        out = source.to(device=device or source.device, dtype=dtype or source.dtype)
        out = out.clone() if out._data is source._data else out
        return _finish(out._data, out._device, out._dtype, requires_grad)
    device = as_device(device)
    if dtype is not None:
        dtype = dt.as_dtype(dtype)
    array = _host_array(data, dtype)
    if dtype is None:
        if array.dtype.kind == "f" and not isinstance(data, np.ndarray):
            dtype = dt.DEFAULT_FLOAT  # Python floats become float32, as in PyTorch
        else:
            dtype = dt.from_numpy_dtype(array.dtype)
    array = np.asarray(array, dtype=dtype.numpy, order="C")
    return _finish(_on_device(array, device), device, dtype, requires_grad)


def _host_array(data, dtype) -> np.ndarray:
    """``data`` copied into a NumPy array, refusing what would not convert exactly: ragged or
    self-containing lists, integers outside int64 (no wrap-around)."""
    try:
        array = np.array(data, copy=True)
    except (ValueError, TypeError, OverflowError, RecursionError):
        _check_nested(data, dtype)
        raise
    if array.dtype == object:
        if _check_nested(data, dtype):
            return np.array(data, dtype=np.float64)  # floats among the ints, as PyTorch reads them
        raise TypeError(f"tensor(): could not make a tensor from {type(data).__name__} data; "
                        "nested lists must be rectangular and hold numbers")
    if array.dtype == np.uint64 and (dtype is None or dtype is dt.int64) and array.size and \
            array.max() >= dt.INT64_END:
        big = int(array.max())
        if isinstance(data, (np.ndarray, np.generic)):
            raise OverflowError(f"tensor(): the uint64 value {big} does not fit in int64, "
                                "numbanet's integer dtype (at most 2**63 - 1); convert the "
                                "array to float64 first, or pass dtype=nb.float64")
        raise ValueError(f"tensor(): the integer {big} does not fit in int64 (at most "
                         "2**63 - 1); write it as a float or pass dtype=nb.float64")
    return array


_MAX_DIMS = 64  # as NumPy


def _check_nested(data, dtype) -> bool:
    """Walk nested lists (without recursion) and raise the error that says what is wrong:
    a list that contains itself, too many levels, a ragged length, an integer outside int64
    (unless floats are asked for or present). Returns whether a float was seen."""
    shape = []
    leaf_dim = None
    floats = dtype is not None and dtype.is_floating_point
    big = None
    stack = [(data, 0, frozenset())]
    while stack:
        value, d, path = stack.pop()
        if isinstance(value, (list, tuple)):
            if id(value) in path:
                raise ValueError(f"tensor(): the nested list contains itself (at dim {d}); "
                                 "data must be a finite nesting of lists of numbers")
            if d >= _MAX_DIMS:
                raise ValueError(f"tensor(): the nested lists are more than {d} levels deep; "
                                 f"a tensor has at most {_MAX_DIMS} dimensions")
            if leaf_dim is not None and d >= leaf_dim:
                raise ValueError(f"tensor(): expected a number at dim {d}, got a "
                                 f"{type(value).__name__}: nested lists must be rectangular")
            if d < len(shape):
                if len(value) != shape[d]:
                    raise ValueError(f"tensor(): expected a sequence of length {shape[d]} at "
                                     f"dim {d} (got {len(value)}): nested lists must be "
                                     "rectangular")
            else:
                shape.append(len(value))
            inner = path | {id(value)}
            stack.extend((v, d + 1, inner) for v in reversed(value))
            continue
        if leaf_dim is None:
            leaf_dim = d
        if d != leaf_dim or d < len(shape):
            raise ValueError(f"tensor(): expected a sequence of length {shape[d]} at dim {d} "
                             f"(got a {type(value).__name__}): nested lists must be rectangular")
        if isinstance(value, (float, np.floating)):
            floats = True
        elif isinstance(value, (int, np.integer)) and not dt.INT64_LOW <= value < dt.INT64_END:
            big = value if big is None else big
    if big is not None and not floats:
        raise ValueError(f"tensor(): the integer {big} does not fit in int64 (numbanet's "
                         "integer dtype, [-2**63, 2**63 - 1]); write it as a float or pass "
                         "dtype=nb.float64")
    return floats


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with a NumPy array (changes show in both)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a NumPy array, got {type(array).__name__}")
    dtype = dt.from_numpy_dtype(array.dtype)
    if array.dtype != dtype.numpy:
        raise TypeError(f"from_numpy: NumPy dtype {array.dtype} is not supported for sharing "
                        f"memory; use nb.tensor(array) to copy it into {dtype}")
    check_layout(array.strides, array.itemsize, array.flags.aligned, "from_numpy")
    owner = array
    while isinstance(owner, np.ndarray) and owner.base is not None:  # the memory's owner
        owner = owner.base
    if isinstance(owner, memoryview):  # np.frombuffer: a new memoryview of the buffer each time
        owner = owner.obj
    version = _VERSIONS.get(id(owner))  # alive as long as a tensor on the memory is
    if version is None:
        version = _VERSIONS[id(owner)] = ForeignVersion([0])
    return Tensor._wrap_foreign(array, CPU, dtype, version)


# id of the object owning a NumPy buffer -> the version counter of the tensors sharing it
_VERSIONS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _allocate(op: str, shape: tuple, dtype, make):
    """``make()``, the backend array of a new tensor, with PyTorch's RuntimeError (op, shape
    and bytes) where the memory is not there."""
    check_extent(shape, dtype.itemsize, op)
    try:
        return make()
    except MemoryError as e:
        raise RuntimeError(f"{op}: can't allocate memory: you tried to allocate "
                           f"{math.prod(shape) * dtype.itemsize} bytes for a {dtype.name} "
                           f"tensor of shape {shape}; use a smaller size") from e


def _fill(size, value, dtype, device, requires_grad, op):
    shape = size_args(size, op)
    device = as_device(device)
    if isinstance(value, (int, np.integer)) and not dt.INT64_LOW <= value < dt.INT64_END:
        raise OverflowError(f"{op}: the fill value {value} does not fit in int64 (at most "
                            "2**63 - 1 in size); pass it as a float")
    if dtype is None:
        dtype = dt.DEFAULT_FLOAT if isinstance(value, float) or op != "full" else \
            dt.from_numpy_dtype(np.asarray(value).dtype)
    dtype = dt.as_dtype(dtype)
    data = _allocate(op, shape, dtype, lambda: device.backend.full(shape, value, dtype))
    return _finish(data, device, dtype, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _fill(size, 0, dtype, device, requires_grad, "zeros")


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _fill(size, 1, dtype, device, requires_grad, "ones")


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _fill((size,) if not isinstance(size, int) else ((size,),), fill_value, dtype,
                 device, requires_grad, "full")


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    shape = size_args(size, "empty")
    device = as_device(device)
    dtype = dt.as_dtype(dtype or dt.DEFAULT_FLOAT)
    data = _allocate("empty", shape, dtype, lambda: device.backend.empty(shape, dtype))
    return _finish(data, device, dtype, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` up to (not including) ``end``: ``arange(5)``, ``arange(1, 2, .25)``."""
    if end is None:
        start, end = 0, start
    for v in (start, end, step):
        if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, bool):
            raise TypeError(f"arange: start, end and step must be numbers, got {v!r} of type "
                            f"{type(v).__name__}")
        if isinstance(v, (int, np.integer)) and not dt.INT64_LOW <= v < dt.INT64_END:
            raise OverflowError(f"arange: {v} does not fit in int64 (at most 2**63 - 1)")
        if math.isnan(v) or (v is not step and math.isinf(v)):
            raise RuntimeError(f"arange: unsupported range: {start} -> {end} (step {step}); "
                               "start and end must be finite and step not nan")
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and lower bound inconsistent with step sign: "
                           f"{start} -> {end} with step {step}; use a step of the other sign")
    if math.isinf(step):
        end = start  # PyTorch's count, ceil((end - start) / step), is 0
    if math.ceil((end - start) / step) >= dt.INT64_END:
        raise RuntimeError(f"arange: {start} -> {end} with step {step} would have more than "
                           "2**63 elements; use a larger step")
    if dtype is None:
        floats = any(isinstance(v, float) for v in (start, end, step))
        dtype = dt.DEFAULT_FLOAT if floats else dt.int64
    dtype = dt.as_dtype(dtype)
    device = as_device(device)
    return _finish(device.backend.arange(start, end, step, dtype), device, dtype, requires_grad)


def eye(n: int, m: int | None = None, dtype=None, device=None,
        requires_grad: bool = False) -> Tensor:
    n, m = size_args((n, n if m is None else m), "eye")
    dtype = dt.as_dtype(dtype or dt.DEFAULT_FLOAT)
    device = as_device(device)
    return _finish(_on_device(np.eye(n, m, dtype=dtype.numpy), device), device, dtype,
                   requires_grad)


def linspace(start, end, steps: int, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` values evenly spaced from ``start`` to ``end``, both included."""
    _check_steps(steps, "linspace")
    if dtype is not None and not dt.as_dtype(dtype).is_floating_point:
        start, end = math.trunc(start), math.trunc(end)  # as PyTorch: the ends in the dtype
    return _spaced(np.linspace(float(start), float(end), steps), dtype, device, requires_grad)


def logspace(start, end, steps: int, base: float = 10.0, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``base ** linspace(start, end, steps)``."""
    _check_steps(steps, "logspace")
    values = np.power(float(base), np.linspace(float(start), float(end), steps))
    return _spaced(values, dtype, device, requires_grad)


def _check_steps(steps, op: str):
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool):
        raise TypeError(f"{op}(): argument 'steps' must be int, not {type(steps).__name__}")
    if steps < 0:
        raise RuntimeError(f"{op}: number of steps must be non-negative, got {steps}")


def _spaced(values: np.ndarray, dtype, device, requires_grad) -> Tensor:
    dtype = dt.as_dtype(dtype or dt.DEFAULT_FLOAT)
    if not dtype.is_floating_point:
        values = np.trunc(values)  # PyTorch truncates toward zero for integer dtypes
    device = as_device(device)
    return _finish(_on_device(values.astype(dtype.numpy), device), device, dtype,
                   requires_grad)


def _random(kind, size, dtype, device, requires_grad, generator=None):
    shape = size_args(size, kind)
    device = as_device(device)
    dtype = dt.as_dtype(dtype or dt.DEFAULT_FLOAT)
    if not dtype.is_floating_point:
        raise TypeError(f"{kind}: random floats need a floating point dtype, got {dtype}; "
                        "use randint for integers")
    if generator is not None:  # the generator's own stream, drawn on the host
        rng = draws(generator)
        values = rng.random(shape, dtype=dtype.numpy) if kind == "rand" else \
            rng.standard_normal(shape, dtype=dtype.numpy)
        return _finish(_on_device(values, device), device, dtype, requires_grad)
    data = _allocate(kind, shape, dtype, lambda: getattr(device.backend, kind)(shape, dtype))
    return _finish(data, device, dtype, requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform random numbers in [0, 1)."""
    return _random("rand", size, dtype, device, requires_grad, generator)


def randn(*size, generator=None, dtype=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal random numbers."""
    return _random("randn", size, dtype, device, requires_grad, generator)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """Random integers in [low, high): ``randint(10, (3,))`` or ``randint(0, 10, (3,))``."""
    if size is None:
        if not isinstance(high, (tuple, list)):
            raise TypeError("randint needs a size, e.g. randint(0, 10, (3,))")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    shape = size_args((size,), "randint")
    device = as_device(device)
    if generator is not None:
        data = _on_device(draws(generator).integers(low, high, shape, dtype=np.int64), device)
    else:
        data = device.backend.randint(low, high, shape)
    t = Tensor._wrap(data, device, dt.int64)
    t = t if dtype is None else t.to(dtype)
    return t.requires_grad_(True) if requires_grad else t


def _like(fn, t: Tensor, dtype, device, requires_grad):
    return fn(t.shape, dtype=dtype or t.dtype, device=device or t.device,
              requires_grad=requires_grad)


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(zeros, t, dtype, device, requires_grad)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(ones, t, dtype, device, requires_grad)


def empty_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(empty, t, dtype, device, requires_grad)


def randn_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(randn, t, dtype, device, requires_grad)


def rand_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(rand, t, dtype, device, requires_grad)


def full_like(t: Tensor, fill_value, dtype=None, device=None,
              requires_grad: bool = False) -> Tensor:
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def randperm(n: int, *, generator=None, dtype=None, device=None, requires_grad: bool = False):
    """A random permutation of ``0 .. n-1`` (int64 unless ``dtype`` says otherwise).

    >>> nb.manual_seed(0); nb.randperm(5)
    tensor([2, 4, 3, 0, 1])
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative int, got {n!r}")
    rng = host_generator() if generator is None else draws(generator)
    return tensor(rng.permutation(int(n)), dtype=dtype or dt.int64, device=device,
                  requires_grad=requires_grad)


# ---- the legacy typed constructors: nb.FloatTensor([1, 2]), nb.LongTensor(2, 3) -------------

class _LegacyType(type):
    """``FloatTensor(data)`` makes a tensor of that dtype from data, ``FloatTensor(2, 3)`` an
    uninitialised one of that shape; ``isinstance(x, FloatTensor)`` tests the dtype."""

    dtype: dt.DType

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype and obj.device.type == "cpu"

    def __call__(cls, *args, device=None):
        if not args:
            return empty(0, dtype=cls.dtype, device=device)
        if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
            return empty(*args, dtype=cls.dtype, device=device)
        if len(args) == 1:
            if isinstance(args[0], Tensor):
                return args[0].to(cls.dtype)
            return tensor(args[0], dtype=cls.dtype, device=device)
        raise TypeError(f"{cls.__name__}(): expects data (a list, array or tensor) or sizes "
                        f"(ints), got {', '.join(type(a).__name__ for a in args)}")

    def __repr__(cls) -> str:
        return f"<class 'numbanet.{cls.__name__}'>"


def _legacy(name: str, dtype: dt.DType) -> type:
    return _LegacyType(name, (), {"dtype": dtype, "__doc__": f"Legacy constructor of "
                                  f"{dtype.name} tensors; prefer numbanet.tensor(data, "
                                  f"dtype=numbanet.{dtype.name})."})


FloatTensor = _legacy("FloatTensor", dt.float32)
DoubleTensor = _legacy("DoubleTensor", dt.float64)
LongTensor = _legacy("LongTensor", dt.int64)
BoolTensor = _legacy("BoolTensor", dt.bool_)
LEGACY_TYPES = {t.__name__: t for t in (FloatTensor, DoubleTensor, LongTensor, BoolTensor)}


def new(t: Tensor, kind: str, size, fill=None, dtype=None, device=None,
        requires_grad: bool = False) -> Tensor:
    """``t.new_zeros(size)`` and the like: ``t``'s dtype and device unless given."""
    dtype = t.dtype if dtype is None else dtype
    device = t.device if device is None else device
    if kind == "tensor":
        return tensor(size, dtype=dtype, device=device, requires_grad=requires_grad)
    if kind == "full":
        return full(size, fill, dtype=dtype, device=device, requires_grad=requires_grad)
    make = {"zeros": zeros, "ones": ones, "empty": empty}[kind]
    return make(*size, dtype=dtype, device=device, requires_grad=requires_grad)
