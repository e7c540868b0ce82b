"""Turning the arrays given to ``fit``/``evaluate``/``predict`` into batches.

``fit`` takes NumPy arrays (or lists, or numbanet tensors), casts the inputs to the
model's float type and moves everything to the model's device once, before the
first epoch. Each epoch is then one gather (the shuffle) and one slice per batch,
all on the device.
"""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes as _dt
from ..creation import tensor
from ..device import as_device
from ..random import host_generator
from ..tensor import Tensor


def as_tensor(data, dtype, device, what: str, detach: bool = True) -> Tensor:
    """``data`` as a tensor of ``dtype`` on ``device`` (no copy when it already is one).
    Training data are cut from any graph they belong to (``detach``); a direct call of
    the model keeps it, so that gradients can flow back to the inputs."""
    device = as_device(device)
    if isinstance(data, Tensor):
        if detach:
            data = data.detach()
        return data.to(device, dtype) if (data.dtype is not dtype or data.device is not device) \
            else data
    if data is None:
        raise ValueError(f"{what} is missing: give a NumPy array or a numbanet tensor")
    if isinstance(data, (dict, tuple)) or (isinstance(data, list) and data
                                           and isinstance(data[0], np.ndarray)):
        raise TypeError(f"{what}: a Sequential model takes one array, got a "
                        f"{type(data).__name__} of arrays; stack them into one array")
    array = np.asarray(data)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number)
                                     or array.dtype == np.bool_):
        raise TypeError(f"{what}: expected a NumPy array of numbers or a numbanet tensor, got "
                        f"{type(data).__name__} (dtype {array.dtype})")
    if array.ndim == 0:
        raise ValueError(f"{what}: expected an array with one row per sample, got a scalar")
    return tensor(array, dtype=dtype, device=device)


def check_same_length(x: Tensor, y: Tensor, where: str) -> None:
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{where}: x and y must hold the same number of samples, but x has "
                         f"{x.shape[0]} (shape {tuple(x.shape)}) and y has {y.shape[0]} (shape "
                         f"{tuple(y.shape)}). Pass the matching rows of both")


def split_validation(x: Tensor, y: Tensor, fraction: float):
    """Keras's ``validation_split``: the *last* ``fraction`` of the samples, taken
    before any shuffling, become the validation data."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation_split must be in (0, 1), got {fraction}")
    n = x.shape[0]
    split_at = int(math.floor(n * (1.0 - fraction)))
    if split_at == 0 or split_at == n:
        raise ValueError(f"validation_split={fraction} of {n} samples leaves an empty "
                         "training or validation set; give more data or another fraction")
    return (x[:split_at], y[:split_at]), (x[split_at:], y[split_at:])


def batch_bounds(n: int, batch_size: int) -> list:
    """[(start, stop), ...] covering ``range(n)`` in batches; the last may be smaller."""
    return [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]


def check_batch_size(batch_size, default: int = 32) -> int:
    if batch_size is None:
        return default
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int (or None for 32), got "
                         f"{batch_size!r}")
    return int(batch_size)


def shuffled(tensors: list, device) -> list:
    """The rows of every tensor in one random order (from the generator that
    ``nb.manual_seed`` seeds): one gather each, on the device.

    The gathers call the backend's ``index_select`` directly: the data are outside
    autograd and a permutation is always in bounds, so the checks and the graph
    bookkeeping of ``t[order]`` (several times the cost of the copy itself for a
    small data set) have nothing to do here."""
    n = tensors[0].shape[0]
    order = tensor(host_generator().permutation(n), dtype=_dt.int64, device=device)
    be = order.device.backend
    return [Tensor._wrap(be.index_select(t._data, 0, order._data), t.device, t.dtype)
            for t in tensors]


def rows(t: Tensor, start: int, stop: int) -> Tensor:
    """``t[start:stop]``, a view, without autograd's bookkeeping (training data need none)."""
    if start == 0 and stop == t.shape[0]:
        return t
    return Tensor._wrap(t.device.backend.basic_index(t._data, (slice(start, stop),)), t.device,
                        t.dtype, base=t)
