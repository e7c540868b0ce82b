"""``numbanet.optim``: optimizers and learning-rate schedulers with PyTorch's update rules.

>>> optimizer = optim.Adam(model.parameters(), lr=1e-4)
>>> optimizer.zero_grad(); loss.backward(); optimizer.step()
"""
from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["ASGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS", "NAdam",
           "Optimizer", "RAdam", "RMSprop", "SGD", "lr_scheduler"]
