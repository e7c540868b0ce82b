"""``BatchNormalization``: normalise each channel with batch statistics, Keras's way.

While training (inside ``fit``, or a call with ``training=True``) each channel of
``axis`` is normalised with the mean and the (biased) variance of the current batch,
then scaled by ``gamma`` and shifted by ``beta``; and the moving statistics follow
the batch's::

    moving_mean     = moving_mean     * momentum + mean     * (1 - momentum)
    moving_variance = moving_variance * momentum + variance * (1 - momentum)

Everywhere else (``evaluate``, ``predict``, plain calls) the moving statistics are
used, so one example gives the same answer in any batch. Keras's conventions differ
from PyTorch's ``nn.BatchNorm2d``: ``momentum`` is the weight of the *old* value
(0.99, where PyTorch's 0.1 is the weight of the new one), the moving variance takes
the biased batch variance (PyTorch's takes the unbiased one), and ``epsilon`` is 1e-3.

``gamma`` and ``beta`` are trained; ``moving_mean`` and ``moving_variance`` are weights
too (saved, loaded, returned by ``get_weights``) but non-trainable, and ``summary()``
counts them as such. A frozen layer (``trainable = False``) always runs in inference
mode, as in Keras, which is what fine-tuning a pretrained network needs.
"""
from __future__ import annotations

from ...autograd.ops.normalization import batch_norm_train
from ...nn import functional as F
from ...tensor import Tensor
from .. import initializers
from .layer import Layer, format_shape


class BatchNormalization(Layer):
    """Normalise the channels of ``axis`` (the last by default: channels-last images,
    or the features of a Dense output).

    >>> bn = BatchNormalization()
    >>> y = bn(nb.randn(32, 8, 8, 16), training=True)   # batch statistics, moving ones updated
    >>> [w.shape for w in bn.weights]        # gamma, beta, moving_mean, moving_variance
    [(16,), (16,), (16,), (16,)]

    Args:
        axis: the channel axis (an int; -1 for channels last, 1 for channels first).
        momentum: the weight of the old value in the moving averages.
        epsilon: added to the variance before its square root.
        center: whether to add the trained offset ``beta``.
        scale: whether to multiply by the trained ``gamma``.
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: zeros, ones, zeros, ones by default.
    """

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", **kwargs):
        what = "BatchNormalization"
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            axis = axis[0]
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise ValueError(f"{what}: axis must be an int (the channel axis, e.g. -1 or 1), "
                             f"got {axis!r}")
        for arg, value in (("momentum", momentum), ("epsilon", epsilon)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{what}: {arg} must be a number, got {value!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"{what}: momentum must be between 0 and 1 (the weight of the old "
                             f"moving statistics, 0.99 by default), got {momentum!r}")
        if epsilon <= 0:
            raise ValueError(f"{what}: epsilon must be positive, got {epsilon!r}")
        inits = {key: initializers.get(value) for key, value in (
            ("beta_initializer", beta_initializer), ("gamma_initializer", gamma_initializer),
            ("moving_mean_initializer", moving_mean_initializer),
            ("moving_variance_initializer", moving_variance_initializer))}
        super().__init__(**kwargs)
        self.axis = axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        for key, init in inits.items():
            setattr(self, key, init)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None
        self._channel_axis = None   # ``axis`` made non-negative at build

    def build(self, input_shape):
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim or self.axis % ndim == 0:
            raise ValueError(f"BatchNormalization '{self.name}': axis={self.axis} is not a "
                             f"channel axis of inputs of shape {format_shape(input_shape)}; "
                             f"give one of 1..{ndim - 1} (or -1 for the last)")
        self._channel_axis = self.axis % ndim
        channels = input_shape[self._channel_axis]
        if channels is None or channels == 0:
            raise ValueError(f"BatchNormalization '{self.name}' needs a known size of at least "
                             f"1 along axis {self.axis} (its channels), got shape "
                             f"{format_shape(input_shape)}")
        if self.scale:
            self.gamma = self.add_weight((channels,), self.gamma_initializer, name="gamma")
        if self.center:
            self.beta = self.add_weight((channels,), self.beta_initializer, name="beta")
        self.moving_mean = self.add_weight((channels,), self.moving_mean_initializer,
                                           trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight((channels,), self.moving_variance_initializer,
                                               trainable=False, name="moving_variance")
        self.input_spec = {self._channel_axis: channels}

    def check_input_shape(self, shape) -> None:
        if len(shape) != len(self._build_input_shape):
            raise ValueError(f"BatchNormalization '{self.name}' was built for "
                             f"{len(self._build_input_shape)}-D inputs of shape "
                             f"{format_shape(self._build_input_shape)}, got shape "
                             f"{tuple(shape)}; make a new layer for inputs of another rank")
        channels = self.input_spec[self._channel_axis]
        if shape[self._channel_axis] != channels:
            raise ValueError(f"BatchNormalization '{self.name}' normalises {channels} channels "
                             f"along axis {self.axis} (built for inputs of shape "
                             f"{format_shape(self._build_input_shape)}), got shape "
                             f"{tuple(shape)}; give it inputs with {channels} channels there, "
                             "or make a new layer for the new shape")

    def call(self, inputs: Tensor, training: bool = False) -> Tensor:
        # batch_norm normalises dim 1 of its input: channels there already (channels
        # first, or a 2-D (batch, features) input) go straight in; otherwise the channel
        # axis is moved last (a view) and the rest flattened into rows, a free reshape
        # for the usual channels-last batch.
        axis, ndim = self._channel_axis, inputs.ndim
        x = inputs
        if axis != 1:
            order = [d for d in range(ndim) if d != axis] + [axis]
            x = x.permute(*order) if axis != ndim - 1 else x
            moved_shape = x.shape
            x = x.reshape(-1, moved_shape[-1])
        if training and self.trainable:
            y = self._normalise_with_batch_statistics(x)
        else:
            y = F.batch_norm(x, self.moving_mean, self.moving_variance, self.gamma, self.beta,
                             False, 0.0, self.epsilon)
        if axis != 1:
            y = y.reshape(moved_shape)
            if axis != ndim - 1:
                inverse = [0] * ndim
                for i, d in enumerate(order):
                    inverse[d] = i
                y = y.permute(*inverse)
        return y

    def _normalise_with_batch_statistics(self, x: Tensor) -> Tensor:
        if x.numel() // x.shape[1] <= 1:
            raise ValueError(f"BatchNormalization '{self.name}' needs more than one value per "
                             f"channel to compute batch statistics while training, got inputs "
                             f"that give {x.numel() // x.shape[1]}; use a larger batch")
        # Keras's momentum is the weight of the old moving value, PyTorch's (batch_norm_train's)
        # that of the batch's; Keras moves the biased variance
        return batch_norm_train(x, self.gamma, self.beta, self.moving_mean,
                                self.moving_variance, 1.0 - self.momentum, self.epsilon,
                                unbiased=False)

    def get_config(self) -> dict:
        where = f"BatchNormalization '{self.name}'"
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                **{key: initializers.serialize(getattr(self, key), where) for key in (
                    "beta_initializer", "gamma_initializer", "moving_mean_initializer",
                    "moving_variance_initializer")}}

    def extra_repr(self) -> str:
        return f"name={self.name!r}, axis={self.axis}, momentum={self.momentum}, " \
               f"epsilon={self.epsilon}"


__all__ = ["BatchNormalization"]
