"""What Keras's ``fit`` needs to train on several ranks: a shared order of the samples,
each rank's share of every batch, and sums of the logged values over the ranks.

``fit(batch_size=B)`` on K ranks makes the steps of one process with batches of
K·B: global batch ``j`` is samples ``order[j*K*B:(j+1)*K*B]``, and rank ``r`` takes
every K-th of them, starting at ``r``. That is the same as rank ``r`` reading
``order[r::K]`` in batches of B, which is how it is done (one gather per epoch).
When the last global batch has fewer than K·B samples the ranks' shares differ by
one (some may be empty); each rank's gradient is then weighted by its share of the
batch, so the summed gradient is still the gradient of the whole batch.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes as _dt
from ..autograd.ops.fused import row_slice, take_rows
from ..creation import tensor
from ..random import host_generator
from .runtime import World


def shared_order(world: World, n: int, shuffle: bool) -> np.ndarray:
    """A permutation of ``range(n)`` drawn on rank 0 (from the generator that
    ``nb.manual_seed`` seeds, as one process would draw it) and sent to every rank."""
    order = np.empty(n, dtype=np.int64)
    if world.rank == 0:
        order[:] = host_generator().permutation(n) if shuffle else np.arange(n)
    if shuffle:
        world.comm.Bcast(order, root=0)
    elif world.rank != 0:
        order[:] = np.arange(n)
    return order


class EpochShard:
    """This rank's samples of one epoch and, for each step, its slice and weight."""

    def __init__(self, world: World, n: int, batch_size: int, order: np.ndarray):
        self.n, self.batch_size, self.size = n, batch_size, world.size
        self.local = order[world.rank::world.size]
        global_batch = batch_size * world.size
        self.steps = -(-n // global_batch)

    def step(self, j: int) -> tuple:
        """``(start, stop, weight)``: rows ``start:stop`` of ``local`` make this rank's
        batch ``j`` (possibly empty), and ``weight`` is its share of the global batch."""
        b, m = self.batch_size, len(self.local)
        start, stop = min(j * b, m), min((j + 1) * b, m)
        global_size = min(b * self.size, self.n - j * b * self.size)
        return start, stop, (stop - start) / global_size


class ShardedEpochBatches:
    """This rank's training batches, epoch after epoch, for ``fit`` under mpirun (the
    interface of ``keras.data.EpochBatches``): ``steps`` global batches per epoch;
    ``epoch(device)`` draws the shared order (one broadcast), gathers this rank's
    samples once and yields ``(x, y, weight)`` per step, ``weight`` being this rank's
    share of the global batch (its batch may be empty)."""

    def __init__(self, world: World, x, y, batch_size: int, shuffle: bool):
        self.world, self.x, self.y = world, x, y
        self.batch_size, self.shuffle = batch_size, bool(shuffle)
        self.steps = -(-x.shape[0] // (batch_size * world.size))

    def epoch(self, device):
        n = self.x.shape[0]
        shard = EpochShard(self.world, n, self.batch_size,
                           shared_order(self.world, n, self.shuffle))
        index = tensor(shard.local, dtype=_dt.int64, device=device)
        x, y = take_rows(self.x, index), take_rows(self.y, index)
        for step in range(self.steps):
            start, stop, weight = shard.step(step)
            yield row_slice(x, start, stop), row_slice(y, start, stop), weight


def sum_over_ranks(world: World, values) -> np.ndarray:
    """The elementwise sum over the ranks of a list of numbers (float64)."""
    local = np.asarray(values, dtype=np.float64)
    total = np.empty_like(local)
    world.comm.Allreduce(local, total, op=world.MPI.SUM)
    return total


def any_rank(world: World, flag: bool) -> bool:
    """True on every rank when ``flag`` is true on at least one."""
    local = np.array([1 if flag else 0], dtype=np.int64)
    total = np.empty_like(local)
    world.comm.Allreduce(local, total, op=world.MPI.MAX)
    return bool(total[0])
