"""``Input`` / ``InputLayer``: declares the shape of one sample at the start of a model.

``Sequential([Input((64,)), Dense(10)])`` is built at once, so ``summary()`` shows
every shape before any data is seen. Without it, the model is built at its first
call (or ``fit``), from the data.
"""
from __future__ import annotations

from ..data import check_count
from .layer import Layer, format_shape, sample_shape


class InputLayer(Layer):
    """The input of a model: ``shape`` is one sample's shape, without the batch axis."""

    def __init__(self, shape=None, batch_size: int | None = None, dtype=None,
                 name: str | None = None, batch_shape=None):
        if shape is None and batch_shape is None:
            raise ValueError("Input: give the shape of one sample, e.g. Input(shape=(64,))")
        if batch_size is not None:
            batch_size = check_count(batch_size, "Input: batch_size", 1)
        batch_shape = (batch_size,) + sample_shape(shape, "Input") if batch_shape is None \
            else sample_shape(batch_shape, "Input")
        if any(s is not None and s <= 0 for s in batch_shape):
            raise ValueError(f"Input: sizes must be positive, got shape "
                             f"{format_shape(batch_shape)}")
        super().__init__(name=name, dtype=dtype)
        self.batch_shape = batch_shape
        self.built = True
        self._build_input_shape = self._output_shape = batch_shape

    @property
    def shape(self) -> tuple:
        """The batch shape, ``(None, *shape)``, as for a Keras symbolic input."""
        return self.batch_shape

    def call(self, inputs):
        return inputs

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "batch_shape": list(self.batch_shape)}


def Input(shape=None, batch_size: int | None = None, dtype=None, name: str | None = None,
          batch_shape=None) -> InputLayer:
    """The input of a ``Sequential`` model: ``keras.Input(shape=(64,))``."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name,
                      batch_shape=batch_shape)
