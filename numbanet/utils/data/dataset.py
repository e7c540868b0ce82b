"""Data sets: ``Dataset``, the two-method interface, ``IterableDataset``, the stream, and
those made of others (``TensorDataset``, ``Subset``, ``ConcatDataset``, ``ChainDataset``,
``StackDataset``, ``random_split``); and ``sample_indices``, which checks that sample
indices are integers (never rounding one)."""
from __future__ import annotations

import bisect
import itertools
import math
import operator
import warnings
from typing import Generic, TypeVar

import numpy as np

from ...dtypes import bool_
from ...tensor import Tensor
from .seeding import random_state

_INT64 = np.iinfo(np.int64)
_T_co = TypeVar("_T_co", covariant=True)


class Dataset(Generic[_T_co]):
    """A collection of samples read by index: subclasses define ``__len__`` and
    ``__getitem__``. Generic in the sample's type, as PyTorch's (``Dataset[int]``).

    A sample can be anything ``default_collate`` knows how to stack: a tensor, a NumPy
    array, a number, or a tuple or dict of those::

        class Squares(Dataset):
            def __len__(self):
                return 100

            def __getitem__(self, i):
                return float(i), float(i * i)     # (input, target)
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(self, index) "
                                  "returning the sample at that index")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__(self) returning "
                                  "the number of samples")

    def __add__(self, other) -> ConcatDataset:
        """``a + b``: the samples of ``a``, then those of ``b`` (a ``ConcatDataset``)."""
        return ConcatDataset([self, other])


class IterableDataset(Dataset[_T_co]):
    """A stream of samples: subclasses define ``__iter__`` (and, if they can, ``__len__``).

    With ``DataLoader(num_workers=W)``, each of the W workers iterates over its own copy of
    the data set, so without more every sample comes W times. To split the stream, ask
    ``get_worker_info()`` in ``__iter__`` (or in ``worker_init_fn``) which worker it is::

        class Range(IterableDataset):
            def __init__(self, start, end):
                self.start, self.end = start, end

            def __iter__(self):
                info = get_worker_info()
                if info is None:                         # loading in the main thread
                    return iter(range(self.start, self.end))
                return iter(range(self.start + info.id, self.end, info.num_workers))
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__(self), yielding "
                                  "its samples")

    def __add__(self, other) -> ChainDataset:
        """``a + b``: the stream of ``a``, then that of ``b`` (a ``ChainDataset``)."""
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the rows of tensors of one length: ``dataset[i]`` is
    ``(tensors[0][i], tensors[1][i], ...)``.

    >>> ds = TensorDataset(nb.randn(100, 3), nb.arange(100))
    >>> x, y = ds[7]          # x.shape == (3,), y.shape == ()
    """

    def __init__(self, *tensors: Tensor):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor, e.g. "
                             "TensorDataset(inputs, targets)")
        for k, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {k} is a {type(t).__name__}, not a "
                                "Tensor; convert it with nb.tensor(...) first")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {k} is a 0-d tensor; every tensor "
                                 "needs a first dimension that indexes the samples")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) > 1:
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise _AssertionValueError(
                f"Size mismatch between tensors: TensorDataset needs all tensors of one size in "
                f"the first dimension, got sizes {', '.join(map(str, sizes))} (shapes "
                f"{shapes}); each row is one sample, so every tensor needs one row per sample")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def gather(self, indices) -> tuple:
        """The samples at ``indices``, already stacked: one indexing op per tensor instead
        of one per sample. ``DataLoader`` uses it when it would otherwise stack
        ``dataset[i]`` for each ``i`` with ``default_collate``; the result is the same.
        An index that is not an integer raises ``SampleIndexError``."""
        if not (isinstance(indices, np.ndarray) and indices.dtype == np.int64):
            indices = sample_indices(list(indices), "TensorDataset.gather: got {value} at "
                                     "position {position} of the indices")
        return tuple(t[indices] for t in self.tensors)


class Subset(Dataset[_T_co]):
    """The samples of ``dataset`` at ``indices``: ``subset[i]`` is
    ``dataset[indices[i]]``."""

    def __init__(self, dataset, indices) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list) -> list:
        """The samples at ``indices``, through the data set's own ``__getitems__`` if it
        has one (the loader fetches a batch with it)."""
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


class _AssertionValueError(ValueError, AssertionError):
    """Bad data sets given: a ``ValueError``, and the ``AssertionError`` PyTorch raises."""


class _AssertionTypeError(TypeError, AssertionError):
    """A data set of the wrong kind: a ``TypeError``, and PyTorch's ``AssertionError``."""


class ConcatDataset(Dataset[_T_co]):
    """The samples of several map-style data sets, one after another. Negative indices
    count from the end, as in a list."""

    def __init__(self, datasets) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise _AssertionValueError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise _AssertionTypeError("ConcatDataset does not support IterableDataset: "
                                          "chain streams with ChainDataset instead")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ValueError(f"absolute value of index should not exceed dataset length "
                                 f"(index {idx}, length {n})")
            idx = n + idx
        if idx >= n:
            raise IndexError(f"ConcatDataset index {idx} is out of range for a data set of "
                             f"{n} samples")
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        return self.datasets[d][idx - self.cumulative_sizes[d - 1] if d else idx]


class ChainDataset(IterableDataset):
    """The streams of several iterable data sets, one after another (chained lazily, as
    each is reached)."""

    def __init__(self, datasets) -> None:
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise _AssertionTypeError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self) -> int:
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise _AssertionTypeError("ChainDataset only supports IterableDataset")
            total += len(d)
        return total


class StackDataset(Dataset):
    """Data sets of one length side by side: ``StackDataset(a, b)[i]`` is ``(a[i], b[i])``,
    ``StackDataset(x=a, y=b)[i]`` is ``{'x': a[i], 'y': b[i]}``."""

    def __init__(self, *args, **kwargs) -> None:
        if args and kwargs:
            raise ValueError("Supported either ``tuple``- (via ``args``) or``dict``- (via "
                             "``kwargs``) like input/output, but both types are given.")
        if not args and not kwargs:
            raise ValueError("At least one dataset should be passed")
        datasets = list(args or kwargs.values())
        self._length = len(datasets[0])
        if any(len(d) != self._length for d in datasets):
            sizes = ", ".join(str(len(d)) for d in datasets)
            raise ValueError(f"Size mismatch between datasets (lengths {sizes})")
        self.datasets = args or kwargs

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __getitems__(self, indices: list) -> list:
        """The samples at ``indices``, each data set read through its ``__getitems__`` when
        it has one."""
        named = isinstance(self.datasets, dict)
        columns = {}
        for key, d in (self.datasets.items() if named else enumerate(self.datasets)):
            if callable(getattr(d, "__getitems__", None)):
                items = d.__getitems__(indices)
                if len(items) != len(indices):
                    raise ValueError(f"Nested dataset's output size mismatch. Expected "
                                     f"{len(indices)}, got {len(items)}")
                columns[key] = items
            else:
                columns[key] = [d[i] for i in indices]
        if named:
            return [{k: column[j] for k, column in columns.items()} for j in range(len(indices))]
        return [tuple(column[j] for column in columns.values()) for j in range(len(indices))]

    def __len__(self) -> int:
        return self._length


def random_split(dataset, lengths, generator=None) -> list:
    """Split ``dataset`` at random into ``Subset``s of the given ``lengths``, which sum to
    its length, or are fractions that sum to 1: each split then gets
    ``floor(len(dataset) * fraction)`` samples, and what is left over goes one sample at a
    time to the splits in turn, from the first. ``generator`` draws the permutation (None:
    the generator ``nb.manual_seed`` seeds; see ``seeding.random_state``)::

        train, val = random_split(ds, [0.8, 0.2], generator=torch_like_generator)
    """
    lengths = list(lengths)
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        counts = []
        for i, fraction in enumerate(lengths):
            if fraction < 0 or fraction > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            counts.append(math.floor(len(dataset) * fraction))
        for i in range(len(dataset) - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
        for i, length in enumerate(lengths):
            if length == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an "
                              "empty dataset.", stacklevel=2)
    if sum(lengths) != len(dataset):
        raise ValueError(f"Sum of input lengths does not equal the length of the input "
                         f"dataset! (lengths {lengths} sum to {sum(lengths)}, the data set "
                         f"has {len(dataset)} samples)")
    indices = random_state(generator).permutation(sum(lengths)).tolist()
    return [Subset(dataset, indices[end - length:end])
            for end, length in zip(itertools.accumulate(lengths), lengths)]


class SampleIndexError(IndexError, TypeError):
    """A sample index that is not an integer: an ``IndexError``, as PyTorch's tensor indexing
    raises for it, and a ``TypeError``, as Python's sequences do."""


def sample_indices(values: list, where: str, start: int = 0) -> np.ndarray:
    """``values`` as an int64 array of sample indices; anything that is not an integer is
    refused, never rounded. ``where`` names a bad value's place, from ``{value}`` and
    ``{position}`` (``start`` + its place in ``values``)."""
    if all(t is int or issubclass(t, np.integer) for t in set(map(type, values))):
        try:  # the usual case, in C: plain ints (or NumPy ints) that fit int64
            array = np.array(values)
        except OverflowError:
            array = None
        if array is not None and (array.dtype.kind == "i" or array.dtype.kind == "u" and (
                array.size == 0 or array.max() <= _INT64.max)):
            return array.astype(np.int64, copy=False)
    return np.array([_index(v, where, k) for k, v in enumerate(values, start)],
                    dtype=np.int64)


def _index(value, where: str, position: int) -> int:
    """A sample index as a Python int; see ``sample_indices``."""
    if not isinstance(value, (bool, np.bool_)) and not (
            isinstance(value, Tensor) and (value.ndim != 0 or value.dtype == bool_)):
        try:
            index = operator.index(value)
        except TypeError:
            pass
        else:
            if _INT64.min <= index <= _INT64.max:
                return index
            raise IndexError(f"{where.format(value=shown(value), position=position)}, which "
                             "is out of the range of any data set (a sample index must fit in "
                             "int64)")
    hint = (" A sampler yields one index at a time; to give whole batches, pass them as "
            "DataLoader(batch_sampler=...)." if isinstance(value, (list, tuple)) else "")
    raise SampleIndexError(f"{where.format(value=shown(value), position=position)}; a sample "
                           "index must be an int (a Python or NumPy int, or a 0-d integer "
                           "tensor), and numbanet does not round one (int(2.7) would silently "
                           f"pick sample 2): give ints.{hint}")


def shown(value) -> str:
    """``value`` for an error message: its repr, cut short, and its type."""
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{text} ({type(value).__name__})"
