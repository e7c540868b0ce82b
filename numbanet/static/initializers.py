"""Initializers: callables ``init(shape, dtype=None, partition_info=None)`` that return a
graph tensor with a variable's first value (``tf.layers.dense(kernel_initializer=...)``)."""
from __future__ import annotations

import math

from .. import dtypes as dt
from .ops import random_normal, random_uniform, zeros


def _fans(shape) -> tuple:
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def glorot_uniform_initializer(seed=None, dtype=None):
    """Uniform in [-l, l], l = sqrt(6 / (fan_in + fan_out)) (TensorFlow's default for
    dense kernels)."""
    def init(shape, dtype=dtype, partition_info=None):
        fan_in, fan_out = _fans(tuple(shape))
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return random_uniform(shape, -limit, limit, dtype=dt.as_dtype(dtype or dt.float32))
    return init


def glorot_normal_initializer(seed=None, dtype=None):
    """Normal with std sqrt(2 / (fan_in + fan_out))."""
    def init(shape, dtype=dtype, partition_info=None):
        fan_in, fan_out = _fans(tuple(shape))
        return random_normal(shape, 0.0, math.sqrt(2.0 / (fan_in + fan_out)),
                             dtype=dt.as_dtype(dtype or dt.float32))
    return init


def zeros_initializer(dtype=None):
    def init(shape, dtype=dtype, partition_info=None):
        return zeros(shape, dt.as_dtype(dtype or dt.float32))
    return init


def random_normal_initializer(mean=0.0, stddev=1.0, seed=None, dtype=None):
    def init(shape, dtype=dtype, partition_info=None):
        return random_normal(shape, mean, stddev, dtype=dt.as_dtype(dtype or dt.float32))
    return init
