"""``numbanet.utils.data`` against ``torch.utils.data``: the DataLoader's signature and
argument checks, the samplers, the data sets made of others, ``random_split``, iterable
data sets with workers, ``get_worker_info``, ``default_convert``. Where both are
deterministic the results are compared with PyTorch's; where they draw at random (NumPy's
draws, not PyTorch's), the tests check the distribution and that a seed repeats."""
from __future__ import annotations

import collections
import inspect
import threading
import warnings

import numpy as np
import pytest

import numbanet as nb
from numbanet.utils import data as nd

torch = pytest.importorskip("torch")
td = torch.utils.data


def raised(make):
    """The exception ``make()`` raises (None if it raises none)."""
    try:
        make()
    except Exception as e:  # noqa: BLE001 (any error is compared)
        return e
    return None


def assert_same_error(ours, theirs):
    """Both raise, an exception of PyTorch's type, whose message starts with PyTorch's."""
    mine, reference = raised(ours), raised(theirs)
    assert reference is not None and mine is not None, (mine, reference)
    assert isinstance(mine, type(reference)), (mine, reference)
    assert str(mine).startswith(str(reference)), (str(mine), str(reference))


class Squares(nd.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i * i


class TorchSquares(td.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i * i


def flat(batches) -> list:
    return [int(v) for b in batches for v in (b.tolist() if hasattr(b, "tolist") else b)]


# ---- DataLoader: signature and argument checks ----------------------------------------------

def test_dataloader_has_pytorchs_parameters_in_order_with_its_defaults():
    ours = inspect.signature(nd.DataLoader).parameters
    theirs = inspect.signature(td.DataLoader).parameters
    assert [p for p in ours if p != "device"] == list(theirs)
    for name, p in theirs.items():
        assert ours[name].default == p.default, name
        assert ours[name].kind == p.kind, name
    assert ours["device"].kind is inspect.Parameter.KEYWORD_ONLY


BAD_ARGUMENTS = [
    dict(num_workers=-1),
    dict(timeout=-1),
    dict(prefetch_factor=4),                      # without workers
    dict(num_workers=2, prefetch_factor=-1),
    dict(persistent_workers=True),                # without workers
    dict(batch_sampler=[[0, 1]], batch_size=2),
    dict(batch_sampler=[[0, 1]], shuffle=True),
    dict(batch_sampler=[[0, 1]], drop_last=True),
    dict(batch_sampler=[[0, 1]], sampler=[0, 1]),
    dict(sampler=[0, 1], shuffle=True),
    dict(batch_size=None, drop_last=True),
    dict(batch_size=0),
    dict(batch_size=-3),
    dict(drop_last=1),
    dict(multiprocessing_context="fork"),         # without workers
    dict(num_workers=2, multiprocessing_context="no-such-method"),
    dict(num_workers=2, multiprocessing_context=3),
]


@pytest.mark.parametrize("kwargs", BAD_ARGUMENTS, ids=repr)
def test_bad_loader_arguments_raise_pytorchs_errors(kwargs):
    assert_same_error(lambda: nd.DataLoader(Squares(6), **kwargs),
                      lambda: td.DataLoader(TorchSquares(6), **kwargs))


def test_a_loader_refuses_changes_to_its_batching_after_it_is_made():
    loader, reference = nd.DataLoader(Squares(6)), td.DataLoader(TorchSquares(6))
    for name, value in [("batch_size", 3), ("sampler", [0]), ("drop_last", True),
                        ("dataset", Squares(2)), ("batch_sampler", [[0]]),
                        ("persistent_workers", True)]:
        assert_same_error(lambda n=name, v=value: setattr(loader, n, v),
                          lambda n=name, v=value: setattr(reference, n, v))
    loader.num_workers = 1  # the others may change, as in PyTorch
    assert loader.num_workers == 1


def test_the_default_samplers_and_prefetch_factor_are_pytorchs():
    for shuffle in (False, True):
        ours, theirs = nd.DataLoader(Squares(6), shuffle=shuffle), \
            td.DataLoader(TorchSquares(6), shuffle=shuffle)
        assert type(ours.sampler).__name__ == type(theirs.sampler).__name__
        assert type(ours.batch_sampler).__name__ == type(theirs.batch_sampler).__name__
        assert ours.batch_sampler.batch_size == 1 and ours.batch_sampler.drop_last is False
        assert ours.prefetch_factor is theirs.prefetch_factor is None
    assert nd.DataLoader(Squares(6), num_workers=2).prefetch_factor == 2
    assert nd.DataLoader(Squares(6), batch_sampler=[[0, 1]]).batch_size is None


@pytest.mark.parametrize("n, batch_size, drop_last", [(10, 3, False), (10, 3, True),
                                                       (9, 3, True), (1, 4, False),
                                                       (0, 2, False)])
def test_sequential_batches_equal_pytorchs(n, batch_size, drop_last):
    ours = nd.DataLoader(Squares(n), batch_size=batch_size, drop_last=drop_last)
    theirs = td.DataLoader(TorchSquares(n), batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert [b.tolist() for b in ours] == [b.tolist() for b in theirs]


def test_pin_memory_persistent_workers_and_in_order_are_accepted():
    ds = nd.TensorDataset(nb.arange(10))
    plain = [b.tolist() for (b,) in nd.DataLoader(ds, batch_size=3)]
    for kwargs in [dict(pin_memory=True), dict(pin_memory=True, pin_memory_device="cuda"),
                   dict(num_workers=2, persistent_workers=True), dict(in_order=False),
                   dict(num_workers=2, multiprocessing_context="spawn")]:
        loader = nd.DataLoader(ds, batch_size=3, **kwargs)
        assert [b.tolist() for (b,) in loader] == plain
        assert [b.tolist() for (b,) in loader] == plain  # a second epoch


def test_batch_size_none_converts_each_sample_without_batching():
    class Arrays(nd.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return np.full(2, i), i

    batches = list(nd.DataLoader(Arrays(), batch_size=None))
    assert len(batches) == 3 and len(nd.DataLoader(Arrays(), batch_size=None)) == 3
    array, label = batches[2]
    assert isinstance(array, nb.Tensor) and array.tolist() == [2, 2] and label == 2
    assert isinstance(batches[0], list)  # a tuple becomes a list, as PyTorch's default_convert
    assert list(nd.DataLoader(Squares(4), batch_size=None, num_workers=2)) == [0, 1, 4, 9]
    assert list(nd.DataLoader(Squares(4), batch_size=None)) == \
        list(td.DataLoader(TorchSquares(4), batch_size=None))


def test_a_data_set_with_getitems_gives_its_batches_through_it():
    class Batched(Squares):
        calls = []

        def __getitems__(self, indices):
            self.calls.append(list(indices))
            return [self[i] for i in indices]

    ds = Batched(7)
    assert flat(nd.DataLoader(nd.Subset(ds, [6, 5, 4, 3]), batch_size=3)) == [36, 25, 16, 9]
    assert Batched.calls == [[6, 5, 4], [3]]


# ---- generator= and seeds ----------------------------------------------------------------------

def orders(loader, epochs=2) -> list:
    return [flat(loader) for _ in range(epochs)]


def test_a_generator_makes_the_shuffled_order_repeat_for_its_seed():
    def loader(seed):
        return nd.DataLoader(Squares(30), batch_size=4, shuffle=True,
                             generator=torch.Generator().manual_seed(seed))

    first = orders(loader(1))
    assert first == orders(loader(1))
    assert first[0] != first[1]  # each epoch a new order
    assert first != orders(loader(2))
    assert all(sorted(epoch) == [i * i for i in range(30)] for epoch in first)


def test_reseeding_a_generator_restarts_its_stream_and_a_numpy_generator_is_drawn_from():
    g = torch.Generator().manual_seed(5)
    sampler = nd.RandomSampler(range(20), generator=g)
    one = list(sampler)
    g.manual_seed(6)
    other = list(sampler)
    g.manual_seed(5)
    assert list(sampler) == one != other
    rng = np.random.default_rng(0)
    expected = np.random.default_rng(0).permutation(20).tolist()
    assert list(nd.RandomSampler(range(20), generator=rng)) == expected


def test_nb_manual_seed_makes_samplers_and_splits_repeat():
    def draw():
        return (list(nd.RandomSampler(range(15))), list(nd.SubsetRandomSampler([3, 5, 7, 9])),
                list(nd.WeightedRandomSampler([1, 2, 3], 10)),
                [list(s) for s in nd.random_split(range(10), [3, 7])])
    nb.manual_seed(11)
    first = draw()
    nb.manual_seed(11)
    assert draw() == first


def test_a_generator_that_is_no_generator_is_refused():
    with pytest.raises(TypeError, match="generator must be a Generator"):
        list(nd.RandomSampler(range(3), generator=42))


# ---- samplers ----------------------------------------------------------------------------------

def test_sequential_sampler_and_sampler_base_as_in_pytorch():
    assert list(nd.SequentialSampler(range(5))) == list(td.SequentialSampler(range(5)))
    assert len(nd.SequentialSampler(range(5))) == 5
    with pytest.raises(NotImplementedError):
        iter(nd.Sampler())


@pytest.mark.parametrize("n, batch_size, drop_last", [(10, 3, False), (10, 3, True),
                                                       (12, 4, True), (2, 5, False),
                                                       (2, 5, True), (0, 1, False)])
def test_batch_sampler_batches_equal_pytorchs(n, batch_size, drop_last):
    order = [7, 1, 3, 0, 9, 2, 5, 8, 4, 6, 11, 10][:n]
    ours = nd.BatchSampler(order, batch_size, drop_last)
    theirs = td.BatchSampler(order, batch_size, drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)
    seq = nd.BatchSampler(nd.SequentialSampler(range(n)), batch_size, drop_last)
    assert list(seq) == list(td.BatchSampler(td.SequentialSampler(range(n)), batch_size,
                                             drop_last))


@pytest.mark.parametrize("args", [(0, False), (-1, False), (True, False), (2.0, False),
                                  (2, 1), (2, None)], ids=repr)
def test_batch_sampler_checks_its_arguments_as_pytorch(args):
    assert_same_error(lambda: nd.BatchSampler(range(4), *args),
                      lambda: td.BatchSampler(range(4), *args))


@pytest.mark.parametrize("kwargs", [dict(replacement=1), dict(num_samples=0),
                                    dict(num_samples=-2), dict(num_samples=2.0)], ids=repr)
def test_random_sampler_checks_its_arguments_as_pytorch(kwargs):
    assert_same_error(lambda: nd.RandomSampler(range(4), **kwargs),
                      lambda: td.RandomSampler(range(4), **kwargs))


def test_random_sampler_refuses_an_empty_data_set_as_pytorch():
    assert_same_error(lambda: nd.RandomSampler([]), lambda: td.RandomSampler([]))
    assert_same_error(lambda: nd.DataLoader([], shuffle=True),
                      lambda: td.DataLoader([], shuffle=True))


def test_random_sampler_without_replacement_gives_permutations():
    nb.manual_seed(0)
    sampler = nd.RandomSampler(range(10))
    assert len(sampler) == sampler.num_samples == 10
    assert sorted(sampler) == list(range(10))
    longer = list(nd.RandomSampler(range(10), num_samples=25))  # 2 permutations and 5 more
    assert len(longer) == len(nd.RandomSampler(range(10), num_samples=25)) == 25
    assert sorted(longer[:10]) == sorted(longer[10:20]) == list(range(10))
    assert len(set(longer[20:])) == 5
    assert all(type(i) is int for i in longer)


def test_random_sampler_with_replacement_draws_uniformly():
    nb.manual_seed(1)
    draws = list(nd.RandomSampler(range(5), replacement=True, num_samples=5000))
    counts = np.bincount(draws, minlength=5)
    assert len(draws) == 5000 and counts.sum() == 5000
    assert np.all(np.abs(counts - 1000) < 5 * np.sqrt(1000 * 0.8))  # 5 standard deviations
    few = list(nd.RandomSampler(range(100), replacement=True, num_samples=50))
    assert len(set(few)) < 50 or len(few) == 50  # repeats are allowed
    assert all(0 <= i < 100 for i in few)


def test_subset_random_sampler_permutes_the_given_indices():
    indices = [4, 8, 15, 16, 23, 42]
    sampler = nd.SubsetRandomSampler(indices, generator=torch.Generator().manual_seed(0))
    epochs = [list(sampler) for _ in range(5)]
    assert all(sorted(e) == indices for e in epochs) and len(sampler) == 6
    assert len({tuple(e) for e in epochs}) > 1


def test_weighted_random_sampler_draws_in_proportion_to_the_weights():
    weights = [1.0, 0.0, 3.0, 6.0]
    sampler = nd.WeightedRandomSampler(weights, 10000, generator=torch.Generator().manual_seed(2))
    counts = np.bincount(list(sampler), minlength=4)
    assert counts[1] == 0 and len(sampler) == 10000
    assert np.allclose(counts / 10000, [0.1, 0.0, 0.3, 0.6], atol=0.02)
    assert sampler.weights.dtype == nb.float64 and sampler.weights.tolist() == weights
    nb.manual_seed(3)
    distinct = list(nd.WeightedRandomSampler(nb.tensor([1.0, 2.0, 3.0, 4.0]), 4,
                                             replacement=False))
    assert sorted(distinct) == [0, 1, 2, 3]


def test_weighted_sampling_without_replacement_favours_heavy_weights():
    firsts = collections.Counter()
    g = torch.Generator().manual_seed(4)
    for _ in range(3000):
        firsts[next(iter(nd.WeightedRandomSampler([1, 2, 3], 3, replacement=False,
                                                  generator=g)))] += 1
    assert np.allclose([firsts[i] / 3000 for i in range(3)], [1 / 6, 2 / 6, 3 / 6], atol=0.03)
    # once the positive weights are used up, the zero-weight indices follow, as in PyTorch
    assert sorted(nd.WeightedRandomSampler([1, 0, 0], 3, replacement=False)) == [0, 1, 2]
    assert list(nd.WeightedRandomSampler([1, 0, 0], 3, replacement=False))[0] == 0


@pytest.mark.parametrize("args", [([1, 2], 0), ([1, 2], True), ([1, 2], 2.0),
                                  ([[1, 2]], 2), ([1, 2], 2, 1)], ids=repr)
def test_weighted_random_sampler_checks_its_arguments_as_pytorch(args):
    assert_same_error(lambda: nd.WeightedRandomSampler(*args),
                      lambda: td.WeightedRandomSampler(*args))


@pytest.mark.parametrize("args", [([1.0, -1.0], 1), ([0.0, 0.0], 1), ([1.0, 1.0], 3, False),
                                  ([float("nan"), 1.0], 1)], ids=repr)
def test_weighted_random_sampler_refuses_bad_weights_when_drawing_as_pytorch(args):
    assert_same_error(lambda: list(nd.WeightedRandomSampler(*args)),
                      lambda: list(td.WeightedRandomSampler(*args)))


def test_a_loader_with_a_weighted_sampler_batches_its_draws():
    sampler = nd.WeightedRandomSampler([0, 1, 0, 1], 6)
    batches = [b.tolist() for b in nd.DataLoader(Squares(4), batch_size=4, sampler=sampler)]
    assert [len(b) for b in batches] == [4, 2]
    assert set(flat(batches)) <= {1, 9}


# ---- data sets made of others ----------------------------------------------------------------

def test_concat_dataset_indexes_as_pytorch_including_negative_indices():
    parts = [list(range(3)), list(range(10, 12)), [], list(range(20, 24))]
    ours, theirs = nd.ConcatDataset(parts), td.ConcatDataset(parts)
    assert len(ours) == len(theirs) == 9
    assert ours.cumulative_sizes == theirs.cumulative_sizes
    assert [ours[i] for i in range(-9, 9)] == [theirs[i] for i in range(-9, 9)]
    assert_same_error(lambda: ours[-10], lambda: theirs[-10])
    assert isinstance(raised(lambda: ours[9]), IndexError)
    assert isinstance(raised(lambda: theirs[9]), IndexError)


def test_concat_dataset_refuses_what_pytorch_refuses():
    assert_same_error(lambda: nd.ConcatDataset([]), lambda: td.ConcatDataset([]))

    class Stream(nd.IterableDataset):
        def __iter__(self):
            return iter(range(3))

    class TorchStream(td.IterableDataset):
        def __iter__(self):
            return iter(range(3))

    assert_same_error(lambda: nd.ConcatDataset([Stream()]),
                      lambda: td.ConcatDataset([TorchStream()]))
    assert isinstance(raised(lambda: nd.ConcatDataset([])), ValueError)  # and an AssertionError


def test_adding_data_sets_concatenates_them():
    both = Squares(3) + Squares(2)
    assert isinstance(both, nd.ConcatDataset) and [both[i] for i in range(5)] == [0, 1, 4, 0, 1]
    loader = nd.DataLoader(both, batch_size=2, shuffle=True)
    assert sorted(flat(loader)) == [0, 0, 1, 1, 4]


def test_subset_indexes_through_its_indices():
    base = list(range(100, 110))
    ours, theirs = nd.Subset(base, [9, 0, 4]), td.Subset(base, [9, 0, 4])
    assert len(ours) == len(theirs) == 3
    assert [ours[i] for i in range(-3, 3)] == [theirs[i] for i in range(-3, 3)]
    assert ours.__getitems__([2, 0]) == theirs.__getitems__([2, 0]) == [104, 109]
    x = nb.arange(10) * 10
    assert nd.Subset(x, [3, 1])[[0, 1]].tolist() == [30, 10]  # a list index goes to the data set
    assert ours.dataset is base and ours.indices == [9, 0, 4]


def test_stack_dataset_stacks_as_tuple_or_dict():
    a, b = list(range(4)), list("abcd")
    ours, theirs = nd.StackDataset(a, b), td.StackDataset(a, b)
    assert len(ours) == len(theirs) == 4
    assert [ours[i] for i in range(4)] == [theirs[i] for i in range(4)]
    assert ours.__getitems__([3, 1]) == theirs.__getitems__([3, 1])
    named, tnamed = nd.StackDataset(x=a, y=b), td.StackDataset(x=a, y=b)
    assert named[2] == tnamed[2] == {"x": 2, "y": "c"}
    assert named.__getitems__([0, 1]) == tnamed.__getitems__([0, 1])
    batch = next(iter(nd.DataLoader(nd.StackDataset(x=nd.TensorDataset(nb.arange(4)), y=b),
                                    batch_size=3)))
    assert batch["x"][0].tolist() == [0, 1, 2] and batch["y"] == ["a", "b", "c"]


@pytest.mark.parametrize("args, kwargs", [((), {}), (([1],), {"y": [1]}),
                                          (([1, 2], [1]), {}), ((), {"x": [1], "y": []})],
                         ids=repr)
def test_stack_dataset_refuses_what_pytorch_refuses(args, kwargs):
    assert_same_error(lambda: nd.StackDataset(*args, **kwargs),
                      lambda: td.StackDataset(*args, **kwargs))


def test_tensor_dataset_rows_equal_pytorchs():
    x = np.arange(12.0).reshape(6, 2)
    ours = nd.TensorDataset(nb.tensor(x), nb.arange(6))
    theirs = td.TensorDataset(torch.tensor(x), torch.arange(6))
    assert len(ours) == len(theirs)
    for i in range(-6, 6):
        assert [t.tolist() for t in ours[i]] == [t.tolist() for t in theirs[i]]


# ---- random_split ------------------------------------------------------------------------------

SPLITS = [(10, [3, 7]), (10, [0.3, 0.7]), (10, [0.5, 0.5]), (11, [0.5, 0.5]),
          (7, [0.2, 0.3, 0.5]), (30, [0.3, 0.3, 0.4]), (5, [0.1, 0.1, 0.8]),
          (10, [1.0]), (3, [0.25, 0.25, 0.25, 0.25]), (101, [0.7, 0.2, 0.1]), (4, [1])]


@pytest.mark.parametrize("n, lengths", SPLITS, ids=repr)
def test_random_split_sizes_equal_pytorchs_and_cover_the_data_set(n, lengths):
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        ours = nd.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings(record=True) as theirs_warned:
        warnings.simplefilter("always")
        theirs = td.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [str(w.message) for w in ours_warned] == [str(w.message) for w in theirs_warned]
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    items = [s[i] for s in ours for i in range(len(s))]
    assert sorted(items) == list(range(n))
    assert all(isinstance(s, nd.Subset) for s in ours)


@pytest.mark.parametrize("lengths", [[3, 6], [3, 8], [0.4, 0.5], [1.2, -0.2]],
                         ids=repr)
def test_random_split_refuses_what_pytorch_refuses(lengths):
    assert_same_error(lambda: nd.random_split(range(10), lengths),
                      lambda: td.random_split(range(10), lengths))


def test_random_split_repeats_for_a_seed_and_differs_between_seeds():
    def split(seed):
        parts = nd.random_split(range(20), [0.5, 0.5],
                                generator=torch.Generator().manual_seed(seed))
        return [list(p) for p in parts]
    assert split(0) == split(0) != split(1)


def test_a_split_of_a_tensor_dataset_loads_like_the_rows_it_holds():
    x = nb.arange(20).reshape(10, 2)
    train, val = nd.random_split(nd.TensorDataset(x, nb.arange(10)), [0.8, 0.2])
    rows = [(r.tolist(), y.item()) for bx, by in nd.DataLoader(train, batch_size=3)
            for r, y in zip(bx, by)]
    assert len(rows) == 8 and all(r == [2 * y, 2 * y + 1] for r, y in rows)
    assert {y for _, y in rows} | {int(val[i][1].item()) for i in range(2)} == set(range(10))


# ---- iterable data sets and workers ------------------------------------------------------------

class Range(nd.IterableDataset):
    """PyTorch's documented example: ``range(start, end)``, split between the workers when
    ``sharded`` (contiguous parts, as the documentation's ``worker_init_fn`` does)."""

    def __init__(self, start, end, sharded=True):
        self.start, self.end, self.sharded = start, end, sharded

    def __iter__(self):
        info = nd.get_worker_info()
        if info is None or not self.sharded:
            return iter(range(self.start, self.end))
        per_worker = -(-(self.end - self.start) // info.num_workers)
        start = self.start + info.id * per_worker
        return iter(range(start, min(start + per_worker, self.end)))

    def __len__(self):
        return self.end - self.start


def singles(loader) -> list:
    return [b.tolist() for b in loader]


def test_an_iterable_dataset_gives_pytorchs_documented_batches():
    # the examples of torch.utils.data.IterableDataset's documentation, ds = range(3, 7)
    assert singles(nd.DataLoader(Range(3, 7), num_workers=0)) == [[3], [4], [5], [6]]
    assert singles(nd.DataLoader(Range(3, 7), num_workers=2)) == [[3], [5], [4], [6]]
    assert singles(nd.DataLoader(Range(3, 7), num_workers=12)) == [[3], [4], [5], [6]]
    # without sharding, each worker gives every sample: duplicates, as documented
    assert singles(nd.DataLoader(Range(3, 7, sharded=False), num_workers=2)) == \
        [[3], [3], [4], [4], [5], [5], [6], [6]]
    assert singles(nd.DataLoader(Range(3, 7), num_workers=0)) == \
        singles(td.DataLoader(range(3, 7), num_workers=0))


def test_an_iterable_dataset_is_batched_per_worker_with_drop_last_per_worker():
    assert singles(nd.DataLoader(Range(0, 10), batch_size=3)) == \
        [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    # worker 0 streams 0..4, worker 1 5..9: batches alternate, each worker's last is short
    assert singles(nd.DataLoader(Range(0, 10), batch_size=3, num_workers=2)) == \
        [[0, 1, 2], [5, 6, 7], [3, 4], [8, 9]]
    assert singles(nd.DataLoader(Range(0, 10), batch_size=3, num_workers=2, drop_last=True)) \
        == [[0, 1, 2], [5, 6, 7]]
    assert len(nd.DataLoader(Range(0, 10), batch_size=3)) == 4
    assert len(nd.DataLoader(Range(0, 10), batch_size=3, drop_last=True)) == 3
    assert list(nd.DataLoader(Range(0, 3), batch_size=None)) == [0, 1, 2]


def test_an_iterable_dataset_refuses_shuffle_and_samplers_as_pytorch():
    class TorchRange(td.IterableDataset):
        def __iter__(self):
            return iter(range(3))

    for kwargs in [dict(shuffle=True), dict(sampler=[0, 1]), dict(batch_sampler=[[0]])]:
        assert_same_error(lambda k=kwargs: nd.DataLoader(Range(0, 3), **k),
                          lambda k=kwargs: td.DataLoader(TorchRange(), **k))
    nd.DataLoader(Range(0, 3), shuffle=False)  # accepted, as in PyTorch


def test_chain_dataset_chains_streams_and_refuses_map_style_ones():
    chained = nd.ChainDataset([Range(0, 2), Range(5, 7)])
    assert list(chained) == [0, 1, 5, 6] and len(chained) == 4
    assert list(Range(0, 2) + Range(9, 10)) == [0, 1, 9]
    assert_same_error(lambda: list(nd.ChainDataset([range(2)])),
                      lambda: list(td.ChainDataset([range(2)])))
    assert_same_error(lambda: len(nd.ChainDataset([range(2)])),
                      lambda: len(td.ChainDataset([range(2)])))


def test_get_worker_info_in_workers_and_none_in_the_main_thread():
    seen = []
    lock = threading.Lock()

    class Reports(nd.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            info = nd.get_worker_info()
            with lock:
                seen.append((info.id, info.num_workers, info.seed, info.dataset))
            return i

    ds = Reports()
    loader = nd.DataLoader(ds, batch_size=2, num_workers=2,
                           generator=torch.Generator().manual_seed(7))
    assert flat(loader) == list(range(8))
    assert nd.get_worker_info() is None
    ids = {s[0] for s in seen}
    assert ids == {0, 1} and {s[1] for s in seen} == {2}
    seeds = {s[0]: s[2] for s in seen}
    assert seeds[1] == seeds[0] + 1  # base seed + worker id
    copies = {id(s[3]) for s in seen}
    assert len(copies) == 2 and all(type(s[3]) is Reports and s[3] is not ds for s in seen)
    seen.clear()
    again = nd.DataLoader(ds, batch_size=2, num_workers=2,
                          generator=torch.Generator().manual_seed(7))
    flat(again)
    assert {s[0]: s[2] for s in seen} == seeds  # the seeds repeat with the generator's seed


def test_worker_info_is_read_only():
    info = nd.WorkerInfo(0, 2, 5, None)
    assert (info.id, info.num_workers, info.seed, info.worker_method) == (0, 2, 5, "thread")
    with pytest.raises(RuntimeError, match="Cannot assign attributes"):
        info.id = 1


def test_worker_init_fn_runs_in_each_worker_once_per_epoch_or_once_if_persistent():
    calls = []

    def init(worker_id):
        info = nd.get_worker_info()
        calls.append((worker_id, info.id, threading.current_thread().name))
        info.dataset.start += 100 * worker_id  # this worker's copy only
        info.dataset.end += 100 * worker_id

    ds = Range(0, 4, sharded=False)
    loader = nd.DataLoader(ds, num_workers=2, worker_init_fn=init)
    assert sorted(flat(loader)) == [0, 1, 2, 3, 100, 101, 102, 103]
    assert sorted(calls) == [(0, 0, "DataLoader worker 0"), (1, 1, "DataLoader worker 1")]
    assert ds.start == 0  # the loader's data set is untouched
    flat(loader)
    assert len(calls) == 4  # a new epoch, new workers
    calls.clear()
    persistent = nd.DataLoader(ds, num_workers=2, worker_init_fn=init, persistent_workers=True)
    first = sorted(flat(persistent))
    assert sorted(flat(persistent)) == first == [0, 1, 2, 3, 100, 101, 102, 103]
    assert len(calls) == 2  # the workers, and what init did to their copies, are kept


def test_an_error_in_worker_init_fn_reaches_the_loop():
    def init(worker_id):
        raise ValueError(f"no shard for worker {worker_id}")

    with pytest.raises(ValueError, match="no shard for worker 0"):
        flat(nd.DataLoader(Squares(4), num_workers=1, worker_init_fn=init))
    with pytest.raises(TypeError, match="worker_init_fn"):
        nd.DataLoader(Squares(4), num_workers=1, worker_init_fn=3)


def test_an_error_in_an_iterable_dataset_in_a_worker_reaches_the_loop():
    class Breaks(nd.IterableDataset):
        def __iter__(self):
            yield 1
            raise OSError("stream broke")

    with pytest.raises(OSError, match="stream broke"):
        flat(nd.DataLoader(Breaks(), num_workers=2))


# ---- default_convert ---------------------------------------------------------------------------

def test_default_convert_converts_as_pytorchs():
    Point = collections.namedtuple("Point", "x y")
    cases = [0, 1.5, "text", np.array([1, 2]), np.float32(3.5), (np.array([1]), 2),
             [np.array([1.0]), "a"], {"a": np.arange(2), "b": 3}, Point(np.array(0), 1)]

    def plain(value):
        if isinstance(value, (nb.Tensor, torch.Tensor)):
            return ("tensor", value.tolist(), str(value.dtype).split(".")[-1])
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value).__name__, [plain(v) for v in value]
        return value

    for case in cases:
        assert plain(nd.default_convert(case)) == plain(td.default_convert(case)), case
    strings = np.array(["a", "b"])
    assert nd.default_convert(strings) is strings


def test_a_numbanet_generator_is_drawn_from_and_reseeding_it_repeats():
    if not hasattr(nb, "Generator"):
        pytest.skip("numbanet.Generator is not there")
    g = nb.Generator().manual_seed(3)
    sampler = nd.RandomSampler(range(20), generator=g)
    one, two = list(sampler), list(sampler)
    assert one != two and sorted(one) == list(range(20))
    g.manual_seed(3)
    assert list(sampler) == one  # the same seed again: the same stream, as in PyTorch


def test_a_subset_of_a_tensor_dataset_is_gathered_as_its_samples_would_be_stacked():
    x, y = nb.randn(12, 3), nb.arange(12) * 10
    nested = nd.Subset(nd.Subset(nd.TensorDataset(x, y), list(range(11, -1, -1))), [0, 5, 7, 2, 9])
    for num_workers in (0, 2):
        fast = list(nd.DataLoader(nested, batch_size=2, num_workers=num_workers))
        slow = list(nd.DataLoader(nested, batch_size=2, num_workers=num_workers,
                                  collate_fn=lambda samples: nd.default_collate(samples)))
        assert len(fast) == len(slow) == 3
        for (fx, fy), (sx, sy) in zip(fast, slow):
            assert fx.tolist() == sx.tolist() and fy.tolist() == sy.tolist()
    assert [b[1].tolist() for b in nd.DataLoader(nested, batch_size=5)] == [[110, 60, 40, 90,
                                                                             20]]


def test_data_sets_and_samplers_are_generic_as_pytorchs():
    class Ints(nd.Dataset[int]):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return i

    class Evens(nd.Sampler[int]):
        def __iter__(self):
            return iter([0, 2])

        def __len__(self):
            return 2

    assert flat(nd.DataLoader(Squares(3), sampler=Evens())) == [0, 4]
    assert flat(nd.DataLoader(Ints())) == [0, 1]
    assert nd.IterableDataset[int] is not None


def test_the_package_has_pytorchs_public_names():
    import numbanet.distributed
    names = {"BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
             "DistributedSampler", "IterableDataset", "RandomSampler", "Sampler",
             "SequentialSampler", "StackDataset", "Subset", "SubsetRandomSampler",
             "TensorDataset", "WeightedRandomSampler", "default_collate", "default_convert",
             "get_worker_info", "random_split"}
    assert names <= set(dir(td)) and names <= set(nd.__all__)
    assert all(getattr(nd, name) is not None for name in names)
    assert nd.DistributedSampler is numbanet.distributed.DistributedSampler


def test_more_batches_than_the_reported_length_of_a_stream_warn_as_in_pytorch():
    class TorchLying(td.IterableDataset):
        def __iter__(self):
            return iter(range(5))

        def __len__(self):
            return 3

    class Lying(nd.IterableDataset):
        def __iter__(self):
            return iter(range(5))

        def __len__(self):
            return 3

    def warned(loader):
        len(loader)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            batches = list(loader)
        return len(batches), [str(w.message).split("reported to be ")[1] for w in caught]

    ours, theirs = warned(nd.DataLoader(Lying())), warned(td.DataLoader(TorchLying()))
    assert ours[0] == theirs[0] == 5
    assert ours[1][0] == theirs[1][0]  # the first warning, at the fourth batch
    # with two workers that do not split the stream, every sample comes twice
    count, messages = warned(nd.DataLoader(Range(0, 4, sharded=False), num_workers=2))
    assert count == 8 and len(messages) == 1 and "get_worker_info()" in messages[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(nd.DataLoader(Range(0, 4, sharded=False), num_workers=2))) == 8


def test_tensor_dataset_size_mismatch_is_pytorchs_error():
    assert_same_error(lambda: nd.TensorDataset(nb.zeros(3), nb.zeros(2)),
                      lambda: td.TensorDataset(torch.zeros(3), torch.zeros(2)))
    assert isinstance(raised(lambda: nd.TensorDataset(nb.zeros(3), nb.zeros(2))), ValueError)
