"""``ModelCheckpoint``: save the model (or its weights) during training."""
from __future__ import annotations

import os

from ...distributed.runtime import is_primary
from .monitor import MonitorCallback


class ModelCheckpoint(MonitorCallback):
    """Saves after every epoch (or every ``save_freq`` batches).

    ``filepath`` may hold fields filled from the epoch (counted from 1) and the logs::

        ModelCheckpoint("ckpt/model-{epoch:02d}-{val_loss:.3f}.keras")
        ModelCheckpoint("best.weights.npz", save_weights_only=True, save_best_only=True)

    Args:
        save_best_only: save only when ``monitor`` improved (so the file holds the
            best model so far).
        save_weights_only: ``model.save_weights`` (a ``.weights.npz`` file) instead of
            ``model.save`` (a ``.keras`` file).
        save_freq: ``'epoch'``, or a number of batches.
        initial_value_threshold: the value to beat for the first save with
            ``save_best_only``.

    In a distributed ``fit`` only rank 0 saves (all ranks hold the same weights).
    """

    def __init__(self, filepath, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose, self.save_best_only = verbose, save_best_only
        self.save_weights_only, self.save_freq = save_weights_only, save_freq
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq < 1):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive number "
                             f"of batches, got {save_freq!r}")
        suffix = ".weights.npz" if save_weights_only else ".keras"
        if not self.filepath.endswith(suffix):
            what = "the weights" if save_weights_only else "a whole model"
            raise ValueError(f"ModelCheckpoint: the file for {what} must end in {suffix}, got "
                             f"filepath={self.filepath!r}")
        self._epoch = 0
        self._batches = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def wants_batch_hooks(self, group: str) -> bool:
        return group == "train_batch" and self.save_freq != "epoch"

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches += 1
        if self._batches >= self.save_freq:
            self._batches = 0
            self._save(self._epoch, dict(logs or {}), batch)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, dict(logs or {}))

    def _save(self, epoch: int, logs: dict, batch: int | None = None) -> None:
        if not is_primary():
            return
        fields = dict(logs, epoch=epoch + 1)
        if batch is not None:
            fields["batch"] = batch + 1
        try:
            path = self.filepath.format(**fields)
        except (KeyError, IndexError) as e:
            raise KeyError(f"ModelCheckpoint: can't fill the filepath {self.filepath!r}: no "
                           f"value for {e}; the fields available are {sorted(fields)}") from None
        if self.save_best_only:
            current = self.monitored_value(logs)
            if current is not None:
                if not self.is_improvement(current, self.best):
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from "
                              f"{self.best:.5f}")
                    return
                if self.verbose > 0:
                    best = "None" if self.best is None else f"{self.best:.5f}"
                    print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                          f"{current:.5f}, saving model to {path}")
                self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
