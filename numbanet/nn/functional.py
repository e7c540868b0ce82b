"""``numbanet.nn.functional``: layers and losses as functions, with PyTorch's semantics.

Everything here is composed from the differentiable tensor ops, so it runs on every
device and autograd derives every gradient::

    import numbanet.nn.functional as F
    logits = F.linear(x, w, b)                 # x @ w.T + b, w shaped (out, in)
    loss = F.cross_entropy(logits, labels)     # labels: int64 class indices

The functions live by topic in ``numbanet/nn/_functional/`` (``activations``, ``losses``,
``convolution``, ``normalization``, ``embedding``, and the argument ``checks`` they share);
``linear`` is the op of ``numbanet/autograd/ops/linalg.py``. This module gathers them.
"""
from __future__ import annotations

from ..autograd.ops.linalg import linear
from ._functional.activations import (
                                      dropout,
                                      flatten,
                                      leaky_relu,
                                      log_softmax,
                                      relu,
                                      sigmoid,
                                      softmax,
                                      tanh,
)
from ._functional.convolution import avg_pool2d, conv2d, max_pool2d
from ._functional.embedding import embedding
from ._functional.losses import (
                                      binary_cross_entropy,
                                      binary_cross_entropy_with_logits,
                                      cross_entropy,
                                      l1_loss,
                                      mse_loss,
                                      nll_loss,
)
from ._functional.normalization import batch_norm

__all__ = ["linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax",
           "dropout", "flatten", "mse_loss", "l1_loss", "nll_loss", "cross_entropy",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "conv2d",
           "max_pool2d", "avg_pool2d", "batch_norm", "embedding"]
