"""``ProgbarLogger``: the progress display of ``fit``/``evaluate``/``predict``
(``verbose=1`` or ``2``); added by the model itself, see ``keras.progress``."""
from __future__ import annotations

from ..progress import Progbar
from .callback import Callback


class ProgbarLogger(Callback):
    """Prints "Epoch i/n" and a progress line per epoch (or per evaluate/predict run)."""

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream
        self.progbar = None
        self._in_fit = False

    @property
    def verbose(self) -> int:
        verbose = self.params.get("verbose", 1)
        return 1 if verbose == "auto" else int(verbose)

    def wants_batch_hooks(self, group: str) -> bool:
        return self.verbose == 1

    def _new_bar(self):
        self.progbar = Progbar(self.params.get("steps"), verbose=self.verbose,
                               stream=self.stream)

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        epochs = self.params.get("epochs", 1)
        if epochs > 1:
            stream = self.progbar.stream if self.progbar else self.stream
            print(f"Epoch {epoch + 1}/{epochs}", file=stream, flush=True)
        self._new_bar()

    def on_train_batch_end(self, batch, logs=None):
        self.progbar.update(batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        self.progbar.update(self.params.get("steps"), logs, finalize=True)

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._new_bar()

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self.progbar.update(batch + 1, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self.progbar.update(self.params.get("steps"), logs, finalize=True)

    def on_predict_begin(self, logs=None):
        self._new_bar()

    def on_predict_batch_end(self, batch, logs=None):
        self.progbar.update(batch + 1)

    def on_predict_end(self, logs=None):
        self.progbar.update(self.params.get("steps"), finalize=True)
