"""Fused updates and buffer primitives for the layers above autograd.

Optimizers, Keras and ``numbanet.distributed`` need a few things that are no
differentiable op: an Adam update written in place by one kernel per parameter,
rows of training data picked per batch and per epoch, Keras's batch normalisation
with its moving statistics, and flat buffers of many tensors for MPI. They live
here, beside the ops, so that those layers reach tensors only through public
functions (DESIGN.md, the layer rule).
Nothing here records a graph.

- ``adam_``: PyTorch's and Keras's Adam step on lists of tensors, in place
  (as ``torch._fused_adam_``), checked before any kernel runs.
- ``row_slice``, ``take_rows``: rows of training data (a batch view, an epoch's
  gather, the op of ``indexing.index_select``) without the bookkeeping of general
  indexing.
- ``flatten_dense_tensors`` / ``unflatten_dense_tensors``: many tensors end to end
  in one contiguous tensor, and views of it back (as
  ``torch._utils._flatten_dense_tensors`` / ``_unflatten_dense_tensors``).
- ``host_buffer``, ``device_buffer``, ``from_host``: the memory MPI reads and
  writes, and tensors over received memory.
"""
from __future__ import annotations

import math

import numpy as np

from ... import dtypes as dt
from ...device import CPU
from ...tensor import Tensor
from ..grad_mode import state
from .dispatch import device_mismatch, wrap
from .indexing import IndexSelect
from .shape import cat

_EPS_PLACEMENTS = ("torch", "keras")


# ---- Adam ---------------------------------------------------------------------------------

def _adam_problem(p, g, m, v, tracking: bool):
    """Why one fused kernel can't update ``p`` from ``g``, ``m``, ``v``: (error class,
    message), or None if it can.

    The kernel walks the four arrays flat by the parameter's size and writes p, m and v:
    they must be float tensors of one device, dtype and shape, C-contiguous (so no
    expand()ed view), p, m and v writable, and no two of them may share memory (a write
    would change another argument while the kernel reads it)."""
    for t in (p, g, m, v):
        if not isinstance(t, Tensor):
            return TypeError, f"expected Tensors, got a {type(t).__name__}"
    dev, dtype, shape = p._device, p._dtype, p._shape
    for t in (g, m, v):
        if t._device is not dev:
            return RuntimeError, str(device_mismatch("adam_", dev, t._device))
        if t._dtype is not dtype or t._shape != shape:
            return ValueError, ("the parameter, gradient and moments must be of one dtype "
                                "and shape, got " + ", ".join(
                                    f"{x._dtype.name} {x._shape}" for x in (p, g, m, v)))
    if not dtype.is_floating_point:
        return TypeError, f"Adam updates floating-point tensors, got {dtype.name}"
    be = dev.backend
    for name, t in (("parameter", p), ("gradient", g), ("exp_avg", m), ("exp_avg_sq", v)):
        if not be.is_contiguous(t._data):
            return ValueError, (f"the {name} of shape {shape} is not contiguous (strides "
                                f"{t.stride()}): the kernel walks it flat; pass "
                                "t.contiguous() (or a tensor you own)")
    for name, t in (("parameter", p), ("exp_avg", m), ("exp_avg_sq", v)):
        if not be.is_writable(t._data):
            return RuntimeError, (f"the {name} of shape {shape} can't be written in place: "
                                  "its memory is read-only or an expand()ed view; clone() "
                                  "it first")
        if tracking and t._requires_grad:
            return RuntimeError, (f"the {name} requires grad and grad mode is on: update it "
                                  "inside `with nb.no_grad():` (as optimizers do)")
    vp, vg, vm, vv = p._vc, g._vc, m._vc, v._vc
    if vp is vg or vp is vm or vp is vv or vg is vm or vg is vv or vm is vv or (
            (vp.__class__ is not list or vg.__class__ is not list or vm.__class__ is not list
             or vv.__class__ is not list) and _foreign_overlap((p, g, m, v))):
        return RuntimeError, ("the parameter, gradient and moments must not share memory "
                              "(an argument is a view of another, or the same tensor twice): "
                              "the kernel would read values it has just written; clone() the "
                              "shared one")
    return None


def _fusable(p, g, m, v, tracking: bool) -> bool:
    """``_adam_problem(...) is None``, the common case first and without building a
    message: the optimizers ask it for every parameter at every step."""
    try:
        dev, dtype, shape = p._device, p._dtype, p._shape
        vp, vg, vm, vv = p._vc, g._vc, m._vc, v._vc
        be = dev.backend
        return (g._device is dev and m._device is dev and v._device is dev
                and g._dtype is dtype and m._dtype is dtype and v._dtype is dtype
                and g._shape == shape and m._shape == shape and v._shape == shape
                and dtype.is_floating_point and isinstance(p, Tensor)
                and be.is_contiguous(p._data) and be.is_contiguous(g._data)
                and be.is_contiguous(m._data) and be.is_contiguous(v._data)
                and be.is_writable(p._data) and be.is_writable(m._data)
                and be.is_writable(v._data)
                and not (tracking and (p._requires_grad or m._requires_grad
                                       or v._requires_grad))
                and vp is not vg and vp is not vm and vp is not vv and vg is not vm
                and vg is not vv and vm is not vv
                and (vp.__class__ is list and vg.__class__ is list and vm.__class__ is list
                     and vv.__class__ is list or not _foreign_overlap((p, g, m, v))))
    except AttributeError:  # not a Tensor
        return False


def _foreign_overlap(tensors) -> bool:
    """Whether two of ``tensors`` may share memory, for memory numbanet did not allocate
    (from_numpy, from_dlpack), whose version counters need not tell."""
    arrays = [t._data for t in tensors if t._device is CPU]
    return any(np.may_share_memory(a, b)
               for i, a in enumerate(arrays) for b in arrays[i + 1:])


def adam_(params: list, grads: list, exp_avgs: list, exp_avg_sqs: list, steps, *,
          lr: float, beta1: float, beta2: float, eps: float, weight_decay: float = 0.0,
          eps_placement: str = "torch", unfusable: str = "raise") -> list:
    """One Adam step for every parameter, in place, one kernel per parameter (as
    PyTorch's ``torch._fused_adam_``). For parameter p with gradient g, moments m, v
    and step t (counted from 1)::

        g = g + weight_decay * p                         (L2 decay, when not 0)
        m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g * g
        c1 = 1 - beta1**t;   c2 = sqrt(1 - beta2**t)
        p = p - lr / c1 * m / (sqrt(v) / c2 + eps)       eps_placement='torch'
        p = p - lr * c2 / c1 * m / (sqrt(v) + eps)       eps_placement='keras'

    ``steps``: one int for all parameters (Keras's ``iterations``) or one per parameter
    (PyTorch's per-parameter ``state['step']``, already counting this step). p, m and v
    are written and their version counters bumped, so autograd notices the change.

    Every parameter is checked before any kernel runs: the four tensors of a parameter
    must be floating-point tensors of one device, dtype and shape, contiguous, p, m and
    v writable (no broadcast view, no read-only memory), none sharing memory with
    another, and none of p, m, v requiring grad while grad mode is on. With
    ``unfusable='raise'`` a failed check raises (TypeError, ValueError or RuntimeError,
    naming the parameter) and nothing is updated; with ``unfusable='skip'`` those
    parameters are left alone and their indices returned, for the caller's op-by-op
    path. Returns the list of skipped indices (empty when all were updated).

    >>> adam_([w], [w.grad], [m], [v], 1, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)
    []
    """
    n = len(params)
    if not len(grads) == len(exp_avgs) == len(exp_avg_sqs) == n:
        raise ValueError(f"adam_: expected one gradient, exp_avg and exp_avg_sq per "
                         f"parameter, got {n} parameters, {len(grads)} gradients, "
                         f"{len(exp_avgs)} exp_avgs and {len(exp_avg_sqs)} exp_avg_sqs")
    if eps_placement not in _EPS_PLACEMENTS:
        raise ValueError(f"adam_: eps_placement must be one of {list(_EPS_PLACEMENTS)}, got "
                         f"{eps_placement!r}")
    if unfusable not in ("raise", "skip"):
        raise ValueError(f"adam_: unfusable must be 'raise' or 'skip', got {unfusable!r}")
    per_param = isinstance(steps, (list, tuple))
    if per_param and len(steps) != n:
        raise ValueError(f"adam_: got {len(steps)} steps for {n} parameters; pass one step "
                         "per parameter or one int for all")
    tracking = state.enabled
    if unfusable == "raise":  # every parameter checked before any kernel runs
        for i in range(n):
            p, g, m, v = params[i], grads[i], exp_avgs[i], exp_avg_sqs[i]
            problem = _adam_problem(p, g, m, v, tracking)
            if problem is not None:
                error, message = problem
                raise error(f"adam_: parameter {i}: {message}")
    skipped = []
    lr, b1, b2, wd = float(lr), float(beta1), float(beta2), float(weight_decay)
    keras = eps_placement == "keras"
    for i in range(n):
        p, g, m, v = params[i], grads[i], exp_avgs[i], exp_avg_sqs[i]
        if unfusable == "skip" and not _fusable(p, g, m, v, tracking):
            skipped.append(i)
            continue
        step = steps[i] if per_param else steps
        correction1 = 1 - beta1 ** step
        correction2_sqrt = (1 - beta2 ** step) ** 0.5
        p._device.backend.adam_step(
            p._data, g._data, m._data, v._data, lr, b1, b2,
            eps / correction2_sqrt if keras else float(eps), correction1, correction2_sqrt, wd)
        p._vc[0] += 1
        m._vc[0] += 1
        v._vc[0] += 1
    return skipped


# ---- rows of data -------------------------------------------------------------------------

def row_slice(t: Tensor, start: int, stop: int) -> Tensor:
    """``t[start:stop]`` for a batch of data: a view of rows ``start`` to ``stop`` (ints,
    ``0 <= start <= stop <= len(t)``), sharing ``t``'s memory and version counter, made
    without the parsing of a general index and outside autograd (the result has no
    ``grad_fn``: training data need none). ``t[start:stop]`` costs about 6 us more, paid
    for every batch of ``fit``."""
    if not t._shape or not 0 <= start <= stop <= t._shape[0]:
        raise IndexError(f"row_slice: rows {start}:{stop} are outside the "
                         f"{t._shape[0] if t._shape else 0} rows of the tensor of shape "
                         f"{t._shape}")
    return wrap(t._device.backend.basic_index(t._data, (slice(start, stop),)), t._device,
                t._dtype, base=t)



def take_rows(t: Tensor, index: Tensor) -> Tensor:
    """``t[index]`` for data: the rows ``index`` (a 1-D int64 tensor on ``t``'s device, each
    in ``[0, len(t))``) of ``t``, copied by one gather, outside autograd (the result has no
    ``grad_fn``). It is ``indexing.index_select(t, 0, index)`` without the argument parsing
    and the bounds pass (about 10 us), for an index in range by construction, as an epoch's
    permutation of the rows: the same op (``IndexSelect``), whose kernel still refuses an
    index past the end (IndexError)."""
    if index._dtype.name != "int64" or len(index._shape) != 1 or not t._shape:
        raise ValueError(f"take_rows: expects a tensor of at least one dim and a 1-D int64 "
                         f"index, got shapes {t._shape} and {index._dtype.name} "
                         f"{index._shape}")
    if index._device is not t._device:
        raise device_mismatch("take_rows", t._device, index._device)
    if t._requires_grad:  # rows of data: nothing to record
        t = t.detach()
    return IndexSelect.apply(t, 0, index, t._device.backend.contiguous(index._data))


# ---- flat buffers and host memory (numbanet.distributed) ----------------------------------

def flatten_dense_tensors(tensors: list, shapes: list | None = None, device=None,
                          dtype=None, *, weight: float = 1.0,
                          extra: np.ndarray | None = None) -> Tensor:
    """One new contiguous 1-D tensor holding ``tensors`` end to end, each flattened in C
    order (as ``torch._utils._flatten_dense_tensors``), then ``extra``, a host NumPy array
    (MPI's bookkeeping rides along in the same message).

    ``shapes`` gives each tensor's shape, which lets an entry be ``None``: zeros of that
    shape. Each tensor is multiplied by ``weight`` when it is not 1 and cast to ``dtype``;
    ``device`` and ``dtype`` default to the first tensor's. On the CPU every tensor is
    written (scaled) straight into its place in the new buffer, with no copy in between; on
    a GPU the pieces are concatenated on the device.

    >>> flat = flatten_dense_tensors([a, b])          # a.numel() + b.numel() values
    >>> a2, b2 = unflatten_dense_tensors(flat, [a.shape, b.shape])
    """
    if shapes is None:
        shapes = [tuple(t._shape) for t in tensors]
    first = next((t for t in tensors if t is not None), None)
    if device is None or dtype is None:
        if first is None:
            raise ValueError("flatten_dense_tensors: give device and dtype when no tensor is "
                             "given (every entry is None)")
        device = first._device if device is None else device
        dtype = first._dtype if dtype is None else dtype
    sizes = [math.prod(shape) for shape in shapes]
    if device is CPU:
        buffer = np.empty(sum(sizes) + (0 if extra is None else extra.size), dtype=dtype.numpy)
        offset = 0
        for t, shape, n in zip(tensors, shapes, sizes):
            target = buffer[offset:offset + n].reshape(shape)
            if t is None:
                target.fill(0)
            elif weight == 1.0:
                np.copyto(target, t._data)
            else:
                np.multiply(t._data, weight, out=target)
            offset += n
        if extra is not None:
            buffer[offset:] = extra
        return wrap(buffer, CPU, dtype)
    parts = []
    for t, shape in zip(tensors, shapes):
        if t is None:
            t = wrap(device.backend.full(tuple(shape), 0, dtype), device, dtype)
        elif weight != 1.0:
            t = t * weight
        parts.append(t.to(dtype).reshape(-1))
    if extra is not None:
        parts.append(from_host(extra.astype(dtype.numpy), device))
    if not parts:
        return wrap(device.backend.empty((0,), dtype), device, dtype)
    return (parts[0] if len(parts) == 1 else cat(parts, 0)).contiguous()


def unflatten_dense_tensors(flat: Tensor, shapes: list) -> list:
    """Views of consecutive pieces of the 1-D tensor ``flat``, of ``shapes`` (as
    ``torch._utils._unflatten_dense_tensors``): they share ``flat``'s memory and version
    counter, and are outside autograd. Values of ``flat`` past the pieces are left out."""
    be, device, dtype = flat._device.backend, flat._device, flat._dtype
    data, out, offset = flat._data, [], 0
    view = Tensor._wrap
    for shape in shapes:
        n = math.prod(shape)
        if device is CPU:  # NumPy's own slicing: a third of the backend calls' cost
            piece = data[offset:offset + n].reshape(shape)
        else:
            piece = be.reshape_view(be.basic_index(data, (slice(offset, offset + n),)),
                                    tuple(shape))
        out.append(view(piece, device, dtype, flat))
        offset += n
    return out


def host_buffer(t: Tensor) -> np.ndarray:
    """``t``'s values as a C-contiguous NumPy array, the memory MPI reads and writes: for
    a contiguous CPU tensor ``t``'s own memory (no copy; a write to it changes ``t`` and
    does not bump its version), else a copy (from the GPU, or of a strided tensor)."""
    return np.ascontiguousarray(t._device.backend.to_host(t._data))


def device_buffer(t: Tensor):
    """The device's own array of the contiguous tensor ``t`` (a NumPy array on the CPU, a
    numba device array on CUDA): what a CUDA-aware MPI is handed, to read and write GPU
    memory in place. A write through it does not bump ``t``'s version."""
    if not t._device.backend.is_contiguous(t._data):
        raise ValueError(f"device_buffer: the tensor of shape {t._shape} is not contiguous "
                         f"(strides {t.stride()}); pass t.contiguous()")
    return t._data


def from_host(array: np.ndarray, device=CPU) -> Tensor:
    """A tensor on ``device`` with the values of the NumPy ``array`` (of a numbanet dtype),
    e.g. what MPI received. On the CPU the tensor takes over the array's memory (no copy:
    the caller must not write it afterwards), and in-place ops on it take the fast path of
    memory numbanet allocated; on a GPU it is one copy up."""
    dtype = dt.from_numpy_dtype(array.dtype)
    if dtype.numpy != array.dtype:
        raise TypeError(f"from_host: a {array.dtype} array is not of a numbanet dtype (float32, "
                        f"float64, int64 or bool); convert it first, e.g. "
                        f"array.astype(np.{dtype.numpy.name})")
    return wrap(device.backend.from_host(array), device, dtype)
