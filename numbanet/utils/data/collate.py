"""``default_collate``: turn a list of samples into one batch; ``default_convert``: turn
the NumPy values of one sample into tensors (the loader's ``collate_fn`` when it does not
batch: ``batch_size=None``).

The batch has the structure of one sample, with every leaf stacked along a new first
dimension: a list of ``(x, y)`` pairs becomes one pair ``(xs, ys)``, a list of dicts
one dict of batches. Leaves become tensors:

=====================  =================================================
sample leaf            batch
=====================  =================================================
Tensor of shape s      ``nb.stack``: Tensor of shape (n, *s), same dtype
NumPy array            Tensor of shape (n, *s), the array's dtype
Python int / bool      int64 / bool Tensor of shape (n,)
Python float           float64 Tensor of shape (n,) (as PyTorch does)
NumPy scalar           Tensor of its dtype, shape (n,)
str, bytes             the list of them, unchanged
=====================  =================================================

>>> default_collate([(nb.tensor([1., 2.]), 0), (nb.tensor([3., 4.]), 1)])
(tensor([[1., 2.], [3., 4.]]), tensor([0, 1]))
"""
from __future__ import annotations

import collections.abc
import copy

import numpy as np

from ...autograd.ops import stack
from ...creation import tensor
from ...dtypes import float64
from ...tensor import Tensor


def default_collate(batch: list):
    """Stack a list of samples into one batch (see the module's table)."""
    batch = list(batch)
    if not batch:
        raise ValueError("default_collate: the batch is empty; a batch needs at least one sample")
    elem = batch[0]
    if isinstance(elem, Tensor):
        _check_same_shapes(batch, "tensors")
        return stack(batch)
    if isinstance(elem, np.ndarray):
        _check_same_shapes(batch, "NumPy arrays")
        return tensor(np.stack(batch))
    if isinstance(elem, _NUMBERS):
        _check_kind(batch, _is_number)
        if isinstance(elem, (np.number, np.bool_)):
            return tensor(np.array(batch))
        if isinstance(elem, float):
            return tensor(batch, dtype=float64)
        return tensor(batch)  # ints; bools make a bool tensor
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        _check_kind(batch, lambda sample: isinstance(sample, collections.abc.Mapping))
        for i, sample in enumerate(batch):
            if sample.keys() != elem.keys():
                raise ValueError(f"default_collate: sample {i} does not have the keys of sample "
                                 f"0 ({sorted(map(str, elem.keys()))}); every dict sample needs "
                                 "the same keys")
        collated = {key: default_collate([sample[key] for sample in batch]) for key in elem}
        return collated if type(elem) is dict else _rebuild(type(elem), collated)
    if isinstance(elem, (tuple, list)):
        _check_kind(batch, lambda sample: isinstance(sample, (tuple, list)))
        for i, sample in enumerate(batch):
            if len(sample) != len(elem):
                raise ValueError(f"default_collate: sample {i} has {len(sample)} elements and "
                                 f"sample 0 has {len(elem)}; every sample needs the same number")
        columns = [default_collate(list(column)) for column in zip(*batch)]
        if hasattr(elem, "_fields"):  # a namedtuple: rebuilt field by field
            return type(elem)(*columns)
        return tuple(columns) if isinstance(elem, tuple) else columns
    raise TypeError(f"default_collate: can't batch samples of type {type(elem).__name__}; "
                    "samples must be tensors, NumPy arrays, numbers or strings, or tuples, "
                    "lists and dicts of those. Pass DataLoader(..., collate_fn=f) with a function "
                    "f(list_of_samples) -> batch for other kinds of samples")


def default_convert(data):
    """``data`` with its NumPy arrays and NumPy scalars made tensors (0-d for a scalar),
    inside tuples, lists and dicts too, as PyTorch's ``default_convert``: a tensor, a
    Python number or a string stays as it is, a tuple becomes a list (a namedtuple stays a
    namedtuple), an array of strings or objects stays an array."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "OSUV" else tensor(data)
    if isinstance(data, (np.number, np.bool_)):
        return tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(data[key]) for key in data}
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update(converted)
                return clone
            return type(data)(converted)
        except TypeError:
            return converted
    if isinstance(data, tuple):
        if hasattr(data, "_fields"):
            return type(data)(*(default_convert(d) for d in data))
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        converted = [default_convert(d) for d in data]
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(converted):
                    clone[i] = d
                return clone
            return type(data)(converted)
        except TypeError:
            return converted
    return data


_NUMBERS = (int, float, np.integer, np.floating, np.bool_)  # bool is an int


def _is_number(sample) -> bool:
    """A number ``tensor()`` takes in a list: Python and NumPy numbers, 0-d tensors."""
    return isinstance(sample, _NUMBERS) or isinstance(sample, Tensor) and sample.ndim == 0


def _check_kind(batch, accepts):
    for i, sample in enumerate(batch):
        if not accepts(sample):
            raise TypeError(f"default_collate: sample 0 is of type {type(batch[0]).__name__} "
                            f"but sample {i} is of type {type(sample).__name__}; a batch "
                            "stacks one kind of value, so every sample needs the structure "
                            "of the first")


def _check_same_shapes(batch, what):
    shape = batch[0].shape
    _check_kind(batch, lambda item: type(item) is type(batch[0]))
    for i, item in enumerate(batch):
        if item.shape != shape:
            raise ValueError(f"default_collate: can't stack {what} of different shapes: sample "
                             f"0 has shape {tuple(shape)}, sample {i} has shape "
                             f"{tuple(item.shape)}. Give every sample one shape, or pass a "
                             "collate_fn that pads them")


def _rebuild(mapping_type, collated: dict):
    try:
        return mapping_type(collated)
    except TypeError:  # a Mapping that can't be built from a dict
        return collated
