"""``MaxPooling2D`` and ``AveragePooling2D``: summarise each window of an image batch.

``MaxPooling2D()`` keeps the largest value of every 2x2 window, halving height and
width; ``AveragePooling2D()`` keeps their mean. Neither has weights. Images are
channels last by default, as in Keras; the layers permute them (a view) to the
(N, C, H, W) layout of ``nn.functional.max_pool2d`` / ``avg_pool2d`` and back.

``padding='same'`` follows TensorFlow: ``ceil(size / stride)`` windows per axis, the
padding split as for ``Conv2D`` (the odd one after the image), and padded pixels never
count: they are -inf for the maximum and left out of the mean's divisor. (Keras 3 on
its torch backend pads uneven cases by repeating the border pixels, which changes some
border means; numbanet gives TensorFlow's answer there.)
"""
from __future__ import annotations

import numpy as np

from ...creation import tensor
from ...nn import functional as F
from ...tensor import Tensor
from .convolutional import (
    ImageLayer,
    back_to,
    channels_first,
    conv_output_length,
    data_format_of,
    int_pair,
    pad_image,
    padding_of,
    same_padding,
)


class Pooling2D(ImageLayer):
    """Shared by the 2-D pooling layers: arguments, output shapes, 'same' padding, config."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        what = type(self).__name__
        pool_size = int_pair(pool_size, "pool_size", what)
        strides = pool_size if strides is None else int_pair(strides, "strides", what)
        padding = padding_of(padding, what)
        data_format = data_format_of(data_format, what)
        super().__init__(**kwargs)
        self.pool_size, self.strides = pool_size, strides
        self.padding, self.data_format = padding, data_format

    def compute_output_shape(self, input_shape):
        self._check_rank(input_shape)
        spatial = tuple(conv_output_length(s, k, st, self.padding) for s, k, st in
                        zip(self._spatial(input_shape), self.pool_size, self.strides))
        self._windows_fit(input_shape, spatial, f"pool_size {self.pool_size}")
        return self._with_channels(input_shape, spatial, self._channels(input_shape))

    def build(self, input_shape):
        self.compute_output_shape(input_shape)  # refuses a wrong rank or too small images

    def call(self, inputs: Tensor) -> Tensor:
        x = channels_first(inputs, self.data_format)
        pads = [(0, 0), (0, 0)]
        if self.padding == "same":
            pads = [same_padding(s, k, st) for s, k, st in
                    zip(x.shape[2:], self.pool_size, self.strides)]
        return back_to(self.data_format, self.pool(x, pads))

    def pool(self, x: Tensor, pads) -> Tensor:
        """The pooled (N, C, OH, OW) batch of ``x`` (N, C, H, W) padded by ``pads``."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "padding": self.padding, "strides": list(self.strides),
                "data_format": self.data_format}

    def extra_repr(self) -> str:
        return (f"name={self.name!r}, pool_size={self.pool_size}, strides={self.strides}, "
                f"padding={self.padding!r}")


class MaxPooling2D(Pooling2D):
    """The maximum of each ``pool_size`` window (``strides`` defaults to ``pool_size``).

    >>> MaxPooling2D()(nb.randn(16, 28, 28, 8)).shape
    (16, 14, 14, 8)
    """


    def pool(self, x, pads):
        if pads[0][0] == pads[0][1] and pads[1][0] == pads[1][1]:
            # even padding: max_pool2d pads with -inf itself (TF's 'same' padding never
            # exceeds pool_size - 1 in total, so half of it fits its limit)
            return F.max_pool2d(x, self.pool_size, self.strides, (pads[0][0], pads[1][0]))
        return F.max_pool2d(pad_image(x, pads, -np.inf), self.pool_size, self.strides)


class AveragePooling2D(Pooling2D):
    """The mean of each ``pool_size`` window (``strides`` defaults to ``pool_size``);
    with ``padding='same'`` a window at the border averages the pixels it covers only.

    >>> AveragePooling2D()(nb.randn(16, 28, 28, 8)).shape
    (16, 14, 14, 8)
    """


    def pool(self, x, pads):
        if pads[0][0] == pads[0][1] and pads[1][0] == pads[1][1]:
            return F.avg_pool2d(x, self.pool_size, self.strides, (pads[0][0], pads[1][0]),
                                count_include_pad=False)
        # uneven padding: average the zero-padded image over whole windows, then rescale
        # each output by (window size / pixels of the image it covers)
        out = F.avg_pool2d(pad_image(x, pads, 0.0), self.pool_size, self.strides)
        covered = [self._covered(size, k, st, p) for size, k, st, p in
                   zip(x.shape[2:], self.pool_size, self.strides, pads)]
        scale = (self.pool_size[0] * self.pool_size[1]) / np.outer(covered[0], covered[1])
        return out * tensor(scale, dtype=x.dtype, device=x.device)

    @staticmethod
    def _covered(size, kernel, stride, pad) -> np.ndarray:
        """How many pixels of an axis of ``size`` each window covers, padding ``pad``."""
        starts = np.arange(conv_output_length(size, kernel, stride, "same")) * stride - pad[0]
        return np.minimum(starts + kernel, size) - np.maximum(starts, 0)


__all__ = ["MaxPooling2D", "AveragePooling2D"]
