"""``LambdaCallback``: a callback made of functions, for one-off needs.

>>> print_loss = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
>>> model.fit(x, y, epochs=5, callbacks=[print_loss], verbose=0)
"""
from __future__ import annotations

from .callback import _GROUPS, Callback

_HOOKS = ("on_epoch_begin", "on_epoch_end", "on_train_begin", "on_train_end",
          "on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end",
          "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
          "on_predict_begin", "on_predict_end", "on_predict_batch_begin",
          "on_predict_batch_end")


class LambdaCallback(Callback):
    """Calls the functions given for the hooks of the same names: epoch and batch hooks
    get ``(index, logs)``, the begin/end hooks of train, test and predict get ``(logs)``."""

    def __init__(self, **hooks):
        super().__init__()
        unknown = sorted(set(hooks) - set(_HOOKS))
        if unknown:
            raise TypeError(f"LambdaCallback: unknown hook(s) {unknown}; expected some of "
                            f"{list(_HOOKS)}")
        self._hooks = {name: fn for name, fn in hooks.items() if fn is not None}
        for name, fn in self._hooks.items():
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be a function, got "
                                f"{type(fn).__name__}")
            setattr(self, name, fn)

    def wants_batch_hooks(self, group: str) -> bool:
        return any(hook in self._hooks for hook in _GROUPS[group])
