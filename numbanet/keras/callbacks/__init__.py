"""``numbanet.keras.callbacks``: hooks into ``fit``, with Keras's names and order.

>>> callbacks = [keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True),
...              keras.callbacks.ModelCheckpoint("best.keras", save_best_only=True),
...              keras.callbacks.CSVLogger("training.csv")]
>>> model.fit(x, y, epochs=50, validation_split=0.2, callbacks=callbacks)
"""
from .callback import Callback, CallbackList
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .history import History
from .lambda_callback import LambdaCallback
from .model_checkpoint import ModelCheckpoint
from .progbar_logger import ProgbarLogger
from .tensorboard import TensorBoard
from .terminate_on_nan import TerminateOnNaN

__all__ = ["Callback", "CallbackList", "CSVLogger", "EarlyStopping", "History",
           "LambdaCallback", "ModelCheckpoint", "ProgbarLogger", "TensorBoard",
           "TerminateOnNaN"]
