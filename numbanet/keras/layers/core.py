"""The Keras 1 import path ``keras.layers.core``, kept for the programs of that time::

    from numbanet.keras.layers.core import Dense, Activation    # DeprecationWarning

Each name imported from here is the layer of ``numbanet.keras.layers``, with a
DeprecationWarning that gives the modern import.
"""
import warnings

from . import Activation, Dense, Dropout, Flatten, Input, InputLayer, Layer

_MOVED = {"Activation": Activation, "Dense": Dense, "Dropout": Dropout, "Flatten": Flatten,
          "Input": Input, "InputLayer": InputLayer, "Layer": Layer}
del Activation, Dense, Dropout, Flatten, Input, InputLayer, Layer


def __getattr__(name: str):
    if name in _MOVED:
        warnings.warn(f"numbanet.keras.layers.core is the Keras 1 module path; import {name} "
                      f"from numbanet.keras.layers instead (from numbanet.keras.layers import "
                      f"{name})", DeprecationWarning, stacklevel=2)
        return _MOVED[name]
    raise AttributeError(f"module 'numbanet.keras.layers.core' has no attribute {name!r}")


def __dir__():
    return sorted(_MOVED)
