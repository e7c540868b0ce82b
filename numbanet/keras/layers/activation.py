"""``Activation``: applies an activation function as a layer of its own.

``Dense(64, activation='relu')`` and ``Dense(64)`` followed by ``Activation('relu')``
compute the same thing; the Keras 1 programs of the seed write the second form.
"""
from __future__ import annotations

from ...tensor import Tensor
from .. import activations
from .layer import Layer


class Activation(Layer):
    """``Activation('relu')``, ``Activation('softmax')``, or any function of a tensor."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs: Tensor) -> Tensor:
        return self.activation(inputs)

    @property
    def ends_with_softmax(self) -> bool:
        return self.activation is activations.softmax

    def call_logits(self, x: Tensor) -> Tensor:
        return x

    def get_config(self) -> dict:
        return {**super().get_config(), "activation":
                activations.serialize(self.activation, f"Activation '{self.name}'")}

    def extra_repr(self) -> str:
        return f"name={self.name!r}, activation=" \
               f"{getattr(self.activation, '__name__', self.activation)}"
