"""Backends: the kernels of one device each, behind one contract.

A backend works on its own array type (NumPy ``ndarray`` on the CPU, Numba
device arrays on CUDA) and knows nothing of tensors or autograd. The tensor
layer decides shapes, dtypes and broadcasting, validates every argument and
allocates outputs; a backend only runs the primitives below. ``Backend``
lists them, with the types of their arguments (the op enums, ``Window``, ``Array``);
``cpu.py`` and ``cuda.py`` implement them, sharing the shape and stride arithmetic of
``layout.py``, and ``tests/backend/test_conformance.py`` checks every backend against NumPy.

Conventions shared by all backends:

- ``shape`` is a tuple of ints, ``dtype`` a :class:`numbanet.dtypes.DType`.
- A *scalar* operand is a NumPy scalar already of the operand dtype.
- Outputs passed as ``out`` are allocated by the caller with the result's
  shape and dtype; they may be strided views (in-place ops write through).
- Inputs may be strided views, including broadcast views with stride 0.
- Primitives are memory safe whatever the *values* of their arguments: an index array
  may hold anything when a kernel runs (its memory may be shared with NumPy through
  ``from_numpy`` or DLPack, or come from a graph file), and each kernel that takes
  indices checks every index it reads (out of range: IndexError naming the value, the
  dimension's size and the primitive); window geometries and the shapes of the arrays
  given with them are checked before the kernel runs (``windows.check``: ValueError).
  The checks shared by all backends are in ``backend/checks.py``.
"""
from __future__ import annotations

import enum
from typing import Callable, NamedTuple, Protocol, Union

import numpy as np

from . import scalar

# ---- the contract's types --------------------------------------------------------------
# The op enums are made from the scalar tables, so that an op added to backend/scalar.py is
# a member at once. Their members are strings (``UnaryOp.RELU == "relu"``, with one hash):
# a backend's kernel tables, keyed by the op's name, find a member or its name alike, and
# callers may pass either.
# (mypy cannot see members made from a table: it reads these as enums without members)
UnaryOp = enum.StrEnum(  # type: ignore[misc]
    "UnaryOp", {name.upper(): name for name in scalar.UNARY}, module=__name__)
BinaryOp = enum.StrEnum(  # type: ignore[misc]
    "BinaryOp", {name.upper(): name for name in scalar.BINARY}, module=__name__)
ReduceOp = enum.StrEnum(  # type: ignore[misc]
    "ReduceOp", {name.upper(): name for name in scalar.REDUCE}, module=__name__)
ArgReduceOp = enum.StrEnum(  # type: ignore[misc]
    "ArgReduceOp", {"MAX": "max", "MIN": "min"}, module=__name__)


class Window(NamedTuple):
    """The window of a convolution or pooling (``backend/windows.py``): kernel size,
    stride, padding and dilation, each as (height, width). A plain 8-tuple in this order is
    accepted wherever a Window is."""

    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int


class Array(Protocol):
    """A backend's array, as the layers above read it: NumPy's ``ndarray`` on the CPU,
    Numba's ``DeviceNDArray`` on CUDA (a ``FakeCUDAArray`` on its simulator), the graph
    recorder's ``SymArray``. Its memory is read and written by its backend only."""

    @property
    def shape(self) -> tuple: ...

    @property
    def strides(self) -> tuple: ...

    @property
    def dtype(self) -> np.dtype: ...

    @property
    def ndim(self) -> int: ...

    @property
    def size(self) -> int: ...


# An operand of an elementwise primitive: an array, or a NumPy scalar of the operand dtype.
Operand = Union[Array, np.generic]


class Backend:
    """The primitives every device implements. Elementwise ops are named by
    ``UnaryOp`` and ``BinaryOp`` (the keys of ``backend.scalar.UNARY`` and
    ``backend.scalar.BINARY``), reductions by ``ReduceOp`` (``backend.scalar.REDUCE``);
    a plain name is as good as the member."""

    name = "abstract"
    symbolic = False  # True for the graph device, whose arrays hold no values on the host

    # -- memory ---------------------------------------------------------------------------
    def empty(self, shape, dtype):
        raise NotImplementedError

    def full(self, shape, value, dtype):
        raise NotImplementedError

    def arange(self, start, stop, step, dtype):
        raise NotImplementedError

    def from_host(self, array):
        """A native array holding a copy of (or, on the CPU, the same memory as) a NumPy array."""
        raise NotImplementedError

    def to_host(self, a):
        """A NumPy array with the values of ``a`` (a copy for devices other than the CPU)."""
        raise NotImplementedError

    # -- random numbers -----------------------------------------------------------------
    def manual_seed(self, seed: int):
        raise NotImplementedError

    def rand(self, shape, dtype):
        raise NotImplementedError

    def randn(self, shape, dtype):
        raise NotImplementedError

    def randint(self, low, high, shape):
        raise NotImplementedError

    # -- views: never copy ------------------------------------------------------------
    def basic_index(self, a, key):
        """``a[key]`` for a tuple of ints and slices with positive steps: a view."""
        raise NotImplementedError

    def permute(self, a, perm):
        raise NotImplementedError

    def reshape_view(self, a, shape):
        """A view of ``a`` with a new shape, or None when the strides do not allow one;
        ValueError for a shape of another size (or with a negative entry)."""
        raise NotImplementedError

    def broadcast_to(self, a, shape):
        """A read-only view with stride 0 along the broadcast dimensions; ValueError unless
        ``a`` broadcasts to ``shape`` (``layout.broadcast_strides``)."""
        raise NotImplementedError

    # -- elementwise -------------------------------------------------------------------
    def unary(self, op: UnaryOp, a: Operand, out: Array) -> Array:
        """``out[...] = op(a)``, ``a`` broadcastable to ``out``; casts on store. An operand
        that does not broadcast to ``out`` raises ValueError (the same for ``binary`` and
        ``where``)."""
        raise NotImplementedError

    def binary(self, op: BinaryOp, a: Operand, b: Operand, out: Array) -> Array:
        """``out[...] = op(a, b)`` with broadcasting; ``a`` or ``b`` may be scalars."""
        raise NotImplementedError

    def where(self, cond: Operand, a: Operand, b: Operand, out: Array) -> Array:
        raise NotImplementedError

    # -- reductions ------------------------------------------------------------------------
    def reduce(self, op: ReduceOp, a: Array, axes: tuple, dtype) -> Array:
        """Reduce ``a`` over ``axes`` (non-empty, sorted) and drop them; result of ``dtype``.
        ``sum`` and ``prod`` accumulate in float64 (floats) or int64 (integers)."""
        raise NotImplementedError

    def argreduce(self, op: ArgReduceOp, a: Array, axis: int) -> Array:
        """int64 indices of the first max (``op='max'``) or min along ``axis``; NaN counts as
        the largest and the smallest value, as in PyTorch."""
        raise NotImplementedError

    # -- linear algebra ------------------------------------------------------------------
    def matmul(self, a: Array, b: Array) -> Array:
        """Batched matrix product of arrays of at least 2 dimensions (batch dims broadcast)."""
        raise NotImplementedError

    # -- gather / scatter ----------------------------------------------------------------
    def index_select(self, a, axis: int, index):
        """``a`` gathered along ``axis`` at the int64 1-D ``index``: any values, an index in
        [-n, 0) counting from the end (n = ``a.shape[axis]``) and one outside [-n, n)
        raising IndexError. Indices are read as the kernel runs, once each."""
        raise NotImplementedError

    def index_add(self, dst, axis: int, index, src):
        """``dst`` += ``src`` scattered along ``axis`` at ``index``; repeated indices add up.
        ``index`` as for ``index_select`` (any values: out-of-range raises IndexError, after
        the entries of the indices before it may have been written); ``src`` has ``dst``'s
        shape with ``len(index)`` along ``axis`` (else ValueError)."""
        raise NotImplementedError

    def index_put(self, dst, axis: int, index, src):
        """``dst`` along ``axis`` at ``index`` is set to ``src``; arguments as for
        ``index_add``."""
        raise NotImplementedError

    def nonzero(self, a):
        """int64 array (count, a.ndim) of the coordinates of the non-zero entries, in C order."""
        raise NotImplementedError

    # -- sliding windows: convolution and pooling (see backend/windows.py) -------------------
    # ``x`` is an (N, C, H, W) float array in any layout; ``geo`` the ``Window`` (kh, kw, sh,
    # sw, ph, pw, dh, dw); ``out_hw`` the (OH, OW) the caller computed from it (every window
    # starts inside the image or its padding). Each primitive checks that
    # these agree with each other and with its arrays' shapes (``windows.check``) and raises
    # ValueError otherwise, before any kernel runs.

    def im2col(self, x: Array, geo: Window, out_hw: tuple) -> Array:
        """Unfold the windows of ``x`` into columns: a new C-contiguous array ``cols`` of shape
        (C*kh*kw, N, OH*OW) with ``cols[(c*kh + i)*kw + j, n, oh*OW + ow] = x[n, c, ih, iw]``
        (0 in the padding), ``ih = oh*sh - ph + i*dh``, ``iw = ow*sw - pw + j*dw``.

        One column per output position of every image, so the convolution of the whole
        batch is one matrix product: the weight (O, C*kh*kw) times ``cols`` seen as
        (C*kh*kw, N*OH*OW) gives the output as (O, N*OH*OW). One large product keeps the
        matmul busy (and all its threads) where a product per image would be small. That
        trades memory (each pixel is copied once per window that holds it) for speed."""
        raise NotImplementedError

    def col2im(self, cols: Array, geo: Window, out_hw: tuple, shape: tuple) -> Array:
        """The adjoint of ``im2col``: a new array of ``shape`` (N, C, H, W) where each pixel is
        the sum of the entries of ``cols`` (C*kh*kw, N, OH*OW) that ``im2col`` copies it to.
        This is the gradient of a convolution with respect to its input."""
        raise NotImplementedError

    def max_pool2d(self, x: Array, geo: Window, out_hw: tuple) -> tuple:
        """(values, indices): the maximum of each window, padding excluded, and the int64 flat
        index ``ih*W + iw`` in its (H, W) plane of where it was; NaN counts as the largest
        value (the last NaN of a window wins), as in PyTorch. Both shaped (N, C, OH, OW).
        A window that holds only padding (possible with dilation) gives -inf and index -1."""
        raise NotImplementedError

    def max_pool2d_backward(self, g: Array, indices: Array, geo: Window,
                            shape: tuple) -> Array:
        """A new array of ``shape`` (N, C, H, W): zero, plus each entry of ``g`` (N, C, OH, OW)
        at the pixel ``indices`` names (summed where windows overlap; index -1 sends nowhere).
        ``indices`` (int64, of ``g``'s shape) may hold anything: a value that is neither -1
        nor in [0, H*W) raises IndexError."""
        raise NotImplementedError

    def avg_pool2d(self, x: Array, geo: Window, out_hw: tuple, count_include_pad: bool,
                   divisor_override: int) -> Array:
        """The mean of each window (dilation 1): the sum of its pixels over the window clipped
        to the padded image (``count_include_pad``) or to the image, or over
        ``divisor_override`` when it is > 0; 0 for a window outside the image."""
        raise NotImplementedError

    def avg_pool2d_backward(self, g: Array, geo: Window, shape: tuple, count_include_pad: bool,
                            divisor_override: int) -> Array:
        """A new array of ``shape`` (N, C, H, W): each entry of ``g`` divided as the forward
        divided, added to every pixel of its window."""
        raise NotImplementedError

    # -- generated elementwise kernels (kernel fusion, graph/fusion.py) ---------------------
    def elementwise_program(self, kernels, shape: tuple, is_array: list):
        """``run(args, outs)``, which runs a generated elementwise program over ``shape`` (at
        most 4 dims): ``kernels`` holds its ``flat`` and ``strided`` kernels compiled for this
        device (``graph.fusion.kernels_for(program, backend.name)``), ``is_array[k]`` says
        whether its operand k is an array (else a scalar of the operand's dtype). ``run``
        launches ``flat`` when every array in ``args`` is C-contiguous and of ``shape``, else
        ``strided`` on 4-D views aligned to the right; ``outs`` are C-contiguous arrays of
        ``shape``, written."""
        raise NotImplementedError

    # -- fused optimizer updates ---------------------------------------------------------
    def adam_step(self, p, g, m, v, lr, beta1, beta2, eps, bias_correction1,
                  bias_correction2_sqrt, weight_decay):
        """One Adam update in place on C-contiguous ``p``, ``m``, ``v`` of one shape and dtype
        (``g`` too; numbers given in that dtype), per element in PyTorch's order::

            g += weight_decay * p;  m += (g - m) * (1 - beta1);  v = v * beta2 + (1 - beta2) * g * g
            p -= lr / bias_correction1 * (m / (sqrt(v) / bias_correction2_sqrt + eps))"""
        raise NotImplementedError

    def contiguous(self, a):
        """``a`` itself when it is C-contiguous, else a C-contiguous copy."""
        raise NotImplementedError

    def is_contiguous(self, a) -> bool:
        raise NotImplementedError

    def is_writable(self, a) -> bool:
        """False for broadcast views (two elements share memory) and read-only memory."""
        raise NotImplementedError
