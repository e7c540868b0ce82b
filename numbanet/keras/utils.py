"""``keras.utils``: small helpers for preparing data."""
from __future__ import annotations

import numpy as np

from .data import check_class_labels, check_count, real_array


def to_categorical(x, num_classes: int | None = None) -> np.ndarray:
    """One-hot encode integer class labels: ``[0, 2, 1]`` -> rows of 3 columns with a
    single 1 each, the targets ``categorical_crossentropy`` expects.

    >>> to_categorical([0, 2, 1])
    array([[1., 0., 0.],
           [0., 0., 1.],
           [0., 1., 0.]])

    ``num_classes`` defaults to ``max(x) + 1``; a trailing axis of size 1 is dropped,
    so labels shaped (n, 1) give (n, num_classes). The result is float64, as in
    Keras 3 (``fit`` casts it to the model's float type).
    """
    labels = real_array(x, "to_categorical")
    if num_classes is not None:
        num_classes = check_count(num_classes, "to_categorical: num_classes", 1)
    check_class_labels(labels, num_classes, "to_categorical")
    labels = labels.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = labels.reshape(-1)
    if num_classes is None:
        num_classes = int(flat.max()) + 1 if flat.size else 0
    out = np.zeros((flat.size, num_classes))
    out[np.arange(flat.size), flat] = 1
    return out.reshape(tuple(shape) + (num_classes,))


def set_random_seed(seed: int) -> None:
    """Seed every random draw (initial weights, dropout, shuffling): ``nb.manual_seed``."""
    from ..random import manual_seed
    manual_seed(seed)


__all__ = ["to_categorical", "set_random_seed"]
