"""``DataLoader``: batches from a data set, loaded ahead of use in background threads.

Training on a GPU (or a fast CPU kernel) often waits for data: reading, decoding and
stacking samples is Python work done between two training steps. The loader's answer
is to do that work *while the model trains*: with ``num_workers=W``, W threads load
the coming batches, and the training loop only picks up finished batches.

How the threads share the work, and why the order is kept::

    batch:    0   1   2   3   4   5   6 ...
    worker:   0   1   0   1   0   1   0 ...     (W = 2; batch k goes to worker k % W)

The loop draws the sample indices of each batch (from the batch sampler, lazily: a
sampler may be endless) and hands batch ``k`` to worker ``k % W``, which loads its batches
in turn into its own queue; the loop takes batch ``k`` from the queue of the worker it
handed it to. So batches come out in order. The loop hands out a new batch each time it
takes one, so ``prefetch_factor * W`` batches are loaded ahead, as in PyTorch. Threads
(not processes) suffice because the slow parts of loading release Python's GIL: file
reads, ``time.sleep``, NumPy and most decoders.

An ``IterableDataset`` has no indices to hand out: each worker iterates over its own copy
of the data set and makes batches of what it yields, and the loop takes one batch from
each worker in turn, leaving out a worker once its stream has ended (so without sharding
by ``get_worker_info()``, every sample comes once per worker, as in PyTorch).

A loader never hangs its caller: the loop waits for a batch in short slices, so Ctrl-C
(``KeyboardInterrupt``) stops it at once, ``timeout=`` bounds the wait, the workers are
daemon threads that never keep the process alive, and the loader waits for a worker that
is still loading for at most ``_JOIN_TIMEOUT`` seconds when the epoch ends. A worker stuck
in ``dataset[i]`` can't be killed, but it loads nothing more once the loop has ended.
"""
from __future__ import annotations

import collections
import copy
import functools
import itertools
import multiprocessing
import multiprocessing.context
import queue
import threading
import time
import traceback
import warnings

import numpy as np

from ...device import as_device
from ...tensor import Tensor
from .collate import default_collate, default_convert
from .dataset import IterableDataset, Subset, TensorDataset, sample_indices, shown
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from .seeding import draw_seed
from .worker import WorkerInfo, set_worker_info

# How often the loop, waiting for a batch, looks up to check for Ctrl-C, the timeout and a
# dead worker (seconds), and how long, in all, the end of an epoch waits for workers still
# loading a sample (a worker stuck in ``dataset[i]`` is left behind: it is a daemon thread).
_POLL = 0.05
_JOIN_TIMEOUT = 0.5
_FOREVER = 1e15  # seconds (30 million years): a longer timeout, even too long for a float, is none

# attributes that PyTorch's loader refuses to change once it is made
_FIXED = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


class DataLoader:
    """Iterate over ``dataset`` in batches: ``for x, y in DataLoader(ds, batch_size=32)``.

    The arguments, their order, defaults and checks are PyTorch's:

    - ``batch_size``: samples per batch; ``None`` turns batching off (each sample goes
      through ``collate_fn``, by default ``default_convert``, on its own).
    - ``shuffle``: a new random order every epoch (a ``RandomSampler``), drawn from
      ``generator`` when the iteration starts: by default from the generator that
      ``nb.manual_seed`` seeds, so a seeded run repeats, whatever ``num_workers`` is.
    - ``sampler``: the sample indices of an epoch, in order (any iterable, e.g. a
      ``Sampler`` or ``numbanet.distributed.DistributedSampler``); it excludes
      ``shuffle``. ``loader.sampler`` is the sampler in use (``SequentialSampler`` or
      ``RandomSampler`` when none is given).
    - ``batch_sampler``: the batches of an epoch, each an iterable of sample indices; it
      excludes ``batch_size``, ``shuffle``, ``sampler`` and ``drop_last``. Both are drawn
      lazily, batch by batch, so they may be endless. A sample index they give must be
      an integer (a Python or NumPy int, a 0-d integer tensor): anything else (a float,
      even 2.0, a bool, a string) raises ``SampleIndexError``, both an ``IndexError``
      and a ``TypeError``; it is never rounded.
    - ``num_workers``: threads that load batches in the background (0: load each batch
      in the loop, when it is asked for); ``prefetch_factor`` (only with workers,
      default 2): batches each worker may load ahead. Without workers it must be None, as
      in PyTorch 2.
    - ``collate_fn(samples) -> batch``: how a list of samples becomes a batch
      (``default_collate``: stack tensors, arrays and numbers, keep tuples and dicts).
      A data set with ``__getitems__(indices)`` is asked for a batch's samples at once.
    - ``pin_memory``, ``pin_memory_device``: accepted for PyTorch's programs, and no-ops:
      numbanet's host memory needs no pinning (the CUDA copy is ``device=``'s job).
    - ``drop_last``: leave out the last batch when it is smaller than ``batch_size``
      (for an ``IterableDataset``, the last of each worker).
    - ``timeout``: the most seconds to wait for a batch from the workers (0, the default:
      no limit); a batch that does not arrive in time raises ``RuntimeError``. It applies
      to worker threads only: with ``num_workers=0`` it has no effect.
    - ``worker_init_fn(worker_id)``: called in each worker before it loads anything;
      ``get_worker_info()`` there (and in the data set) tells the worker's id, the number
      of workers, its seed and its own (shallow) copy of the data set.
    - ``multiprocessing_context``: checked as PyTorch does, and otherwise unused: the
      workers are threads.
    - ``generator``: draws the shuffled order and the workers' base seed (``None``: the
      generator ``nb.manual_seed`` seeds; or any object with ``initial_seed()``, as
      ``torch.Generator``; see ``seeding.random_state``).
    - ``persistent_workers``: keep each worker's copy of the data set, and what
      ``worker_init_fn`` did to it, from one epoch to the next (``worker_init_fn`` runs
      once per worker, not once per epoch); needs ``num_workers > 0``.
    - ``in_order``: accepted; batches always come in order.
    - ``device`` (numbanet's own, keyword only): move every tensor of a batch to this
      device as part of loading it (with workers, in the worker, so the copy is done
      before the loop asks for the batch). On CUDA that copy is the backend's
      ``from_host`` (``cuda.to_device``): the loop does not wait for it, but it runs on
      the default stream like every kernel, so the GPU does the copy between kernels
      rather than during them.

    An exception in a worker is raised in the loop, at the batch it belongs to, with
    its message, the sample index and the worker's traceback. Leaving the loop early (or
    Ctrl-C, or a timeout) stops the workers, each after the sample it is loading; the
    loader waits up to half a second for them to end.

    >>> loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, num_workers=2)
    >>> len(loader)            # batches per epoch
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler=None, batch_sampler=None, num_workers: int = 0, collate_fn=None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True, device=None):
        iterable = isinstance(dataset, IterableDataset)
        if not iterable and not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader needs a data set with __len__ and __getitem__ (or an "
                            f"IterableDataset), got a {type(dataset).__name__}; wrap tensors "
                            "in TensorDataset(x, y) or subclass numbanet.utils.data.Dataset")
        num_workers = _count("num_workers", num_workers, 0, "num_workers option should be "
                             "non-negative; use num_workers=0 to disable multiprocessing.")
        _check_timeout(timeout)
        if prefetch_factor is not None:
            if num_workers == 0:
                raise ValueError("prefetch_factor option could only be specified in "
                                 "multiprocessing.let num_workers > 0 to enable "
                                 "multiprocessing, otherwise set prefetch_factor to None.")
            else:
                negative = isinstance(prefetch_factor, (int, np.integer)) and prefetch_factor < 0
                prefetch_factor = _count("prefetch_factor", prefetch_factor, 1,
                                         "prefetch_factor option should be non-negative"
                                         if negative else "prefetch_factor must be greater "
                                         "than 0 (each worker loads that many batches ahead)")
        elif num_workers > 0:
            prefetch_factor = 2
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        for name, fn in (("collate_fn", collate_fn), ("worker_init_fn", worker_init_fn)):
            if fn is not None and not callable(fn):
                raise TypeError(f"DataLoader: {name} must be a function, got a "
                                f"{type(fn).__name__}")
        if iterable:
            if shuffle not in {False, None}:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"shuffle option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"sampler option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle: the sampler "
                             "decides the order; leave shuffle out, or give the sampler its "
                             "own shuffle option")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last: the batch_sampler gives "
                                 "whole batches, so leave those options out")
            _check_sampler("batch_sampler", batch_sampler, "batches of sample indices")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            sampler = _Endless() if iterable else \
                RandomSampler(dataset, generator=generator) if shuffle else \
                SequentialSampler(dataset)
        else:
            _check_sampler("sampler", sampler, "sample indices")
        if batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
            batch_size = batch_sampler.batch_size  # a Python int
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.collate_fn = collate_fn if collate_fn is not None else \
            default_collate if batch_sampler is not None else default_convert
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self._iterable = iterable
        self._reported_length = None  # len(dataset) of an IterableDataset, once len(loader) asked
        self._kept_workers: dict = {}  # persistent workers: id -> their copy of the data set
        self.device = None if device is None else as_device(device)
        if self.device is not None and self.device.type == "cuda":
            from ... import cuda
            if not cuda.is_available():
                raise RuntimeError(f"DataLoader(device='{self.device}'): CUDA is not available "
                                   "here; leave device out to keep batches on the CPU, or set "
                                   "NUMBA_ENABLE_CUDASIM=1 before importing numbanet to use "
                                   "Numba's (slow) CUDA simulator")
        self._initialized = True

    def __setattr__(self, name, value):
        if name in _FIXED and self.__dict__.get("_initialized"):
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        if name == "multiprocessing_context" and value is not None:
            _check_context(value, self.num_workers)
        object.__setattr__(self, name, value)

    def __len__(self) -> int:
        """The number of batches in one epoch (for an ``IterableDataset``, from its
        ``len``, as in PyTorch)."""
        if self._iterable:
            n = self._reported_length = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def __iter__(self):
        """One epoch. The order is drawn now, so ``manual_seed(s); iter(loader)`` repeats."""
        base_seed = draw_seed(self.generator)  # drawn whatever num_workers is, as in PyTorch
        tasks = None if self._iterable else self._tasks()
        if self.num_workers == 0:
            if not self._iterable:
                return map(functools.partial(self._load, self.dataset), tasks)  # when asked for
            batches = _serial_stream(_Stream(self, self.dataset))
        else:
            batches = _prefetch(lambda w: self._start_worker(w, base_seed), tasks,
                                self.num_workers, self.prefetch_factor, self.timeout)
        if self._iterable and self._reported_length is not None:
            return _past_length(batches, self._reported_length, self.dataset, self.num_workers)
        return batches

    def _tasks(self):
        """This epoch's work for a map-style data set: int64 arrays of the sample indices of
        each batch (single int indices without batching), an iterator that draws them from
        the sampler as they are needed (the sampler's iterator is made now)."""
        if self.batch_sampler is None:
            return (int(sample_indices([i], "DataLoader: the sampler gave {value} at "
                                       "position {position} of the epoch", k)[0])
                    for k, i in enumerate(self.sampler))
        if type(self.batch_sampler) is BatchSampler:
            return self.batch_sampler.index_arrays()
        return (sample_indices(_as_list(batch, b), "DataLoader: the batch_sampler gave "
                               f"{{value}} in batch {b}, position {{position}}")
                for b, batch in enumerate(self.batch_sampler))

    def _start_worker(self, worker: int, base_seed: int):
        """In worker thread ``worker``: its copy of the data set, its ``WorkerInfo``, its
        ``worker_init_fn``; returns the function that loads one task."""
        kept = self._kept_workers.get(worker) if self.persistent_workers else None
        dataset = kept if kept is not None else _copy(self.dataset)
        set_worker_info(WorkerInfo(worker, self.num_workers, base_seed + worker, dataset))
        if kept is None:
            if self.worker_init_fn is not None:
                self.worker_init_fn(worker)
            if self.persistent_workers:
                self._kept_workers[worker] = dataset
        if self._iterable:
            return _Stream(self, dataset)
        return lambda task, stop: self._load(dataset, task, stop)

    def _load(self, dataset, task, stop=None) -> object:
        """Fetch, collate and move one batch (in a worker thread when num_workers > 0; it
        gives up between two samples once ``stop`` is set)."""
        if self.batch_sampler is None:  # no batching: task is one sample index
            return self._finish(self.collate_fn(_fetch(dataset, task, stop)))
        if len(task) and self.collate_fn is default_collate:  # empty: collate says so
            source = _gather_source(dataset, task)
            if source is not None:
                return self._finish(source[0].gather(source[1]))
        getitems = getattr(dataset, "__getitems__", None)
        if callable(getitems):
            return self._finish(self.collate_fn(getitems(task.tolist())))
        return self._finish(self.collate_fn([_fetch(dataset, int(i), stop) for i in task]))

    def _finish(self, batch):
        return batch if self.device is None else _to_device(batch, self.device)


def _gather_source(dataset, indices):
    """``(tensor_dataset, rows)`` when the batch of ``dataset`` at ``indices`` is rows of a
    TensorDataset whose ``__getitem__`` is the plain one: ``dataset`` itself or one under
    plain ``Subset``s (as ``random_split`` makes). Then one index op per tensor gives the
    batch that stacking ``dataset[i]`` one by one with ``default_collate`` gives, much
    faster. ``None`` otherwise."""
    source = dataset
    while type(source) is Subset:  # exactly: a subclass may read its samples otherwise
        source = source.dataset
    if not (isinstance(source, TensorDataset)
            and type(source).__getitem__ is TensorDataset.__getitem__):
        return None
    while dataset is not source:
        rows = dataset.indices
        indices = sample_indices([rows[i] for i in indices.tolist()], "DataLoader: the "
                                 "Subset's indices hold {value} (position {position})")
        dataset = dataset.dataset
    return source, indices


class _Endless(Sampler):
    """The sampler of an ``IterableDataset``: it has no indices, only "the next one"."""

    def __iter__(self):
        return itertools.repeat(None)


class _Stream:
    """The batches of one iteration over an ``IterableDataset`` (in one worker, or in the
    loop without workers): call it for the next batch, ``_END`` once the stream is over."""

    def __init__(self, loader: DataLoader, dataset):
        self.loader, self.dataset = loader, dataset
        self.samples = None
        self.done = False

    def __call__(self, task=None, stop=None):
        if self.done:
            return _END
        if self.samples is None:
            self.samples = iter(self.dataset)
        loader = self.loader
        if loader.batch_size is None:
            sample = next(self.samples, _END)
            if sample is _END:
                self.done = True
                return _END
            return loader._finish(loader.collate_fn(sample))
        samples = list(itertools.islice(self.samples, loader.batch_size))
        if len(samples) < loader.batch_size:
            self.done = True
            if not samples or loader.drop_last:
                return _END
        return loader._finish(loader.collate_fn(samples))


_END = object()  # a stream has no more batches


def _past_length(batches, length: int, dataset, num_workers: int):
    """``batches``, with PyTorch's warning once more batches come than the ``len`` that
    the IterableDataset reported (when ``len(loader)`` was asked): with workers, often a
    data set that does not split its stream between them."""
    for k, batch in enumerate(batches, 1):
        if k == length + 1:
            message = (f"Length of IterableDataset {dataset} was reported to be {length}(when "
                       f"accessing len(dataloader)), but {k} samples have been fetched. ")
            if num_workers > 0:
                message += ("For multiprocessing data-loading, this could be caused by not "
                            "properly configuring the IterableDataset replica at each worker: "
                            "split the stream with get_worker_info() (see IterableDataset).")
            warnings.warn(message, stacklevel=2)
        yield batch


def _serial_stream(stream: _Stream):
    while (batch := stream()) is not _END:
        yield batch


def _copy(dataset):
    """A worker's own copy of the data set: shallow (the arrays and tensors inside are
    shared), or the data set itself if it can't be copied."""
    try:
        return copy.copy(dataset)
    except Exception:
        return dataset


def _count(name, value, minimum, message) -> int:
    """``value`` as a Python int (a NumPy one would mix its unsigned or small type into
    the loader's arithmetic), checked to be an int >= ``minimum``."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{message} (DataLoader got {name}={value!r})")
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


def _check_context(context, num_workers):
    """PyTorch's checks of ``multiprocessing_context`` (which numbanet's threads ignore)."""
    if num_workers == 0:
        raise ValueError(f"multiprocessing_context can only be used with multi-process "
                         f"loading (num_workers > 0), but got num_workers={num_workers}")
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ValueError(f"multiprocessing_context option should specify a valid start "
                             f"method in {methods!r}, but got "
                             f"multiprocessing_context={context!r}")
    elif not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError(f"multiprocessing_context option should be a valid context object or "
                        f"a string specifying the start method, but got "
                        f"multiprocessing_context={context}")


def _check_sampler(name, sampler, what):
    if not hasattr(sampler, "__iter__"):
        raise TypeError(f"DataLoader: {name} must be an iterable of {what}, got a "
                        f"{type(sampler).__name__}")


def _as_list(batch, b) -> list:
    """One batch of a batch_sampler, as a list of its indices."""
    try:
        return list(batch)
    except TypeError:
        raise TypeError(f"DataLoader: the batch_sampler gave {shown(batch)} as batch {b}; a "
                        "batch_sampler yields batches (lists of sample indices). To give one "
                        "index at a time, pass it as sampler= instead") from None


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

def _prefetch(start, tasks, num_workers, prefetch_factor, timeout):
    """Yield the batches loaded by worker threads, in order: worker ``w`` runs
    ``load = start(w)``, then ``load(task, stop)`` for each task it is handed. ``tasks``
    is the iterator of a map-style epoch's tasks; ``None`` for a stream, where every
    worker makes batches until its ``load`` answers ``_END``.

    A generator, so that the ``finally`` below stops the workers in every way an epoch
    can end: all batches taken, an exception, or the loop left early (the generator is
    then closed when it is dropped). After a timeout or Ctrl-C, which may come from a
    stuck worker, it does not wait for the workers at all.
    """
    stop = threading.Event()
    # worker w, with its queues of tasks (None: the end) and of loaded batches, is made
    # when it is handed its first task
    inboxes, outboxes, threads = {}, {}, {}
    pending = collections.deque()  # the worker of each task handed out, in order
    ended = set()  # the workers whose stream is over
    handed = 0  # tasks handed out so far

    def hand_out() -> bool:
        """Hand the next task to its worker; False when there is none."""
        nonlocal handed
        if tasks is None:
            if len(ended) == num_workers:
                return False
            task = True
            while handed % num_workers in ended:
                handed += 1
        else:
            task = next(tasks, None)
            if task is None:
                return False
        w = handed % num_workers
        if w not in inboxes:
            inboxes[w], outboxes[w] = queue.SimpleQueue(), queue.SimpleQueue()
            thread = threading.Thread(target=_work, name=f"DataLoader worker {w}",
                                      args=(start, w, inboxes[w], outboxes[w], stop),
                                      daemon=True)
            thread.start()  # before it is listed, so that the finally never joins it unstarted
            threads[w] = thread
        inboxes[w].put(task)
        pending.append(w)
        handed += 1
        return True

    patience = _JOIN_TIMEOUT
    try:
        while len(pending) < prefetch_factor * num_workers and hand_out():
            pass
        k = 0
        while pending:
            w = pending.popleft()
            try:
                item = _take(outboxes[w], threads[w], k, timeout)
            except BaseException:  # a timeout or Ctrl-C
                patience = 0.0
                raise
            if item is _END:
                ended.add(w)
                hand_out()
                continue
            if isinstance(item, _WorkerError):
                item.reraise()
            hand_out()
            yield item
            k += 1
    finally:
        stop.set()
        for q in inboxes.values():
            q.put(None)
        deadline = time.monotonic() + patience
        for t in threads.values():
            t.join(max(0.0, deadline - time.monotonic()))


def _work(start, worker, tasks, out, stop):
    """A worker thread: set itself up, then load the tasks it is handed into ``out`` until
    the end, a stop, or an error (which is passed on in place of the batch)."""
    try:
        load, failed = start(worker), None
    except BaseException as e:  # noqa: B036 (everything goes to the loop, which re-raises)
        load, failed = None, _WorkerError(e, worker)
    try:
        while (task := tasks.get()) is not None and not stop.is_set():
            if failed is not None:
                out.put(failed)
                return
            try:
                item = load(task, stop)
            except _Stopped:
                return
            except BaseException as e:  # noqa: B036 (everything goes to the loop)
                item = _WorkerError(e, worker)
            out.put(item)
            if isinstance(item, _WorkerError):
                return
    finally:
        set_worker_info(None)


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
