"""``TerminateOnNaN``: stop ``fit`` at the first batch whose loss is NaN or infinite."""
from __future__ import annotations

import math

from .callback import Callback


class TerminateOnNaN(Callback):
    """Stops training as soon as the loss stops being a finite number (NaN or inf in
    the data, or a learning rate that makes the weights diverge), as Keras's does.

    >>> model.fit(x, y, epochs=100, callbacks=[keras.callbacks.TerminateOnNaN()])

    The loss is read from the device after every batch, which costs a little time.
    """

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
