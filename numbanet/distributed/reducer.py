"""``GradientReducer``: sums the ranks' gradients, one allreduce per bucket of parameters.

Data-parallel training keeps a full copy of the model on every rank; each rank
computes gradients on its own part of the batch, and before the update every
rank replaces its gradients by their weighted sum over the ranks, so that all
ranks apply the same update and their copies stay equal.

Parameters are grouped into *buckets* of up to ``bucket_bytes`` (parameters of one
device and dtype, in the optimizer's order), and each bucket is reduced with one
``MPI_Allreduce``: a 784-256-256-10 MLP (about 1 MB of float32) is one call per step
instead of six. After the call the gradients are views of the reduced bucket.

A rank on which a parameter has no gradient (``grad is None``: the parameter was
not used in its forward pass) contributes zeros. Each bucket ends with one slot per
parameter that counts the ranks that had a gradient, reduced in the same call; a
parameter that no rank used keeps ``grad = None``, as it would in one process.
"""
from __future__ import annotations

import time

import numpy as np

from ..autograd import no_grad
from ..autograd.ops.fused import (
    device_buffer,
    flatten_dense_tensors,
    from_host,
    host_buffer,
    row_slice,
    unflatten_dense_tensors,
)
from . import buffers
from .collectives import check_same_on_all_ranks
from .runtime import World

DEFAULT_BUCKET_BYTES = 25 * 2 ** 20  # PyTorch DistributedDataParallel's default bucket size


class Bucket:
    """Parameters of one device and dtype whose gradients travel in one allreduce."""

    def __init__(self, device, dtype):
        self.device, self.dtype = device, dtype
        self.params: list = []
        self.nbytes = 0

    def add(self, p) -> None:
        self.params.append(p)
        self.nbytes += p.numel() * p.dtype.itemsize


class GradientReducer:
    """Replaces every parameter's ``.grad`` by ``sum over ranks of weight * grad``.

    ``reduce(params, weight=1 / world.size)`` averages the gradients (what
    ``DistributedOptimizer`` does); Keras's ``fit`` passes each rank's share of the
    global batch as its weight, so that unequal last batches still give the
    gradient of the whole batch. ``stats`` counts the allreduce calls and the time
    spent in them (``allreduce_seconds``) and in the whole reduction, packing and
    unpacking included (``reduce_seconds``).
    """

    def __init__(self, world: World, bucket_bytes: int = DEFAULT_BUCKET_BYTES):
        if isinstance(bucket_bytes, bool) or not isinstance(bucket_bytes, (int, np.integer)) \
                or bucket_bytes < 1:
            raise ValueError(f"bucket size must be a positive number of bytes, got "
                             f"{bucket_bytes!r}")
        self.world = world
        self.bucket_bytes = int(bucket_bytes)
        self._layout_key = None
        self.buckets: list = []
        self.stats = {"reductions": 0, "allreduce_calls": 0, "allreduce_seconds": 0.0,
                      "reduce_seconds": 0.0}

    def _layout(self, params: list) -> list:
        key = tuple((id(p), tuple(p.shape), p.dtype, p.device) for p in params)
        if key != self._layout_key:
            check_same_on_all_ranks(
                self.world, "the gradient reduction (DistributedOptimizer.step / fit)",
                [(tuple(p.shape), p.dtype.name) for p in params],
                lambda s: f"{len(s)} parameters, shapes "
                          + ", ".join(f"{shape} {dt}" for shape, dt in s[:8])
                          + (", ..." if len(s) > 8 else ""))
            self.buckets = self._make_buckets(params)
            self._layout_key = key
        return self.buckets

    def _make_buckets(self, params: list) -> list:
        open_buckets: dict = {}
        done: list = []
        for p in params:
            kind = (p.device, p.dtype)
            bucket = open_buckets.get(kind)
            size = p.numel() * p.dtype.itemsize
            if bucket is not None and bucket.params and bucket.nbytes + size > self.bucket_bytes:
                done.append(bucket)
                bucket = None
            if bucket is None:
                bucket = open_buckets[kind] = Bucket(p.device, p.dtype)
            bucket.add(p)
        return done + list(open_buckets.values())

    def reduce(self, params: list, weight: float | None = None) -> None:
        """Reduce the gradients of ``params`` (the same list, in the same order, on every
        rank); ``weight`` defaults to ``1 / world_size``, an average."""
        world = self.world
        if weight is None:
            weight = 1.0 / world.size
        started = time.perf_counter()
        with no_grad():
            for bucket in self._layout(params):
                self._reduce_bucket(bucket, float(weight))
        self.stats["reductions"] += 1
        self.stats["reduce_seconds"] += time.perf_counter() - started

    def _reduce_bucket(self, bucket: Bucket, weight: float) -> None:
        world, device, dtype = self.world, bucket.device, bucket.dtype
        params = bucket.params
        grads = [p.grad for p in params]
        shapes = [tuple(p.shape) for p in params]
        present = np.array([g is not None for g in grads], dtype=dtype.numpy)
        on_device = buffers.on_gpu_memory(world, params[0])
        flat = flatten_dense_tensors(grads, shapes, device, dtype, weight=weight, extra=present)
        if on_device:
            buffer = device_buffer(flat)
            buffers.synchronize_device(device)
        else:
            buffer = host_buffer(flat)  # flat's own memory on the CPU
        started = time.perf_counter()
        world.comm.Allreduce(world.MPI.IN_PLACE, buffer, op=world.MPI.SUM)
        self.stats["allreduce_seconds"] += time.perf_counter() - started
        self.stats["allreduce_calls"] += 1
        if not on_device:
            flat = from_host(buffer, device)  # no copy on the CPU, one up to a GPU
        total = flat.numel() - len(params)
        counts = host_buffer(row_slice(flat, total, flat.numel()))
        for p, g, count in zip(params, unflatten_dense_tensors(flat, shapes), counts):
            p.grad = g if count > 0 else None
