"""``numbanet.nn``: modules, layers and losses with PyTorch's semantics."""
from . import functional, init
from .layers import (Dropout, Flatten, Identity, LeakyReLU, Linear, LogSoftmax, ReLU,
                     Sigmoid, Softmax, Tanh)
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import Module, ModuleDict, ModuleList, Sequential
from .parameter import Parameter

__all__ = ["Module", "ModuleDict", "ModuleList", "Parameter", "Sequential",
           "functional", "init",
           "Linear", "Identity", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax",
           "LogSoftmax", "Dropout", "Flatten",
           "MSELoss", "L1Loss", "NLLLoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss"]
