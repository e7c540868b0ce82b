"""The confusion matrix of a classifier: which classes it takes for which."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .plots import require_pyplot


def _array(values) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """``counts[i, j]``: how many samples of class ``i`` were predicted as class ``j``.

    The diagonal holds the right answers; everything off it is a mistake, and the
    largest off-diagonal entries say which classes the model confuses. ``y_pred``
    may be labels or scores of shape (samples, classes), as ``model.predict``
    returns, of which the highest counts. Tensors, arrays and lists are accepted.

    >>> confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2])
    array([[1, 0, 0],
           [0, 1, 1],
           [0, 0, 1]])
    """
    truth = _array(y_true)
    guess = _array(y_pred)
    if guess.ndim == 2 and truth.ndim == 1:
        guess = guess.argmax(axis=1)
    if truth.shape != guess.shape or truth.ndim != 1:
        raise ValueError(f"confusion_matrix: y_true and y_pred should be 1-D labels of the "
                         f"same length (or y_pred scores of shape (n, classes)), got shapes "
                         f"{tuple(truth.shape)} and {tuple(guess.shape)}")
    for name, labels in (("y_true", truth), ("y_pred", guess)):
        if labels.size and (labels.dtype.kind not in "iub" or labels.min() < 0):
            raise ValueError(f"confusion_matrix: {name} should hold class labels 0, 1, 2, ..., "
                             f"got values of dtype {labels.dtype} from {labels.min()}")
    seen = int(max(truth.max(initial=-1), guess.max(initial=-1))) + 1
    if num_classes is None:
        num_classes = seen
    elif seen > num_classes:
        raise ValueError(f"confusion_matrix: label {seen - 1} is out of range for "
                         f"num_classes={num_classes}")
    counts = np.bincount(truth.astype(np.int64) * num_classes + guess.astype(np.int64),
                         minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def plot_confusion_matrix(matrix, labels=None, ax=None, normalize: bool = False,
                          title: str | None = None):
    """Draw a confusion matrix as a grid of shaded, numbered cells; returns the ``Figure``.

    ``normalize=True`` shows each row as fractions of that class's samples (the
    diagonal is then the accuracy on each class).
    """
    plt = require_pyplot()
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"plot_confusion_matrix: expected a square matrix, got shape "
                         f"{tuple(matrix.shape)}")
    n = matrix.shape[0]
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalize else matrix
    labels = [str(c) for c in (labels if labels is not None else range(n))]
    if ax is None:
        size = min(2.5 + 0.35 * n, 9)
        _, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(shown, cmap="Blues")
    ax.set_xticks(range(n), labels)
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    dark = shown.max() / 2 if shown.size else 0
    for i in range(n):
        for j in range(n):
            text = f"{shown[i, j]:.2f}" if normalize else str(int(shown[i, j]))
            if not normalize and shown[i, j] == 0:
                text = ""
            ax.text(j, i, text, ha="center", va="center", fontsize=9,
                    color="white" if shown[i, j] > dark else "black")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.figure.tight_layout()
    return ax.figure
