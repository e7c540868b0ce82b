"""``Parameter``: a tensor that a ``Module`` registers as one of its learnable weights."""
from __future__ import annotations

from ..autograd.ops.shape import alias_as
from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad and that a Module lists in ``parameters()``.

    >>> w = nn.Parameter(nb.randn(3, 2))
    >>> w.requires_grad, w.grad_fn is None
    (True, True)
    """

    __slots__ = ()

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            from ..creation import empty
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter expects a Tensor, got {type(data).__name__}; wrap "
                            "the values with nb.tensor(...) first")
        # shares memory (and the version counter) with ``data``, as in PyTorch
        p = alias_as(cls, data)
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data=None, requires_grad: bool = True):
        pass  # everything happens in __new__

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        raise TypeError("numbanet does not pickle tensors; save them with nb.save(...)")
