"""``numbanet.utils``: helpers around training; ``utils.data`` feeds a model its batches."""
from . import data

__all__ = ["data"]
