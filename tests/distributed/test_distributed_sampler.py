"""DistributedSampler and the split of Keras's batches, rank by rank, without MPI: the
ranks are simulated by building one sampler per rank."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numbanet as nb
from numbanet.distributed import DistributedSampler
from numbanet.distributed.data_parallel import EpochShard
from numbanet.utils.data import DataLoader, TensorDataset


def per_rank(data, ranks, **options):
    """One sampler per rank; ``data``: a data set, or a number of samples."""
    data = range(data) if isinstance(data, int) else data
    return [DistributedSampler(data, num_replicas=ranks, rank=r, **options)
            for r in range(ranks)]


@given(n=st.integers(1, 60), ranks=st.integers(1, 5), seed=st.integers(0, 2**31),
       epoch=st.integers(0, 1000), shuffle=st.booleans())
def test_each_sample_goes_to_exactly_one_rank_per_epoch(n, ranks, seed, epoch, shuffle):
    n = n * ranks   # a multiple of the number of ranks: nothing to pad or drop
    samplers = per_rank(n, ranks, seed=seed, shuffle=shuffle)
    for s in samplers:
        s.set_epoch(epoch)
    shares = [list(s) for s in samplers]
    assert sorted(i for share in shares for i in share) == list(range(n))
    assert all(len(share) == n // ranks == len(s) for share, s in zip(shares, samplers))


@given(n=st.integers(1, 60), ranks=st.integers(2, 5), seed=st.integers(0, 100))
def test_uneven_data_sets_are_padded_or_cut_so_all_ranks_make_equal_steps(n, ranks, seed):
    padded = [list(s) for s in per_rank(n, ranks, seed=seed)]
    counts = np.bincount(np.concatenate(padded), minlength=n)
    assert len({len(share) for share in padded}) == 1
    assert counts.min() >= 1 and counts.sum() == -(-n // ranks) * ranks
    if n >= ranks:
        cut = [list(s) for s in per_rank(n, ranks, seed=seed, drop_last=True)]
        counts = np.bincount(np.concatenate(cut), minlength=n)
        assert len({len(share) for share in cut}) == 1
        assert counts.max() == 1 and counts.sum() == n - n % ranks


def test_set_epoch_draws_a_new_order_that_all_ranks_share():
    a, b = per_rank(40, 2, seed=3)
    first = a.permutation().tolist()
    a.set_epoch(1)
    assert a.permutation().tolist() != first
    b.set_epoch(1)
    assert a.permutation().tolist() == b.permutation().tolist()
    again = DistributedSampler(range(40), num_replicas=2, rank=0, seed=3)
    assert again.permutation().tolist() == first            # seeded: reproducible
    other_seed = DistributedSampler(range(40), num_replicas=2, rank=0, seed=4)
    assert other_seed.permutation().tolist() != first


def test_without_shuffle_ranks_take_every_kth_sample():
    assert [list(s) for s in per_rank(7, 3, shuffle=False)] == [[0, 3, 6], [1, 4, 0], [2, 5, 1]]


def test_loader_batches_of_all_ranks_together_are_one_process_batches_of_k_times_the_size():
    x = nb.arange(30).reshape(15, 2).double()
    y = nb.arange(15)
    dataset = TensorDataset(x, y)
    samplers = per_rank(dataset, 3, seed=1)
    loaders = [DataLoader(dataset, batch_size=2, sampler=s) for s in samplers]
    for epoch in range(2):
        for s in samplers:
            s.set_epoch(epoch)
        order = samplers[0].permutation()
        batches = [list(loader) for loader in loaders]
        assert all(len(b) == 3 for b in batches)
        for j in range(3):
            labels = sorted(int(v) for r in range(3) for v in batches[r][j][1].tolist())
            assert labels == sorted(order[j * 6:(j + 1) * 6].tolist())
            for r in range(3):
                xb, yb = batches[r][j]
                np.testing.assert_array_equal(xb.numpy(), x.numpy()[yb.numpy()])


def test_sampler_errors_name_the_bad_value():
    with pytest.raises(ValueError, match=r"rank must be in \[0, 1\] for num_replicas=2, got "
                                         r"rank=2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be an int >= 1, got 0"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(ValueError, match="3 samples for 4 ranks"):
        DistributedSampler(range(3), num_replicas=4, rank=0, drop_last=True)
    with pytest.raises(TypeError, match="needs a data set with a length"):
        DistributedSampler(iter(range(3)), num_replicas=1, rank=0)
    with pytest.raises(RuntimeError, match=r"numbanet.distributed.init\(\)"):
        DistributedSampler(range(4))      # rank and size come from init(), not called here


class FakeWorld:
    def __init__(self, rank, size):
        self.rank, self.size = rank, size


@given(n=st.integers(1, 80), batch=st.integers(1, 9), ranks=st.integers(1, 4),
       seed=st.integers(0, 100))
def test_keras_steps_split_every_global_batch_between_the_ranks(n, batch, ranks, seed):
    order = np.random.default_rng(seed).permutation(n)
    shards = [EpochShard(FakeWorld(r, ranks), n, batch, order) for r in range(ranks)]
    steps = shards[0].steps
    assert steps == -(-n // (batch * ranks)) and all(s.steps == steps for s in shards)
    for j in range(steps):
        taken, weights = [], []
        for s in shards:
            start, stop, weight = s.step(j)
            assert stop - start <= batch
            taken += s.local[start:stop].tolist()
            weights.append(weight)
        assert sorted(taken) == sorted(order[j * batch * ranks:(j + 1) * batch * ranks])
        assert abs(sum(weights) - 1) < 1e-12
