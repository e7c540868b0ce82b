"""``Dense``: the fully connected layer, ``activation(x @ kernel + bias)``.

The kernel has Keras's shape (input features, units), so the forward pass is a plain
``x.matmul(kernel)``; PyTorch's ``nn.Linear`` stores the transpose (out, in). Both
forms cost the same here (timed on this project's CPU kernels for 32x64x64 and
64x1000x100 layers, forward and backward), and this one gives the kernel's gradient
directly in the kernel's own layout.
"""
from __future__ import annotations

import warnings

from ...tensor import Tensor
from .. import activations, initializers
from .layer import Layer


class Dense(Layer):
    """``activation(x @ kernel + bias)`` with kernel (in, units) and bias (units,).

    >>> layer = Dense(64, activation="relu")
    >>> y = layer(nb.randn(32, 20))          # builds a (20, 64) kernel at this first call
    >>> y.shape
    (32, 64)

    Args:
        units: the size of the output.
        activation: a name (``'relu'``, ``'softmax'``...), None (linear) or a function.
        use_bias: whether to add a bias.
        kernel_initializer: Glorot uniform by default, as in Keras.
        bias_initializer: zeros by default.

    The Keras 1 arguments ``output_dim`` (for ``units``) and ``input_dim`` are accepted
    with a DeprecationWarning.
    """

    def __init__(self, units: int | None = None, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 output_dim: int | None = None, **kwargs):
        if output_dim is not None:
            if units is not None:
                raise TypeError(f"Dense: got both units={units} and output_dim={output_dim}; "
                                "give units only (output_dim is its Keras 1 name)")
            warnings.warn(f"Dense(output_dim={output_dim}) is the Keras 1 name; use "
                          f"Dense(units={output_dim}) (or Dense({output_dim}))",
                          DeprecationWarning, stacklevel=2)
            units = output_dim
        if units is None:
            raise TypeError("Dense: missing the number of units, e.g. Dense(64)")
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Dense: units must be a positive int, got {units!r}")
        super().__init__(**kwargs)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = None
        self.bias = None

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(f"Dense '{self.name}' needs inputs with a known last dimension "
                             f"(batch, ..., features), got shape {tuple(input_shape)}")
        in_features = int(input_shape[-1])
        self.kernel = self.add_weight((in_features, self.units), self.kernel_initializer,
                                      name="kernel")
        if self.use_bias:
            self.bias = self.add_weight((self.units,), self.bias_initializer, name="bias")
        self.input_spec = {-1: in_features}

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def call_logits(self, x: Tensor) -> Tensor:
        """``x @ kernel + bias``, before the activation."""
        y = x.matmul(self.kernel)
        return y + self.bias if self.bias is not None else y

    def call(self, inputs: Tensor) -> Tensor:
        return self.activation(self.call_logits(inputs))

    @property
    def ends_with_softmax(self) -> bool:
        return self.activation is activations.softmax

    def get_config(self) -> dict:
        where = f"Dense '{self.name}'"
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation, where),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer, where),
                "bias_initializer": initializers.serialize(self.bias_initializer, where)}

    def extra_repr(self) -> str:
        return f"name={self.name!r}, units={self.units}, " \
               f"activation={getattr(self.activation, '__name__', self.activation)}"
