"""Two classic architectures: the multi-layer perceptron and LeNet-5."""
from __future__ import annotations

from .. import nn


def mlp(in_features: int = 784, hidden=(256, 256), out_features: int = 10,
        dropout: float = 0.0) -> nn.Sequential:
    """Linear layers with ReLU between them: ``mlp(64, (64,), 10)`` is 64 -> 64 -> 10.
    ``dropout`` > 0 adds a Dropout after each hidden ReLU."""
    if isinstance(hidden, int):
        hidden = (hidden,)
    layers, width = [], in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


def lenet(num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """LeNet-5 (LeCun et al., 1998) for 28x28 images, with ReLU and max pooling::

        (N, 1, 28, 28) -conv 5x5 pad 2-> (6, 28, 28) -pool-> (6, 14, 14)
                       -conv 5x5------> (16, 10, 10) -pool-> (16, 5, 5)
                       -> 120 -> 84 -> num_classes
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, num_classes))
