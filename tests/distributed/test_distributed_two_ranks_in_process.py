"""The multi-rank paths of ``allreduce``, ``broadcast_parameters`` and ``GradientReducer``
in this process, with a stand-in for MPI: a communicator of two ranks whose other rank
holds the same values as this one. They run where ``mpirun`` is missing (the MPI job
tests skip there), and check the packing into host buffers and back."""
from __future__ import annotations

import numpy as np
import pytest

import numbanet as nb
from numbanet import nn
from numbanet.distributed import collectives, runtime
from numbanet.distributed.reducer import GradientReducer


class _MPI:
    SUM, MAX, MIN = "sum", "max", "min"
    IN_PLACE = object()


class _TwinComm:
    """Rank ``rank`` of two, the other rank sending what this one sends."""

    def __init__(self, rank: int):
        self.rank, self.calls = rank, []

    def allgather(self, value):
        return [value, value]

    def Allreduce(self, send, recv, op):
        assert isinstance(recv, np.ndarray) and recv.flags.c_contiguous
        self.calls.append((recv.shape, recv.dtype))
        values = recv.copy() if send is _MPI.IN_PLACE else send
        combine = {"sum": np.add, "max": np.maximum, "min": np.minimum}[op]
        combine(values, values, out=recv)

    def Bcast(self, buffer, root):
        if self.rank != root:
            buffer[...] = np.arange(buffer.size).reshape(buffer.shape)


@pytest.fixture
def two_ranks(monkeypatch):
    def make(rank=0):
        world = object.__new__(runtime.World)
        world.comm, world.MPI, world.rank, world.size = _TwinComm(rank), _MPI, rank, 2
        world.cuda_aware, world.local_rank = False, rank
        monkeypatch.setattr(collectives, "current", lambda: world)
        return world
    return make


def test_allreduce_of_two_equal_ranks(two_ranks):
    two_ranks()
    x = nb.randn(3, 4)
    np.testing.assert_array_equal(collectives.allreduce(x.t(), "sum").numpy(), 2 * x.numpy().T)
    np.testing.assert_array_equal(collectives.allreduce(x, "mean").numpy(), x.numpy())
    flags = nb.tensor([True, False])
    out = collectives.allreduce(flags, "max")
    assert out.dtype is nb.bool and out.numpy().tolist() == [True, False]
    assert not np.shares_memory(out.numpy(), flags.numpy())


def test_broadcast_parameters_writes_root_values_into_the_other_rank(two_ranks):
    world = two_ranks(rank=1)
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    collectives.broadcast_parameters(model, root=0)
    values = np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
    np.testing.assert_array_equal(values, np.arange(values.size))
    two_ranks(rank=0)
    before = [p.detach().numpy().copy() for p in model.parameters()]
    collectives.broadcast_parameters(model, root=0)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.detach().numpy(), b)
    assert world.comm.calls == []


def test_the_reducer_sums_weighted_gradients_in_one_call_per_bucket(two_ranks):
    world = two_ranks()
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    params = list(model.parameters())
    grads = [nb.randn(*p.shape) for p in params]
    grads[2] = nb.randn(3, 2).t()  # a strided gradient
    for p, g in zip(params, grads):
        p.grad = g
    params[1].grad = None  # unused on both ranks: stays None
    reducer = GradientReducer(world)
    reducer.reduce(params, weight=0.25)
    assert params[1].grad is None
    for i in (0, 2, 3):
        np.testing.assert_array_equal(params[i].grad.numpy(),
                                      (grads[i].numpy() * np.float32(0.25)) * 2)
    assert world.comm.calls == [((4 * 3 + 3 + 3 * 2 + 2 + 4,), np.float32)]
    assert reducer.stats["allreduce_calls"] == 1
    # the gradients are views of one buffer: the next step packs them again
    reducer.reduce(params, weight=0.5)
    np.testing.assert_array_equal(params[0].grad.numpy(), grads[0].numpy() * 0.5)


@pytest.mark.parametrize("rank,last", [(0, (2, 2 / 3)), (1, (1, 1 / 3))])
def test_each_rank_takes_every_kth_sample_and_its_share_of_the_last_batch(two_ranks, rank,
                                                                          last):
    from numbanet.distributed.data_parallel import ShardedEpochBatches
    world = two_ranks(rank)
    x = nb.arange(27 * 2, dtype=nb.float32).reshape(27, 2)
    y = nb.arange(27, dtype=nb.int64)
    batches = ShardedEpochBatches(world, x, y, batch_size=4, shuffle=False)
    assert batches.steps == 4  # ceil(27 / (2 * 4)) global batches
    steps = list(batches.epoch(nb.device("cpu")))
    assert [tuple(yb.shape) for _, yb, _ in steps] == [(4,), (4,), (4,), (last[0],)]
    assert [w for _, _, w in steps] == [0.5, 0.5, 0.5, last[1]]
    np.testing.assert_array_equal(np.concatenate([yb.numpy() for _, yb, _ in steps]),
                                  np.arange(rank, 27, 2))
    np.testing.assert_array_equal(steps[0][0].numpy(), x.numpy()[rank:8:2])


def test_fit_runs_its_epoch_loop_over_the_sharded_batches(two_ranks, monkeypatch):
    from numbanet import keras
    world = two_ranks()
    monkeypatch.setattr(runtime, "active_world", lambda: world)
    nb.manual_seed(0)
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((10, 3), np.float32), np.zeros((10, 2), np.float32)
    history = model.fit(x, y, batch_size=2, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    reductions = [c for c in world.comm.calls if c[0] == (3 * 2 + 2 + 2,)]
    assert len(reductions) == 2 * 3  # ceil(10 / (2 * 2)) steps per epoch, one bucket
