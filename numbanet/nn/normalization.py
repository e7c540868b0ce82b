"""Batch normalization: ``BatchNorm1d`` and ``BatchNorm2d``.

While training, each channel is normalised with the mean and variance of the current
batch, and running estimates of both are kept (an exponential moving average with
``momentum``); after ``model.eval()`` the running estimates are used instead, so a
single example gives the same answer as it would in any batch.
"""
from __future__ import annotations

import numbers

from .. import dtypes as _dt
from ..autograd import no_grad
from ..creation import ones, tensor, zeros
from ..tensor import Tensor
from . import functional as F
from . import init
from ._functional import checks as _checks
from .module import Module
from .parameter import Parameter


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d: PyTorch's parameters (``weight`` ones, ``bias`` zeros, the
    bias left out with ``bias=False``) and buffers (``running_mean`` zeros, ``running_var``
    ones, ``num_batches_tracked`` int64)."""

    _dims: tuple = ()
    _expected: str = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None, *, bias: bool = True):
        super().__init__()
        if not isinstance(num_features, int) or isinstance(num_features, bool) or \
                num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int, got "
                             f"{num_features!r}")
        for what, value in (("eps", eps), ("momentum", momentum)):
            if not isinstance(value, numbers.Real) and not (what == "momentum" and value is None):
                raise TypeError(f"{type(self).__name__}: {what} must be a number"
                                + (" or None" if what == "momentum" else "")
                                + f", got {type(value).__name__} {value!r}")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(ones(num_features, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(zeros(num_features, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked",
                                 tensor(0, dtype=_dt.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1.0)
                self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, x: Tensor) -> Tensor:
        name = type(self).__name__
        if not isinstance(x, Tensor):
            _checks._not_a_tensor(name, "input", 1, x)
        if x.ndim not in self._dims:
            raise ValueError(f"{name}: expected {self._expected} input, got shape "
                             f"{tuple(x.shape)}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}({self.num_features}): expected input with "
                             f"{self.num_features} channels in dim 1, got shape "
                             f"{tuple(x.shape)}")
        factor = 0.0 if self.momentum is None else self.momentum
        counting = self.training and self.track_running_stats
        if counting and self.momentum is None:  # a cumulative average of every batch so far
            factor = 1.0 / (float(self.num_batches_tracked.item()) + 1)
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        out = F.batch_norm(x, self.running_mean if track else None,
                           self.running_var if track else None, self.weight, self.bias,
                           use_batch, factor, self.eps)
        if counting:  # after the batch went through: a refused batch counts for nothing
            with no_grad():
                self.num_batches_tracked.add_(1)
        return out

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs, per channel C."""

    _dims = (2, 3)
    _expected = "a 2-D (N, C) or 3-D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) images, per channel C."""

    _dims = (4,)
    _expected = "a 4-D (N, C, H, W)"


__all__ = ["BatchNorm1d", "BatchNorm2d"]
