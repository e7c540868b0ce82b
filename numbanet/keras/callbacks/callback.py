"""``Callback``: code that ``fit``, ``evaluate`` and ``predict`` run at fixed points.

A callback overrides the hooks it needs; each gets the epoch or batch index and a
``logs`` dict of the current metric values. During ``fit`` they are called in this
order (Keras's)::

    on_train_begin
      on_epoch_begin(epoch)
        on_train_batch_begin(batch), on_train_batch_end(batch, logs)   for each batch
        on_test_begin, on_test_batch_begin/end..., on_test_end         with validation data
      on_epoch_end(epoch, logs)            logs: loss, metrics, val_loss, val_<metric>
    on_train_end(logs)

``self.model`` is the model being trained and ``self.params`` holds ``verbose``,
``epochs`` and ``steps`` (batches per epoch). A callback stops training with
``self.model.stop_training = True``.

Batch logs hold running means over the epoch so far; their values are read from
the device only when a callback looks at them.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Callable

_GROUPS = {
    "train_batch": ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin",
                    "on_batch_end"),
    "test_batch": ("on_test_batch_begin", "on_test_batch_end"),
    "predict_batch": ("on_predict_batch_begin", "on_predict_batch_end"),
}


class Callback:
    """Base class of callbacks: every hook does nothing."""

    def __init__(self):
        self.params: dict = {}
        self._model = None

    def set_params(self, params: dict) -> None:
        self.params = params

    def set_model(self, model) -> None:
        self._model = model

    @property
    def model(self):
        return self._model

    def wants_batch_hooks(self, group: str) -> bool:
        """Whether ``fit`` must call this callback's hooks of ``group`` ('train_batch',
        'test_batch' or 'predict_batch'): by default, when it overrides one of them."""
        return any(getattr(type(self), hook) is not getattr(Callback, hook)
                   for hook in _GROUPS[group])

    # Keras 1 names of the training batch hooks; the new hooks call them.
    def on_batch_begin(self, batch: int, logs=None):
        pass

    def on_batch_end(self, batch: int, logs=None):
        pass

    def on_epoch_begin(self, epoch: int, logs=None):
        pass

    def on_epoch_end(self, epoch: int, logs=None):
        pass

    def on_train_batch_begin(self, batch: int, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs=None):
        self.on_batch_end(batch, logs)

    def on_test_batch_begin(self, batch: int, logs=None):
        pass

    def on_test_batch_end(self, batch: int, logs=None):
        pass

    def on_predict_batch_begin(self, batch: int, logs=None):
        pass

    def on_predict_batch_end(self, batch: int, logs=None):
        pass

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass


class LazyLogs(Mapping):
    """Batch logs computed on first access (``logs['loss']``, ``dict(logs)``...)."""

    __slots__ = ("_compute", "_values")

    def __init__(self, compute: Callable[[], dict]):
        self._compute = compute
        self._values = None

    def _get(self) -> dict:
        if self._values is None:
            self._values = self._compute()
        return self._values

    def __getitem__(self, key):
        return self._get()[key]

    def __iter__(self):
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def copy(self) -> dict:
        return dict(self._get())

    def __repr__(self) -> str:
        return repr(self._get())


class CallbackList:
    """Calls a list of callbacks, skipping the per-batch hooks nobody overrides."""

    def __init__(self, callbacks, model, **params):
        if callbacks is None:
            callbacks = []
        elif isinstance(callbacks, Callback):
            callbacks = [callbacks]
        if not isinstance(callbacks, (list, tuple)) or \
                not all(isinstance(cb, Callback) for cb in callbacks):
            got = type(callbacks).__name__ if not isinstance(callbacks, (list, tuple)) else \
                f"a {type(callbacks).__name__} holding " + \
                ", ".join(sorted({type(cb).__name__ for cb in callbacks
                                 if not isinstance(cb, Callback)}))
            raise TypeError(f"callbacks must be a list of keras.callbacks.Callback instances, "
                            f"got {got}")
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(dict(params))
        self.wants = {group: any(cb.wants_batch_hooks(group) for cb in self.callbacks)
                      for group in _GROUPS}

    def append(self, callback: Callback, model, **params) -> None:
        callback.set_model(model)
        callback.set_params(dict(params))
        self.callbacks.append(callback)
        for group in _GROUPS:
            self.wants[group] = self.wants[group] or callback.wants_batch_hooks(group)

    def call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def __iter__(self):
        return iter(self.callbacks)
