"""``Flatten``: (batch, d1, d2, ...) -> (batch, d1 * d2 * ...), e.g. images into vectors."""
from __future__ import annotations

import math

from ...tensor import Tensor
from .layer import Layer


class Flatten(Layer):
    """Keeps the batch axis and flattens the rest: (32, 28, 28) -> (32, 784)."""

    def call(self, inputs: Tensor) -> Tensor:
        return inputs.reshape(inputs.shape[0], -1)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(s is None for s in rest) else math.prod(rest)
        return (input_shape[0], size)
