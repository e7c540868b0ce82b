"""One flat vector from a list of parameters and back, as PyTorch's
``parameters_to_vector`` / ``vector_to_parameters`` (used by second-order methods and
evolution strategies)."""
from __future__ import annotations

from ...autograd.ops.shape import cat, set_data_
from ...tensor import Tensor


def _same_device(param: Tensor, device):
    if device is not None and param.device != device:
        raise TypeError("Found two parameters on different devices, this is currently not "
                        "supported.")
    return param.device


def parameters_to_vector(parameters) -> Tensor:
    """The values of ``parameters`` flattened and joined into one 1-D tensor (differentiable
    with respect to them)."""
    device = None
    flat = []
    for param in parameters:
        device = _same_device(param, device)
        flat.append(param.reshape(-1))
    return cat(flat)


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Make each of ``parameters`` a view of its slice of ``vec``, in order (as
    ``param.data = ...`` in PyTorch: the same Parameter objects, now sharing ``vec``'s
    memory)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected Tensor, but got: {type(vec).__name__}")
    device = None
    pointer = 0
    for param in parameters:
        device = _same_device(param, device)
        n = param.numel()
        set_data_(param, vec[pointer:pointer + n].view_as(param).detach())
        pointer += n
