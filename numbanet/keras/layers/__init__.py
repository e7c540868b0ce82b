"""``numbanet.keras.layers``: the building blocks of a ``Sequential`` model.

>>> from numbanet.keras import layers
>>> model = keras.Sequential([layers.Input((64,)), layers.Dense(64, activation="relu"),
...                           layers.Dropout(0.2), layers.Dense(10, activation="softmax")])
"""
from .activation import Activation
from .convolutional import Conv2D
from .dense import Dense
from .dropout import Dropout
from .flatten import Flatten
from .input_layer import Input, InputLayer
from .layer import Layer
from .normalization import BatchNormalization
from .pooling import AveragePooling2D, MaxPooling2D

__all__ = ["Activation", "AveragePooling2D", "BatchNormalization", "Conv2D", "Dense", "Dropout",
           "Flatten", "Input", "InputLayer", "Layer", "MaxPooling2D"]


def deserialize(entry: dict) -> Layer:
    """A layer from the ``{"class_name": ..., "config": ...}`` of a saved model."""
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise ValueError(f"a layer entry must be {{'class_name': ..., 'config': {{...}}}}, got "
                         f"{str(entry)[:80]!r}")
    name = entry.get("class_name")
    cls = globals().get(name) if name in __all__ else None
    if cls is None or not isinstance(cls, type) or name == "Layer":
        raise ValueError(f"unknown layer class {name!r}; numbanet.keras knows "
                         f"{[n for n in __all__ if n not in ('Input', 'Layer')]}")
    return cls.from_config(entry["config"])
