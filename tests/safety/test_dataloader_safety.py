"""DataLoader against stalls and hostile samplers: ``timeout=`` ends a wait for a batch that
does not come, Ctrl-C stops an epoch within about a second even when every worker is stuck
in ``__getitem__`` (and the process can still exit), and a sample index that is not an
integer is refused, never rounded."""
from __future__ import annotations

import _thread
import itertools
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numbanet as nb
from numbanet.utils.data import DataLoader, Dataset, TensorDataset, default_collate
from numbanet.utils.data.dataset import SampleIndexError


class Gated(Dataset):
    """Sample i is the int i; samples in ``stuck`` wait until ``gate`` opens (at most 30 s,
    so that no test thread outlives the test run), after ``delay`` seconds for every sample."""

    def __init__(self, n, stuck=(), delay=0.0):
        self.n, self.stuck, self.delay = n, set(stuck), delay
        self.gate = threading.Event()
        self.entered = threading.Event()  # set once a stuck sample is being loaded
        self.loaded = []

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.loaded.append(i)
        if self.delay:
            time.sleep(self.delay)
        if i in self.stuck:
            self.entered.set()
            self.gate.wait(30)
        return i


def worker_threads() -> list:
    return [t for t in threading.enumerate() if t.name.startswith("DataLoader worker")]


@pytest.fixture
def release():
    """Opens the gates of the data sets it is given when the test ends, then waits for
    their (daemon) workers to end, so that stuck workers never leak into other tests."""
    datasets = []
    yield datasets.append
    for ds in datasets:
        ds.gate.set()
    deadline = time.monotonic() + 5
    while worker_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker_threads() == []


def wait_until(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


# ---- timeout= ---------------------------------------------------------------------------------

def test_timeout_defaults_to_zero_and_accepts_non_negative_seconds():
    assert DataLoader(Gated(4)).timeout == 0
    for seconds in (0, 0.5, 3, float("inf"), np.float32(2.0)):
        assert DataLoader(Gated(4), num_workers=1, timeout=seconds).timeout == seconds


@pytest.mark.parametrize("seconds", [-1, -0.001, float("nan"), float("-inf")])
def test_a_negative_or_nan_timeout_is_a_value_error_as_in_pytorch(seconds):
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(Gated(4), num_workers=1, timeout=seconds)


@pytest.mark.parametrize("seconds", ["1", None, [1], True])
def test_a_timeout_that_is_not_a_number_is_a_type_error(seconds):
    with pytest.raises(TypeError, match="timeout must be a number of seconds"):
        DataLoader(Gated(4), num_workers=1, timeout=seconds)


def test_a_timeout_without_workers_is_accepted_and_the_epoch_runs():
    assert [b.tolist() for b in DataLoader(Gated(5), batch_size=2, timeout=0.01)] == \
        [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize("num_workers", [1, 2])
def test_a_batch_that_does_not_arrive_in_time_is_a_runtime_error(num_workers, release):
    ds = Gated(8, stuck={4})
    release(ds)
    loader = DataLoader(ds, batch_size=2, num_workers=num_workers, timeout=0.3)
    received = []
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.3 seconds") as info:
        for batch in loader:
            received.append(batch.tolist())
    elapsed = time.monotonic() - start
    assert received == [[0, 1], [2, 3]]
    assert "batch 2" in str(info.value) and "timeout=" in str(info.value)
    assert elapsed < 0.3 + 1.0  # batches 0 and 1 are quick; batch 2 gets 0.3 s


def test_a_slow_worker_within_the_timeout_delivers_every_batch():
    loader = DataLoader(Gated(12, delay=0.02), batch_size=3, num_workers=2, timeout=2.0)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]


def test_the_timeout_applies_to_each_batch_not_to_the_whole_epoch():
    # 12 batches of 0.06 s each: 0.72 s in all, well over the 0.5 s each batch is allowed
    loader = DataLoader(Gated(12, delay=0.06), batch_size=1, num_workers=1, timeout=0.5,
                        prefetch_factor=1)
    assert [b.tolist() for b in loader] == [[i] for i in range(12)]


def test_after_a_timeout_the_iterator_is_finished_and_a_new_one_works(release):
    ds = Gated(6, stuck={0})
    release(ds)
    loader = DataLoader(ds, batch_size=2, num_workers=2, timeout=0.2)
    it = iter(loader)
    with pytest.raises(RuntimeError, match="timed out"):
        next(it)
    with pytest.raises(StopIteration):
        next(it)
    ds.stuck.clear()  # the next epoch is not stuck; the old stuck worker may still be waiting
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4, 5]]


def test_a_stuck_worker_left_by_a_timeout_stops_once_its_sample_returns(release):
    ds = Gated(100, stuck={0})
    release(ds)
    it = iter(DataLoader(ds, batch_size=4, num_workers=1, timeout=0.2))
    with pytest.raises(RuntimeError, match="timed out"):
        next(it)
    assert len(worker_threads()) == 1  # stuck in dataset[0]: it can't be killed...
    loaded = len(ds.loaded)
    ds.gate.set()
    wait_until(lambda: worker_threads() == [])  # ...but ends when dataset[0] returns
    assert len(ds.loaded) == loaded  # without loading any more samples


def test_an_error_in_a_worker_still_reaches_the_loop_with_a_timeout_set():
    class Fails(Gated):
        def __getitem__(self, i):
            if i == 5:
                raise ValueError("corrupt sample")
            return super().__getitem__(i)

    with pytest.raises(ValueError, match="(?s)corrupt sample.*sample index 5"):
        list(DataLoader(Fails(8), batch_size=2, num_workers=2, timeout=5))
    assert worker_threads() == []


def test_a_worker_error_whose_str_fails_reaches_the_loop_as_a_readable_runtime_error():
    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no text")

    class Fails(Gated):
        def __getitem__(self, i):
            raise Unprintable()

    with pytest.raises(RuntimeError, match="(?s)Caught Unprintable.*sample index 0"):
        list(DataLoader(Fails(4), num_workers=1))
    assert worker_threads() == []


# ---- leaving an epoch early while workers are stuck -----------------------------------------

def test_leaving_the_loop_while_a_worker_is_stuck_returns_within_a_second(release):
    ds = Gated(40, stuck={9})
    release(ds)
    start = None
    for k, _ in enumerate(DataLoader(ds, batch_size=2, num_workers=2)):
        if k == 1:
            wait_until(ds.entered.is_set)
            start = time.monotonic()
            break
    assert time.monotonic() - start < 1.5


def test_a_worker_stops_at_the_next_sample_once_the_loop_is_left(release):
    # a batch of 50 slow samples: the worker must not load all 50 after the loop is left
    ds = Gated(200, delay=0.02)
    release(ds)
    it = iter(DataLoader(ds, batch_size=50, num_workers=1, prefetch_factor=1))
    next(it)
    wait_until(lambda: len(ds.loaded) > 55)  # the worker is inside batch 1
    before = len(ds.loaded)
    del it
    wait_until(lambda: worker_threads() == [])
    assert len(ds.loaded) - before <= 2  # the sample it was loading, not the rest of batch 1


def test_ctrl_c_in_the_main_thread_stops_a_wait_for_stuck_workers(release):
    ds = Gated(8, stuck=set(range(8)))
    release(ds)
    loader = DataLoader(ds, batch_size=2, num_workers=2)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in loader:
                pass
    finally:
        timer.cancel()
    assert time.monotonic() - start < 0.3 + 1.0


STUCK_PROGRAM = """
import os, signal, sys, threading, time
from numbanet.utils.data import DataLoader, Dataset

entered = threading.Event()

class Stuck(Dataset):
    def __len__(self):
        return 64
    def __getitem__(self, i):
        if i >= {fast}:
            entered.set()
            {stall}
        return i

def interrupt():  # a real SIGINT, as Ctrl-C sends, once every worker is stuck
    entered.wait()
    time.sleep(0.3)
    print("SIGINT at", time.monotonic(), file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=interrupt, daemon=True).start()
{loop}
"""

LOOPS = {
    # the main thread waits in the loader for a batch that never comes
    "waiting_for_a_batch": "for batch in DataLoader(Stuck(), batch_size=4, num_workers=2):\n"
                           "    pass",
    # the main thread is in the loop body when Ctrl-C comes; the workers are stuck
    "in_the_loop_body": "for batch in DataLoader(Stuck(), batch_size=4, num_workers=2):\n"
                        "    time.sleep(3600)",
}


def run_until_interrupted(stall, loop, fast=0, handled=False):
    """Run STUCK_PROGRAM; returns (process, seconds from the SIGINT to the process's end)."""
    body = LOOPS[loop]
    if handled:
        body = "try:\n" + textwrap.indent(body, "    ") + \
               "\nexcept KeyboardInterrupt:\n    print('interrupted', flush=True)"
    code = STUCK_PROGRAM.format(fast=fast, stall=stall, loop=body)
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=30)
    ended = time.monotonic()  # CLOCK_MONOTONIC: one clock for every process on the machine
    sent = [line for line in process.stderr.splitlines() if line.startswith("SIGINT at")]
    assert sent, process.stderr
    return process, ended - float(sent[0].split()[-1])


@pytest.mark.parametrize("stall", ["time.sleep(3600)", "threading.Event().wait()"])
@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_ctrl_c_ends_the_program_within_about_a_second_while_workers_are_stuck(stall, loop):
    process, seconds = run_until_interrupted(stall, loop, fast=4 if loop == "in_the_loop_body"
                                             else 0)
    assert "KeyboardInterrupt" in process.stderr, process.stderr
    assert process.returncode != 0
    assert seconds < 2.0, f"the program ended {seconds:.2f} s after SIGINT"


def test_a_program_that_handles_ctrl_c_exits_normally_despite_stuck_workers():
    process, seconds = run_until_interrupted("time.sleep(3600)", "waiting_for_a_batch",
                                             handled=True)
    assert process.returncode == 0, process.stderr
    assert process.stdout.strip() == "interrupted"
    assert seconds < 2.0, f"the program ended {seconds:.2f} s after SIGINT"


def test_a_program_ends_promptly_with_an_open_epoch_whose_workers_are_stuck():
    code = textwrap.dedent("""
        import sys, threading, time
        from numbanet.utils.data import DataLoader, Dataset

        class Stuck(Dataset):
            def __len__(self):
                return 64
            def __getitem__(self, i):
                if i >= 4:
                    threading.Event().wait()
                return i

        it = iter(DataLoader(Stuck(), batch_size=4, num_workers=2))
        print(next(it).tolist(), flush=True)
        time.sleep(0.3)  # the workers are now stuck on the next batches
        print("done at", time.monotonic(), file=sys.stderr, flush=True)
        """)
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=30)
    ended = time.monotonic()
    assert process.returncode == 0, process.stderr
    assert process.stdout.strip() == "[0, 1, 2, 3]"
    done = float(process.stderr.split("done at")[1].split()[0])
    assert ended - done < 2.0, f"the program ended {ended - done:.2f} s after its last line"


# ---- sample indices from a sampler -----------------------------------------------------------

NOT_INDICES = [1.0, 2.7, np.float64(1.0), np.float32(2.0), True, np.True_, "1", None, 1 + 0j,
               nb.tensor(1.5), nb.tensor(True), nb.tensor([2]), np.array([1]), np.array(1.0),
               [1, 2]]


def datasets():
    """A TensorDataset (batches gathered in one index op) and a plain Dataset (stacked)."""
    return {"TensorDataset": TensorDataset(nb.arange(10)), "Dataset": Gated(10)}


@pytest.mark.parametrize("kind", ["TensorDataset", "Dataset"])
@pytest.mark.parametrize("num_workers", [0, 2])
@pytest.mark.parametrize("value", NOT_INDICES, ids=repr)
def test_a_sampler_value_that_is_not_an_integer_is_refused_not_truncated(value, num_workers,
                                                                         kind):
    loader = DataLoader(datasets()[kind], batch_size=2, sampler=[0, 3, value, 4],
                        num_workers=num_workers)
    with pytest.raises(IndexError) as info:  # as PyTorch's tensor indexing, and a TypeError
        list(loader)
    assert isinstance(info.value, TypeError)  # as Python's sequences raise for such an index
    message = str(info.value)
    assert "sampler" in message and "position 2" in message and type(value).__name__ in message
    assert "does not round" in message


def test_a_sampler_that_yields_lists_is_told_about_batch_sampler():
    with pytest.raises(IndexError, match="batch_sampler"):
        list(DataLoader(Gated(10), sampler=[[0, 1], [2, 3]]))


@pytest.mark.parametrize("value", [2**63, 2**70, -2**63 - 1, np.uint64(2**63 + 1)], ids=repr)
def test_a_sampler_index_beyond_int64_is_an_index_error_not_a_wrapped_value(value):
    with pytest.raises(IndexError, match="out of the range"):
        list(DataLoader(Gated(10), sampler=[0, value]))


@pytest.mark.parametrize("num_workers", [0, 2])
def test_an_out_of_range_index_into_a_tensor_dataset_is_an_index_error(num_workers):
    loader = DataLoader(TensorDataset(nb.arange(10)), batch_size=2, sampler=[0, 10],
                        num_workers=num_workers)
    with pytest.raises(IndexError, match="out of bounds for dimension 0 with size 10"):
        list(loader)


integer_like = st.sampled_from([int, np.int64, np.int32, np.uint8, np.array,
                                lambda i: nb.tensor(i)])


@given(indices=st.lists(st.integers(0, 9), max_size=12),
       kinds=st.lists(integer_like, min_size=12, max_size=12),
       batch_size=st.integers(1, 4), num_workers=st.sampled_from([0, 2]))
def test_integer_sampler_values_of_any_integer_type_give_the_batches_of_plain_ints(
        indices, kinds, batch_size, num_workers):
    def batches(loader):
        return [(b if isinstance(b, nb.Tensor) else b[0]).tolist() for b in loader]

    values = [kind(i) for i, kind in zip(indices, kinds)]
    for ds in datasets().values():
        got = DataLoader(ds, batch_size=batch_size, sampler=values, num_workers=num_workers)
        expected = DataLoader(ds, batch_size=batch_size, sampler=indices)
        assert batches(got) == batches(expected)


def test_a_plain_dataset_receives_python_ints_whatever_the_sampler_gives():
    class Types(Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            assert type(i) is int
            return i

    sampler = [np.int64(1), nb.tensor(2), np.array(3), 4, np.uint16(5)]
    assert [b.tolist() for b in DataLoader(Types(), batch_size=5, sampler=sampler)] == \
        [[1, 2, 3, 4, 5]]


# ---- batch_sampler ---------------------------------------------------------------------------

def test_a_batch_sampler_gives_the_batches_and_the_length():
    batches = [[9, 0, 4], [4], [7, 1]]
    for num_workers in (0, 2):
        loader = DataLoader(TensorDataset(nb.arange(10) * 10), batch_sampler=batches,
                            num_workers=num_workers)
        assert len(loader) == 3
        assert [b.tolist() for (b,) in loader] == [[90, 0, 40], [40], [70, 10]]


@pytest.mark.parametrize("kind", ["TensorDataset", "Dataset"])
def test_an_empty_batch_from_a_batch_sampler_is_refused_for_every_data_set(kind):
    with pytest.raises(ValueError, match="the batch is empty"):
        list(DataLoader(datasets()[kind], batch_sampler=[[0], []]))


@pytest.mark.parametrize("value", [2.7, True, "3", nb.tensor(1.0)], ids=repr)
def test_a_batch_sampler_value_that_is_not_an_integer_is_refused(value):
    loader = DataLoader(Gated(10), batch_sampler=[[0, 1], [2, value]])
    with pytest.raises(IndexError, match=r"batch_sampler.*batch 1, position 1") as info:
        list(loader)
    assert isinstance(info.value, TypeError)


def test_a_batch_sampler_that_yields_single_indices_is_told_about_sampler():
    with pytest.raises(TypeError, match="sampler="):
        list(DataLoader(Gated(10), batch_sampler=[0, 1, 2]))


@pytest.mark.parametrize("option", [{"batch_size": 2}, {"shuffle": True}, {"drop_last": True},
                                    {"sampler": [0, 1]}])
def test_batch_sampler_is_mutually_exclusive_as_in_pytorch(option):
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive with "
                                         "batch_size, shuffle, sampler, and drop_last"):
        DataLoader(Gated(10), batch_sampler=[[0, 1]], **option)


def test_a_batch_sampler_must_be_an_iterable_with_a_length():
    with pytest.raises(TypeError, match="batch_sampler must be an iterable"):
        DataLoader(Gated(10), batch_sampler=3)


# ---- samplers are drawn lazily ---------------------------------------------------------------

class Endless:
    """A sampler with a length that never ends (as an infinite training stream); it fails
    the test once more than ``limit`` indices have been drawn."""

    def __init__(self, limit=1000):
        self.limit, self.drawn = limit, 0

    def __len__(self):
        return 10

    def __iter__(self):
        for i in itertools.count():
            self.drawn += 1
            assert self.drawn <= self.limit, "the loader drew the sampler far ahead of use"
            yield i % 10


@pytest.mark.parametrize("num_workers", [0, 2])
def test_an_endless_sampler_is_drawn_only_as_far_as_batches_are_used(num_workers):
    sampler = Endless()
    loader = DataLoader(TensorDataset(nb.arange(10)), batch_size=2, sampler=sampler,
                        num_workers=num_workers,
                        prefetch_factor=2 if num_workers else None)
    batches = [b.tolist() for (b,) in itertools.islice(loader, 7)]
    assert batches == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [0, 1], [2, 3]]
    assert sampler.drawn <= 2 * (7 + 2 * num_workers)  # what was used, and what is prefetched


def test_a_bad_sampler_value_is_raised_at_its_batch_after_the_batches_before_it():
    received = []
    with pytest.raises(IndexError, match="position 5 of the epoch"):
        for batch in DataLoader(Gated(10), batch_size=2, sampler=[0, 1, 2, 3, 4, 2.5]):
            received.append(batch.tolist())
    assert received == [[0, 1], [2, 3]]


def test_a_huge_prefetch_factor_ends_the_epoch_at_the_last_batch():
    epoch = []
    loader = DataLoader(Gated(5), batch_size=2, num_workers=2, prefetch_factor=2**62)
    thread = threading.Thread(target=lambda: epoch.extend(b.tolist() for b in loader),
                              daemon=True)
    thread.start()
    thread.join(10)
    assert epoch == [[0, 1], [2, 3], [4]]


def test_a_huge_num_workers_starts_no_more_threads_than_there_are_batches():
    class Threads(Gated):
        def __getitem__(self, i):
            self.loaded.append(threading.current_thread().name)
            return i

    ds = Threads(4)
    start = time.monotonic()
    assert [b.tolist() for b in DataLoader(ds, num_workers=10**7)] == [[0], [1], [2], [3]]
    assert len(set(ds.loaded)) == 4
    assert time.monotonic() - start < 2.0  # nothing is made per worker that has no batch


def test_an_epoch_in_order_does_not_build_the_whole_order_first():
    class Huge(Dataset):  # 2**40 samples: an index array of them would need 8 TiB
        def __len__(self):
            return 2**40

        def __getitem__(self, i):
            return i

    loader = DataLoader(Huge(), batch_size=3, num_workers=2)
    assert [b.tolist() for b in itertools.islice(loader, 2)] == [[0, 1, 2], [3, 4, 5]]
    assert len(loader) == -(-2**40 // 3)


# ---- default_collate: every sample has the structure of the first -------------------------

@pytest.mark.parametrize("samples, first, odd", [
    ([1.0, "a"], "float", "str"),
    ([1, None], "int", "NoneType"),
    ([np.float32(1), b"x"], "float32", "bytes"),
    ([{"a": 1}, (1,)], "dict", "tuple"),
    ([(1, 2), "ab"], "tuple", "str"),
    ([[1, 2], 3], "list", "int"),
], ids=repr)
def test_collate_names_a_sample_of_another_kind_than_the_first(samples, first, odd):
    with pytest.raises(TypeError, match=f"sample 0 is of type {first} but sample 1 is of "
                                        f"type {odd}"):
        default_collate(samples)


def test_collate_names_the_odd_sample_inside_nested_samples():
    with pytest.raises(TypeError, match="sample 0 is of type list but sample 1 is of type int"):
        default_collate([[1, [2]], [3, 4]])


def test_collate_still_mixes_python_and_numpy_numbers_and_0d_tensors():
    assert default_collate([1, 2.5]).tolist() == [1.0, 2.5]
    assert default_collate([True, 2]).tolist() == [1, 2]
    assert default_collate([np.float32(1.5), 2.5]).tolist() == [1.5, 2.5]
    assert default_collate([1.0, nb.tensor(2.0)]).tolist() == [1.0, 2.0]


@pytest.mark.parametrize("indices", [[2.7], [0, 1.0], np.array([1.5]), [True, False], ["1"]],
                         ids=repr)
def test_tensor_dataset_gather_refuses_indices_that_are_not_integers(indices):
    with pytest.raises(SampleIndexError, match="TensorDataset.gather: got .* at position"):
        TensorDataset(nb.arange(10)).gather(indices)


def test_tensor_dataset_gather_takes_int_lists_and_arrays():
    ds = TensorDataset(nb.arange(10) * 2)
    assert ds.gather([3, np.int32(1)])[0].tolist() == [6, 2]
    assert ds.gather(np.array([4, -1]))[0].tolist() == [8, 18]
    assert ds.gather(range(2))[0].tolist() == [0, 2]


# ---- counts of any integer type ----------------------------------------------------------------

@pytest.mark.parametrize("integer", [np.uint64, np.uint8, np.int32], ids=lambda t: t.__name__)
@pytest.mark.parametrize("drop_last", [False, True])
def test_numpy_integer_counts_give_the_loader_of_python_ints(integer, drop_last):
    def epoch(**counts):
        loader = DataLoader(TensorDataset(nb.arange(10)), drop_last=drop_last, **counts)
        return len(loader), [b.tolist() for (b,) in loader]

    assert epoch(batch_size=integer(3), num_workers=integer(2), prefetch_factor=integer(1)) \
        == epoch(batch_size=3, num_workers=2, prefetch_factor=1)


def test_a_timeout_too_large_for_a_float_means_no_limit():
    loader = DataLoader(Gated(4), batch_size=2, num_workers=1, timeout=10**400)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3]]
