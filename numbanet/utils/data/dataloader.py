"""``DataLoader``: batches from a data set, loaded ahead of use in background threads.

Training on a GPU (or a fast CPU kernel) often waits for data: reading, decoding and
stacking samples is Python work done between two training steps. The loader's answer
is to do that work *while the model trains*: with ``num_workers=W``, W threads load
the coming batches, and the training loop only picks up finished batches.

How the threads share the work, and why the order is kept::

    batch:    0   1   2   3   4   5   6 ...
    worker:   0   1   0   1   0   1   0 ...     (W = 2; batch k goes to worker k % W)

The loop draws the sample indices of each batch (from the sampler, lazily: a sampler may
be endless) and hands batch ``k`` to worker ``k % W``, which loads its batches in turn
into its own queue; the loop takes batch ``k`` from queue ``k % W``. So batches come out
in order. The loop hands out a new batch each time it takes one, so ``prefetch_factor *
W`` batches are loaded ahead, as in PyTorch. Threads (not processes) suffice because the
slow parts of loading release Python's GIL: file reads, ``time.sleep``, NumPy and most
decoders.

A loader never hangs its caller: the loop waits for a batch in short slices, so Ctrl-C
(``KeyboardInterrupt``) stops it at once, ``timeout=`` bounds the wait, the workers are
daemon threads that never keep the process alive, and the loader waits for a worker that
is still loading for at most ``_JOIN_TIMEOUT`` seconds when the epoch ends. A worker stuck
in ``dataset[i]`` can't be killed, but it loads nothing more once the loop has ended.
"""
from __future__ import annotations

import itertools
import queue
import threading
import time
import traceback

import numpy as np

from ...device import as_device
from ...random import host_generator
from ...tensor import Tensor
from .collate import default_collate
from .dataset import TensorDataset, sample_indices, shown

# How often the loop, waiting for a batch, looks up to check for Ctrl-C, the timeout and a
# dead worker (seconds), and how long, in all, the end of an epoch waits for workers still
# loading a sample (a worker stuck in ``dataset[i]`` is left behind: it is a daemon thread).
_POLL = 0.05
_JOIN_TIMEOUT = 0.5
_FOREVER = 1e15  # seconds (30 million years): a longer timeout, even too long for a float, is none


class DataLoader:
    """Iterate over ``dataset`` in batches: ``for x, y in DataLoader(ds, batch_size=32)``.

    - ``shuffle``: a new random order every epoch, drawn from the generator that
      ``nb.manual_seed`` seeds, when the iteration starts (so a seeded run repeats,
      whatever ``num_workers`` is).
    - ``sampler``: the sample indices of an epoch, in order (any iterable with a length,
      e.g. ``numbanet.distributed.DistributedSampler``, whose ``set_epoch`` draws each
      epoch's share); it replaces ``shuffle``, as in PyTorch.
    - ``batch_sampler``: the batches of an epoch, each an iterable of sample indices; it
      replaces ``batch_size``, ``shuffle``, ``sampler`` and ``drop_last``, as in PyTorch.
      Both are drawn lazily, batch by batch, so they may be endless. A sample index they
      give must be an integer (a Python or NumPy int, a 0-d integer tensor): anything else
      (a float, even 2.0, a bool, a string) raises ``SampleIndexError``, both an
      ``IndexError`` and a ``TypeError``; it is never rounded.
    - ``drop_last``: leave out the last batch when it is smaller than ``batch_size``.
    - ``collate_fn(samples) -> batch``: how a list of samples becomes a batch
      (``default_collate``: stack tensors, arrays and numbers, keep tuples and dicts).
    - ``num_workers``: threads that load batches in the background (0: load each batch
      in the loop, when it is asked for); ``prefetch_factor``: batches each worker may
      load ahead.
    - ``timeout``: the most seconds to wait for a batch from the workers (0, the default:
      no limit); a batch that does not arrive in time raises ``RuntimeError``. It applies
      to worker threads only: with ``num_workers=0`` it has no effect.
    - ``device``: move every tensor of a batch to this device as part of loading it (with
      workers, in the worker, so the copy is done before the loop asks for the batch).
      On CUDA that copy is the backend's ``from_host`` (``cuda.to_device``): the loop
      does not wait for it, but it runs on the default stream like every kernel, so
      the GPU does the copy between kernels rather than during them.

    An exception in a worker is raised in the loop, at the batch it belongs to, with
    its message, the sample index and the worker's traceback. Leaving the loop early (or
    Ctrl-C, or a timeout) stops the workers, each after the sample it is loading; the
    loader waits up to half a second for them to end.

    >>> loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, num_workers=2)
    >>> len(loader)            # batches per epoch
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, sampler=None,
                 batch_sampler=None, num_workers: int = 0, drop_last: bool = False,
                 collate_fn=None, timeout: float = 0, prefetch_factor: int = 2, device=None):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader needs a data set with __len__ and __getitem__, got a "
                            f"{type(dataset).__name__}; wrap tensors in TensorDataset(x, y) or "
                            "subclass numbanet.utils.data.Dataset")
        batch_size = _count("batch_size", batch_size, minimum=1)
        num_workers = _count("num_workers", num_workers, minimum=0)
        prefetch_factor = _count("prefetch_factor", prefetch_factor, minimum=1)
        _check_timeout(timeout)
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be a function f(samples) -> batch, got "
                            f"a {type(collate_fn).__name__}")
        if sampler is not None:
            if shuffle:
                raise ValueError("DataLoader: sampler and shuffle=True cannot be used together "
                                 "(the sampler decides the order); leave shuffle out, or give "
                                 "the sampler its own shuffle option")
            _check_sampler("sampler", sampler, "sample indices")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last: the batch_sampler gives "
                                 "whole batches, so leave those options out")
            _check_sampler("batch_sampler", batch_sampler, "batches of sample indices")
        self.dataset = dataset
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.timeout = timeout
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
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.dataset if self.sampler is None else self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        """One epoch. The order is drawn now, so ``manual_seed(s); iter(loader)`` repeats."""
        batches = self._batch_indices()
        if self.num_workers == 0:
            return map(self._load, batches)  # each batch loaded when the loop asks for it
        return _prefetch(self._load, batches, self.num_workers, self.prefetch_factor,
                         self.timeout)

    def _batch_indices(self):
        """This epoch's batches, as int64 arrays of sample indices: an iterator that draws
        them from the sampler as they are needed (the sampler's iterator is made now)."""
        if self.batch_sampler is not None:
            return (sample_indices(_as_list(batch, b), "DataLoader: the batch_sampler gave "
                                   f"{{value}} in batch {b}, position {{position}}")
                    for b, batch in enumerate(self.batch_sampler))
        if self.sampler is not None:
            return _chunks(iter(self.sampler), self.batch_size, self.drop_last)
        n = len(self.dataset)
        end = n - n % self.batch_size if self.drop_last else n
        starts = range(0, end, self.batch_size)
        if self.shuffle:
            order = host_generator().permutation(n)
            return (order[start:start + self.batch_size] for start in starts)
        return (np.arange(start, min(start + self.batch_size, end)) for start in starts)

    def _load(self, indices, stop=None) -> object:
        """Fetch, collate and move one batch (in a worker thread when num_workers > 0; it
        gives up between two samples once ``stop`` is set)."""
        if len(indices) and self._gathers_whole_batches():  # empty: default_collate says so
            batch = self.dataset.gather(indices)
        else:
            batch = self.collate_fn([_fetch(self.dataset, int(i), stop) for i in indices])
        return batch if self.device is None else _to_device(batch, self.device)

    def _gathers_whole_batches(self) -> bool:
        """Whether stacking ``dataset[i]`` one by one can be replaced by one index op per
        tensor: a TensorDataset whose ``__getitem__`` is the plain one, collated by
        ``default_collate``. Both give the same batch; the gather is much faster."""
        return (isinstance(self.dataset, TensorDataset) and self.collate_fn is default_collate
                and type(self.dataset).__getitem__ is TensorDataset.__getitem__)


def _count(name, value, minimum) -> int:
    """``value`` as a Python int (a NumPy one would mix its unsigned or small type into
    the loader's arithmetic), checked to be an int >= ``minimum``."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"DataLoader: {name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _check_timeout(timeout):
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float, np.integer,
                                                             np.floating)):
        raise TypeError(f"DataLoader: timeout must be a number of seconds >= 0 (0: no limit), "
                        f"got {timeout!r} (a {type(timeout).__name__})")
    if not timeout >= 0:  # NaN too
        raise ValueError(f"timeout option should be non-negative, got {timeout!r}: "
                         "DataLoader(timeout=t) waits at most t seconds for each batch from "
                         "the workers; 0 means no limit")


def _check_sampler(name, sampler, what):
    if not (hasattr(sampler, "__iter__") and hasattr(sampler, "__len__")):
        raise TypeError(f"DataLoader: {name} must be an iterable of {what} with a length, "
                        f"got a {type(sampler).__name__}")


def _as_list(batch, b) -> list:
    """One batch of a batch_sampler, as a list of its indices."""
    try:
        return list(batch)
    except TypeError:
        raise TypeError(f"DataLoader: the batch_sampler gave {shown(batch)} as batch {b}; a "
                        "batch_sampler yields batches (lists of sample indices). To give one "
                        "index at a time, pass it as sampler= instead") from None


def _chunks(samples, batch_size: int, drop_last: bool):
    """Batches of ``batch_size`` sample indices drawn from the iterator ``samples``."""
    for start in itertools.count(0, batch_size):
        chunk = list(itertools.islice(samples, batch_size))
        if not chunk or drop_last and len(chunk) < batch_size:
            return
        yield sample_indices(chunk, "DataLoader: the sampler gave {value} at position "
                             "{position} of the epoch", start)


class _Stopped(Exception):
    """Raised in a worker between two samples when the loop has stopped it."""


def _fetch(dataset, index: int, stop=None):
    """``dataset[index]``; an error raised there is noted with the sample index."""
    if stop is not None and stop.is_set():
        raise _Stopped
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

def _prefetch(load, batches, num_workers, prefetch_factor, timeout):
    """Yield ``load(b)`` for each ``b`` in the iterator ``batches``, in order, loaded by
    worker threads.

    A generator, so that the ``finally`` below stops the workers in every way an epoch
    can end: all batches taken, an exception, or the loop left early (the generator is
    then closed when it is dropped). After a timeout or Ctrl-C, which may come from a
    stuck worker, it does not wait for the workers at all.
    """
    stop = threading.Event()
    # worker w, with its queues of batches to load (None: the end) and of loaded batches,
    # is made when it is handed its first batch
    tasks, results, threads = [], [], []
    handed = 0  # batches handed to the workers so far

    def hand_out() -> bool:
        """Hand the next batch to its worker; False when there is none."""
        nonlocal handed
        indices = next(batches, None)
        if indices is None:
            return False
        w = handed % num_workers
        if w == len(tasks):
            tasks.append(queue.SimpleQueue())
            results.append(queue.SimpleQueue())
            thread = threading.Thread(target=_work, name=f"DataLoader worker {w}",
                                      args=(load, w, tasks[w], results[w], stop), daemon=True)
            thread.start()  # before it is listed, so that the finally never joins it unstarted
            threads.append(thread)
        tasks[w].put(indices)
        handed += 1
        return True

    patience = _JOIN_TIMEOUT
    try:
        while handed < prefetch_factor * num_workers and hand_out():
            pass
        k = 0
        while k < handed:
            try:
                item = _take(results[k % num_workers], threads[k % num_workers], k, timeout)
            except BaseException:  # a timeout or Ctrl-C
                patience = 0.0
                raise
            if isinstance(item, _WorkerError):
                item.reraise()
            hand_out()
            yield item
            k += 1
    finally:
        stop.set()
        for q in tasks:
            q.put(None)
        deadline = time.monotonic() + patience
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))


def _work(load, worker, tasks, out, stop):
    """A worker thread: load the batches it is handed into ``out`` until the end, a stop,
    or an error (which is passed on in place of the batch)."""
    while (indices := tasks.get()) is not None and not stop.is_set():
        try:
            item = load(indices, stop)
        except _Stopped:
            return
        except BaseException as e:  # noqa: B036 (everything goes to the loop, which re-raises)
            item = _WorkerError(e, worker)
        out.put(item)
        if isinstance(item, _WorkerError):
            return


def _take(q, thread, k, timeout):
    """Batch ``k`` from its worker's queue, waiting as long as the worker is alive and, when
    ``timeout`` > 0, at most ``timeout`` seconds; in short slices, so that Ctrl-C is seen."""
    forever = timeout == 0 or timeout > _FOREVER
    deadline = float("inf") if forever else time.monotonic() + timeout
    while True:
        try:
            return q.get(timeout=max(0.0, min(_POLL, deadline - time.monotonic())))
        except queue.Empty:
            if not thread.is_alive() and q.empty():
                raise RuntimeError(f"DataLoader: {thread.name} stopped without delivering batch "
                                   f"{k}") from None
            if time.monotonic() >= deadline:
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds: batch {k} "
                                   f"({thread.name}) did not arrive in time. Make the data "
                                   "set's __getitem__ (or collate_fn) faster, or allow more "
                                   "with a larger timeout= (0: no limit)") from None


class _WorkerError:
    """An exception caught in a worker, carried to the loop in place of its batch."""

    def __init__(self, error: BaseException, worker: int):
        self.type = type(error)
        try:
            text = str(error)
        except Exception:  # a hostile __str__: the type, notes and traceback still tell a lot
            text = "<its str() failed>"
        notes = "".join(f"\n{note}" for note in getattr(error, "__notes__", ()))
        frames = "".join(traceback.format_tb(error.__traceback__))
        self.message = _Message(
            f"Caught {type(error).__name__} in DataLoader worker {worker}: {text}{notes}\n\n"
            f"Original traceback (most recent call last):\n{frames}"
            f"{type(error).__name__}: {text}")

    def reraise(self):
        try:
            error = self.type(self.message)
            str(error)
        except Exception:  # a type that can't be made from, or can't show, a message alone
            error = RuntimeError(self.message)
        raise error


class _Message(str):
    """A message whose repr is itself: ``KeyError(message)`` then prints it readably."""

    def __repr__(self):
        return str(self)
