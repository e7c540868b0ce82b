"""``Conv2D``: a bank of learned 2-D filters slid over images, with Keras's layout.

Keras keeps images **channels last**, (batch, height, width, channels), and a kernel of
shape (kh, kw, in_channels / groups, filters). numbanet's ``nn.functional.conv2d``
works on PyTorch's layout, (batch, channels, height, width) with a weight (filters,
in_channels / groups, kh, kw). The layer moves between the two with ``permute``, which
makes views (no copy); the convolution itself copies the pixels into columns anyway
(im2col), so reading them through a view costs nothing extra.

``padding='same'`` keeps ``ceil(size / stride)`` outputs along each axis, padding as
TensorFlow (and Keras) do: ``total = max((out - 1) * stride + k - size, 0)``, of which
``total // 2`` go before the image and the rest after it. When the two differ (an even
kernel, or some strides) the input is padded explicitly with zeros first.

The window geometry here (``conv_output_length``, ``same_padding``, ``pad_image``...)
is shared with the pooling layers (``pooling.py``).
"""
from __future__ import annotations

from ...autograd.ops import cat
from ...creation import full
from ...nn import functional as F
from ...tensor import Tensor
from .. import activations, initializers
from .layer import Layer, format_shape

DATA_FORMATS = ("channels_last", "channels_first")


# ---- argument checks and window geometry, shared with pooling.py -------------------------------
MAX_SIZE = 2 ** 31 - 1  # sizes beyond this can't be the sizes of any image or window


def int_pair(value, what: str, layer: str) -> tuple:
    """An int or a pair of positive ints (height, width), as Keras accepts them."""
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else \
        tuple(value) if isinstance(value, (tuple, list)) else None
    if pair is None or len(pair) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise ValueError(f"{layer}: {what} must be an int or a tuple of 2 ints (height, width), "
                         f"got {value!r}")
    if min(pair) < 1 or max(pair) > MAX_SIZE:
        raise ValueError(f"{layer}: {what} must be positive (and at most {MAX_SIZE}), got "
                         f"{value!r}")
    return pair


def data_format_of(value, layer: str) -> str:
    """``'channels_last'`` (Keras's default, for None) or ``'channels_first'``."""
    value = "channels_last" if value is None else value
    if not isinstance(value, str) or value not in DATA_FORMATS:
        raise ValueError(f"{layer}: data_format must be 'channels_last' (images (batch, height, "
                         f"width, channels)) or 'channels_first' ((batch, channels, height, "
                         f"width)), got {value!r}")
    return value


def padding_of(value, layer: str) -> str:
    padding = value.lower() if isinstance(value, str) else None
    if padding not in ("valid", "same"):
        raise ValueError(f"{layer}: padding must be 'valid' (no padding) or 'same' (as many "
                         f"outputs as inputs, at stride 1), got {value!r}")
    return padding


def conv_output_length(size, kernel: int, stride: int, padding: str, dilation: int = 1):
    """How many windows fit along an axis of ``size`` pixels (None stays None)."""
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    reach = dilation * (kernel - 1) + 1
    return (size - reach) // stride + 1


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple:
    """(before, after): TensorFlow's 'same' padding of one axis; ``after`` gets the odd one."""
    reach = dilation * (kernel - 1) + 1
    total = max((-(-size // stride) - 1) * stride + reach - size, 0)
    return total // 2, total - total // 2


def pad_image(x: Tensor, pads, value: float) -> Tensor:
    """``x`` (N, C, H, W) with ``pads`` ((top, bottom), (left, right)) rows and columns of
    ``value`` around it: a new tensor, differentiable with respect to ``x``."""
    for axis, (before, after) in zip((2, 3), pads):
        parts = []
        for size in (before, after):
            shape = list(x.shape)
            shape[axis] = size
            parts.append(full(tuple(shape), value, dtype=x.dtype, device=x.device)
                         if size else None)
        x = cat([p for p in (parts[0], x, parts[1]) if p is not None], axis)
    return x


def channels_first(x: Tensor, data_format: str) -> Tensor:
    """An image batch as (N, C, H, W), a view when it comes channels last."""
    return x.permute(0, 3, 1, 2) if data_format == "channels_last" else x


def back_to(data_format: str, y: Tensor) -> Tensor:
    """An (N, C, H, W) result in the layer's own ``data_format`` (again a view)."""
    return y.permute(0, 2, 3, 1) if data_format == "channels_last" else y


class ImageLayer(Layer):
    """A layer on 4-D image batches laid out by ``data_format``; it refuses other ranks
    with an error that names the layer and the expected layout."""

    data_format = "channels_last"

    @property
    def _layout(self) -> str:
        return "(batch, height, width, channels)" if self.data_format == "channels_last" \
            else "(batch, channels, height, width)"

    def _spatial(self, shape) -> tuple:
        return tuple(shape[1:3]) if self.data_format == "channels_last" else tuple(shape[2:4])

    def _channels(self, shape):
        return shape[3] if self.data_format == "channels_last" else shape[1]

    def _check_rank(self, shape) -> None:
        if len(shape) != 4:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects 4-D inputs "
                             f"{self._layout} (data_format='{self.data_format}'), got shape "
                             f"{format_shape(shape)}. Reshape the data (a batch of grey "
                             "images (n, h, w) becomes (n, h, w, 1)), or put a "
                             "Reshape/Conv2D before this layer")

    def _with_channels(self, shape, spatial, channels) -> tuple:
        if self.data_format == "channels_last":
            return (shape[0],) + tuple(spatial) + (channels,)
        return (shape[0], channels) + tuple(spatial)

    def check_input_shape(self, shape) -> None:
        self._check_rank(shape)
        super().check_input_shape(shape)

    def accept(self, inputs) -> Tensor:
        x = super().accept(inputs)
        self._check_rank(x.shape)  # a built layer without input_spec checks nothing else
        return x

    def _windows_fit(self, input_shape, output_spatial, what: str) -> None:
        if any(s is not None and s < 1 for s in output_spatial):
            raise ValueError(f"{type(self).__name__} '{self.name}': inputs of shape "
                             f"{format_shape(input_shape)} are too small for {what} with "
                             f"padding='{self.padding}': the output would have height and "
                             f"width {tuple(output_spatial)}. Use larger images, "
                             "padding='same', or a smaller window")


class Conv2D(ImageLayer):
    """2-D convolution: ``activation(conv2d(x, kernel) + bias)``.

    >>> conv = Conv2D(8, 3, padding="same", activation="relu")
    >>> conv(nb.randn(16, 28, 28, 1)).shape        # channels last, as in Keras
    (16, 28, 28, 8)
    >>> conv.kernel.shape                           # (kh, kw, in_channels, filters)
    (3, 3, 1, 8)

    Args:
        filters: the number of output channels (one filter each).
        kernel_size: an int or (height, width) of the filters.
        strides: the step between windows; an int or a pair.
        padding: ``'valid'`` (windows inside the image only) or ``'same'`` (zero padding,
            ``ceil(size / stride)`` outputs, TensorFlow's split of the padding).
        data_format: ``'channels_last'`` (default; (batch, h, w, c)) or
            ``'channels_first'`` ((batch, c, h, w)).
        dilation_rate: spacing between the taps of a filter; strides must then be 1.
        groups: split the input channels into this many groups, each with its own
            filters (``filters`` and the input channels must be divisible by it).
        activation, use_bias, kernel_initializer, bias_initializer: as for ``Dense``;
            Glorot uniform with fan_in = kh * kw * in_channels / groups and
            fan_out = kh * kw * filters.
    """


    def __init__(self, filters: int, kernel_size, strides=(1, 1), padding="valid",
                 data_format=None, dilation_rate=(1, 1), groups: int = 1, activation=None,
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        what = "Conv2D"
        for arg, n in (("filters", filters), ("groups", groups)):
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise ValueError(f"{what}: {arg} must be a positive int, got {n!r}")
        if filters % groups:
            raise ValueError(f"{what}: filters ({filters}) must be divisible by groups "
                             f"({groups})")
        kernel_size = int_pair(kernel_size, "kernel_size", what)
        strides = int_pair(strides, "strides", what)
        dilation_rate = int_pair(dilation_rate, "dilation_rate", what)
        if max(strides) > 1 and max(dilation_rate) > 1:
            raise ValueError(f"{what}: strides > 1 can't be combined with dilation_rate > 1 "
                             f"(got strides={strides}, dilation_rate={dilation_rate}), as in "
                             "Keras; use one of them")
        padding = padding_of(padding, what)
        data_format = data_format_of(data_format, what)
        activation_fn = activations.get(activation)
        kernel_init = initializers.get(kernel_initializer)
        bias_init = initializers.get(bias_initializer)
        super().__init__(**kwargs)
        self.kernel_size, self.strides, self.dilation_rate = kernel_size, strides, dilation_rate
        self.padding, self.data_format = padding, data_format
        self.filters = filters
        self.groups = groups
        self.activation = activation_fn
        self.use_bias = bool(use_bias)
        self.kernel_initializer = kernel_init
        self.bias_initializer = bias_init
        self.kernel = None
        self.bias = None

    def build(self, input_shape):
        self._check_rank(input_shape)
        channels = self._channels(input_shape)
        if channels is None:
            raise ValueError(f"Conv2D '{self.name}' needs the number of input channels, got "
                             f"shape {format_shape(input_shape)} (data_format="
                             f"'{self.data_format}')")
        if channels % self.groups:
            raise ValueError(f"Conv2D '{self.name}': the input has {channels} channels (shape "
                             f"{format_shape(input_shape)}), which can't be split into "
                             f"groups={self.groups}; use a number of groups that divides it")
        self.compute_output_shape(input_shape)  # refuses images smaller than the kernel
        kh, kw = self.kernel_size
        self.kernel = self.add_weight((kh, kw, channels // self.groups, self.filters),
                                      self.kernel_initializer, name="kernel")
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias")
        self.input_spec = {3 if self.data_format == "channels_last" else 1: channels}

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        spatial = tuple(conv_output_length(s, k, st, self.padding, d) for s, k, st, d in
                        zip(self._spatial(input_shape), self.kernel_size, self.strides,
                            self.dilation_rate))
        self._windows_fit(input_shape, spatial, f"kernel_size {self.kernel_size}"
                          + (f" with dilation_rate {self.dilation_rate}"
                             if self.dilation_rate != (1, 1) else ""))
        return self._with_channels(input_shape, spatial, self.filters)

    def check_input_shape(self, shape) -> None:
        self._check_rank(shape)
        channels = self.input_spec.get(3 if self.data_format == "channels_last" else 1)
        if channels is not None and self._channels(shape) != channels:
            axis = -1 if self.data_format == "channels_last" else 1
            raise ValueError(
                f"Conv2D '{self.name}' expects inputs with {channels} channels (axis {axis}, "
                f"data_format='{self.data_format}'), got shape {format_shape(shape)}. Its "
                f"kernel has shape {tuple(self.kernel.shape)}, made for inputs of shape "
                f"{format_shape(self._build_input_shape)} at its first call; give it images "
                f"with {channels} channels, or make a new Conv2D for the new input")

    def call(self, inputs: Tensor) -> Tensor:
        x = channels_first(inputs, self.data_format)
        padding = (0, 0)
        if self.padding == "same":
            pads = [same_padding(s, k, st, d) for s, k, st, d in
                    zip(x.shape[2:], self.kernel_size, self.strides, self.dilation_rate)]
            if all(before == after for before, after in pads):
                padding = (pads[0][0], pads[1][0])
            else:
                x = pad_image(x, pads, 0.0)
        # (kh, kw, in, out) -> (out, in, kh, kw), a view; conv2d copies it into a matrix
        weight = self.kernel.permute(3, 2, 0, 1)
        y = F.conv2d(x, weight, self.bias, self.strides, padding, self.dilation_rate,
                     self.groups)
        return self.activation(back_to(self.data_format, y))

    def get_config(self) -> dict:
        where = f"Conv2D '{self.name}'"
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "groups": self.groups,
                "activation": activations.serialize(self.activation, where),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer, where),
                "bias_initializer": initializers.serialize(self.bias_initializer, where)}

    def extra_repr(self) -> str:
        return (f"name={self.name!r}, filters={self.filters}, kernel_size={self.kernel_size}, "
                f"strides={self.strides}, padding={self.padding!r}, "
                f"activation={getattr(self.activation, '__name__', self.activation)}")


__all__ = ["Conv2D"]
