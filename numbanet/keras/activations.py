"""Activation functions by their Keras names: ``Dense(64, activation='relu')``.

Each takes a tensor and returns one of the same shape, built from numbanet ops so
that autograd differentiates it::

    activations.get('relu')(x)        # the same as x.relu()
    activations.get(None)             # linear: returns x unchanged

A Python function of a tensor works as an activation too, but a model that uses
one can't be saved (its config would have to hold code).
"""
from __future__ import annotations

from typing import Callable

from ..autograd import ops
from ..tensor import Tensor


def linear(x: Tensor) -> Tensor:
    """The identity: a Dense layer without an activation is linear."""
    return x


def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return ops.relu(x)


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), in (0, 1): the output of a binary classifier."""
    return ops.sigmoid(x)


def tanh(x: Tensor) -> Tensor:
    return ops.tanh(x)


def softmax(x: Tensor) -> Tensor:
    """exp(x) / sum(exp(x)) along the last axis: class probabilities that sum to 1."""
    return ops.softmax(x, -1)


def log_softmax(x: Tensor) -> Tensor:
    return ops.log_softmax(x, -1)


def elu(x: Tensor) -> Tensor:
    """x for x > 0, exp(x) - 1 otherwise."""
    return ops.where(x > 0, x, ops.exp(ops.minimum(x, 0.0)) - 1)


def softplus(x: Tensor) -> Tensor:
    """log(1 + exp(x)), written as max(x, 0) + log(1 + exp(-|x|)) so exp never overflows."""
    return ops.relu(x) + ops.log(1 + ops.exp(-ops.abs(x)))


def softsign(x: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return x / (1 + ops.abs(x))


def leaky_relu(x: Tensor, negative_slope: float = 0.2) -> Tensor:
    """x for x > 0, ``negative_slope * x`` otherwise (Keras's default slope is 0.2)."""
    return ops.where(x > 0, x, x * negative_slope)


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x), also called swish."""
    return x * ops.sigmoid(x)


def exponential(x: Tensor) -> Tensor:
    return ops.exp(x)


_BY_NAME: dict[str, Callable] = {
    "linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax,
    "log_softmax": log_softmax, "elu": elu, "softplus": softplus, "softsign": softsign,
    "leaky_relu": leaky_relu, "silu": silu, "swish": silu, "exponential": exponential,
}


def get(identifier) -> Callable:
    """The activation function for a name, None (linear) or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        try:
            return _BY_NAME[identifier]
        except KeyError:
            raise ValueError(f"Unknown activation {identifier!r}. Expected one of "
                             f"{sorted(_BY_NAME)}, None, or a function of a tensor") from None
    if callable(identifier):
        return identifier
    raise TypeError(f"activation must be a name, None or a callable, got "
                    f"{type(identifier).__name__}")


def serialize(fn: Callable, where: str) -> str:
    """The name under which ``fn`` is saved in a model's config."""
    for name, known in _BY_NAME.items():
        if fn is known:
            return "silu" if known is silu else name
    raise ValueError(f"{where}: can't save the activation {getattr(fn, '__name__', fn)!r}, a "
                     "Python function (a saved model holds no code). Use one of the named "
                     f"activations {sorted(_BY_NAME)}, or save the weights only "
                     "(model.save_weights) and rebuild the model in code")
