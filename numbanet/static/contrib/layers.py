"""``tf.contrib.layers``: ``xavier_initializer``."""
from __future__ import annotations

from ..initializers import glorot_normal_initializer, glorot_uniform_initializer


def xavier_initializer(uniform: bool = True, seed=None, dtype=None):
    """Glorot/Xavier initialisation: uniform in [-l, l] with l = sqrt(6 / (fan_in +
    fan_out)), or (``uniform=False``) normal with std sqrt(2 / (fan_in + fan_out)).
    Returns an initializer, called as ``init(shape, dtype)`` by ``tf.layers.dense``."""
    if uniform:
        return glorot_uniform_initializer(seed=seed, dtype=dtype)
    return glorot_normal_initializer(seed=seed, dtype=dtype)


xavier_initializer_conv2d = xavier_initializer
