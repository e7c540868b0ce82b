"""``Tensor``: an n-dimensional array on a device, with the fields autograd needs.

A tensor holds a backend array (``_data``), its device and dtype, and, when it
takes part in autograd, ``requires_grad``, ``grad`` and ``grad_fn``. Views
(transpose, slicing, reshape, expand...) share ``_data``'s memory and a version
counter (``_vc``) with their base, so that autograd notices when a tensor it
saved for backward was changed in place. Memory numbanet did not allocate
(``from_numpy``, ``from_dlpack``) has a ``ForeignVersion`` counter instead, which
sends in-place writes through the overlap check.

The maths lives in ``autograd/ops``: every method below that computes forwards
to the differentiable op of the same name, and the methods and operators of the
elementwise ops (``exp``, ``relu_``, ``__neg__``, ``__add__``, ``mul_``, ``__eq__``...) are
attached from the op registry (``autograd/ops/registry.py``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import dtypes as _dt
from .device import CPU, as_device
from .shapes import Size


class ForeignVersion(list):
    """The version counter of memory numbanet did not allocate (``from_numpy``,
    ``from_dlpack``), whose strides may be anything. Tensors over one NumPy buffer share it,
    as views share their base's, so that an in-place op reading memory it writes copies it
    first; and it sends in-place writes to the checked path, which refuses them where two
    elements of the written tensor overlap. Tensors numbanet allocates pay nothing."""

    __slots__ = ("__weakref__",)


class Tensor:
    """An n-dimensional array of float32, float64, int64 or bool on one device."""

    __slots__ = ("_data", "_device", "_dtype", "_shape", "_requires_grad", "_grad", "grad_fn",
                 "_output_nr", "_vc", "_base", "__weakref__")
    # declared for the type checker (each instance sets them)
    _data: Any  # the backend array
    _device: Any
    _dtype: _dt.DType
    _shape: tuple
    _requires_grad: bool
    _grad: Tensor | None
    grad_fn: Any  # the autograd Node that made this tensor; None for a leaf
    _output_nr: int
    _vc: list  # the version counter, shared with views
    _base: Tensor | None

    __array_priority__ = 1000  # ``ndarray * tensor`` calls Tensor.__rmul__

    def __init__(self, data, dtype=None, device=None, requires_grad: bool = False):
        from .creation import tensor
        made = tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
        for name in ("_data", "_device", "_dtype", "_shape", "_requires_grad", "_vc"):
            setattr(self, name, getattr(made, name))
        self._grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._base = None

    @classmethod
    def _wrap(cls, data, device, dtype, base: Tensor | None = None) -> Tensor:
        """A tensor around backend array ``data``; a view when ``base`` is given."""
        t = object.__new__(Tensor)
        t._data = data
        t._device = device
        t._dtype = dtype
        t._shape = data.shape
        t._requires_grad = False
        t._grad = None
        t.grad_fn = None
        t._output_nr = 0
        if base is None:
            t._vc = [0]
            t._base = None
        else:
            t._vc = base._vc
            t._base = base if base._base is None else base._base
        return t

    @classmethod
    def _wrap_foreign(cls, data, device, dtype, version: ForeignVersion | None = None):
        """A tensor around foreign memory, with the version counter of that memory."""
        t = cls._wrap(data, device, dtype)
        t._vc = ForeignVersion(t._vc) if version is None else version
        return t

    def _alias(self) -> Tensor:
        """A new tensor object sharing this one's data (and version counter)."""
        return Tensor._wrap(self._data, self._device, self._dtype, base=self)

    def _bump_version(self):
        self._vc[0] += 1

    # ---- attributes -----------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._shape)

    @property
    def output_nr(self) -> int:
        """Which output of its ``grad_fn`` this tensor is (0 for a leaf), as in PyTorch."""
        return self._output_nr

    @property
    def dtype(self) -> _dt.DType:
        return self._dtype

    @property
    def device(self):
        return self._device

    @property
    def is_cuda(self) -> bool:
        return self._device.type == "cuda"

    @property
    def ndim(self) -> int:
        return len(self._shape)

    def dim(self) -> int:
        return len(self._shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._shape)
        from .shapes import normalize_dim
        return self._shape[normalize_dim(dim, len(self._shape), "size")]

    def numel(self) -> int:
        n = 1
        for s in self._shape:
            n *= s
        return n

    def __len__(self) -> int:
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    @property
    def grad(self):
        """The gradient accumulated by backward (None until then)."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if value is self:
                raise RuntimeError("can't assign a tensor as its own grad; assign a copy: "
                                   "x.grad = x.detach().clone()")
            if value._device is not self._device:
                raise RuntimeError(f"assigned grad has data on a different device: got "
                                   f"{value._device} for a tensor on {self._device}; move it "
                                   f"first: .grad = g.to('{self._device}')")
            if value._dtype is not self._dtype:
                raise RuntimeError(f"assigned grad has data of a different type: got "
                                   f"{value._dtype.name} for a {self._dtype.name} tensor; "
                                   f"convert it first: .grad = g.to(nb.{self._dtype.name})")
            if value._shape != self._shape:
                raise RuntimeError(f"assigned grad has data of a different size: got shape "
                                   f"{value._shape} for a tensor of shape {self._shape}; a "
                                   "gradient has the shape of its tensor")
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool):
        if value and not self._dtype.is_floating_point:
            raise RuntimeError(f"only tensors of floating point dtype can require gradients; "
                               f"this one is {self._dtype.name} (convert it with .float() first)")
        if not value and self.grad_fn is not None:
            raise RuntimeError("you can only change requires_grad of leaf tensors; use "
                               "detach() to get a tensor that does not require grad")
        self._requires_grad = bool(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a Tensor it returns
        replaces the gradient. Returns a handle whose ``remove()`` unregisters the hook."""
        return _autograd.register_hook(self, hook)

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after backward (leaves always keep it)."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that has requires_grad=False")
        if self.grad_fn is not None:
            if self.grad_fn._retained is None:
                self.grad_fn._retained = {}
            self.grad_fn._retained[self._output_nr] = self

    @property
    def retains_grad(self) -> bool:
        node = self.grad_fn
        return bool(node is not None and node._retained and
                    node._retained.get(self._output_nr) is self)

    @property
    def data(self) -> Tensor:
        """This tensor's values as a tensor outside autograd (shares memory)."""
        return Tensor._wrap(self._data, self._device, self._dtype, base=self)

    @data.setter
    def data(self, other: Tensor):
        _ops.set_data_(self, other)  # PyTorch's t.data = new; the rule is written there

    @property
    def T(self) -> Tensor:
        return _ops.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    def is_contiguous(self) -> bool:
        return self._device.backend.is_contiguous(self._data)

    def element_size(self) -> int:
        """The size of one element in bytes."""
        return self._dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self._dtype.itemsize

    @property
    def nbytes(self) -> int:
        """The bytes of the elements (``numel() * element_size()``)."""
        return self.numel() * self._dtype.itemsize

    def data_ptr(self) -> int:
        """The address of the first element (of the host or of the device memory)."""
        if self._device.type == "cpu":
            return int(self._data.ctypes.data)
        return int(self._data.__cuda_array_interface__["data"][0])

    def storage_offset(self) -> int:
        """Elements between the start of the memory this tensor views and its first one
        (0 for a tensor that owns its memory)."""
        if self._base is None:
            return 0
        return (self.data_ptr() - self._base.data_ptr()) // self._dtype.itemsize

    def stride(self, dim: int | None = None):
        strides = tuple(s // self._dtype.itemsize for s in self._data.strides)
        if dim is None:
            return strides
        from .shapes import normalize_dim
        return strides[normalize_dim(dim, len(strides), "stride")]

    # ---- conversion -------------------------------------------------------------------------
    def detach(self) -> Tensor:
        """The same data, cut off from the graph (``requires_grad=False``)."""
        return Tensor._wrap(self._data, self._device, self._dtype, base=self)

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

    # ---- interop: DLPack and the CUDA array interface -------------------------------------
    def __dlpack_device__(self) -> tuple:
        return (2, self._device.index or 0) if self._device.type == "cuda" else (1, 0)

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """A DLPack capsule sharing this tensor's memory (``torch.from_dlpack(t)``,
        ``np.from_dlpack(t)``, ``cupy.from_dlpack(t)``, ``jax.dlpack.from_dlpack(t)``)."""
        from .interop import to_dlpack
        return to_dlpack(self, stream=stream, max_version=max_version, dl_device=dl_device,
                         copy=copy)

    @property
    def __cuda_array_interface__(self) -> dict:
        if self._device.type != "cuda":
            raise AttributeError(f"a {self._device} tensor has no __cuda_array_interface__; "
                                 "only tensors on a CUDA device do")
        from .interop import cuda_array_interface
        return cuda_array_interface(self)

    def numpy(self) -> np.ndarray:
        """The values as a NumPy array (sharing memory for CPU tensors)."""
        if self._requires_grad:
            raise RuntimeError("can't call numpy() on a tensor that requires grad: its values "
                               "would leave autograd's view. Use tensor.detach().numpy() instead.")
        if self._device is not CPU:
            raise TypeError(f"can't convert a {self._device} tensor to NumPy directly; "
                            "copy it to the host first with .cpu()")
        return self._data

    def __array__(self, dtype=None, copy=None):
        values = self.numpy()
        if dtype is not None and values.dtype != dtype:
            return values.astype(dtype)
        return values.copy() if copy else values

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.numel() != 1:
            raise ValueError(f"item(): a tensor with {self.numel()} elements (shape "
                             f"{self._shape}) cannot be converted to a Python scalar; index one "
                             "element first or reduce it (e.g. .sum())")
        return self._device.backend.to_host(self._data).reshape(()).item()

    def tolist(self):
        return self._device.backend.to_host(self._data).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._dtype.is_floating_point or self.numel() != 1:
            raise TypeError("only one-element integer tensors can be used as an index")
        return int(self.item())

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.numel()} elements is "
                               "ambiguous; use .any() or .all(), or compare with `is not None`")
        return bool(self.item())

    def to(self, *args, **kwargs) -> Tensor:
        """``to(device)``, ``to(dtype)`` or ``to(device, dtype)``: a copy only when needed."""
        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() got unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a._device, a._dtype
            elif isinstance(a, (_dt.DType, type)) or (isinstance(a, str) and a in _dt._BY_NAME):
                dtype = a
            elif isinstance(a, np.dtype):
                dtype = a
            elif isinstance(a, str) and _dt.is_unsupported_dtype_name(a):
                raise RuntimeError(
                    f"to(): '{a}' was read as a dtype name, but numbanet has no {a} dtype: "
                    f"tensors hold {', '.join(d.name for d in _dt.ALL)} (e.g. .to('float32')); "
                    "a device is 'cpu', 'cuda' or 'cuda:N'")
            else:
                device = a
        out = self
        if dtype is not None and _dt.as_dtype(dtype) is not self._dtype:
            out = _ops.cast(out, _dt.as_dtype(dtype))
        if device is not None and as_device(device) is not self._device:
            out = _ops.to_device(out, as_device(device))
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device=None) -> Tensor:
        return self.to(as_device("cuda" if device is None else device))

    def float(self) -> Tensor:
        return self.to(_dt.float32)

    def double(self) -> Tensor:
        return self.to(_dt.float64)

    def long(self) -> Tensor:
        return self.to(_dt.int64)

    def bool(self) -> Tensor:
        return self.to(_dt.bool_)

    def type(self, dtype=None):
        """Without an argument the legacy type name (``'numbanet.FloatTensor'``); with a
        dtype, a legacy type or its name, the tensor converted to it."""
        from .creation import LEGACY_TYPES
        if dtype is None:
            name = next(n for n, t in LEGACY_TYPES.items() if t.dtype is self._dtype)
            return f"numbanet.{'cuda.' if self._device.type == 'cuda' else ''}{name}"
        if isinstance(dtype, str) and dtype.split(".")[-1] in LEGACY_TYPES:
            dtype = LEGACY_TYPES[dtype.split(".")[-1]]
        return self.to(getattr(dtype, "dtype", dtype))

    # ---- new tensors like this one: its dtype and device unless given ----------------------
    def new_zeros(self, *size, dtype=None, device=None, requires_grad: bool = False):
        from .creation import new
        return new(self, "zeros", size, None, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad: bool = False):
        from .creation import new
        return new(self, "ones", size, None, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad: bool = False):
        from .creation import new
        return new(self, "empty", size, None, dtype, device, requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad: bool = False):
        from .creation import new
        return new(self, "full", size, fill_value, dtype, device, requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad: bool = False):
        from .creation import new
        return new(self, "tensor", data, None, dtype, device, requires_grad)

    # ---- printing --------------------------------------------------------------------
    def __repr__(self) -> str:
        values = self._device.backend.to_host(self._data)
        body = np.array2string(values, separator=", ", prefix="tensor(", precision=4,
                               floatmode="maxprec_equal" if values.size else "fixed")
        extras = []
        if self._device is not CPU:
            extras.append(f"device='{self._device}'")
        default = _dt.float32 if values.dtype.kind == "f" else \
            (_dt.int64 if values.dtype.kind == "i" else _dt.bool_)
        if self._dtype is not default or not values.size:
            extras.append(f"dtype={self._dtype!r}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    __str__ = __repr__

    def __hash__(self):
        return id(self)

    def __iter__(self):
        if not self._shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._shape[0]))

    def __reduce_ex__(self, protocol):
        """In-process pickling (``pickle.dumps``, ``copy``, multiprocessing): the values on
        the host, the dtype, the device and ``requires_grad``. Files are written with
        ``nb.save``, and ``nb.load`` never unpickles."""
        values = self.detach().cpu().numpy()
        return (_rebuild, (values, self._dtype.name, str(self._device), self._requires_grad))

    def __deepcopy__(self, memo):
        """A leaf tensor's copy: new memory, the same ``requires_grad``, a copy of ``.grad``;
        as in PyTorch, a tensor made by an op (not a leaf) cannot be deep-copied."""
        found = memo.get(id(self))
        if found is not None:
            return found
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment; deep-copy "
                               "x.detach() instead, or the leaves it was computed from")
        new = _rebuild(self.detach().cpu().numpy().copy(), self._dtype.name, str(self._device),
                       self._requires_grad)
        if self._grad is not None:
            new._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = new
        return new

    # ---- autograd -------------------------------------------------------------------------
    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False):
        """Compute the gradient of this tensor with respect to the graph's leaves,
        accumulating it into their ``.grad``."""
        _autograd.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    # ---- in-place -----------------------------------------------------------------------------
    def zero_(self) -> Tensor:
        return _ops.fill_(self, 0.0)

    def fill_(self, value) -> Tensor:
        return _ops.fill_(self, value)

    def copy_(self, src) -> Tensor:
        return _ops.copy_(self, src)

    def clamp_(self, min=None, max=None) -> Tensor:
        return _ops.inplace_unary(self, lambda t: _ops.clamp(t, min, max))

    def __setitem__(self, key, value):
        _ops.setitem(self, key, value)

    def __getitem__(self, key):
        return _ops.getitem(self, key)

    # ---- arithmetic -------------------------------------------------------------------------
    if TYPE_CHECKING:  # for the type checker only: these come from the op registry at import
        def __add__(self, other) -> Tensor: ...
        def __radd__(self, other) -> Tensor: ...
        def __sub__(self, other) -> Tensor: ...
        def __rsub__(self, other) -> Tensor: ...
        def __mul__(self, other) -> Tensor: ...
        def __rmul__(self, other) -> Tensor: ...
        def __truediv__(self, other) -> Tensor: ...
        def __rtruediv__(self, other) -> Tensor: ...
        def __pow__(self, other) -> Tensor: ...
        def __rpow__(self, other) -> Tensor: ...
        def __neg__(self) -> Tensor: ...
        def __eq__(self, other) -> Tensor: ...  # type: ignore[override]
        def __ne__(self, other) -> Tensor: ...  # type: ignore[override]
        def __lt__(self, other) -> Tensor: ...
        def __le__(self, other) -> Tensor: ...
        def __gt__(self, other) -> Tensor: ...
        def __ge__(self, other) -> Tensor: ...
        def __and__(self, other) -> Tensor: ...
        def __or__(self, other) -> Tensor: ...
        def __getattr__(self, name: str) -> Any: ...  # exp, mul_, eq...

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __pos__(self):
        return self

    def __invert__(self):
        return _ops.invert(self)

    # ---- methods whose arguments differ from their op's (the others, sum, mean, max,
    # transpose..., are the op's function itself, attached by autograd/ops/__init__.py)
    def mm(self, other):
        return _ops.mm(self, other)

    def matmul(self, other):
        return _ops.matmul(self, other)

    def permute(self, *dims):
        return _ops.permute(self, dims[0] if len(dims) == 1 and not isinstance(dims[0], int)
                            else dims)

    def reshape(self, *shape):
        return _ops.reshape(self, shape)

    def view(self, *shape):
        return _ops.view(self, shape)

    def view_as(self, other):
        return _ops.view(self, other.shape)

    def reshape_as(self, other):
        return _ops.reshape(self, other.shape)

    def expand(self, *sizes):
        return _ops.expand(self, sizes)

    def expand_as(self, other):
        return _ops.expand(self, other.shape)


def _rebuild(values, dtype: str, device: str, requires_grad: bool) -> Tensor:
    from .creation import tensor
    return tensor(values, dtype=dtype, device=device, requires_grad=requires_grad)


# The layers above bind these when they are imported (``numbanet/__init__.py`` imports them
# first): the methods above reach the ops and the engine through them, and this module
# imports nothing above it.
_ops: Any = None  # numbanet.autograd.ops
_autograd: Any = None  # numbanet.autograd
