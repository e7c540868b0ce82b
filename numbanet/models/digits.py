"""The digits CNN, and its pretrained weights shipped inside the package."""
from __future__ import annotations

import os

from .. import nn
from ..serialization import load

DIGITS_WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights",
                              "digits_cnn.nbz")


def digits_cnn(pretrained: bool = False) -> nn.Sequential:
    """A CNN for the 8x8 digits of ``numbanet.datasets.load_digits`` (input (N, 1, 8, 8),
    pixels scaled to 0..1 by dividing by 16)::

        conv 3x3 pad 1 (16) - relu - maxpool 2   -> (16, 4, 4)
        conv 3x3 pad 1 (32) - relu - maxpool 2   -> (32, 2, 2)
        flatten - linear 128 -> 10

    ``pretrained=True`` loads the weights that ``python -m numbanet.models.train_digits``
    trained (about 98% on the held-out fifth of the digits); no network is needed."""
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 2 * 2, 10))
    if pretrained:
        if not os.path.exists(DIGITS_WEIGHTS):
            raise FileNotFoundError(f"digits_cnn(pretrained=True): the weights file "
                                    f"{DIGITS_WEIGHTS} is missing; make it with "
                                    "python -m numbanet.models.train_digits")
        model.load_state_dict(load(DIGITS_WEIGHTS))
    return model
