"""Data sets: ``Dataset``, the two-method interface, and ``TensorDataset``; and
``sample_indices``, which checks that sample indices are integers (never rounding one)."""
from __future__ import annotations

import operator

import numpy as np

from ...dtypes import bool_
from ...tensor import Tensor

_INT64 = np.iinfo(np.int64)


class Dataset:
    """A collection of samples read by index: subclasses define ``__len__`` and
    ``__getitem__``.

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
            raise ValueError(f"TensorDataset: all tensors must have the same size in the first "
                             f"dimension, got sizes {', '.join(map(str, sizes))} (shapes "
                             f"{shapes}); each row is one sample, so every tensor needs one row "
                             "per sample")
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
