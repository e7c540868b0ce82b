"""``tf.contrib``: the parts of TensorFlow 1's contrib that the seed uses."""
from . import layers

__all__ = ["layers"]
