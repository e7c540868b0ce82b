"""DataLoader, TensorDataset and default_collate: every sample once per epoch, the same
batches with and without worker threads, reproducible shuffling, worker errors that reach
the loop, and workers that stop when the loop does."""
from __future__ import annotations

import collections
import threading
import time

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import numbanet as nb
from numbanet.utils.data import DataLoader, Dataset, TensorDataset, default_collate


class Indices(Dataset):
    """Sample i is the int i; remembers which thread loaded each sample."""

    def __init__(self, n, delay=0.0):
        self.n, self.delay = n, delay
        self.threads = set()
        self.loaded = []  # list.append is atomic across threads; += on an int is not

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(f"index {i} out of range")
        self.threads.add(threading.current_thread().name)
        self.loaded.append(i)
        if self.delay:
            time.sleep(self.delay)
        return i


class FailsAt(Dataset):
    def __init__(self, n, bad, error):
        self.n, self.bad, self.error = n, bad, error

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.bad:
            raise self.error
        return float(i)


def epoch(loader) -> list:
    """The batches of one epoch as lists of ints."""
    return [batch.tolist() for batch in loader]


def worker_threads() -> list:
    return [t for t in threading.enumerate() if t.name.startswith("DataLoader worker")]


sizes = st.integers(0, 40)
batch_sizes = st.integers(1, 12)


# ---- every sample once per epoch -------------------------------------------------------------

@given(n=sizes, batch_size=batch_sizes, shuffle=st.booleans(), drop_last=st.booleans(),
       num_workers=st.sampled_from([0, 1, 3]))
def test_every_sample_appears_once_per_epoch_or_is_the_dropped_remainder(
        n, batch_size, shuffle, drop_last, num_workers):
    assume(n > 0 or not shuffle)  # RandomSampler refuses an empty data set, as in PyTorch
    loader = DataLoader(Indices(n), batch_size=batch_size, shuffle=shuffle,
                        drop_last=drop_last, num_workers=num_workers)
    batches = epoch(loader)
    seen = [i for b in batches for i in b]
    assert len(seen) == len(set(seen))
    assert len(batches) == len(loader)
    assert all(len(b) == batch_size for b in batches[:-1])
    if drop_last:
        assert all(len(b) == batch_size for b in batches)
        missing = set(range(n)) - set(seen)
        assert len(missing) == n % batch_size
        if not shuffle:
            assert missing == set(range(n - n % batch_size, n))
    else:
        assert sorted(seen) == list(range(n))
    if not shuffle:
        assert seen == sorted(seen)


@given(n=sizes, batch_size=batch_sizes, shuffle=st.booleans(), drop_last=st.booleans(),
       num_workers=st.integers(1, 3), prefetch_factor=st.integers(1, 3), seed=st.integers(0, 99))
def test_workers_give_the_same_batches_in_the_same_order_as_the_main_thread(
        n, batch_size, shuffle, drop_last, num_workers, prefetch_factor, seed):
    assume(n > 0 or not shuffle)
    def batches(workers):
        nb.manual_seed(seed)
        loader = DataLoader(Indices(n), batch_size=batch_size, shuffle=shuffle,
                            drop_last=drop_last, num_workers=workers,
                            prefetch_factor=prefetch_factor if workers else None)
        return epoch(loader)
    assert batches(num_workers) == batches(0)


@given(n=st.integers(1, 30), batch_size=batch_sizes, shuffle=st.booleans(),
       drop_last=st.booleans(), num_workers=st.sampled_from([0, 2]))
def test_tensor_dataset_gather_equals_stacking_samples_one_by_one(
        n, batch_size, shuffle, drop_last, num_workers):
    x = nb.randn(n, 3, 2)
    y = nb.arange(n) * 10
    ds = TensorDataset(x, y)

    def batches(collate_fn):
        nb.manual_seed(5)
        loader = DataLoader(ds, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                            num_workers=num_workers, collate_fn=collate_fn)
        return [(bx.numpy(), by.numpy(), bx.dtype, by.dtype) for bx, by in loader]

    fast = batches(None)                                    # one gather per tensor
    slow = batches(lambda samples: default_collate(samples))  # dataset[i] stacked one by one
    assert len(fast) == len(slow) == len(DataLoader(ds, batch_size, drop_last=drop_last))
    for (fx, fy, fxt, fyt), (sx, sy, sxt, syt) in zip(fast, slow):
        np.testing.assert_array_equal(fx, sx)
        np.testing.assert_array_equal(fy, sy)
        assert (fxt, fyt) == (sxt, syt) == (nb.float32, nb.int64)


def test_len_counts_batches_with_and_without_the_partial_last_one():
    assert len(DataLoader(Indices(10), batch_size=4)) == 3
    assert len(DataLoader(Indices(10), batch_size=4, drop_last=True)) == 2
    assert len(DataLoader(Indices(8), batch_size=4, drop_last=True)) == 2
    assert len(DataLoader(Indices(0), batch_size=4)) == 0


def test_a_subclass_that_overrides_getitem_is_not_bypassed_by_the_gather():
    class Doubled(TensorDataset):
        def __getitem__(self, i):
            return tuple(2 * t[i] for t in self.tensors)

    (batch,) = next(iter(DataLoader(Doubled(nb.arange(4)), batch_size=4)))
    assert batch.tolist() == [0, 2, 4, 6]


# ---- shuffling ------------------------------------------------------------------------------

def test_manual_seed_makes_the_shuffled_order_repeat():
    loader = DataLoader(Indices(50), batch_size=7, shuffle=True)
    nb.manual_seed(3)
    first = epoch(loader)
    nb.manual_seed(3)
    assert epoch(loader) == first
    nb.manual_seed(4)
    assert epoch(loader) != first


def test_each_epoch_draws_a_new_order_and_still_covers_every_sample():
    nb.manual_seed(0)
    loader = DataLoader(Indices(50), batch_size=50, shuffle=True, num_workers=2)
    one, two = epoch(loader), epoch(loader)
    assert one != two
    assert sorted(one[0]) == sorted(two[0]) == list(range(50))


def test_the_order_is_drawn_when_iteration_starts():
    loader = DataLoader(Indices(30), batch_size=30, shuffle=True)
    nb.manual_seed(1)
    it = iter(loader)
    nb.manual_seed(2)  # too late for ``it``
    order = next(it).tolist()
    nb.manual_seed(1)
    assert epoch(loader)[0] == order


def test_randperm_is_a_seeded_permutation():
    nb.manual_seed(7)
    p = nb.randperm(20)
    assert p.dtype == nb.int64 and p.shape == (20,)
    assert sorted(p.tolist()) == list(range(20))
    nb.manual_seed(7)
    assert nb.randperm(20).tolist() == p.tolist()
    assert nb.randperm(5, dtype=nb.float32).dtype == nb.float32
    assert nb.randperm(0).shape == (0,)
    with pytest.raises(ValueError, match="non-negative"):
        nb.randperm(-1)


# ---- background workers --------------------------------------------------------------------

def test_workers_load_in_background_threads_and_the_serial_loader_does_not():
    ds = Indices(20)
    epoch(DataLoader(ds, batch_size=2, num_workers=2))
    assert ds.threads == {"DataLoader worker 0", "DataLoader worker 1"}
    ds = Indices(20)
    epoch(DataLoader(ds, batch_size=2))
    assert ds.threads == {threading.current_thread().name}


def test_workers_load_prefetch_factor_batches_each_ahead_of_the_loop():
    ds = Indices(100)
    loader = DataLoader(ds, batch_size=1, num_workers=2, prefetch_factor=2)
    it = iter(loader)
    next(it)
    time.sleep(0.3)  # time enough for the workers to load all they were handed
    # batch 0, taken, and prefetch_factor * num_workers batches ahead of it (as in PyTorch)
    assert len(ds.loaded) == 1 + 2 * 2
    next(it)
    time.sleep(0.3)
    assert len(ds.loaded) == 2 + 2 * 2
    del it


def test_a_batch_is_moved_to_the_device_asked_for():
    loader = DataLoader(TensorDataset(nb.arange(6)), batch_size=4, device="cpu",
                        num_workers=1)
    assert all(b.device == nb.device("cpu") for (b,) in loader)


@pytest.mark.cuda
@pytest.mark.parametrize("num_workers", [0, 2])
def test_device_cuda_gives_batches_on_the_gpu(num_workers):
    if not nb.cuda.is_available():
        pytest.skip("no CUDA device or simulator")
    ds = TensorDataset(nb.arange(5).float(), nb.arange(5))
    nb.manual_seed(0)
    batches = list(DataLoader(ds, batch_size=2, shuffle=True, num_workers=num_workers,
                              device="cuda"))
    nb.manual_seed(0)
    expected = list(DataLoader(ds, batch_size=2, shuffle=True))
    assert len(batches) == 3
    for (x, y), (ex, ey) in zip(batches, expected):
        assert x.device == y.device == nb.device("cuda:0")
        assert x.cpu().tolist() == ex.tolist() and y.cpu().tolist() == ey.tolist()


# ---- errors in workers ---------------------------------------------------------------------

@pytest.mark.parametrize("num_workers", [1, 2, 3])
def test_a_worker_error_reaches_the_loop_with_message_sample_index_and_traceback(num_workers):
    loader = DataLoader(FailsAt(40, bad=13, error=ValueError("pixel out of range")),
                        batch_size=4, num_workers=num_workers)
    received = []
    with pytest.raises(ValueError) as info:
        for batch in loader:
            received.append(batch.tolist())
    message = str(info.value)
    assert "pixel out of range" in message
    assert "sample index 13" in message
    assert "Original traceback" in message and "__getitem__" in message
    # raised where batch 3 (samples 12..15) would have been yielded, after batches 0..2
    assert received == [[0., 1., 2., 3.], [4., 5., 6., 7.], [8., 9., 10., 11.]]
    assert worker_threads() == []


def test_the_serial_loader_raises_the_original_error_noted_with_the_sample_index():
    error = ValueError("bad sample")
    with pytest.raises(ValueError) as info:
        epoch(DataLoader(FailsAt(10, bad=6, error=error), batch_size=4))
    assert info.value is error
    assert any("sample index 6" in note for note in info.value.__notes__)


def test_a_key_error_from_a_worker_keeps_its_type_and_a_readable_message():
    loader = DataLoader(FailsAt(10, bad=2, error=KeyError("label")), num_workers=2)
    with pytest.raises(KeyError) as info:
        epoch(loader)
    assert "sample index 2" in str(info.value)
    assert "\\n" not in str(info.value)  # lines are lines, not escaped in a repr


def test_an_error_type_that_cannot_take_a_message_becomes_a_runtime_error():
    class Picky(Exception):
        def __init__(self, code, detail):
            super().__init__(f"code {code}: {detail}")

    loader = DataLoader(FailsAt(10, bad=5, error=Picky(7, "unreadable")), num_workers=2)
    with pytest.raises(RuntimeError, match="(?s)Picky.*code 7: unreadable.*sample index 5"):
        epoch(loader)


def test_a_collate_error_in_a_worker_reaches_the_loop():
    def collate(samples):
        raise TypeError("cannot collate these")

    with pytest.raises(TypeError, match="cannot collate these"):
        epoch(DataLoader(Indices(8), batch_size=4, num_workers=2, collate_fn=collate))
    assert worker_threads() == []


# ---- workers stop with the loop --------------------------------------------------------------

def test_breaking_out_of_the_loop_stops_and_joins_the_workers():
    before = threading.active_count()
    for k, _ in enumerate(DataLoader(Indices(200, delay=0.001), batch_size=4, num_workers=3)):
        assert len(worker_threads()) > 0
        if k == 2:
            break
    assert worker_threads() == []
    assert threading.active_count() == before


def test_a_dropped_iterator_stops_its_workers():
    it = iter(DataLoader(Indices(100), batch_size=1, num_workers=2, prefetch_factor=1))
    next(it)
    assert len(worker_threads()) == 2
    del it
    assert worker_threads() == []


def test_many_epochs_with_early_breaks_leave_no_threads_behind():
    before = threading.active_count()
    loader = DataLoader(Indices(64), batch_size=4, shuffle=True, num_workers=2)
    for e in range(60):
        for k, _batch in enumerate(loader):
            if e % 3 and k == e % 5:  # two epochs in three end early, at varying batches
                break
        assert threading.active_count() == before
    assert worker_threads() == []


# ---- default_collate -------------------------------------------------------------------------

def test_collate_stacks_tensors_along_a_new_first_dimension():
    batch = default_collate([nb.ones(2, 3), nb.zeros(2, 3)])
    assert batch.shape == (2, 2, 3) and batch.dtype == nb.float32
    assert batch.sum().item() == 6


def test_collate_turns_numbers_and_arrays_into_tensors():
    assert default_collate([1, 2, 3]).dtype == nb.int64
    assert default_collate([1.5, 2.0]).dtype == nb.float64  # as PyTorch does
    assert default_collate([True, False]).dtype == nb.bool
    assert default_collate([np.float32(1), np.float32(2)]).dtype == nb.float32
    arrays = default_collate([np.arange(3), np.arange(3) + 3])
    assert isinstance(arrays, nb.Tensor) and arrays.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert default_collate([np.ones((2, 2))] * 3).shape == (3, 2, 2)
    assert default_collate(["a", "b"]) == ["a", "b"]


def test_collate_keeps_the_structure_of_tuples_lists_dicts_and_namedtuples():
    Pair = collections.namedtuple("Pair", "x y")
    samples = [{"image": (np.zeros(2), 1), "name": "a", "pair": Pair(1.0, [2, 3])},
               {"image": (np.ones(2), 0), "name": "b", "pair": Pair(2.0, [4, 5])}]
    batch = default_collate(samples)
    assert set(batch) == {"image", "name", "pair"}
    images, labels = batch["image"]
    assert isinstance(batch["image"], tuple)
    assert images.tolist() == [[0, 0], [1, 1]] and labels.tolist() == [1, 0]
    assert batch["name"] == ["a", "b"]
    assert isinstance(batch["pair"], Pair) and batch["pair"].x.tolist() == [1.0, 2.0]
    assert isinstance(batch["pair"].y, list)
    assert [t.tolist() for t in batch["pair"].y] == [[2, 4], [3, 5]]


def test_collate_explains_what_it_cannot_batch():
    with pytest.raises(ValueError, match=r"sample 1 has shape \(3,\)"):
        default_collate([nb.ones(2), nb.ones(3)])
    with pytest.raises(ValueError, match="sample 1 has 3 elements"):
        default_collate([(1, 2), (1, 2, 3)])
    with pytest.raises(ValueError, match="keys"):
        default_collate([{"a": 1}, {"b": 1}])
    with pytest.raises(TypeError, match="collate_fn"):
        default_collate([object(), object()])
    with pytest.raises(ValueError, match="empty"):
        default_collate([])


# ---- data sets and arguments -----------------------------------------------------------------

def test_tensor_dataset_returns_tuples_of_rows():
    x, y = nb.randn(5, 3), nb.arange(5)
    ds = TensorDataset(x, y)
    assert len(ds) == 5
    row, label = ds[2]
    assert row.tolist() == x[2].tolist() and label.item() == 2


def test_tensor_dataset_size_mismatch_names_the_sizes():
    with pytest.raises(ValueError, match=r"sizes 10, 9 \(shapes \(10, 3\), \(9,\)\)"):
        TensorDataset(nb.zeros(10, 3), nb.zeros(9))
    with pytest.raises(TypeError, match="nb.tensor"):
        TensorDataset(np.zeros(3))
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(nb.tensor(1.0))
    with pytest.raises(ValueError, match="at least one tensor"):
        TensorDataset()


def test_dataset_subclasses_must_define_getitem_and_len():
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]
    with pytest.raises(NotImplementedError, match="__len__"):
        len(Dataset())


def test_bad_loader_arguments_are_explained():
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but "
                                         "got batch_size=0"):
        DataLoader(Indices(3), batch_size=0)
    with pytest.raises(ValueError, match="num_workers option should be non-negative.*got "
                                         "num_workers=-1"):
        DataLoader(Indices(3), num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(Indices(3), num_workers=1, prefetch_factor=0)
    with pytest.raises(TypeError, match="__len__ and __getitem__"):
        DataLoader(iter(range(3)))
    with pytest.raises(TypeError, match="collate_fn"):
        DataLoader(Indices(3), collate_fn="stack")


def test_a_sampler_gives_the_order_and_the_length():
    x = nb.arange(10)
    loader = DataLoader(TensorDataset(x), batch_size=3, sampler=[9, 0, 4, 4, 7])
    assert len(loader) == 2
    assert [b[0].tolist() for b in loader] == [[9, 0, 4], [4, 7]]
    assert len(DataLoader(TensorDataset(x), batch_size=3, sampler=[1, 2, 3], drop_last=True)) == 1


def test_a_sampler_and_shuffle_together_are_refused():
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(TensorDataset(nb.arange(4)), sampler=[0, 1], shuffle=True)
    with pytest.raises(TypeError, match="sampler must be an iterable"):
        DataLoader(TensorDataset(nb.arange(4)), sampler=3)
