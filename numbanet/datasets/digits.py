"""The 8×8 handwritten digits (UCI "optdigits", test part), as scikit-learn ships them.

``data/digits.csv.gz`` is scikit-learn's ``sklearn/datasets/data/digits.csv.gz``,
unchanged: 1,797 lines of 64 pixel counts (0..16, row by row) and the digit. The data
set is by E. Alpaydin and C. Kaynak, UCI Machine Learning Repository, licensed
CC BY 4.0.
"""
from __future__ import annotations

from importlib import resources

import numpy as np

DESCR = """\
Optical recognition of handwritten digits (UCI ML hand-written digits, "optdigits")
-----------------------------------------------------------------------------------
1,797 images of 8x8 pixels, 10 classes (the digits 0..9, about 180 of each). Each
pixel is an integer 0..16: the number of set pixels in a 4x4 block of a 32x32 bitmap
of a digit written on a form (NIST's preprocessing). 43 people wrote the digits; this
is the test part of the UCI data set (13 writers).

Creators: E. Alpaydin and C. Kaynak, Bogazici University, 1998.
Source: UCI Machine Learning Repository,
https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits
License: CC BY 4.0. The file shipped with numbanet is scikit-learn's copy.

Reference: C. Kaynak (1995), Methods of Combining Multiple Classifiers and Their
Applications to Handwritten Digit Recognition, MSc thesis, Bogazici University;
E. Alpaydin, C. Kaynak (1998), Cascading Classifiers, Kybernetika.
"""


class Bunch(dict):
    """A dict whose keys are also attributes: ``digits.data`` is ``digits['data']``
    (scikit-learn's ``Bunch``)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"this Bunch has no {name!r}; it has "
                                 f"{', '.join(sorted(self))}") from None

    def __dir__(self):
        return list(self) + list(super().__dir__())


def load_digits(*, n_class: int = 10, return_X_y: bool = False):
    """The 8×8 digits: 1,797 images, 10 classes, read from a file inside numbanet.

    Returns a ``Bunch`` like scikit-learn's ``load_digits``:

    - ``data``: float64 (n, 64), pixel counts 0..16 (divide by 16 to get 0..1)
    - ``images``: float64 (n, 8, 8), the same values as images
    - ``target``: int64 (n,), the digit of each image
    - ``target_names``: int64 (10,) ``[0, 1, ..., 9]``; ``feature_names``; ``DESCR``

    ``n_class=k`` keeps the digits 0..k-1 only; ``return_X_y=True`` returns just
    ``(data, target)``.

    >>> X, y = nb.datasets.load_digits(return_X_y=True)
    >>> X.shape, y.shape
    ((1797, 64), (1797,))
    """
    if not isinstance(n_class, int) or not 1 <= n_class <= 10:
        raise ValueError(f"load_digits: n_class must be an int from 1 to 10, got {n_class!r}")
    table = _read_table()
    table = table[table[:, -1] < n_class]
    data = table[:, :-1].astype(np.float64)
    target = table[:, -1].astype(np.int64)
    if return_X_y:
        return data, target
    return Bunch(data=data, images=data.reshape(-1, 8, 8), target=target,
                 target_names=np.arange(10), DESCR=DESCR,
                 feature_names=[f"pixel_{r}_{c}" for r in range(8) for c in range(8)])


def _read_table() -> np.ndarray:
    """The 1797 × 65 table of ``digits.csv.gz`` (uint8)."""
    source = resources.files(__package__).joinpath("data").joinpath("digits.csv.gz")
    with resources.as_file(source) as path:
        table = np.loadtxt(path, delimiter=",", dtype=np.uint8)
    if table.shape != (1797, 65):  # a damaged installation, not a user error
        raise RuntimeError(f"numbanet's digits file {source} has shape {table.shape}, expected "
                           "(1797, 65); reinstall numbanet")
    return table
