"""``TensorBoard``: training curves in files that TensorBoard displays.

>>> model.fit(x, y, epochs=10, validation_split=0.2,
...           callbacks=[keras.callbacks.TensorBoard(log_dir="logs")])

then ``tensorboard --logdir logs``. As in Keras, the scalars of each epoch go to
``logs/train`` (``epoch_loss``, ``epoch_accuracy``, ``epoch_learning_rate``...) and
to ``logs/validation`` (the ``val_`` values, under the same tags), so TensorBoard
draws training and validation on one chart. With ``update_freq=N`` the training
loss and metrics are also written every N batches (``batch_loss``...). The files
are written by ``numbanet.keras.event_file``, without TensorFlow.
"""
from __future__ import annotations

import os
import time

from ...distributed.runtime import is_primary
from ..event_file import EventFileWriter
from .callback import Callback


class TensorBoard(Callback):
    """Writes epoch scalars (and, with ``update_freq=N``, batch scalars) to ``log_dir``.

    Args:
        log_dir: the folder of the run; ``train`` and ``validation`` go inside.
        update_freq: ``'epoch'``, or write the training values every N batches.
        write_steps_per_second: also log the training speed, ``epoch_steps_per_second``.

    In a distributed ``fit`` only rank 0 writes event files.
    """

    def __init__(self, log_dir="logs", update_freq="epoch",
                 write_steps_per_second: bool = False):
        super().__init__()
        if update_freq != "epoch" and (isinstance(update_freq, bool)
                                       or not isinstance(update_freq, int) or update_freq < 1):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch' or a positive number of "
                             f"batches, got {update_freq!r}")
        self.log_dir = os.fspath(log_dir)
        self.update_freq = update_freq
        self.write_steps_per_second = write_steps_per_second
        self._writers: dict = {}
        self._global_batch = 0
        self._epoch_start = 0.0

    def _writer(self, kind: str) -> EventFileWriter:
        if kind not in self._writers:
            self._writers[kind] = EventFileWriter(os.path.join(self.log_dir, kind))
        return self._writers[kind]

    def wants_batch_hooks(self, group: str) -> bool:
        return group == "train_batch" and self.update_freq != "epoch"

    def on_train_begin(self, logs=None):
        self._global_batch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or not is_primary():
            return
        self._global_batch += 1
        if self._global_batch % self.update_freq == 0:
            values = {f"batch_{k}": v for k, v in dict(logs or {}).items()}
            self._writer("train").add_scalars(values, self._global_batch)

    def on_epoch_end(self, epoch, logs=None):
        if not is_primary():
            return
        logs = dict(logs or {})
        train = {f"epoch_{k}": v for k, v in logs.items() if not k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            train["epoch_learning_rate"] = optimizer.learning_rate
        if self.write_steps_per_second:
            seconds = time.perf_counter() - self._epoch_start
            train["epoch_steps_per_second"] = self.params.get("steps", 0) / max(seconds, 1e-9)
        self._writer("train").add_scalars(train, epoch)
        val = {f"epoch_{k[4:]}": v for k, v in logs.items() if k.startswith("val_")}
        if val:
            self._writer("validation").add_scalars(val, epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
