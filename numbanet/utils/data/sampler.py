"""Samplers: the order in which a ``DataLoader`` visits a map-style data set.

A sampler is an iterable of sample indices (``BatchSampler``: of lists of them) with a
length. ``DataLoader(shuffle=True)`` uses ``RandomSampler``, ``shuffle=False``
``SequentialSampler``, and groups either into batches with ``BatchSampler``.

Random draws come from ``generator=``, as ``seeding.random_state`` says: ``None`` is
the generator that ``nb.manual_seed`` seeds, an object with ``initial_seed()`` (a
``torch.Generator``, say) a stream of its own that repeats for a given seed.
"""
from __future__ import annotations

from typing import Generic, TypeVar

import numpy as np

from ...creation import tensor
from ...tensor import Tensor
from .dataset import sample_indices
from .seeding import random_state

_T_co = TypeVar("_T_co", covariant=True)


class Sampler(Generic[_T_co]):
    """The base of samplers: subclasses define ``__iter__`` (the indices of one epoch, or
    lists of them for a batch sampler) and usually ``__len__``."""

    def __init__(self, data_source=None) -> None:
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__(self), yielding "
                                  "the sample indices of an epoch")


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``, in order."""

    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


def _positive_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} should be a positive integer value, but got {name}={value}")
    return int(value)


def _check_replacement(value) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"replacement should be a boolean value, but got replacement={value}")


class RandomSampler(Sampler):
    """Sample indices in random order: a permutation of the data set each epoch
    (``replacement=False``; ``num_samples`` beyond the data set's length gives whole
    permutations one after another, the last one cut short), or ``num_samples`` indices
    drawn uniformly with replacement. The order is drawn when the iteration starts, from
    ``generator`` (see the module's docstring)."""

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator=None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        _check_replacement(replacement)
        _positive_count("num_samples", self.num_samples)

    @property
    def num_samples(self) -> int:
        """``num_samples``, or the data set's length (at the time of asking) if not given."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def indices(self) -> np.ndarray:
        """One epoch's indices, drawn now, as an int64 array."""
        n, count = len(self.data_source), int(self.num_samples)
        rng = random_state(self.generator)
        if self.replacement:
            return rng.integers(0, n, size=count, dtype=np.int64)
        parts = [rng.permutation(n) for _ in range(count // n)]
        if count % n:
            parts.append(rng.permutation(n)[:count % n])
        return np.concatenate(parts).astype(np.int64, copy=False) if parts else \
            np.zeros(0, np.int64)


class SubsetRandomSampler(Sampler):
    """The given ``indices``, in a random order drawn each epoch from ``generator``."""

    def __init__(self, indices, generator=None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        order = random_state(self.generator).permutation(len(self.indices))
        return (self.indices[i] for i in order.tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices in ``[0, len(weights))``, index ``i`` drawn with probability
    ``weights[i] / sum(weights)``, with or without replacement. The weights need not sum
    to one; they are kept as a float64 tensor in ``self.weights``."""

    def __init__(self, weights, num_samples: int, replacement: bool = True,
                 generator=None) -> None:
        num_samples = _positive_count("num_samples", num_samples)
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        values = np.asarray(weights.cpu().numpy() if isinstance(weights, Tensor) else weights,
                            dtype=np.float64)
        if values.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(values.shape)}")
        self.weights = tensor(values)
        self._weights = values
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def indices(self) -> np.ndarray:
        """One epoch's indices, drawn now; the weights are checked as ``multinomial`` does."""
        w = self._weights
        if w.size == 0:
            raise RuntimeError("cannot sample from an empty probability distribution: "
                               "WeightedRandomSampler needs at least one weight")
        if not np.isfinite(w).all() or (w < 0).any():
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element "
                               "< 0: every weight of WeightedRandomSampler must be finite and "
                               ">= 0")
        total = w.sum()
        if not total > 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0): "
                               "at least one weight must be positive")
        rng = random_state(self.generator)
        if self.replacement:
            return rng.choice(w.size, size=self.num_samples, p=w / total).astype(np.int64)
        if self.num_samples > w.size:
            raise RuntimeError(f"cannot sample n_sample > prob_dist.size(-1) samples without "
                               f"replacement: num_samples={self.num_samples}, {w.size} weights")
        # without replacement: the first num_samples of a race where index i finishes after
        # an exponential time of rate w[i]; as in PyTorch, indices of weight 0 come last, in
        # random order, once those of positive weight are used up
        with np.errstate(divide="ignore"):
            finish = rng.exponential(size=w.size) / w
        order = np.lexsort((rng.random(w.size), finish))
        return order[:self.num_samples].astype(np.int64)


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``; the last, shorter one
    is left out if ``drop_last``.

    >>> list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=False))
    [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        self.batch_size = _positive_count("batch_size", batch_size)
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler = sampler
        self.drop_last = drop_last

    def __iter__(self):
        samples = iter(self.sampler)
        while True:
            batch = []
            for index in samples:
                batch.append(index)
                if len(batch) == self.batch_size:
                    break
            if not batch or self.drop_last and len(batch) < self.batch_size:
                return
            yield batch
            if len(batch) < self.batch_size:
                return

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def index_arrays(self):
        """The batches as int64 arrays, for the loader: sliced from one array when the
        sampler is numbanet's sequential or random sampler (lazily for the sequential one,
        whose data set may be huge), else drawn from the sampler batch by batch, each index
        checked to be an integer (never rounded)."""
        size, drop_last = self.batch_size, self.drop_last
        kind = type(self.sampler)
        if kind is SequentialSampler or kind is RandomSampler or kind is WeightedRandomSampler:
            sequential = kind is SequentialSampler
            order = None if sequential else self.sampler.indices()
            n = len(self.sampler) if sequential else len(order)
            end = n - n % size if drop_last else n
            if sequential:
                return (np.arange(start, min(start + size, end)) for start in
                        range(0, end, size))
            return (order[start:start + size] for start in range(0, end, size))
        return _chunks(iter(self.sampler), size, drop_last)


def _chunks(samples, batch_size: int, drop_last: bool):
    """Batches of ``batch_size`` sample indices drawn from the iterator ``samples``."""
    start = 0
    while True:
        chunk = []
        for index in samples:
            chunk.append(index)
            if len(chunk) == batch_size:
                break
        if not chunk or drop_last and len(chunk) < batch_size:
            return
        yield sample_indices(chunk, "DataLoader: the sampler gave {value} at position "
                             "{position} of the epoch", start)
        start += len(chunk)
        if len(chunk) < batch_size:
            return
