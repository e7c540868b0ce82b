"""Flat buffers: many tensors of one dtype laid end to end, so that one MPI call moves them.

MPI moves contiguous memory. Sending each parameter in its own call costs one round
of messages per tensor (tens of microseconds each, more between machines), so
tensors are packed into one flat buffer per dtype, the buffer is reduced or
broadcast at once, and the tensors are read back as views of it.

Where the buffer lives: on the host (a NumPy array) for CPU tensors and for CUDA
tensors when the MPI library can't read GPU memory; on the GPU when it can (a
CUDA-aware MPI, see ``runtime.init``). A CUDA tensor on the host path costs one
copy down and one copy up per buffer, not one per tensor: the tensors are
concatenated on the device first.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import ops
from ..tensor import Tensor


def describe(t: Tensor) -> str:
    """``shape (3, 4) float32 on cpu``: how errors name a tensor."""
    return f"shape {tuple(t.shape)} {t.dtype.name} on {t.device}"


def on_gpu_memory(world, t: Tensor) -> bool:
    """Whether MPI can be handed ``t``'s device memory directly."""
    return (world.cuda_aware and t.device.type == "cuda"
            and hasattr(t._data, "__cuda_array_interface__"))


def pack(tensors: list, shapes: list, device, dtype, extra: np.ndarray | None = None,
         weight: float = 1.0, host: bool = True):
    """The tensors (a ``None`` read as zeros of its shape in ``shapes``), each multiplied
    by ``weight``, flattened and joined, followed by ``extra``: a NumPy array when
    ``host``, else a contiguous array on ``device``."""
    sizes = [math.prod(shape) for shape in shapes]
    total = sum(sizes) + (0 if extra is None else extra.size)
    if device.type == "cpu":
        buffer = np.empty(total, dtype=dtype.numpy)
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
        return buffer
    parts = []
    for t, shape in zip(tensors, shapes):
        if t is None:
            t = Tensor._wrap(device.backend.full(tuple(shape), 0, dtype), device, dtype)
        elif weight != 1.0:
            t = t * weight
        parts.append(t.to(dtype).reshape(-1))
    if extra is not None:
        parts.append(Tensor._wrap(device.backend.from_host(extra.astype(dtype.numpy)),
                                  device, dtype))
    flat = (parts[0] if len(parts) == 1 else ops.cat(parts, 0)).contiguous()
    if host:
        return np.ascontiguousarray(device.backend.to_host(flat._data))
    return flat._data


def views(buffer, device, dtype, shapes: list) -> list:
    """Tensors on ``device`` over consecutive pieces of ``buffer`` (a NumPy array, or a
    device array), of ``shapes``; a host buffer goes up to a CUDA device in one copy."""
    be = device.backend
    if device.type != "cpu" and isinstance(buffer, np.ndarray):
        buffer = be.from_host(buffer)
    out, offset = [], 0
    for shape in shapes:
        n = math.prod(shape)
        if device.type == "cpu":
            piece = buffer[offset:offset + n].reshape(shape)
        else:
            piece = be.reshape_view(be.basic_index(buffer, (slice(offset, offset + n),)), shape)
        out.append(Tensor._wrap(piece, device, dtype))
        offset += n
    return out


def synchronize_device(device) -> None:
    """Let queued kernels finish before MPI reads device memory they write."""
    if device.type == "cuda":
        from .. import cuda
        cuda.synchronize()
