"""``History``: what ``fit`` returns, the epoch-by-epoch record of loss and metrics."""
from __future__ import annotations

from .callback import Callback


class History(Callback):
    """Records the logs of every epoch.

    >>> history = model.fit(x, y, epochs=3, validation_split=0.2, verbose=0)
    >>> sorted(history.history)
    ['loss', 'val_loss']
    >>> history.epoch
    [0, 1, 2]

    ``history.history`` maps each name to its list of per-epoch values;
    ``history.params`` holds ``verbose``, ``epochs`` and ``steps`` (batches per epoch);
    ``history.plot()`` draws the curves.
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(value)
        self.model.history = self

    def plot(self, metrics=None, ax=None):
        """Plot the training curves with matplotlib and return the ``Figure``: one axes per
        metric, with its validation twin (``loss`` and ``val_loss``, ``accuracy`` and
        ``val_accuracy``) on the same axes.

        ``metrics`` picks some (``history.plot(['loss'])``); ``ax`` is one matplotlib
        Axes per metric plotted, to draw into instead of a new figure. matplotlib is
        optional: ``pip install "numbanet[notebooks]"``.
        """
        from ...viz.plots import plot_history
        return plot_history(self.history, metrics=metrics, ax=ax,
                            epochs=[e + 1 for e in self.epoch])

    def __repr__(self) -> str:
        return f"<History epochs={len(self.epoch)} keys={sorted(self.history)}>"
