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

# The private names are re-exported too: the layers (nn/conv.py, nn/loss.py...) and
# graph/schema.py read them from here.
from ..autograd.ops.linalg import linear
from ._functional.activations import (dropout, flatten, leaky_relu, log_softmax, relu, sigmoid,
                                      softmax, tanh)
from ._functional.checks import (REDUCTIONS, _as_float, _check_elementwise_weight,
                                 _check_reduction, _check_same_shape, _legacy_reduction,
                                 _loss_args, _not_a_tensor, _probability, _reduce)
from ._functional.convolution import (_conv2d, _conv_padding, _image_input, _pair,
                                      _pool_geometry, _window_output, avg_pool2d, conv2d,
                                      max_pool2d)
from ._functional.embedding import _padding_index, embedding
from ._functional.losses import (_BCE_EPSILON, _BinaryCrossEntropy, _BinaryCrossEntropyBackward,
                                 _check_class_range, _check_class_target, _classes_last,
                                 _log_clamped_at_minus_100, binary_cross_entropy,
                                 binary_cross_entropy_with_logits, cross_entropy, l1_loss,
                                 mse_loss, nll_loss)
from ._functional.normalization import batch_norm

__all__ = ["linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax",
           "dropout", "flatten", "mse_loss", "l1_loss", "nll_loss", "cross_entropy",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "conv2d",
           "max_pool2d", "avg_pool2d", "batch_norm", "embedding"]
