"""Data sets: ``Dataset``, the two-method interface, and ``TensorDataset``."""
from __future__ import annotations

import numpy as np

from ...tensor import Tensor


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
        ``dataset[i]`` for each ``i`` with ``default_collate``; the result is the same."""
        index = np.asarray(indices, dtype=np.int64)
        return tuple(t[index] for t in self.tensors)
