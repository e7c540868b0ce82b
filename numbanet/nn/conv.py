"""``Conv2d``: a bank of learned 2-D filters slid over an image.

``Conv2d(3, 16, kernel_size=3, padding=1)`` holds a weight of shape (16, 3, 3, 3), one
3x3 filter per (output, input) channel pair, and a bias of shape (16,); it maps
(N, 3, H, W) images to (N, 16, H, W) feature maps. The computation is
``nn.functional.conv2d`` (im2col + matrix product).
"""
from __future__ import annotations

from ..creation import empty
from ..tensor import Tensor
from . import init
from ._functional import convolution as _conv
from .module import Module
from .parameter import Parameter


class Conv2d(Module):
    """2-D convolution with PyTorch's arguments, parameter names, shapes and initialisation:
    ``weight`` (out_channels, in_channels // groups, kh, kw) drawn with
    ``kaiming_uniform_(a=sqrt(5))``, ``bias`` (out_channels,) from U(-1/sqrt(fan_in),
    1/sqrt(fan_in)) with fan_in = in_channels // groups * kh * kw.

    ``padding`` is an int, a pair, ``'valid'`` (none) or ``'same'`` (output as large as
    the input; stride 1 only). Only ``padding_mode='zeros'`` is supported."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__()
        name = "Conv2d"
        for what, n in (("in_channels", in_channels), ("out_channels", out_channels),
                        ("groups", groups)):
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise ValueError(f"{name}: {what} must be a positive int, got {n!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must both be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{name}: padding_mode={padding_mode!r} is not supported; "
                                      "only 'zeros'")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _conv._pair(kernel_size, "kernel_size", name, 1)
        self.stride = _conv._pair(stride, "stride", name, 1)
        self.dilation = _conv._pair(dilation, "dilation", name, 1)
        if isinstance(padding, str):
            _conv._conv_padding(padding, self.kernel_size, self.dilation, self.stride, name)
            self.padding = padding
        else:
            self.padding = _conv._pair(padding, "padding", name, 0)
        self.groups = groups
        self.padding_mode = padding_mode
        self.weight = Parameter(empty(out_channels, in_channels // groups, *self.kernel_size,
                                      dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return _conv._conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                         self.groups, "Conv2d")

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


__all__ = ["Conv2d"]
