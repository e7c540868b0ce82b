"""``numbanet.utils.data``: data sets and the loader that turns them into batches, with
``torch.utils.data``'s names, arguments and behaviour.

A ``Dataset`` answers two questions, how many samples (``len``) and which is the
i-th (``dataset[i]``); an ``IterableDataset`` is a stream of samples. A ``DataLoader``
draws the order (a sampler), groups indices into batches (a ``BatchSampler``), fetches
the samples, stacks them with ``default_collate`` and, with ``num_workers > 0``, does all
that in background threads while the model trains::

    from numbanet.utils.data import DataLoader, TensorDataset, random_split

    train, val = random_split(TensorDataset(x, y), [0.8, 0.2])
    loader = DataLoader(train, batch_size=32, shuffle=True, num_workers=2)
    for epoch in range(10):
        for xb, yb in loader:        # a new order every epoch
            ...
"""
from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from .worker import WorkerInfo, get_worker_info

__all__ = ["BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
           "DistributedSampler", "IterableDataset", "RandomSampler", "Sampler",
           "SequentialSampler", "StackDataset", "Subset", "SubsetRandomSampler",
           "TensorDataset", "WeightedRandomSampler", "WorkerInfo", "default_collate",
           "default_convert", "get_worker_info", "random_split"]


def __getattr__(name):
    """``DistributedSampler``, as ``torch.utils.data`` has it: ``numbanet.distributed``'s,
    imported when first asked for (``numbanet.distributed`` sits above this package)."""
    if name == "DistributedSampler":
        from ...distributed import DistributedSampler
        return DistributedSampler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
