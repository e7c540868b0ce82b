"""``Layer``: the base of Keras layers, built on ``numbanet.nn.Module``.

A Keras layer differs from a PyTorch module in three ways, all handled here:

- It is **built lazily**. ``Dense(64)`` knows its output size only; the first call
  sees the input's shape and runs ``build(input_shape)``, which creates the
  weights (``add_weight``). Shapes are tuples whose first entry, the batch size,
  is ``None``.
- It **checks its input** on every call against what it was built for, and says
  which layer refused which shape.
- ``training`` is an argument of the call (Dropout acts only when it is True),
  not a mode of the object; ``fit`` passes ``training=True``, everything else
  runs in inference mode.

Being a ``Module``, a layer has ``parameters()``, ``state_dict()`` and ``to(device)``;
its weights are ``nn.Parameter`` s. A custom layer::

    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np

from ... import dtypes as _dt
from ...autograd import no_grad
from ...creation import tensor
from ...device import as_device
from ...nn.module import Module
from ...nn.parameter import Parameter
from ...tensor import Tensor
from .. import backend, initializers
from ..data import as_tensor, check_count, real_array


def format_shape(shape) -> str:
    """``(None, 4)`` as Keras writes it."""
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + \
        ("," if len(shape) == 1 else "") + ")"


class Layer(Module):
    """Base class of Keras layers.

    Args:
        trainable: whether ``fit`` updates this layer's weights.
        name: unique within the session; by default the class name in snake case,
            numbered: ``'dense'``, ``'dense_1'``...
        dtype: the float type of the weights, ``'float32'`` (default) or ``'float64'``.
        input_shape: the shape of one sample, e.g. ``(784,)``: a first layer given it
            builds its model at once (Keras 2 style; ``keras.Input`` is the modern way).
    """

    def __init__(self, *, trainable: bool = True, name: str | None = None, dtype=None,
                 input_shape=None, input_dim: int | None = None, **kwargs):
        cls = type(self).__name__
        if kwargs:
            raise TypeError(f"{cls}: unexpected keyword argument(s) {sorted(kwargs)}. "
                            f"Check the spelling against {cls}'s documented arguments")
        super().__init__()
        if name is not None and (not isinstance(name, str) or not name or "." in name
                                 or "/" in name):
            raise ValueError(f"{cls}: name must be a non-empty string without '.' or '/', "
                             f"got {name!r}")
        self.name = name or backend.unique_name(backend.snake_case(cls))
        self._dtype = _dt.as_dtype(dtype or backend.floatx())
        if not self._dtype.is_floating_point:
            raise ValueError(f"{cls}: dtype must be 'float32' or 'float64', got {dtype!r}")
        self._trainable = bool(trainable)
        self.built = False
        self._build_input_shape = None
        self._output_shape = None
        self._weight_device = None
        self._frozen: set = set()   # names of weights made with trainable=False
        self.input_spec: dict[int, int] = {}   # axis -> size the built layer requires
        if input_dim is not None:
            input_dim = check_count(input_dim, f"{cls}: input_dim", 1)
            warnings.warn(f"{cls}(input_dim={input_dim}) is the Keras 1 way to give the input "
                          f"size; start the model with keras.Input(shape=({input_dim},)) "
                          "instead", DeprecationWarning, stacklevel=3)
            input_shape = (input_dim,)
        elif input_shape is not None:
            input_shape = sample_shape(input_shape, f"{cls}: input_shape")
            warnings.warn(f"{cls}(input_shape={tuple(input_shape)}): prefer starting the model "
                          f"with keras.Input(shape={tuple(input_shape)}) to giving a layer "
                          "input_shape", UserWarning, stacklevel=3)
        self._input_shape_hint = None if input_shape is None else \
            (None,) + tuple(input_shape)
        self._call_takes_training = "training" in inspect.signature(self.call).parameters

    # ---- attributes -----------------------------------------------------------------------
    @property
    def dtype(self) -> str:
        """The weights' float type, as a string (``'float32'``), as in Keras."""
        return self._dtype.name

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool):
        """A frozen layer (``trainable = False``) keeps its weights during ``fit``."""
        self._trainable = bool(value)
        for key, p in self._parameters.items():
            if p is not None and key not in self._frozen:
                p.requires_grad_(self._trainable)

    def __setattr__(self, name, value):
        # ``self.w = self.add_weight(name='kernel')``: the weight is already registered
        # as 'kernel'; ``w`` becomes a second name for it, not a second parameter.
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter) and params is not None:
            for key, p in params.items():
                if p is value:
                    if key != name:
                        object.__setattr__(self, name, value)
                    return
        super().__setattr__(name, value)

    @property
    def weights(self) -> list:
        """All weights (``Parameter`` s), in the order they were created."""
        return [p for p in self._parameters.values() if p is not None]

    @property
    def trainable_weights(self) -> list:
        if not self._trainable:
            return []
        return [p for k, p in self._parameters.items() if p is not None and k not in self._frozen]

    @property
    def non_trainable_weights(self) -> list:
        if not self._trainable:
            return self.weights
        return [p for k, p in self._parameters.items() if p is not None and k in self._frozen]

    def count_params(self) -> int:
        return sum(p.numel() for p in self.weights)

    def get_weights(self) -> list:
        """The weights as NumPy arrays (copies)."""
        return [p.detach().cpu().numpy().copy() for p in self.weights]

    def set_weights(self, weights) -> None:
        """Copy NumPy arrays (or tensors) into the weights, in the order of ``weights``."""
        own = self.weights
        weights = weight_list(weights, f"{type(self).__name__} '{self.name}'")
        if len(weights) != len(own):
            raise ValueError(f"{type(self).__name__} '{self.name}' has {len(own)} weights "
                             f"({', '.join(self._weight_names()) or 'none'}) but "
                             f"set_weights got {len(weights)} arrays; give one per weight, "
                             "in the order of get_weights()")
        for key, p, value in zip(self._weight_names(), own, weights):
            copy_into(p, value, f"{type(self).__name__} '{self.name}' weight '{key}'")

    def _weight_names(self) -> list:
        return [k for k, p in self._parameters.items() if p is not None]

    # ---- building -------------------------------------------------------------------------
    def add_weight(self, shape, initializer="glorot_uniform", dtype=None,
                   trainable: bool = True, name: str | None = None) -> Parameter:
        """Create a weight on the layer's device and register it under ``name``."""
        init = initializers.get(initializer)
        dtype = _dt.as_dtype(dtype) if dtype is not None else self._dtype
        with no_grad():
            values = init(tuple(shape), dtype=dtype, device=self._weight_device)
        if not isinstance(values, Tensor):
            values = tensor(np.asarray(values), dtype=dtype, device=self._weight_device)
        p = Parameter(values, requires_grad=trainable and self._trainable)
        name = name or f"weight_{len(self._parameters)}"
        self.register_parameter(name, p)
        if not trainable:
            self._frozen.add(name)   # state such as running statistics, never trained
        return p

    def build(self, input_shape: tuple) -> None:
        """Create the weights for inputs of ``input_shape`` (batch entry None).
        Layers without weights need not override it."""

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        """The output shape for inputs of ``input_shape``; the same by default."""
        return tuple(input_shape)

    def build_for(self, input_shape, device=None) -> tuple:
        """Build (once) for ``input_shape`` on ``device``; return the output shape."""
        input_shape = tuple(input_shape)
        if self.built:
            self.check_input_shape(input_shape)
            return self.compute_output_shape(input_shape)
        hint = self._input_shape_hint
        if hint is not None and tuple(hint[1:]) != tuple(input_shape[1:]):
            raise ValueError(f"{type(self).__name__} '{self.name}' was declared with input "
                             f"shape {format_shape(hint)} but receives inputs of shape "
                             f"{format_shape(input_shape)}; fix the declared input size "
                             "or the layer before it")
        self._weight_device = as_device(device) if device is not None else None
        self.build(input_shape)
        self.built = True
        self._build_input_shape = input_shape
        self._output_shape = self.compute_output_shape(input_shape)
        return self._output_shape

    def check_input_shape(self, shape) -> None:
        """Raise if ``shape`` does not fit what this built layer requires."""
        for axis, size in self.input_spec.items():
            if len(shape) < (axis + 1 if axis >= 0 else -axis) or shape[axis] != size:
                built = format_shape(self._build_input_shape)
                dim = "last dimension" if axis == -1 else f"dimension {axis}"
                raise ValueError(
                    f"{type(self).__name__} '{self.name}' expects inputs with {dim} {size}, "
                    f"got shape {tuple(shape)}. It was built for inputs of shape {built} at "
                    f"its first call; give it data with {size} features there, or build a "
                    "new layer for the new shape")

    # ---- calling --------------------------------------------------------------------------
    def __call__(self, inputs, training: bool | None = None):
        x = self.accept(inputs)
        if self._call_takes_training:
            return self.call(x, training=bool(training))
        return self.call(x)

    def accept(self, inputs) -> Tensor:
        """The input as a tensor in this layer's float type (Keras's autocast: float
        inputs of another precision are converted), after building the layer for it or
        checking it against what the layer was built for."""
        x = inputs if isinstance(inputs, Tensor) else \
            as_tensor(inputs, self._dtype, None, f"{type(self).__name__} '{self.name}' inputs")
        if x.dtype is not self._dtype and x.dtype.is_floating_point:
            x = x.to(self._dtype)
        if not self.built:
            self.build_for((None,) + tuple(x.shape[1:]), x.device)
        elif self.input_spec:
            self.check_input_shape(x.shape)
        return x

    def forward(self, inputs, training: bool | None = None):
        return self(inputs, training=training)

    def call(self, inputs):
        """The computation, on a tensor; override it."""
        raise NotImplementedError(f"{type(self).__name__} must implement call(inputs)")

    # ---- the fused softmax + cross-entropy path --------------------------------------------
    @property
    def ends_with_softmax(self) -> bool:
        """Whether this layer's last step is a softmax over the last axis; then
        ``call_logits`` gives what goes into it."""
        return False

    def call_logits(self, x: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not end with a softmax")

    # ---- config ---------------------------------------------------------------------------
    def get_config(self) -> dict:
        """What the constructor needs to make this layer again (JSON-ready)."""
        return {"name": self.name, "trainable": self._trainable, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


def sample_shape(shape, what: str) -> tuple:
    """A shape a user declares (``Input(shape=...)``, ``input_shape=...``): an int or a
    tuple of ints, None for an unknown size."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(
            s is None or (isinstance(s, (int, np.integer)) and not isinstance(s, bool))
            for s in shape):
        raise ValueError(f"{what}: cannot convert {shape!r} to a shape; give a tuple of ints "
                         "(None for an unknown size), e.g. Input(shape=(64,))")
    return tuple(None if s is None else int(s) for s in shape)


def weight_list(weights, what: str) -> list:
    """The argument of ``set_weights``: a list (or tuple) of arrays, one per weight."""
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"{what}.set_weights expects a list of arrays, one per weight (as "
                        f"get_weights() returns them), got {type(weights).__name__}")
    return list(weights)


def copy_into(p: Tensor, value, what: str) -> None:
    """Copy ``value`` (array or tensor) into weight ``p`` in place, checking its shape."""
    if isinstance(value, Tensor):
        value = value.detach()
        shape = tuple(value.shape)
    else:
        value = real_array(value, what)
        shape = value.shape
    if shape != tuple(p.shape):
        raise ValueError(f"{what} has shape {tuple(p.shape)}, got a value of shape {shape}")
    source = value.to(p.device, p.dtype) if isinstance(value, Tensor) else \
        tensor(value, dtype=p.dtype, device=p.device)
    with no_grad():
        p.copy_(source)
