"""Whether ops record the graph: ``no_grad``, ``enable_grad``, ``set_grad_enabled``."""
from __future__ import annotations

import functools
import threading


class _State(threading.local):
    enabled = True
    anomaly = False


state = _State()


def is_grad_enabled() -> bool:
    return state.enabled


class _GradMode:
    """Base of the grad-mode switches: a context manager and a function decorator."""

    _mode = True

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = self._mode

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__() if not isinstance(self, set_grad_enabled) \
                    else set_grad_enabled(self._mode):
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Ops inside run without recording the graph (for updates and evaluation).

    >>> with nb.no_grad():
    ...     w -= lr * w.grad
    """

    _mode = False


class enable_grad(_GradMode):
    """Record the graph again inside a ``no_grad`` block."""

    _mode = True


class set_grad_enabled(_GradMode):
    """Switch recording on or off; takes effect at once, and also works with ``with``."""

    def __init__(self, mode: bool):
        self._mode = bool(mode)
        self._prev = state.enabled
        state.enabled = self._mode

    def __enter__(self):
        pass  # already switched in __init__, like PyTorch


class set_detect_anomaly:
    """``set_detect_anomaly(True)``: backward checks every gradient for NaN and names the
    forward op (with the line of code that ran it) whose backward produced it."""

    def __init__(self, mode: bool):
        self._prev = state.anomaly
        state.anomaly = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        state.anomaly = self._prev
        return False


class detect_anomaly(set_detect_anomaly):
    """Context manager form: ``with detect_anomaly(): ...``."""

    def __init__(self):
        super().__init__(True)


def is_anomaly_enabled() -> bool:
    return state.anomaly
