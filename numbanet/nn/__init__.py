"""``numbanet.nn``: modules, layers and losses with PyTorch's semantics."""
from .module import Module, ModuleDict, ModuleList, Sequential
from .parameter import Parameter

__all__ = ["Module", "ModuleDict", "ModuleList", "Parameter", "Sequential"]
