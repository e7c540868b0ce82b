"""Metrics with Keras's names: what ``fit`` and ``evaluate`` report besides the loss.

A metric function ``f(y_true, y_pred)`` returns one value per sample; the value
reported for an epoch is its mean over all the epoch's samples::

    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])

``'accuracy'`` (or ``'acc'``) picks its kind from the shapes, as Keras does:
*binary* when the model has one output unit (``y_pred > 0.5`` against 0/1
targets), *sparse categorical* when the targets are class labels (one fewer axis
than the predictions, or a last axis of 1), *categorical* otherwise (argmax of the
predictions against argmax of one-hot targets).
"""
from __future__ import annotations

from ..tensor import Tensor
from . import losses


@losses.takes_arrays
def binary_accuracy(y_true: Tensor, y_pred: Tensor, threshold: float = 0.5) -> Tensor:
    """The fraction of outputs on the right side of ``threshold``, per sample."""
    if y_true.ndim == y_pred.ndim - 1:
        y_true = y_true.reshape(tuple(y_true.shape) + (1,))
    losses.same_shape(y_true, y_pred, "binary_accuracy")
    predicted = (y_pred > threshold).to(y_pred.dtype)
    return (predicted == y_true.to(y_pred.dtype)).to(y_pred.dtype).mean(-1)


@losses.takes_arrays
def categorical_accuracy(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """1 where the argmax of the prediction is the argmax of the one-hot target."""
    losses.one_hot(y_true, y_pred, "categorical_accuracy")
    return (y_pred.argmax(-1) == y_true.argmax(-1)).to(y_pred.dtype)


@losses.takes_arrays
def sparse_categorical_accuracy(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """1 where the argmax of the prediction is the integer label."""
    labels = losses.sparse_labels(y_true, y_pred, "sparse_categorical_accuracy")
    return (y_pred.argmax(-1) == labels).to(y_pred.dtype)


def is_binary_or_sparse(y_true_shape: tuple, y_pred_shape: tuple) -> tuple[bool, bool]:
    """Keras's rule for 'accuracy': (binary, sparse categorical) from the two shapes."""
    binary = y_pred_shape[-1] == 1
    sparse = len(y_true_shape) < len(y_pred_shape) or \
        (y_true_shape[-1] == 1 and y_pred_shape[-1] > 1)
    return binary, sparse


class Metric:
    """A named per-sample function, plus whether it only needs the argmax of a
    softmax output (then the logits do: the argmax is the same)."""

    def __init__(self, fn, name: str, argmax_only: bool = False):
        self.fn, self.name, self.argmax_only = fn, name, argmax_only

    def batch_sum(self, y_true: Tensor, y_pred: Tensor) -> tuple:
        """(sum, count) of the values over the batch, as Keras's ``Mean`` adds them up:
        per-sample values (their mean over any further axes) count one each, a single
        value for the whole batch counts once."""
        values = self.fn(y_true, y_pred)
        if not isinstance(values, Tensor):
            raise TypeError(f"metric {self.name!r} returned {type(values).__name__}; a metric "
                            "must return a numbanet Tensor with one value per sample, computed "
                            "from y_true and y_pred with tensor operations")
        if values.ndim == 0:
            return values, 1
        if values.ndim > 1:
            values = values.mean(tuple(range(1, values.ndim)))
        return values.sum(), values.shape[0]

    def __repr__(self) -> str:
        return f"Metric({self.name!r})"


_FUNCTIONS = {
    "binary_accuracy": binary_accuracy, "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "mean_squared_error": losses.mean_squared_error, "mse": losses.mean_squared_error,
    "mean_absolute_error": losses.mean_absolute_error, "mae": losses.mean_absolute_error,
    "categorical_crossentropy": losses.categorical_crossentropy,
    "sparse_categorical_crossentropy": losses.sparse_categorical_crossentropy,
    "binary_crossentropy": losses.binary_crossentropy,
}
_ARGMAX_ONLY = (categorical_accuracy, sparse_categorical_accuracy)
NAMES = sorted(set(_FUNCTIONS) | {"accuracy", "acc"})


def check(identifier) -> None:
    """Raise at ``compile`` time for a metric that ``get`` will not know."""
    if isinstance(identifier, str):
        if identifier not in NAMES:
            raise ValueError(f"Unknown metric {identifier!r}. Expected one of {NAMES}, or a "
                             "function f(y_true, y_pred) returning one value per sample")
    elif not callable(identifier):
        raise TypeError(f"a metric must be a name (e.g. 'accuracy') or a function "
                        f"f(y_true, y_pred), got {type(identifier).__name__}")


def get(identifier, y_true_shape: tuple, y_pred_shape: tuple) -> Metric:
    """The metric for a name or function, given the shapes of the data it will see."""
    check(identifier)
    if isinstance(identifier, str):
        if identifier in ("accuracy", "acc"):
            binary, sparse = is_binary_or_sparse(y_true_shape, y_pred_shape)
            fn = binary_accuracy if binary else \
                sparse_categorical_accuracy if sparse else categorical_accuracy
        else:
            fn = _FUNCTIONS[identifier]
        return Metric(fn, identifier, fn in _ARGMAX_ONLY)
    return Metric(identifier, getattr(identifier, "__name__", "metric"),
                  identifier in _ARGMAX_ONLY)
