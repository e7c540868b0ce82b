"""Session-wide settings of the Keras layer: the float type, epsilon, layer names.

Keras gives every layer a name unique in the session, made from its class name:
the first ``Dense`` is ``'dense'``, the next ``'dense_1'``, then ``'dense_2'``...
``clear_session()`` starts the counting again.
"""
from __future__ import annotations

import re

_EPSILON = 1e-7
_FLOATX = "float32"
_name_counts: dict[str, int] = {}


def epsilon() -> float:
    """The fuzz factor that keeps logs and divisions finite (1e-7, as in Keras)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


def floatx() -> str:
    """The default float type of new layers' weights and of the data they take in."""
    return _FLOATX


def set_floatx(value: str) -> None:
    global _FLOATX
    if value not in ("float32", "float64"):
        raise ValueError(f"set_floatx: expected 'float32' or 'float64', got {value!r}")
    _FLOATX = value


def snake_case(name: str) -> str:
    """``'BatchNormalization'`` -> ``'batch_normalization'``, ``'Conv2D'`` -> ``'conv2d'``,
    by Keras's rule: an underscore before a capital that starts a word, or that follows a
    lower-case letter."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(prefix: str) -> str:
    """``prefix`` the first time, then ``prefix_1``, ``prefix_2``... (per session)."""
    count = _name_counts.get(prefix, 0)
    _name_counts[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def clear_session() -> None:
    """Forget the layer names given so far (the next Dense is ``'dense'`` again)."""
    _name_counts.clear()
