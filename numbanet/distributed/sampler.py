"""``DistributedSampler``: each rank's share of the samples, epoch by epoch.

Every rank draws the same permutation of the data set (from ``seed`` and the
epoch, without communication) and takes every K-th index of it, starting at its
rank::

    permutation:  7 2 9 0 4 1 8 3 6 5        (K = 2)
    rank 0:       7   9   4   8   6
    rank 1:         2   0   1   3   5

So in every epoch each sample goes to exactly one rank, and batch j of all ranks
together is batch j of one process with K times the batch size. When the number
of samples is not a multiple of K, the permutation is padded with its first
indices (or, with ``drop_last=True``, cut) so that all ranks get equally many
samples and so make equally many steps: a rank with one batch more than the others
would wait for them forever in its extra allreduce.

Give it to a ``DataLoader`` as its ``sampler``, as in PyTorch::

    sampler = DistributedSampler(dataset, shuffle=True, seed=0)
    loader = DataLoader(dataset, batch_size=32, sampler=sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)        # a new permutation, the same on every rank
        for x, y in loader:
            ...
"""
from __future__ import annotations

import numpy as np

from .runtime import current


def _check_int(name: str, value, minimum: int, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"DistributedSampler: {name} must be an int >= {minimum}, got "
                         f"{value!r}{hint}")
    return int(value)


class DistributedSampler:
    """The indices of ``dataset`` that rank ``rank`` of ``num_replicas`` reads this epoch
    (PyTorch's ``DistributedSampler``): ``list(sampler)``, ``len(sampler)``.

    Args:
        dataset: anything with ``len()``.
        num_replicas, rank: the job's size and this rank (default: from
            ``numbanet.distributed``, which must be initialized).
        shuffle: a new permutation every epoch (``set_epoch``); else the natural order.
        seed: the permutation's seed; it must be the same on every rank.
        drop_last: cut the last ``len(dataset) % num_replicas`` samples of the
            permutation instead of padding it with repeated ones.
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        if not hasattr(dataset, "__len__"):
            raise TypeError(f"DistributedSampler needs a data set with a length, got a "
                            f"{type(dataset).__name__}")
        if num_replicas is None or rank is None:
            world = current()
            num_replicas = world.size if num_replicas is None else num_replicas
            rank = world.rank if rank is None else rank
        self.num_replicas = _check_int("num_replicas", num_replicas, 1)
        self.rank = _check_int("rank", rank, 0)
        if self.rank >= self.num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in [0, {self.num_replicas - 1}] "
                             f"for num_replicas={self.num_replicas}, got rank={self.rank}")
        self.seed = _check_int("seed", seed, 0)
        self.dataset = dataset
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last:
            self.num_samples = n // self.num_replicas
            if self.num_samples == 0:
                raise ValueError(f"DistributedSampler: drop_last=True leaves no sample per rank: "
                                 f"the data set has {n} samples for {self.num_replicas} ranks; "
                                 "use drop_last=False or fewer ranks")
        else:
            self.num_samples = -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s permutation from now on; call it at the start of each
        epoch, with the same number on every rank."""
        self.epoch = _check_int("epoch", epoch, 0)

    def permutation(self) -> np.ndarray:
        """This epoch's order of all the samples (padded or cut), the same on every rank."""
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        else:
            order = np.arange(n)
        if self.total_size > n:
            order = np.resize(order, self.total_size)  # repeats from the start
        return order[:self.total_size]

    def indices(self) -> np.ndarray:
        """This rank's indices for this epoch, in the order it reads them."""
        return self.permutation()[self.rank::self.num_replicas]

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (f"DistributedSampler(rank {self.rank} of {self.num_replicas}, "
                f"{self.num_samples} of {len(self.dataset)} samples, shuffle={self.shuffle}, "
                f"seed={self.seed}, epoch={self.epoch})")

