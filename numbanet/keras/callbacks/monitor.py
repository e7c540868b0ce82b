"""``MonitorCallback``: what EarlyStopping and ModelCheckpoint share, watching one
logged quantity (``monitor``, e.g. ``'val_loss'``) and deciding what counts as better."""
from __future__ import annotations

import math
import numbers
import warnings

from .callback import Callback

# Quantities that improve upwards; everything else (losses, errors) improves downwards.
_INCREASING = ("accuracy", "acc", "binary_accuracy", "categorical_accuracy",
               "sparse_categorical_accuracy")


def check_baseline(baseline, cls: str) -> None:
    if baseline is not None and (isinstance(baseline, bool)
                                 or not isinstance(baseline, numbers.Real)):
        raise TypeError(f"{cls}: baseline must be a number or None, got "
                        f"{type(baseline).__name__}")


class MonitorCallback(Callback):
    """``mode``: 'min' (lower is better), 'max', or 'auto': 'max' for accuracies,
    'min' for losses and errors. An improvement must beat the best by ``min_delta``."""

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", baseline=None,
                 min_delta: float = 0):
        super().__init__()
        cls = type(self).__name__
        if not isinstance(monitor, str):
            raise TypeError(f"{cls}: monitor must be the name of a logged quantity, e.g. "
                            f"'val_loss', got {type(monitor).__name__}")
        check_baseline(baseline, cls)
        if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real):
            raise TypeError(f"{cls}: min_delta must be a number, got {min_delta!r}")
        if math.isnan(min_delta):
            raise ValueError(f"{cls}: min_delta must be a number, got nan")
        if not isinstance(mode, str) or mode not in ("auto", "min", "max"):
            raise ValueError(f"{type(self).__name__}: mode must be 'auto', 'min' or 'max', got "
                             f"{mode!r}")
        self.monitor, self.mode = monitor, mode
        self.best = baseline
        self.min_delta = abs(min_delta)

    @property
    def increasing(self) -> bool:
        if self.mode != "auto":
            return self.mode == "max"
        name = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
        return name in _INCREASING

    def is_improvement(self, value: float, reference) -> bool:
        if reference is None:
            return True
        if self.increasing:
            return value - self.min_delta > reference
        return value + self.min_delta < reference

    def monitored_value(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"{type(self).__name__} is watching {self.monitor!r}, which is not in "
                          f"the logs; available: {sorted(logs or {})}. Set monitor= to one of "
                          "them (val_* needs validation data)", stacklevel=3)
        return value
