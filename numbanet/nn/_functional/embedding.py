"""Embedding as a function: rows of a table picked by int64 indices."""
from __future__ import annotations

import numbers

from ...autograd import ops
from ...autograd.ops import indexing as _ops_index
from ...tensor import Tensor
from .checks import _not_a_tensor


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm=None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
              sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by the int64 ``input``:
    shape ``input.shape + (embedding_dim,)``. The row at ``padding_idx`` gets no gradient."""
    fn = "embedding"
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError(f"{fn}: max_norm, scale_grad_by_freq and sparse are not "
                                  "supported; leave them at their defaults")
    if not isinstance(input, Tensor):
        _not_a_tensor(fn, "input", 1, input)
    if not isinstance(weight, Tensor):
        _not_a_tensor(fn, "weight", 2, weight)
    if padding_idx is not None and weight.ndim == 2:  # another weight: the lookup refuses it
        padding_idx = _padding_index(padding_idx, weight.shape[0], fn)
    # the lookup checks the rest (an int64 input, a 2-D weight, one device, the indices in
    # range), before its kernel
    rows = _ops_index.embedding(weight, input)
    if padding_idx is None:
        return rows
    return ops.where((input == padding_idx).unsqueeze(-1), rows.detach(), rows)


def _padding_index(padding_idx, num_embeddings: int, fn: str) -> int:
    """``padding_idx`` as a row of the table, counted from the end when negative; PyTorch's
    AssertionError when it is outside the table."""
    if not isinstance(padding_idx, numbers.Integral) or isinstance(padding_idx, bool):
        raise TypeError(f"{fn}(): argument 'padding_idx' must be int, not "
                        f"{type(padding_idx).__name__}")
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise AssertionError(f"Padding_idx must be within num_embeddings: {fn} got padding_idx "
                             f"{padding_idx} for {num_embeddings} embeddings; use a value in "
                             f"[{-num_embeddings}, {num_embeddings - 1}] or None")
    return int(padding_idx) % num_embeddings
