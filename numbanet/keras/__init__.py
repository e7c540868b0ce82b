"""``numbanet.keras``: Keras 3's API on numbanet's tensors, autograd and kernels.

::

    from numbanet import keras
    from numbanet.keras import layers

    model = keras.Sequential([layers.Dense(64, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=30)

Names, defaults and update rules follow Keras 3 (a Dense kernel is (in, units),
Adam's epsilon is 1e-7, SGD keeps the learning rate inside its momentum). The
Keras 1 names of the CS231n lecture are accepted with a DeprecationWarning:
``Dense(input_dim=, output_dim=)``, ``fit(nb_epoch=)``, ``SGD(lr=)`` and
``from numbanet.keras.layers.core import Dense, Activation``.

Layout: ``models`` (Sequential, load_model), ``layers``, ``optimizers``, ``losses``,
``metrics``, ``activations``, ``initializers``, ``callbacks``, ``utils``;
``trainer`` holds the training loop, ``progress`` the progress bar, ``saving`` the
file format and ``event_file`` the TensorBoard files.
"""
from . import (
               activations,
               backend,
               callbacks,
               initializers,
               layers,
               losses,
               metrics,
               models,
               optimizers,
               utils,
)
from .layers import Input, Layer
from .models import Sequential, load_model

__all__ = ["Input", "Layer", "Sequential", "load_model", "activations", "backend", "callbacks",
           "initializers", "layers", "losses", "metrics", "models", "optimizers", "utils"]
