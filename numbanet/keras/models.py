"""``Sequential``: a stack of layers, each feeding the next, with Keras's training API.

::

    from numbanet import keras
    from numbanet.keras import layers

    model = keras.Sequential([layers.Input((64,)),
                              layers.Dense(64, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=30, validation_split=0.2)
    loss, accuracy = model.evaluate(x_test, y_test)
    probabilities = model.predict(x_test)          # a NumPy array
    model.save("digits.keras")
    same = keras.models.load_model("digits.keras")

The model is built when its input shape becomes known: at once after an ``Input``
(or a first layer given ``input_shape``), else at the first call or ``fit``. The
model is also an ``nn.Module``: ``model.parameters()``, ``model.to('cuda')`` work.
"""
from __future__ import annotations

import numpy as np

from ..device import as_device, get_default_device
from ..nn.module import Module
from ..tensor import Tensor
from . import data as _data
from . import saving
from .layers import InputLayer, Layer, deserialize
from .layers.layer import format_shape, weight_list
from .summary import summary_lines
from .trainer import Trainer


@saving.register_model
class Sequential(Trainer, Layer):
    """A linear stack of layers: ``Sequential([Dense(64, activation='relu'), Dense(10)])``
    or ``model = Sequential(); model.add(Dense(64)); ...``."""

    def __init__(self, layers=None, trainable: bool = True, name: str | None = None):
        Layer.__init__(self, trainable=trainable, name=name)
        self._init_trainer()
        self._input_layer = None
        self._device = None
        for layer in layers or ():
            self.add(layer)

    # ---- the stack ------------------------------------------------------------------------
    @property
    def layers(self) -> list:
        """The layers, without the ``Input``."""
        return list(self._modules.values())

    def add(self, layer: Layer) -> None:
        """Put ``layer`` on top of the stack (an ``Input`` may only come first)."""
        if isinstance(layer, InputLayer):
            if self._modules or self._input_layer is not None:
                raise ValueError("Sequential.add: an Input can only be the first entry of a "
                                 "Sequential model")
            self._set_input_layer(layer)
            self._dtype = layer._dtype
            self.build(layer.batch_shape)
            return
        if not isinstance(layer, Layer):
            hint = " (numbanet.nn modules are PyTorch-style; use keras.layers here, e.g. " \
                   "keras.layers.Dense)" if isinstance(layer, Module) else ""
            raise TypeError(f"Sequential.add: expected a keras layer, got "
                            f"{type(layer).__name__}{hint}")
        if layer.name in self._modules:
            raise ValueError(f"Sequential.add: the model already has a layer named "
                             f"{layer.name!r}; all layers of a Sequential model need unique "
                             "names")
        first = not self._modules
        if first and self._input_layer is None:
            self._dtype = layer._dtype  # the data are cast to the first layer's float type
        self._modules[layer.name] = layer
        try:
            if first and layer._input_shape_hint is not None and self._input_layer is None:
                self._set_input_layer(InputLayer(batch_shape=layer._input_shape_hint))
                self.build(layer._input_shape_hint)
            elif self.built:
                shape = self._output_shape if not first else self._input_layer.batch_shape
                self._output_shape = layer.build_for(shape, self._model_device())
        except Exception:
            del self._modules[layer.name]
            raise

    def _set_input_layer(self, layer: InputLayer) -> None:
        # kept outside the module tree: the Input is not one of ``layers``
        object.__setattr__(self, "_input_layer", layer)

    def pop(self) -> Layer:
        """Remove and return the top layer."""
        if not self._modules:
            raise IndexError("Sequential.pop: the model has no layers")
        name, layer = self._modules.popitem()
        if self.built:
            self._output_shape = self.layers[-1]._output_shape if self._modules else \
                self._build_input_shape
        return layer

    def build(self, input_shape=None) -> None:
        """Build every layer for inputs of ``input_shape`` (its first entry the batch
        size, None), so that weights and summary() exist before any data is seen."""
        if input_shape is None:
            if self._input_layer is None:
                raise ValueError("Sequential.build: give the input shape, e.g. "
                                 "model.build((None, 64)), or start the model with "
                                 "keras.Input(shape=(64,))")
            input_shape = self._input_layer.batch_shape
        shape = tuple(None if s is None else int(s) for s in input_shape)
        device = self._model_device()
        self._build_input_shape = shape
        for layer in self.layers:
            shape = layer.build_for(shape, device)
        self._output_shape = shape
        self.built = True

    def call(self, inputs: Tensor, training: bool = False) -> Tensor:
        x = inputs
        for layer in self._modules.values():
            x = layer(x, training=training)
        return x

    def __call__(self, inputs, training: bool | None = None):
        x = _data.as_tensor(inputs, self._dtype, self._model_device(), "inputs", detach=False)
        if not self.built:
            self.build((None,) + tuple(x.shape[1:]))
        x = self._with_input_rank(x, f"Sequential {self.name!r}", "inputs")
        return self.call(x, training=bool(training))

    def compute_output_shape(self, input_shape) -> tuple:
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
        return shape

    @property
    def input_shape(self) -> tuple:
        return self._build_input_shape

    @property
    def output_shape(self) -> tuple:
        return self._output_shape

    # ---- weights -----------------------------------------------------------------------------
    @property
    def weights(self) -> list:
        return [p for layer in self.layers for p in layer.weights]

    @property
    def trainable_weights(self) -> list:
        if not self._trainable:
            return []
        return [p for layer in self.layers for p in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list:
        if not self._trainable:
            return self.weights
        return [p for layer in self.layers for p in layer.non_trainable_weights]

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool):
        self._trainable = bool(value)
        for layer in self.layers:
            layer.trainable = value

    def count_params(self) -> int:
        return sum(p.numel() for p in self.weights)

    def get_weights(self) -> list:
        """All weights as NumPy arrays, layer by layer (kernel, then bias, ...)."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights) -> None:
        """Copy arrays into the weights, in the order of ``get_weights()``."""
        weights = weight_list(weights, f"Sequential {self.name!r}")
        expected = sum(len(layer.weights) for layer in self.layers)
        if len(weights) != expected:
            raise ValueError(f"set_weights: the model has {expected} weights, got "
                             f"{len(weights)} arrays; give them in the order of get_weights()")
        i = 0
        for layer in self.layers:
            n = len(layer.weights)
            layer.set_weights(weights[i:i + n])
            i += n

    # ---- devices -----------------------------------------------------------------------------
    def _model_device(self):
        for p in self.weights:
            return p.device
        return self._device if self._device is not None else get_default_device()

    def to(self, *args, **kwargs):
        """Move the weights (and the optimizer's state, at its next step) to a device."""
        super().to(*args, **kwargs)
        for a in list(args) + [kwargs.get("device")]:
            if a is not None and not _is_dtype(a):
                self._device = as_device(a)
        return self

    def cuda(self, device=None):
        return self.to("cuda" if device is None else device)

    def cpu(self):
        return self.to("cpu")

    # ---- summary, config, saving --------------------------------------------------------
    def summary(self, print_fn=None, show_trainable: bool = False) -> None:
        """Print the table of layers, output shapes and parameter counts."""
        for line in summary_lines(self, show_trainable):
            (print_fn or print)(line)

    def get_config(self) -> dict:
        layers = []
        if self._input_layer is not None:
            layers.append({"class_name": "InputLayer", "config": self._input_layer.get_config()})
        for layer in self.layers:
            layers.append({"class_name": type(layer).__name__, "config": layer.get_config()})
        build = None if self._build_input_shape is None else list(self._build_input_shape)
        return {"name": self.name, "trainable": self._trainable, "layers": layers,
                "build_input_shape": build}

    @classmethod
    def from_config(cls, config: dict):
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config.get("layers", []):
            model.add(deserialize(entry))
        shape = config.get("build_input_shape")
        if shape is not None and not model.built:
            model.build(tuple(shape))
        return model

    def save(self, filepath, overwrite: bool = True) -> None:
        """Save the model to a ``.keras`` file: config, weights, compile settings and
        optimizer state (see ``keras.saving``)."""
        saving.save_model(self, filepath, overwrite)

    def save_weights(self, filepath, overwrite: bool = True) -> None:
        """Save the weights alone to a ``.weights.npz`` file."""
        saving.save_weights(self, filepath, overwrite)

    def load_weights(self, filepath) -> None:
        """Load weights saved by ``save_weights`` (or the weights of a ``.keras`` file)."""
        path = str(filepath)
        if path.endswith(".keras"):
            other = saving.load_model(path, compile=False)
            self.set_weights(other.get_weights())
        else:
            saving.load_weights(self, path)

    def extra_repr(self) -> str:
        shape = format_shape(self._build_input_shape) if self.built else "unbuilt"
        return f"name={self.name!r}, input_shape={shape}"


def _is_dtype(a) -> bool:
    from .. import dtypes
    return isinstance(a, (dtypes.DType, np.dtype, type)) or \
        (isinstance(a, str) and a in dtypes._BY_NAME)


load_model = saving.load_model

__all__ = ["Sequential", "load_model"]
