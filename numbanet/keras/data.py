"""Turning the arrays given to ``fit``/``evaluate``/``predict`` into batches.

``fit`` takes NumPy arrays (or lists, or numbanet tensors), casts the inputs to the
model's float type and moves everything to the model's device once, before the
first epoch. Each epoch is then one gather (the shuffle) and one slice per batch,
all on the device.

Everything is checked here before it reaches a kernel, with Keras 3's error types:
the arrays (real numbers only, not ragged, at least one sample, x and y of one
length, class labels whole numbers in range) and the arguments that say how to
batch them (TypeError for a wrong type, ValueError for a wrong value).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import dtypes as _dt
from ..autograd.ops.fused import row_slice, take_rows
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
        if data.ndim == 0:
            raise ValueError(f"{what}: expected a tensor with one row per sample, got a 0-d "
                             "tensor (a scalar)")
        if detach:
            data = data.detach()
        return data.to(device, dtype) if (data.dtype is not dtype or data.device is not device) \
            else data
    return tensor(as_array(data, what), dtype=dtype, device=device)


def as_array(data, what: str) -> np.ndarray:
    """``data`` (anything but a tensor) as a NumPy array of real numbers or bools with at
    least one axis, or a clear error saying what it is and how to fix it."""
    if data is None:
        raise ValueError(f"{what} is missing: give a NumPy array or a numbanet tensor")
    if isinstance(data, (dict, tuple)) or (isinstance(data, list) and data
                                           and isinstance(data[0], np.ndarray)):
        raise TypeError(f"{what}: a Sequential model takes one array, got a "
                        f"{type(data).__name__} of arrays; stack them into one array")
    array = real_array(data, what)
    if array.ndim == 0:
        raise ValueError(f"{what}: expected an array with one row per sample, got a scalar")
    return array


def real_array(data, what: str) -> np.ndarray:
    """``data`` as a NumPy array of real numbers or bools; complex values, strings,
    objects and ragged lists are refused (a cast would lose or invent values)."""
    try:
        array = np.asarray(data)
    except ValueError:  # NumPy refuses ragged nested lists
        lengths = sorted({len(row) for row in data if hasattr(row, "__len__")}) \
            if isinstance(data, (list, tuple)) else []
        sizes = f" (lengths {', '.join(map(str, lengths))})" if len(lengths) > 1 else ""
        raise ValueError(f"{what}: got a {type(data).__name__} with rows of different lengths"
                         f"{sizes}; give an array whose rows all have one length, e.g. pad "
                         "shorter rows with zeros") from None
    if array.dtype.kind == "c":
        raise TypeError(f"{what}: got complex values (dtype {array.dtype}), but numbanet models "
                        "compute with real numbers and would drop the imaginary parts. Pass "
                        "real values: np.real(x) for the real parts, np.abs(x) for the "
                        "magnitudes, or both as separate features")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected a NumPy array of numbers or a numbanet tensor, got "
                        f"{type(data).__name__} (dtype {array.dtype})")
    return array


def check_samples(x: Tensor, where: str, what: str = "x") -> None:
    """Keras 3 refuses data without samples (its loops would report nothing)."""
    if x.shape[0] == 0:
        raise ValueError(f"{where}: {what} has 0 samples (shape {tuple(x.shape)}); {where} "
                         "needs at least one sample. Check how the data was loaded or sliced")


def check_same_length(n: int, y, where: str) -> None:
    """Keras 3's "Data cardinality is ambiguous": x has ``n`` samples, ``y`` must too."""
    if y.shape[0] != n:
        raise ValueError(f"{where}: Data cardinality is ambiguous. Make sure all arrays "
                         f"contain the same number of samples: x has {n} and y has "
                         f"{y.shape[0]} (shape {tuple(y.shape)}). Pass the matching rows of "
                         "both")


def check_class_labels(labels: np.ndarray, classes, what: str, of: str = "classes") -> None:
    """Raise unless every label is a whole number in [0, ``classes``) (no upper bound
    when ``classes`` is None): a NaN or 1.5 must not become some class by a cast."""
    if labels.size == 0 or labels.dtype == np.bool_:
        return
    if labels.dtype.kind == "f":
        bad = ~np.isfinite(labels) | (labels != np.round(labels))
        if bad.any():
            raise ValueError(f"{what} expects integer class labels, got {labels[bad].flat[0]} "
                             f"(dtype {labels.dtype}). Give whole numbers from 0 to the number "
                             "of classes - 1, e.g. y.astype(int) after checking the data")
    low, high = labels.min(), labels.max()
    if low < 0 or (classes is not None and high >= classes):
        bound = "0 or more" if classes is None else f"in [0, {classes - 1}] ({classes} {of})"
        raise ValueError(f"{what}: class labels must be {bound}, got labels from {low} to "
                         f"{high}")


def split_validation(x: Tensor, y: Tensor, fraction: float):
    """Keras's ``validation_split``: the *last* ``fraction`` of the samples, taken
    before any shuffling, become the validation data."""
    n = x.shape[0]
    split_at = int(math.floor(n * (1.0 - fraction)))
    if split_at == 0 or split_at == n:
        raise ValueError(f"validation_split={fraction} of {n} samples leaves an empty "
                         "training or validation set; give more data or another fraction")
    return (x[:split_at], y[:split_at]), (x[split_at:], y[split_at:])


def check_validation_split(fraction) -> float:
    """Keras's ``validation_split``: a float in [0, 1) (None counts as 0)."""
    text = "validation_split must be a float in [0, 1) (the fraction of the samples kept " \
        "for validation, e.g. 0.2), got"
    if isinstance(fraction, bool) or not isinstance(fraction, (numbers.Real, type(None))):
        raise TypeError(f"{text} {fraction!r} ({type(fraction).__name__})")
    fraction = float(fraction or 0.0)
    if not 0 <= fraction < 1:
        raise ValueError(f"{text} {fraction}")
    return fraction


def check_count(value, name: str, minimum: int = 0, note: str = "") -> int:
    """An int argument (epochs, batch_size...) of at least ``minimum``: TypeError for
    another type, ValueError for a smaller value."""
    text = f"{name} must be {'a positive' if minimum == 1 else 'a non-negative'} int{note}"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{text}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{text}, got {value}")
    return int(value)


def check_batch_size(batch_size, default: int = 32, name: str = "batch_size") -> int:
    if batch_size is None:
        return default
    return check_count(batch_size, name, 1, f" (or None for {default})")


def check_shuffle(shuffle):
    """Keras's ``shuffle``: True, False, or 'batch' (shuffle within each batch only)."""
    if isinstance(shuffle, (bool, np.bool_)) or (isinstance(shuffle, str) and shuffle == "batch"):
        return shuffle if isinstance(shuffle, str) else bool(shuffle)
    error = ValueError if isinstance(shuffle, str) else TypeError
    raise error(f"shuffle must be True, False or 'batch' (shuffle within each batch), got "
                f"{shuffle!r}")


def check_validation_freq(freq):
    """Keras's ``validation_freq``: validate every ``freq`` epochs, or after the epochs
    (counted from 1) of a list."""
    if isinstance(freq, (list, tuple)):
        if all(isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in freq):
            return frozenset(int(e) for e in freq)
    elif isinstance(freq, (int, np.integer)) and not isinstance(freq, bool) and freq > 0:
        return int(freq)
    raise ValueError(f"validation_freq must be a positive int or a list of epochs (counted "
                     f"from 1) after which to validate, got {freq!r}")


def validates_after(epoch: int, freq) -> bool:
    """Whether ``epoch`` (counted from 0) is followed by validation."""
    return (epoch + 1) in freq if isinstance(freq, frozenset) else (epoch + 1) % freq == 0


def batch_bounds(n: int, batch_size: int) -> list:
    """[(start, stop), ...] covering ``range(n)`` in batches; the last may be smaller."""
    return [(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]


def shuffled(tensors: list, device, batch_size: int | None = None) -> list:
    """The rows of every tensor in one random order (from the generator that
    ``nb.manual_seed`` seeds): one gather each, on the device. With a ``batch_size``
    (Keras's ``shuffle='batch'``) the rows move only within their batch.

    The gathers are ``fused.take_rows``: ``t[order]`` without its index parsing and
    bounds pass (a permutation is always in bounds), which cost about as much as the
    gather itself for a small data set."""
    n = tensors[0].shape[0]
    if batch_size is None:
        order = host_generator().permutation(n)
    else:  # a random key in [0, 1) after the batch number sorts each batch on its own
        order = np.argsort(np.arange(n) // batch_size + host_generator().random(n),
                           kind="stable")
    order = tensor(order, dtype=_dt.int64, device=device)
    return [take_rows(t, order) for t in tensors]


class EpochBatches:
    """The training batches of one process, epoch after epoch: ``steps`` batches per
    epoch; ``epoch(device)`` yields ``(x, y, weight)`` for each, in a new random order
    when shuffling (``weight`` is 1: the whole batch is this process's). Under mpirun
    ``fit`` takes ``distributed.data_parallel.ShardedEpochBatches`` instead, which has
    the same interface."""

    def __init__(self, x: Tensor, y: Tensor, batch_size: int, shuffle):
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.bounds = batch_bounds(x.shape[0], batch_size)
        self.steps = len(self.bounds)

    def epoch(self, device):
        x, y = self.x, self.y
        if self.shuffle:
            x, y = shuffled([x, y], device,
                            self.batch_size if self.shuffle == "batch" else None)
        for start, stop in self.bounds:
            yield rows(x, start, stop), rows(y, start, stop), 1.0


def rows(t: Tensor, start: int, stop: int) -> Tensor:
    """``t[start:stop]``, a view, without autograd's bookkeeping (training data need none):
    ``fused.row_slice``, paid per batch."""
    if start == 0 and stop == t.shape[0]:
        return t
    return row_slice(t, start, stop)
