"""``Dropout``: randomly zeroes inputs while training, a regulariser.

During ``fit`` each input is set to 0 with probability ``rate`` and the others are
scaled by 1 / (1 - rate), so that their expected value is unchanged; in
``evaluate``, ``predict`` and plain calls the layer passes its input through.
"""
from __future__ import annotations

import numbers

from ...nn import functional as F
from ...tensor import Tensor
from .layer import Layer


class Dropout(Layer):
    """``Dropout(0.5)``: active only when called with ``training=True`` (as ``fit`` does)."""

    def __init__(self, rate: float, **kwargs):
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate <= 1:
            raise ValueError(f"Dropout: rate must be a number between 0 and 1 (the fraction "
                             f"of inputs to drop), got {rate!r}")
        super().__init__(**kwargs)
        self.rate = float(rate)

    def call(self, inputs: Tensor, training: bool = False) -> Tensor:
        if not training or self.rate == 0:
            return inputs
        return F.dropout(inputs, self.rate, True)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate}

    def extra_repr(self) -> str:
        return f"name={self.name!r}, rate={self.rate}"
