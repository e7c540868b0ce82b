"""``numbanet.linalg``: the norms of ``torch.linalg`` (``vector_norm``, ``norm``) and the
products that programs reach through it (``matmul``)."""
from __future__ import annotations

from .autograd.ops import matmul
from .autograd.ops.reductions_more import vector_norm

__all__ = ["matmul", "norm", "vector_norm"]


def norm(A, ord=None, dim=None, keepdim: bool = False, *, dtype=None):
    """The vector norm of ``A`` over ``dim``, or, for ``ord`` None or ``'fro'`` over a whole
    matrix, its Frobenius norm (the 2-norm of all entries). The other matrix norms (``'nuc'``,
    2 and -2 over two dims) need singular values, which numbanet does not compute."""
    if ord is None or ord == "fro":
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if isinstance(ord, str) or (dim is not None and not isinstance(dim, int) and
                                len(dim) == 2 and ord in (2, -2)):
        raise NotImplementedError(f"linalg.norm: the matrix norm ord={ord!r} needs singular "
                                  "values, which numbanet does not compute; use ord=None/'fro' "
                                  "or a vector norm")
    if dim is None and A.ndim != 1:
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must "
                           f"be 1D or 2D. Got {A.ndim}D.") if A.ndim > 2 else \
            NotImplementedError("linalg.norm: matrix norms other than 'fro' are not supported")
    return vector_norm(A, ord, dim, keepdim, dtype=dtype)
