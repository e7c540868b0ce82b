"""Parts of matrices: ``tril``, ``triu`` (the lower and upper triangles, the rest zero) and
``diag`` (a diagonal, or a matrix with one). They are made of other differentiable ops
(``where``, indexing), so their gradients come with them."""
from __future__ import annotations

from ... import creation
from ...tensor import Tensor
from .elementwise import where
from .indexing import getitem
from .inplace import setitem


def _triangle(x: Tensor, diagonal: int, lower: bool, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(x).__name__}")
    if x.ndim < 2:
        raise RuntimeError(f"{op}: input tensor must have at least 2 dimensions, got shape "
                           f"{x._shape}")
    if not isinstance(diagonal, int) or isinstance(diagonal, bool):
        raise TypeError(f"{op}(): argument 'diagonal' must be int, not "
                        f"{type(diagonal).__name__}")
    n, m = x.shape[-2], x.shape[-1]
    rows = creation.arange(n, device=x.device).unsqueeze(1)
    cols = creation.arange(m, device=x.device).unsqueeze(0)
    keep = (cols - rows <= diagonal) if lower else (cols - rows >= diagonal)
    return where(keep, x, creation.zeros((), dtype=x.dtype, device=x.device))


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (on and below ``diagonal``), the rest 0."""
    return _triangle(x, diagonal, True, "tril")


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (on and above ``diagonal``), the rest 0."""
    return _triangle(x, diagonal, False, "triu")


def diag(x: Tensor, diagonal: int = 0) -> Tensor:
    """Of a 1-D tensor, the square matrix with it on ``diagonal`` (0 the main one, above it
    positive); of a 2-D tensor, that diagonal as a 1-D tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"diag(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(x).__name__}")
    if x.ndim == 1:
        n = x.shape[0]
        size = n + abs(diagonal)
        out = creation.zeros(size, size, dtype=x.dtype, device=x.device)
        at = creation.arange(n, device=x.device)
        rows, cols = (at, at + diagonal) if diagonal >= 0 else (at - diagonal, at)
        setitem(out, (rows, cols), x)
        return out
    if x.ndim == 2:
        n, m = x.shape
        length = max(0, min(n, m - diagonal) if diagonal >= 0 else min(n + diagonal, m))
        at = creation.arange(length, device=x.device)
        rows, cols = (at, at + diagonal) if diagonal >= 0 else (at - diagonal, at)
        return getitem(x, (rows, cols))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x.ndim}D (shape "
                       f"{x._shape})")
