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

The flattening and the host/device memory handed to MPI are ops of
``autograd/ops/fused.py`` (``flatten_dense_tensors``, ``unflatten_dense_tensors``,
``host_buffer``, ``device_buffer``, ``from_host``); this module names tensors in errors
and says where a buffer can live.
"""
from __future__ import annotations

from ..tensor import Tensor


def describe(t: Tensor) -> str:
    """``shape (3, 4) float32 on cpu``: how errors name a tensor."""
    return f"shape {tuple(t.shape)} {t.dtype.name} on {t.device}"


def on_gpu_memory(world, t: Tensor) -> bool:
    """Whether MPI can be handed ``t``'s device memory directly: a CUDA-aware MPI and a
    real GPU (the simulator's device arrays live in host memory)."""
    if not (world.cuda_aware and t.device.type == "cuda"):
        return False
    from .. import cuda
    return not cuda.is_simulated()


def synchronize_device(device) -> None:
    """Let queued kernels finish before MPI reads device memory they write."""
    if device.type == "cuda":
        from .. import cuda
        cuda.synchronize()
