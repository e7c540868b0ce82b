"""``numbanet.datasets``: real data to train on, without a network connection.

- ``load_digits()``: 1,797 handwritten digits of 8×8 pixels, shipped inside numbanet.
- ``load_mnist(path)``: MNIST (or any data set in its IDX format) from files you
  downloaded to a local folder; ``read_idx(file)`` reads one IDX file.

They return NumPy arrays; ``nb.tensor(...)`` and ``TensorDataset`` make them
trainable::

    digits = nb.datasets.load_digits()
    ds = TensorDataset(nb.tensor(digits.data / 16, dtype=nb.float32), nb.tensor(digits.target))
"""
from .digits import Bunch, load_digits
from .mnist import load_mnist, read_idx

__all__ = ["Bunch", "load_digits", "load_mnist", "read_idx"]
