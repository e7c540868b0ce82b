"""``CSVLogger``: one row per epoch in a CSV file (epoch, then the logs by name)."""
from __future__ import annotations

import csv
import os

from ...distributed.runtime import is_primary
from .callback import Callback


class CSVLogger(Callback):
    """Writes ``epoch,loss,...`` rows as training goes on (epochs counted from 0, as in
    Keras). With ``append=True`` a file from an earlier run is continued. In a
    distributed ``fit`` only rank 0 writes (the logs are the same on every rank)."""

    def __init__(self, filename, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys = None
        self._file = self._writer = None

    def on_train_begin(self, logs=None):
        if not is_primary():
            return
        resuming = self.append and os.path.exists(self.filename) and \
            os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer = None
        self.keys = None
        if resuming:
            with open(self.filename, newline="") as f:
                header = next(csv.reader(f, delimiter=self.sep), None)
            if header:
                self.keys = header[1:]

    def on_epoch_end(self, epoch, logs=None):
        if not is_primary():
            return
        logs = dict(logs or {})
        if self.keys is None:
            self.keys = sorted(logs)
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self.keys,
                                          delimiter=self.sep, extrasaction="ignore")
            if self._file.tell() == 0:
                self._writer.writeheader()
        row = {"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}}
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
        self._file = self._writer = None
