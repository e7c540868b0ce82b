"""Collectives on tensors: ``allreduce`` and ``broadcast_parameters``.

Every rank must make the same calls in the same order with tensors of the same
shapes and dtypes; that is how MPI matches them. A mismatch in MPI itself shows up
as a hang or as wrong numbers, so these functions first compare what each rank
passes (one small message) and raise the same error on every rank, naming each
rank's shapes, when they differ.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from .. import dtypes as _dt
from ..autograd import no_grad
from ..autograd.ops.fused import device_buffer, from_host, host_buffer
from ..creation import empty
from ..tensor import Tensor
from . import buffers
from .runtime import World, current

_OPS = ("mean", "sum", "max", "min")


def check_same_on_all_ranks(world: World, what: str, signature, describe=repr) -> None:
    """Raise the same ValueError on every rank unless all ranks pass an equal
    ``signature`` (any picklable value); ``describe(signature)`` words one rank's."""
    if world.size == 1:
        return
    gathered = world.comm.allgather(signature)
    if all(s == gathered[0] for s in gathered[1:]):
        return
    lines = "; ".join(f"rank {r}: {describe(s)}" for r, s in enumerate(gathered))
    raise ValueError(f"{what} must be called with the same arguments on every rank, but the "
                     f"ranks differ: {lines}. Make every rank run the same code on tensors of "
                     "the same shapes and dtypes")


def _mpi_op(world: World, op: str):
    mpi = world.MPI
    return {"mean": mpi.SUM, "sum": mpi.SUM, "max": mpi.MAX, "min": mpi.MIN}[op]


def allreduce(tensor: Tensor, op: str = "mean") -> Tensor:
    """The elementwise ``op`` ('mean', 'sum', 'max' or 'min') of ``tensor`` over all
    ranks, as a new tensor on ``tensor``'s device; every rank gets the same values.

    >>> loss_mean = dist.allreduce(nb.tensor(epoch_loss), op="mean")

    All ranks must call it with tensors of the same shape and dtype. The result is
    outside autograd (``requires_grad=False``). A CUDA tensor is reduced through the
    host unless the MPI library is CUDA-aware.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"allreduce expects a numbanet Tensor, got {type(tensor).__name__}; "
                        "wrap values with nb.tensor(...) first")
    if op not in _OPS:
        raise ValueError(f"allreduce: op must be one of {list(_OPS)}, got {op!r}")
    if op == "mean" and not tensor.dtype.is_floating_point:
        raise TypeError(f"allreduce(op='mean') needs a floating-point tensor, got "
                        f"{tensor.dtype.name}; use op='sum', or convert it with .double()")
    if tensor.dtype is _dt.bool_ and op == "sum":
        raise TypeError("allreduce(op='sum') of a bool tensor is undefined; use op='max' "
                        "(any rank) or op='min' (all ranks), or convert it with .long()")
    world = current()
    check_same_on_all_ranks(
        world, "allreduce", (tuple(tensor.shape), tensor.dtype.name, op),
        lambda s: f"shape {s[0]} {s[1]} op={s[2]!r}")
    with no_grad():
        value = tensor.detach()
        if world.size == 1:
            return value.clone()
        device, dtype = value.device, value.dtype
        if buffers.on_gpu_memory(world, value):
            return _allreduce_on_device(world, value, op)
        send = host_buffer(value)  # value's own memory for a contiguous CPU tensor
        if dtype is _dt.bool_:
            send = send.astype(np.uint8)
        received = np.empty_like(send)
        world.comm.Allreduce(send, received, op=_mpi_op(world, op))
        if op == "mean":
            received /= world.size
        if dtype is _dt.bool_:
            received = received.astype(np.bool_)
        return from_host(received, device)


def _allreduce_on_device(world: World, value: Tensor, op: str) -> Tensor:
    device, dtype = value.device, value.dtype
    send = value.contiguous()
    out = empty(tuple(value.shape), dtype=dtype, device=device)
    buffers.synchronize_device(device)
    world.comm.Allreduce(device_buffer(send), device_buffer(out), op=_mpi_op(world, op))
    return out / world.size if op == "mean" else out


def _named_tensors(module_or_params) -> list:
    """[(name, tensor)] of a Module (parameters and buffers, as in its state_dict), a
    state dict, one tensor, or an iterable of tensors."""
    from ..nn.module import Module
    if isinstance(module_or_params, Module):
        items = list(module_or_params.state_dict(keep_vars=True).items())
    elif isinstance(module_or_params, Mapping):
        items = list(module_or_params.items())
    elif isinstance(module_or_params, Tensor):
        items = [("tensor 0", module_or_params)]
    elif isinstance(module_or_params, Iterable) and not isinstance(module_or_params, str):
        items = [(f"tensor {i}", t) for i, t in enumerate(module_or_params)]
    else:
        raise TypeError(f"broadcast_parameters expects an nn.Module (or keras model), a state "
                        f"dict or an iterable of tensors, got {type(module_or_params).__name__}")
    for name, t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"broadcast_parameters: {name!r} is a {type(t).__name__}, not a "
                            "Tensor; pass only tensors")
    return items


def broadcast_parameters(module_or_params, root: int = 0) -> None:
    """Copy rank ``root``'s values into the same tensors on every other rank, in place,
    so that all ranks start training from the same weights.

    >>> model = MyNet()                         # each rank initialises its own weights
    >>> dist.broadcast_parameters(model)        # now all hold rank 0's

    ``module_or_params``: an ``nn.Module`` or keras model (its parameters and buffers,
    as in ``state_dict``), a state dict, or an iterable of tensors. Tensors of one
    dtype go in one message, through the host (this runs once, before training).
    """
    items = _named_tensors(module_or_params)
    world = current()
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) \
            or not 0 <= root < world.size:
        raise ValueError(f"broadcast_parameters: root must be a rank from 0 to "
                         f"{world.size - 1} (the job has {world.size} ranks), got {root!r}")
    signature = [(name, tuple(t.shape), t.dtype.name) for name, t in items]
    check_same_on_all_ranks(
        world, "broadcast_parameters", signature,
        lambda s: f"{len(s)} tensors [" + ", ".join(f"{n} {shape} {dt}" for n, shape, dt in
                                                     s[:6]) + (", ...]" if len(s) > 6 else "]"))
    if world.size == 1 or not items:
        return
    by_dtype: dict = {}
    for _, t in items:
        by_dtype.setdefault(t.dtype, []).append(t)
    with no_grad():
        for dtype, tensors in by_dtype.items():
            sizes = [t.numel() for t in tensors]
            if world.rank == root:
                buffer = np.concatenate([host_buffer(t).reshape(-1) for t in tensors])
            else:
                buffer = np.empty(sum(sizes), dtype=dtype.numpy)
            world.comm.Bcast(buffer, root=root)
            if world.rank == root:
                continue
            offset = 0
            for t, n in zip(tensors, sizes):
                piece = buffer[offset:offset + n].reshape(tuple(t.shape))
                t.copy_(from_host(piece, t.device))
                offset += n
