"""``get_worker_info``: which ``DataLoader`` worker is running the code that asks.

numbanet's workers are threads of one process (see ``dataloader.py``). Each has its own
shallow copy of the data set (``WorkerInfo.dataset``), so that ``worker_init_fn`` or
``IterableDataset.__iter__`` may set attributes on it for this worker alone (as PyTorch's
worker processes, each with its own copy, allow); the arrays and tensors inside are
shared, not copied. The threads share the process's random state: a worker that needs
draws of its own makes a generator from ``WorkerInfo.seed``.
"""
from __future__ import annotations

import threading

_local = threading.local()


class WorkerInfo:
    """What a worker knows about itself: ``id`` (0 to ``num_workers - 1``),
    ``num_workers``, ``seed`` (the loader's base seed, drawn each epoch from its
    ``generator``, plus ``id``), ``dataset`` (this worker's copy) and ``worker_method``
    (``'thread'``). Read-only."""

    __slots__ = ("id", "num_workers", "seed", "dataset", "worker_method")

    def __init__(self, id: int, num_workers: int, seed: int, dataset) -> None:
        for name, value in (("id", id), ("num_workers", num_workers), ("seed", seed),
                            ("dataset", dataset), ("worker_method", "thread")):
            object.__setattr__(self, name, value)

    def __setattr__(self, key, value):
        raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in
                           ("id", "num_workers", "seed", "dataset"))
        return f"{type(self).__name__}({fields})"


def get_worker_info() -> WorkerInfo | None:
    """This worker's ``WorkerInfo`` when called in a ``DataLoader`` worker (in the data
    set's ``__getitem__``/``__iter__``, ``collate_fn`` or ``worker_init_fn``); ``None`` in
    the main thread, or with ``num_workers=0``."""
    return getattr(_local, "info", None)


def set_worker_info(info: WorkerInfo | None) -> None:
    """Declare the calling thread a worker (``None``: no longer one)."""
    _local.info = info
