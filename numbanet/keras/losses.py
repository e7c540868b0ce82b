"""Losses with Keras's names and formulas.

A Keras loss is a function ``f(y_true, y_pred)`` of the targets and the model's
output, in that order (PyTorch's losses take the output first). Each per-sample
loss is the mean over the last axis; ``fit`` minimises its mean over the batch::

    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    losses.get("mse")                          # MeanSquaredError()

The cross-entropies take probabilities by default (the output of a softmax or
sigmoid layer), clipped to [1e-7, 1 - 1e-7] before the log, as in Keras; with
``from_logits=True`` they take raw scores. When the model's last layer ends with
a softmax, ``fit`` computes ``categorical_crossentropy`` and
``sparse_categorical_crossentropy`` from that layer's logits with ``log_softmax``,
which gives the same values as the clipped formula unless a probability is within
1e-7 of 0 or 1, where it keeps the true (larger) loss and its gradient instead of
cutting them off.
"""
from __future__ import annotations

import functools

from .. import dtypes as _dt
from ..autograd import ops
from ..nn import functional as F
from ..tensor import Tensor
from . import backend
from . import data as _data


def as_tensors(y_true, y_pred) -> tuple:
    """Targets and predictions given as NumPy arrays or lists as tensors, as Keras's
    losses and metrics take them: both of Keras's float type (``backend.floatx()``) on
    the device of the one that is a tensor; what is a tensor already stays as it is."""
    if not isinstance(y_pred, Tensor):
        device = y_true.device if isinstance(y_true, Tensor) else None
        y_pred = _data.as_tensor(y_pred, _dt.as_dtype(backend.floatx()), device, "y_pred")
    if not isinstance(y_true, Tensor):
        y_true = _data.as_tensor(y_true, y_pred.dtype, y_pred.device, "y_true")
    return y_true, y_pred


def takes_arrays(fn):
    """``fn(y_true, y_pred, ...)`` that also takes NumPy arrays (see ``as_tensors``)."""
    @functools.wraps(fn)
    def with_tensors(y_true, y_pred, *args, **kwargs):
        if not (isinstance(y_true, Tensor) and isinstance(y_pred, Tensor)):
            y_true, y_pred = as_tensors(y_true, y_pred)
        return fn(y_true, y_pred, *args, **kwargs)
    return with_tensors


def one_hot_error(where: str, expected: tuple, got: tuple,
                  fn: str = "categorical_crossentropy") -> ValueError:
    """A categorical loss or metric given class labels: say so, and what to use instead."""
    return ValueError(
        f"{where}{fn} expects one-hot targets of shape {expected}, one column per class, but "
        f"y has shape {got}. For integer class labels of shape {expected[:-1]}, use "
        f"'sparse_{fn}', or one-hot encode them with keras.utils.to_categorical(y, "
        f"{expected[-1]})")


def _clip(p: Tensor) -> Tensor:
    eps = backend.epsilon()
    return ops.clamp(p, eps, 1 - eps)


def _rows(x: Tensor) -> Tensor:
    """(N, ..., C) -> (N * ..., C): one row per prediction."""
    return x if x.ndim == 2 else x.reshape(-1, x.shape[-1])


def sparse_labels(y_true: Tensor, y_pred: Tensor, fn: str) -> Tensor:
    """Class indices with the prediction's shape minus its class axis, as int64."""
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
        y_true = y_true.reshape(y_true.shape[:-1])
    if tuple(y_true.shape) != tuple(y_pred.shape[:-1]):
        raise ValueError(f"{fn}: class labels of shape {tuple(y_true.shape)} don't fit "
                         f"predictions of shape {tuple(y_pred.shape)}; expected labels of "
                         f"shape {tuple(y_pred.shape[:-1])}, one class index per prediction")
    if y_true.dtype.is_floating_point:
        _data.check_class_labels(y_true.cpu().numpy(), None, fn)
    return y_true if y_true.dtype is _dt.int64 else y_true.long()


def one_hot(y_true: Tensor, y_pred: Tensor, fn: str = "categorical_crossentropy"):
    """Refuse class labels (one axis fewer, or a last axis of 1) as one-hot targets, and
    targets of another shape than the predictions."""
    if y_true.ndim == y_pred.ndim - 1 or (y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1
                                          and y_pred.shape[-1] != 1):
        raise one_hot_error("", tuple(y_true.shape[:1]) + tuple(y_pred.shape[1:]),
                            tuple(y_true.shape), fn)
    same_shape(y_true, y_pred, fn)


def same_shape(y_true: Tensor, y_pred: Tensor, fn: str):
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(f"{fn}: targets of shape {tuple(y_true.shape)} don't match "
                         f"predictions of shape {tuple(y_pred.shape)}; they must have the same "
                         "shape")


# ---- per-sample functions (Keras's keras.losses.<name>) ---------------------------------------
@takes_arrays
def mean_squared_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """mean((y_true - y_pred)**2, axis=-1): one value per sample."""
    d = y_pred - y_true
    return (d * d).mean(-1)


@takes_arrays
def mean_absolute_error(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """mean(|y_true - y_pred|, axis=-1)."""
    return ops.abs(y_pred - y_true).mean(-1)


@takes_arrays
def categorical_crossentropy(y_true: Tensor, y_pred: Tensor, from_logits: bool = False) -> Tensor:
    """-sum(y_true * log(y_pred), axis=-1) for one-hot (or probability) targets."""
    one_hot(y_true, y_pred)
    if from_logits:
        log_p = ops.log_softmax(y_pred, -1)
    else:
        log_p = ops.log(_clip(y_pred / y_pred.sum(-1, keepdim=True)))
    return -(y_true * log_p).sum(-1)


@takes_arrays
def sparse_categorical_crossentropy(y_true: Tensor, y_pred: Tensor,
                                    from_logits: bool = False) -> Tensor:
    """-log(y_pred[label]) for integer class labels."""
    labels = sparse_labels(y_true, y_pred, "sparse_categorical_crossentropy")
    if from_logits:
        log_p = ops.log_softmax(y_pred, -1)
    else:
        log_p = ops.log(_clip(y_pred / y_pred.sum(-1, keepdim=True)))
    per_row = F.nll_loss(_rows(log_p), labels.reshape(-1), reduction="none")
    return per_row.reshape(labels.shape)


@takes_arrays
def binary_crossentropy(y_true: Tensor, y_pred: Tensor, from_logits: bool = False) -> Tensor:
    """mean(-(y log p + (1 - y) log(1 - p)), axis=-1) for targets in {0, 1}."""
    same_shape(y_true, y_pred, "binary_crossentropy")
    if from_logits:
        return F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none").mean(-1)
    p = _clip(y_pred)
    return -(y_true * ops.log(p) + (1 - y_true) * ops.log(1 - p)).mean(-1)


# ---- loss objects -----------------------------------------------------------------------------
class Loss:
    """A loss: ``loss(y_true, y_pred)`` is the mean of ``call(y_true, y_pred)`` (the
    per-sample losses) over the batch.

    Subclasses say which targets they take (``sparse_targets``: integer labels) and
    whether they can start from the logits of a softmax (``softmax_logits``).
    """

    sparse_targets = False
    softmax_logits = False

    def __init__(self, name: str | None = None):
        self.name = name or _snake(type(self).__name__)

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred)")

    def __call__(self, y_true, y_pred) -> Tensor:
        """The batch loss; the arguments may be NumPy arrays, as in Keras."""
        if not (isinstance(y_true, Tensor) and isinstance(y_pred, Tensor)):
            y_true, y_pred = as_tensors(y_true, y_pred)
        return self.batch_mean(y_true, y_pred)

    def batch_mean(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        """The mean of ``call`` over the batch (a subclass may compute it in fewer ops)."""
        return self.call(y_true, y_pred).mean()

    def from_softmax_logits(self, y_true: Tensor, logits: Tensor) -> Tensor:
        """The batch loss of ``softmax(logits)``, computed from the logits."""
        raise NotImplementedError(f"{type(self).__name__} can't start from logits")

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict):
        if not isinstance(config, dict):
            raise TypeError(f"{cls.__name__}.from_config expects a dict of its constructor's "
                            f"arguments, got {type(config).__name__}")
        return cls(**config)


def _snake(name: str) -> str:
    return backend.snake_case(name)


class LossFunctionWrapper(Loss):
    """Makes a loss object of a function ``f(y_true, y_pred)`` that returns per-sample
    values (any of the functions above, or one of your own)."""

    def __init__(self, fn, name: str | None = None):
        super().__init__(name or getattr(fn, "__name__", "loss"))
        self.fn = fn

    def call(self, y_true, y_pred):
        values = self.fn(y_true, y_pred)
        if not isinstance(values, Tensor):
            raise TypeError(f"loss {self.name!r} returned {type(values).__name__}; a loss "
                            "function must return a numbanet Tensor of per-sample losses, "
                            "computed from y_true and y_pred with tensor operations")
        return values


class MeanSquaredError(Loss):
    def call(self, y_true, y_pred):
        same_shape(y_true, y_pred, "mean_squared_error")
        return mean_squared_error(y_true, y_pred)

    def batch_mean(self, y_true, y_pred):
        same_shape(y_true, y_pred, "mean_squared_error")
        return F.mse_loss(y_pred, y_true)  # the mean of the per-sample means, in fewer ops


class MeanAbsoluteError(Loss):
    def call(self, y_true, y_pred):
        same_shape(y_true, y_pred, "mean_absolute_error")
        return mean_absolute_error(y_true, y_pred)


class _CrossEntropy(Loss):
    def __init__(self, from_logits: bool = False, name: str | None = None):
        super().__init__(name)
        self.from_logits = bool(from_logits)
        self.softmax_logits = not self.from_logits and type(self) is not BinaryCrossentropy

    def get_config(self) -> dict:
        return {"name": self.name, "from_logits": self.from_logits}


class CategoricalCrossentropy(_CrossEntropy):
    """For one-hot targets (see ``keras.utils.to_categorical``)."""

    def call(self, y_true, y_pred):
        return categorical_crossentropy(y_true, y_pred, self.from_logits)

    def from_softmax_logits(self, y_true, logits):
        one_hot(y_true, logits)
        return -(y_true * ops.log_softmax(logits, -1)).sum(-1).mean()


class SparseCategoricalCrossentropy(_CrossEntropy):
    """For integer class labels, shape (batch,) or (batch, 1)."""

    sparse_targets = True

    def call(self, y_true, y_pred):
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)

    def batch_mean(self, y_true, y_pred):
        if self.from_logits:
            return self.from_softmax_logits(y_true, y_pred)
        labels = sparse_labels(y_true, y_pred, "sparse_categorical_crossentropy")
        log_p = ops.log(_clip(y_pred / y_pred.sum(-1, keepdim=True)))
        return F.nll_loss(_rows(log_p), labels.reshape(-1))

    def from_softmax_logits(self, y_true, logits):
        labels = sparse_labels(y_true, logits, "sparse_categorical_crossentropy")
        return F.cross_entropy(_rows(logits), labels.reshape(-1))


class BinaryCrossentropy(_CrossEntropy):
    """For targets in {0, 1} and a sigmoid output (one unit per label)."""

    def call(self, y_true, y_pred):
        return binary_crossentropy(y_true, y_pred, self.from_logits)


_BY_NAME = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
}
_FUNCTIONS = {mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
              categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
              binary_crossentropy: BinaryCrossentropy}
_CLASSES = {cls.__name__: cls for cls in (MeanSquaredError, MeanAbsoluteError,
                                          CategoricalCrossentropy,
                                          SparseCategoricalCrossentropy, BinaryCrossentropy)}


def get(identifier) -> Loss:
    """A loss object from a Keras name, a loss object, a saved config or a function."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown loss {identifier!r}. Expected one of "
                             f"{sorted(set(_BY_NAME) | set(_CLASSES))}, a keras.losses.Loss, "
                             "or a function f(y_true, y_pred)")
        return cls(name=identifier)
    if isinstance(identifier, dict) and isinstance(identifier.get("class_name"), str) and \
            identifier["class_name"] in _CLASSES:
        return _CLASSES[identifier["class_name"]].from_config(identifier.get("config", {}))
    if callable(identifier) and identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier](name=identifier.__name__)
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(f"loss must be a name (e.g. 'mse'), a keras.losses.Loss or a function, "
                    f"got {type(identifier).__name__}")


def serialize(loss: Loss):
    """A loss as saved in a model's compile config."""
    if type(loss) in _CLASSES.values():
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    raise ValueError(f"can't save the loss {loss.name!r}, a Python function: a saved model "
                     "holds no code. Use a named loss, or compile the loaded model again")


# Keras's short aliases
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
