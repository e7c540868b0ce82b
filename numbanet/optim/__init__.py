"""``numbanet.optim``: optimizers and learning-rate schedulers with PyTorch's update rules.

>>> optimizer = optim.Adam(model.parameters(), lr=1e-4)
>>> optimizer.zero_grad(); loss.backward(); optimizer.step()
"""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]
