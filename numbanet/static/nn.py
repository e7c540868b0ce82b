"""``tf.nn``: activations and softmax for graph tensors."""
from __future__ import annotations

from ..autograd.ops import elementwise as _ew
from ..autograd.ops import reduction as _red
from .ops import _unary, maximum, minimum, sigmoid, tanh  # noqa: F401 (tf.nn names)

__all__ = ["relu", "softmax", "log_softmax", "maximum", "minimum", "sigmoid", "tanh"]


def relu(features, name=None):
    """max(features, 0), elementwise."""
    return _unary(_ew.relu, features, "Relu", name)


def softmax(logits, axis=-1, name=None):
    return _unary(lambda t: _red.softmax(t, axis), logits, "Softmax", name)


def log_softmax(logits, axis=-1, name=None):
    return _unary(lambda t: _red.log_softmax(t, axis), logits, "LogSoftmax", name)
