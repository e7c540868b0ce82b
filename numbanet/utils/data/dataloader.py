"""``DataLoader``: batches from a data set, loaded ahead of use in background threads.

Training on a GPU (or a fast CPU kernel) often waits for data: reading, decoding and
stacking samples is Python work done between two training steps. The loader's answer
is to do that work *while the model trains*: with ``num_workers=W``, W threads load
the coming batches, each into a small queue, and the training loop only picks up
finished batches.

How the threads share the work, and why the order is kept::

    batch:    0   1   2   3   4   5   6 ...
    worker:   0   1   0   1   0   1   0 ...     (W = 2; batch k goes to worker k % W)

Worker ``w`` loads batches ``w, w + W, w + 2W, ...`` in turn into its own queue of
``prefetch_factor`` slots, and the loop takes batch ``k`` from queue ``k % W``. So
batches come out in order, and at most ``prefetch_factor * W`` finished batches wait
in memory; a worker whose queue is full waits. Threads (not processes) suffice
because the slow parts of loading release Python's GIL: file reads, ``time.sleep``,
NumPy and most decoders.
"""
from __future__ import annotations

import queue
import threading
import traceback

import numpy as np

from ...device import as_device
from ...random import host_generator
from ...tensor import Tensor
from .collate import default_collate
from .dataset import TensorDataset

# How often a waiting thread looks up from a queue to check for a stop request (seconds),
# and how long closing the loader waits for a worker still loading a batch.
_POLL = 0.05
_JOIN_TIMEOUT = 10.0


class DataLoader:
    """Iterate over ``dataset`` in batches: ``for x, y in DataLoader(ds, batch_size=32)``.

    - ``shuffle``: a new random order every epoch, drawn from the generator that
      ``nb.manual_seed`` seeds, when the iteration starts (so a seeded run repeats,
      whatever ``num_workers`` is).
    - ``sampler``: the sample indices of an epoch, in order (any iterable with a length,
      e.g. ``numbanet.distributed.DistributedSampler``, whose ``set_epoch`` draws each
      epoch's share); it replaces ``shuffle``, as in PyTorch.
    - ``drop_last``: leave out the last batch when it is smaller than ``batch_size``.
    - ``collate_fn(samples) -> batch``: how a list of samples becomes a batch
      (``default_collate``: stack tensors, arrays and numbers, keep tuples and dicts).
    - ``num_workers``: threads that load batches in the background (0: load each batch
      in the loop, when it is asked for); ``prefetch_factor``: batches each worker may
      load ahead.
    - ``device``: move every tensor of a batch to this device as part of loading it (with
      workers, in the worker, so the copy is done before the loop asks for the batch).
      On CUDA that copy is the backend's ``from_host`` (``cuda.to_device``): the loop
      does not wait for it, but it runs on the default stream like every kernel, so
      the GPU does the copy between kernels rather than during them.

    An exception in a worker is raised in the loop, at the batch it belongs to, with
    its message, the sample index and the worker's traceback. Leaving the loop early
    stops the workers (each after the batch it is loading) and waits for them to end.

    >>> loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, num_workers=2)
    >>> len(loader)            # batches per epoch
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, sampler=None,
                 num_workers: int = 0, drop_last: bool = False, collate_fn=None,
                 prefetch_factor: int = 2, device=None):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader needs a data set with __len__ and __getitem__, got a "
                            f"{type(dataset).__name__}; wrap tensors in TensorDataset(x, y) or "
                            "subclass numbanet.utils.data.Dataset")
        _check_count("batch_size", batch_size, minimum=1)
        _check_count("num_workers", num_workers, minimum=0)
        _check_count("prefetch_factor", prefetch_factor, minimum=1)
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be a function f(samples) -> batch, got "
                            f"a {type(collate_fn).__name__}")
        if sampler is not None:
            if shuffle:
                raise ValueError("DataLoader: sampler and shuffle=True cannot be used together "
                                 "(the sampler decides the order); leave shuffle out, or give "
                                 "the sampler its own shuffle option")
            if not (hasattr(sampler, "__iter__") and hasattr(sampler, "__len__")):
                raise TypeError(f"DataLoader: sampler must be an iterable of sample indices "
                                f"with a length, got a {type(sampler).__name__}")
        self.dataset = dataset
        self.sampler = sampler
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.num_workers = num_workers
        self.drop_last = bool(drop_last)
        self.collate_fn = default_collate if collate_fn is None else collate_fn
        self.prefetch_factor = prefetch_factor
        self.device = None if device is None else as_device(device)
        if self.device is not None and self.device.type == "cuda":
            from ... import cuda
            if not cuda.is_available():
                raise RuntimeError(f"DataLoader(device='{self.device}'): CUDA is not available "
                                   "here; leave device out to keep batches on the CPU, or set "
                                   "NUMBA_ENABLE_CUDASIM=1 before importing numbanet to use "
                                   "Numba's (slow) CUDA simulator")

    def __len__(self) -> int:
        """The number of batches in one epoch."""
        n = len(self.dataset if self.sampler is None else self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        """One epoch. The order is drawn now, so ``manual_seed(s); iter(loader)`` repeats."""
        batches = self._batch_indices()
        if self.num_workers == 0:
            return map(self._load, batches)  # each batch loaded when the loop asks for it
        return _prefetch(self._load, batches, self.num_workers, self.prefetch_factor)

    def _batch_indices(self) -> list:
        """This epoch's batches, as arrays of sample indices."""
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
        elif self.shuffle:
            order = host_generator().permutation(len(self.dataset))
        else:
            order = np.arange(len(self.dataset))
        n = order.shape[0]
        end = n - n % self.batch_size if self.drop_last else n
        return [order[start:start + self.batch_size] for start in range(0, end, self.batch_size)]

    def _load(self, indices) -> object:
        """Fetch, collate and move one batch (in a worker thread when num_workers > 0)."""
        if self._gathers_whole_batches():
            batch = self.dataset.gather(indices)
        else:
            batch = self.collate_fn([_fetch(self.dataset, int(i)) for i in indices])
        return batch if self.device is None else _to_device(batch, self.device)

    def _gathers_whole_batches(self) -> bool:
        """Whether stacking ``dataset[i]`` one by one can be replaced by one index op per
        tensor: a TensorDataset whose ``__getitem__`` is the plain one, collated by
        ``default_collate``. Both give the same batch; the gather is much faster."""
        return (isinstance(self.dataset, TensorDataset) and self.collate_fn is default_collate
                and type(self.dataset).__getitem__ is TensorDataset.__getitem__)


def _check_count(name, value, minimum):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"DataLoader: {name} must be an int >= {minimum}, got {value!r}")


def _fetch(dataset, index: int):
    """``dataset[index]``; an error raised there is noted with the sample index."""
    try:
        return dataset[index]
    except Exception as e:
        e.add_note(f"DataLoader: raised by dataset[{index}] (sample index {index})")
        raise


def _to_device(batch, device):
    """Every tensor in ``batch`` (also inside tuples, lists and dicts) moved to ``device``."""
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {key: _to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, (tuple, list)):
        moved = [_to_device(value, device) for value in batch]
        if hasattr(batch, "_fields"):
            return type(batch)(*moved)
        return tuple(moved) if isinstance(batch, tuple) else moved
    return batch


# ---- background loading --------------------------------------------------------------------

def _prefetch(load, batches, num_workers, prefetch_factor):
    """Yield ``load(b)`` for each ``b`` in ``batches``, in order, loaded by worker threads.

    A generator, so that the ``finally`` below stops the workers in every way an epoch
    can end: all batches taken, an exception, or the loop left early (the generator is
    then closed when it is dropped).
    """
    workers = min(num_workers, len(batches))
    stop = threading.Event()
    queues = [queue.Queue(maxsize=prefetch_factor) for _ in range(workers)]
    threads = [threading.Thread(target=_work, name=f"DataLoader worker {w}", daemon=True,
                                args=(load, batches, w, workers, queues[w], stop))
               for w in range(workers)]
    for t in threads:
        t.start()
    try:
        for k in range(len(batches)):
            item = _take(queues[k % workers], threads[k % workers], k)
            if isinstance(item, _WorkerError):
                item.reraise()
            yield item
    finally:
        stop.set()
        for q in queues:  # free a slot, so that a worker waiting to put sees the stop at once
            _drain(q)
        for t in threads:
            t.join(_JOIN_TIMEOUT)


def _work(load, batches, worker, workers, out, stop):
    """A worker thread: load batches worker, worker + workers, ... into ``out`` until done,
    stopped, or an error (which is passed on in place of the batch)."""
    for k in range(worker, len(batches), workers):
        if stop.is_set():
            return
        try:
            item = load(batches[k])
        except BaseException as e:  # noqa: B036 (everything goes to the loop, which re-raises)
            item = _WorkerError(e, worker)
        while not stop.is_set():
            try:
                out.put(item, timeout=_POLL)
                break
            except queue.Full:
                continue
        if isinstance(item, _WorkerError):
            return


def _take(q, thread, k):
    """Batch ``k`` from its worker's queue, waiting as long as the worker is alive."""
    while True:
        try:
            return q.get(timeout=_POLL)
        except queue.Empty:
            if not thread.is_alive() and q.empty():
                raise RuntimeError(f"DataLoader: {thread.name} stopped without delivering batch "
                                   f"{k}") from None


def _drain(q):
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return


class _WorkerError:
    """An exception caught in a worker, carried to the loop in place of its batch."""

    def __init__(self, error: BaseException, worker: int):
        self.type = type(error)
        notes = "".join(f"\n{note}" for note in getattr(error, "__notes__", ()))
        frames = "".join(traceback.format_tb(error.__traceback__))
        self.message = _Message(
            f"Caught {type(error).__name__} in DataLoader worker {worker}: {error}{notes}\n\n"
            f"Original traceback (most recent call last):\n{frames}"
            f"{type(error).__name__}: {error}")

    def reraise(self):
        try:
            error = self.type(self.message)
        except Exception:  # an exception type that can't be made from a message alone
            error = RuntimeError(self.message)
        raise error


class _Message(str):
    """A message whose repr is itself: ``KeyError(message)`` then prints it readably."""

    def __repr__(self):
        return str(self)
