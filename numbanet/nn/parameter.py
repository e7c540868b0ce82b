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

    def __deepcopy__(self, memo):
        """A new Parameter over a copy of the values, with the same ``requires_grad`` (and,
        as in PyTorch, without the gradient)."""
        found = memo.get(id(self))
        if found is not None:
            return found
        from ..autograd import no_grad
        with no_grad():
            data = self.detach().clone()
        result = type(self)(data, self.requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        """In-process pickling (``pickle.dumps``, multiprocessing): the values on the host,
        the dtype, the device and ``requires_grad``. Files are written with ``nb.save``,
        which never pickles."""
        return (_rebuild_parameter, (type(self), self.detach().cpu().numpy(),
                                     self.dtype.name, str(self.device), self.requires_grad))


def _rebuild_parameter(cls, array, dtype: str, device: str, requires_grad: bool):
    from ..creation import tensor
    return cls(tensor(array, dtype=dtype, device=device), requires_grad)
