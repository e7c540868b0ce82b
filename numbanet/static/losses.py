"""``tf.losses``: losses reduced to one number, as TensorFlow 1 reduces them."""
from __future__ import annotations

from .ops import _binary
from .tensor import Tensor, as_nb, graph_of


def mean_squared_error(labels, predictions, weights=1.0, scope=None, loss_collection=None,
                       reduction=None) -> Tensor:
    """The mean over all elements of ``weights * (predictions - labels) ** 2``.

    The seed calls it as ``mean_squared_error(y_pred, y)``; the squared difference is
    the same either way round."""
    plain = isinstance(weights, (int, float)) and weights == 1.0
    w = None
    if not plain:
        anchor = labels if isinstance(labels, Tensor) else predictions
        w = as_nb(weights, graph_of(labels, predictions, weights), anchor.dtype,
                  "mean_squared_error")

    def mse(a, b):
        d = b - a
        sq = d * d
        return (sq if w is None else sq * w).mean()
    if isinstance(labels, Tensor) and isinstance(predictions, Tensor) and \
            labels.shape != predictions.shape:
        raise ValueError(f"mean_squared_error: labels of shape {tuple(labels.shape)} and "
                         f"predictions of shape {tuple(predictions.shape)} must have the same "
                         "shape")
    return _binary(mse, labels, predictions, "mean_squared_error", None)
