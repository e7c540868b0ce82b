"""Activations and the other elementwise layers as functions: relu, leaky_relu, sigmoid,
tanh, softmax, log_softmax, dropout, flatten."""
from __future__ import annotations

from ...autograd import ops
from ...creation import full_like, rand
from ...tensor import Tensor
from .checks import _as_float, _not_a_tensor, _probability


# ``inplace=True`` writes the result into ``x`` and returns ``x``, as PyTorch does; a leaf
# that requires grad is refused by the in-place op itself.
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(input, 0)."""
    if not isinstance(input, Tensor):
        _not_a_tensor("relu", "input", 1, input)
    return input.relu_() if inplace else ops.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """input where input > 0, else ``negative_slope * input``."""
    if not isinstance(input, Tensor):
        _not_a_tensor("leaky_relu", "input", 1, input)
    if inplace:  # input times 1 or the slope: its gradient is that factor, as out of place
        return input.mul_(ops.where(input > 0, 1.0, full_like(input, negative_slope)))
    return ops.where(input > 0, input, input * negative_slope)


def sigmoid(input: Tensor) -> Tensor:
    if not isinstance(input, Tensor):
        _not_a_tensor("sigmoid", "input", 1, input)
    return ops.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    if not isinstance(input, Tensor):
        _not_a_tensor("tanh", "input", 1, input)
    return ops.tanh(input)


def softmax(input: Tensor, dim: int) -> Tensor:
    """exp(input) / sum(exp(input)) along ``dim``, computed stably."""
    if not isinstance(input, Tensor):
        _not_a_tensor("softmax", "input", 1, input)
    return ops.softmax(input, dim)


def log_softmax(input: Tensor, dim: int) -> Tensor:
    """log(softmax(input, dim)), computed stably (never takes the log of an underflowed 0)."""
    if not isinstance(input, Tensor):
        _not_a_tensor("log_softmax", "input", 1, input)
    return ops.log_softmax(input, dim)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p), so the
    expected value is unchanged; the identity when not ``training``."""
    if not isinstance(input, Tensor):
        _not_a_tensor("dropout", "input", 1, input)
    p = _probability(p, "dropout")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        factor = 0
    else:
        keep = rand(input.shape, dtype=input.dtype if input.dtype.is_floating_point else None,
                    device=input.device) >= p
        factor = _as_float(keep, input) * (1.0 / (1.0 - p))
    return input.mul_(factor) if inplace else input * factor


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if not isinstance(input, Tensor):
        _not_a_tensor("flatten", "input", 1, input)
    return ops.flatten(input, start_dim, end_dim)
