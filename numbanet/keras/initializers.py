"""Weight initializers with Keras's names, formulas and defaults.

An initializer is called with a shape (and the dtype and device of the weight) and
returns a new tensor. The random ones draw on the host, from the generator that
``nb.manual_seed`` seeds (or from their own ``seed``), and copy the values to the
device: a seeded model starts from the same weights on the CPU and on a GPU.

A Dense kernel has shape (fan_in, fan_out); Glorot (Xavier) uniform, Keras's
default, draws from U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)),
which keeps the variance of activations and of gradients about the same from
layer to layer::

    GlorotUniform()((64, 10))                  # limit sqrt(6 / 74) = 0.285
    initializers.get('he_normal')((784, 256))  # for relu layers
"""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes as _dt
from ..creation import full, tensor
from ..random import host_generator
from ..tensor import Tensor

# The standard deviation of a unit normal truncated to [-2, 2]; dividing by it gives
# the truncated draws the variance asked for.
_TRUNCATED_STD = 0.87962566103423978


def compute_fans(shape: tuple) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: (in, out) for a Dense kernel; for a convolution
    kernel (kh, kw, in, out) both are multiplied by the receptive field kh * kw."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: ``__call__(shape, dtype=None, device=None)`` returns a new tensor."""

    def __call__(self, shape, dtype=None, device=None) -> Tensor:
        dtype = _dt.as_dtype(dtype or "float32")
        return tensor(self.values(tuple(shape)), dtype=dtype, device=device)

    def values(self, shape: tuple) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement values(shape)")

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class _Random(Initializer):
    def __init__(self, seed: int | None = None):
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise TypeError(f"{type(self).__name__}: seed must be an int or None, got {seed!r}")
        self.seed = seed

    def _rng(self) -> np.random.Generator:
        """A seeded initializer gives the same values at every call, as in Keras."""
        return host_generator() if self.seed is None else np.random.default_rng(self.seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


def _truncated_normal(rng: np.random.Generator, shape: tuple, stddev: float) -> np.ndarray:
    """Normal draws with those beyond two standard deviations drawn again."""
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return z * stddev


class Zeros(Initializer):
    def values(self, shape):
        return np.zeros(shape)

    def __call__(self, shape, dtype=None, device=None) -> Tensor:
        return full(tuple(shape), 0.0, dtype=_dt.as_dtype(dtype or "float32"), device=device)


class Ones(Initializer):
    def values(self, shape):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value: float = 0.0):
        self.value = float(value)

    def values(self, shape):
        return np.full(shape, self.value)

    def get_config(self) -> dict:
        return {"value": self.value}


class RandomUniform(_Random):
    """U(minval, maxval); Keras's defaults are -0.05 and 0.05."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def values(self, shape):
        return self._rng().uniform(self.minval, self.maxval, shape)

    def get_config(self) -> dict:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(_Random):
    """N(mean, stddev**2); Keras's defaults are 0 and 0.05."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def values(self, shape):
        return self.mean + self._rng().standard_normal(shape) * self.stddev

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class TruncatedNormal(RandomNormal):
    """N(mean, stddev**2) with draws further than two stddev from the mean redrawn."""

    def values(self, shape):
        return self.mean + _truncated_normal(self._rng(), shape, self.stddev)


class VarianceScaling(_Random):
    """Draws whose variance is ``scale / n``, n being fan_in, fan_out or their average
    (``mode``), from a ``'truncated_normal'``, ``'untruncated_normal'`` or ``'uniform'``
    distribution. Glorot, He and LeCun initializers are special cases."""

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", seed: int | None = None):
        super().__init__(seed)
        if scale <= 0:
            raise ValueError(f"VarianceScaling: scale must be positive, got {scale}")
        if mode not in self._MODES:
            raise ValueError(f"VarianceScaling: mode must be one of {self._MODES}, got {mode!r}")
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(f"VarianceScaling: distribution must be one of "
                             f"{self._DISTRIBUTIONS}, got {distribution!r}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def values(self, shape):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return rng.standard_normal(shape) * math.sqrt(variance)
        return _truncated_normal(rng, shape, math.sqrt(variance) / _TRUNCATED_STD)

    def get_config(self) -> dict:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}


class _Named(VarianceScaling):
    """A VarianceScaling with fixed settings; its config holds only the seed."""

    _settings: tuple = ()

    def __init__(self, seed: int | None = None):
        scale, mode, distribution = self._settings
        super().__init__(scale, mode, distribution, seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


class GlorotUniform(_Named):
    """U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)): Keras's default kernel."""
    _settings = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Named):
    """Truncated normal with stddev sqrt(2 / (fan_in + fan_out))."""
    _settings = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Named):
    """U(-limit, limit), limit = sqrt(6 / fan_in): for layers followed by relu."""
    _settings = (2.0, "fan_in", "uniform")


class HeNormal(_Named):
    """Truncated normal with stddev sqrt(2 / fan_in)."""
    _settings = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Named):
    _settings = (1.0, "fan_in", "uniform")


class LecunNormal(_Named):
    _settings = (1.0, "fan_in", "truncated_normal")


_CLASSES = {cls.__name__: cls for cls in (
    Zeros, Ones, Constant, RandomUniform, RandomNormal, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal)}
_BY_NAME = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_uniform": RandomUniform,
    "random_normal": RandomNormal, "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling, "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal, "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
}


def get(identifier) -> Initializer:
    """An initializer from a Keras name (``'glorot_uniform'``), a saved config, an
    instance, or a function ``f(shape, dtype=None, device=None)``."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown initializer {identifier!r}. Expected one of "
                             f"{sorted(_BY_NAME)}")
        return cls()
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]].from_config(identifier.get("config", {}))
    if callable(identifier):
        return identifier
    raise TypeError(f"an initializer must be a name, an Initializer or a callable, got "
                    f"{type(identifier).__name__}")


def serialize(initializer, where: str) -> dict:
    """The JSON-ready config of an initializer (for saving a model)."""
    if isinstance(initializer, Initializer) and type(initializer) in _CLASSES.values():
        return {"class_name": type(initializer).__name__, "config": initializer.get_config()}
    raise ValueError(f"{where}: can't save the initializer {initializer!r}: a saved model "
                     "holds no code. Use one of the named initializers "
                     f"{sorted(_BY_NAME)}, or save the weights only (model.save_weights)")
