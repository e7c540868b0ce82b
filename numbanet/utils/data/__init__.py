"""``numbanet.utils.data``: data sets and the loader that turns them into batches.

A ``Dataset`` answers two questions, how many samples (``len``) and which is the
i-th (``dataset[i]``). A ``DataLoader`` draws the order, groups indices into
batches, fetches the samples, stacks them with ``default_collate`` and, with
``num_workers > 0``, does all that in background threads while the model trains::

    from numbanet.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, num_workers=2)
    for epoch in range(10):
        for xb, yb in loader:        # a new order every epoch
            ...
"""
from .collate import default_collate
from .dataloader import DataLoader
from .dataset import Dataset, TensorDataset

__all__ = ["DataLoader", "Dataset", "TensorDataset", "default_collate"]
