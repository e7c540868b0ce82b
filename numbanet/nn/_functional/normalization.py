"""Batch normalization as a function: the checks, eval mode from the running estimates,
training mode through ``autograd/ops/normalization.py``."""
from __future__ import annotations

from ...autograd.ops import normalization as _ops_norm
from ...autograd.ops.dispatch import same_device
from ...tensor import Tensor
from .checks import _not_a_tensor


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) to zero mean and unit variance, then scale by
    ``weight`` and shift by ``bias``.

    ``training=True`` uses the batch's statistics (biased variance) and updates the running
    estimates in place: ``running = (1 - momentum) * running + momentum * batch``, with the
    unbiased variance, as PyTorch does. ``training=False`` uses the running estimates."""
    fn = "batch_norm"
    given = []
    for position, (name, t) in enumerate((("input", input), ("running_mean", running_mean),
                                          ("running_var", running_var), ("weight", weight),
                                          ("bias", bias)), 1):
        if t is not None or position == 1:
            if not isinstance(t, Tensor):
                _not_a_tensor(fn, name, position, t)
            given.append(t)
    same_device(fn, *given)
    if input.ndim < 2:
        raise ValueError(f"{fn}: expected an input of at least 2 dims (N, C, ...), got shape "
                         f"{tuple(input.shape)}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"{fn}: input must be a floating point tensor, got {input.dtype.name}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"{fn}: {name} of shape {tuple(t.shape)} does not fit an input of "
                             f"shape {tuple(input.shape)} with {c} channels; expected ({c},)")
    shape = _ops_norm.channel_shape(input.shape)
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError(f"{fn}: running_mean and running_var are needed when not training")
        scale = (running_var + eps) ** -0.5
        if weight is not None:
            scale = scale * weight
        shift = -running_mean * scale
        if bias is not None:
            shift = shift + bias
        return input * scale.reshape(shape) + shift.reshape(shape)
    count = input.numel() // c
    if count <= 1:
        raise ValueError(f"{fn}: expected more than 1 value per channel when training, got "
                         f"input of shape {tuple(input.shape)}; use a larger batch or eval()")
    return _ops_norm.batch_norm_train(input, weight, bias, running_mean, running_var,
                                      momentum, eps)
