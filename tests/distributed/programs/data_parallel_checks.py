"""The checks that need several ranks, run by ``test_distributed_mpi.py`` as
``mpirun -n 2 python data_parallel_checks.py REFERENCE.npz FOLDER``.

Every rank runs every check; a failed check raises, which aborts the job (see
``numbanet.distributed.runtime``) with a non-zero exit status. Each rank prints
``rank R: all checks passed`` at the end.

The Keras check runs first, before anything calls ``dist.init()``: ``fit`` must join
the job by itself. Its reference (one process, batches twice as large) is computed
by the test, with ``keras_reference`` below, and passed in REFERENCE.npz.
"""
from __future__ import annotations

import os
import sys

import numpy as np

import numbanet as nb
from numbanet import keras, nn, optim
from numbanet.keras.layers import Dense
from numbanet.utils.data import DataLoader, TensorDataset

KERAS_EPOCHS = 3
KERAS_BATCH = 5            # per rank; the reference uses 2 * KERAS_BATCH
TOLERANCE = 1e-10          # float64


# ---- Keras -------------------------------------------------------------------------------------

def keras_data():
    """37 samples: 29 for training after validation_split=0.2, an odd number, so that the
    last global batch (9 samples) is split 5 + 4 between the ranks."""
    rng = np.random.default_rng(7)
    return rng.normal(size=(37, 5)), rng.integers(0, 3, size=37)


def keras_model():
    nb.manual_seed(11)
    model = keras.Sequential([keras.Input((5,), dtype="float64"),
                              Dense(6, activation="relu", dtype="float64"),
                              Dense(3, activation="softmax", dtype="float64")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def keras_reference(path: str) -> None:
    """One process, batches of 2 * KERAS_BATCH: the weights and history to match."""
    x, y = keras_data()
    model = keras_model()
    history = model.fit(x, y, batch_size=2 * KERAS_BATCH, epochs=KERAS_EPOCHS,
                        validation_split=0.2, verbose=0)
    arrays = {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
    arrays.update({f"history_{k}": np.array(v) for k, v in history.history.items()})
    np.savez(path, **arrays)


def check_keras_fit(reference_path: str, folder: str) -> None:
    import numbanet.distributed as dist
    assert not dist.is_initialized(), "fit must be the first to join the job"
    launched_rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", os.environ.get("PMI_RANK", 0)))
    x, y = keras_data()
    model = keras_model()
    if launched_rank != 0:  # fit must start every rank from rank 0's weights
        model.set_weights([w + 1.0 for w in model.get_weights()])
    saves = []
    save = model.save
    model.save = lambda path, *a, **k: (saves.append(path), save(path, *a, **k))
    csv = keras.callbacks.CSVLogger(os.path.join(folder, "training.csv"))
    csv_open = []
    callbacks = [csv,
                 keras.callbacks.LambdaCallback(
                     on_epoch_end=lambda epoch, logs: csv_open.append(csv._file is not None)),
                 keras.callbacks.TensorBoard(os.path.join(folder, "logs")),
                 keras.callbacks.ModelCheckpoint(os.path.join(folder, "model-{epoch}.keras"),
                                                 monitor="val_loss")]
    history = model.fit(x, y, batch_size=KERAS_BATCH, epochs=KERAS_EPOCHS,
                        validation_split=0.2, callbacks=callbacks, verbose=2)
    assert dist.is_initialized() and dist.world_size() == 2, "fit did not join the job"
    reference = np.load(reference_path)
    for i, w in enumerate(model.get_weights()):
        diff = np.abs(w - reference[f"weight_{i}"]).max()
        assert diff <= TOLERANCE, f"keras weight {i} differs from one process by {diff}"
    for key, values in history.history.items():
        diff = np.abs(np.array(values) - reference[f"history_{key}"]).max()
        assert diff <= TOLERANCE, f"history[{key!r}] differs from one process by {diff}"
    writer = dist.rank() == 0
    assert csv_open == [writer] * KERAS_EPOCHS, f"CSVLogger open on rank {dist.rank()}: {csv_open}"
    assert len(saves) == (KERAS_EPOCHS if writer else 0), \
        f"rank {dist.rank()} saved checkpoints {saves}"
    if writer:
        event_files = os.listdir(os.path.join(folder, "logs", "train"))
        assert len(event_files) == 1, f"expected one event file, got {event_files}"
    # a callback that stops training in a batch hook of one rank stops every rank
    stop_on_rank_1 = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: setattr(
        model, "stop_training", batch == 1 and dist.rank() == 1))
    stopped = model.fit(x, y, batch_size=2, epochs=3, callbacks=[stop_on_rank_1], verbose=0)
    assert len(stopped.history["loss"]) == 1, stopped.history
    n = 30 + dist.rank()   # ranks that pass different data sets get an error, not a hang
    expect_error(ValueError, lambda: model.fit(x[:n], y[:n], verbose=0),
                 "rank 0: x shape (30, 5), y shape (30,)", "rank 1: x shape (31, 5)")


def allgather(value) -> list:
    """Every rank's ``value``, through mpi4py itself (not the code under test)."""
    from numbanet.distributed.runtime import current
    return current().comm.allgather(value)


# ---- collectives ---------------------------------------------------------------------------------

def expect_error(kind, fn, *fragments) -> str:
    try:
        fn()
    except kind as e:
        message = str(e)
        for fragment in fragments:
            assert fragment in message, f"{fragment!r} missing from the message: {message}"
        return message
    raise AssertionError(f"expected {kind.__name__}")


def check_allreduce(dist) -> None:
    r = dist.rank()
    base = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = nb.tensor(base * (r + 1))
    np.testing.assert_array_equal(dist.allreduce(t).numpy(), base * 1.5)
    np.testing.assert_array_equal(dist.allreduce(t, op="sum").numpy(), base * 3)
    np.testing.assert_array_equal(dist.allreduce(t, op="max").numpy(), base * 2)
    np.testing.assert_array_equal(dist.allreduce(t, op="min").numpy(), base)
    np.testing.assert_array_equal(t.numpy(), base * (r + 1))          # the input is unchanged
    np.testing.assert_array_equal(dist.allreduce(t.T).numpy(), (base * 1.5).T)  # a view
    assert dist.allreduce(nb.tensor([1, 2]) * (r + 1), op="sum").tolist() == [3, 6]
    flags = nb.tensor([r == 0, False])
    assert dist.allreduce(flags, op="max").tolist() == [True, False]
    assert dist.allreduce(flags, op="min").tolist() == [False, False]
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    assert not dist.allreduce(x * 2).requires_grad
    expect_error(ValueError, lambda: dist.allreduce(nb.zeros(2 + r)),
                 "rank 0: shape (2,) float32", "rank 1: shape (3,) float32")
    expect_error(TypeError, lambda: dist.allreduce(nb.tensor([1, 2])), "op='sum'")


def check_broadcast(dist) -> None:
    nb.manual_seed(100 + dist.rank())
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()
    with nb.no_grad():
        model[1].running_mean.fill_(float(dist.rank()))
    before = np.concatenate([t.detach().numpy().ravel() for t in model.state_dict().values()])
    dist.broadcast_parameters(model, root=0)
    after = np.concatenate([t.detach().numpy().ravel() for t in model.state_dict().values()])
    everyone = allgather((before, after))
    for _, ranks_after in everyone:
        np.testing.assert_array_equal(ranks_after, everyone[0][0])   # rank 0's values
    assert not np.array_equal(everyone[0][0], everyone[1][0]), "ranks started equal"
    # a list of tensors, from root 1
    t = nb.tensor([float(dist.rank())] * 3)
    dist.broadcast_parameters([t], root=1)
    assert t.tolist() == [1.0, 1.0, 1.0]
    expect_error(ValueError, lambda: dist.broadcast_parameters(model, root=2),
                 "root must be a rank from 0 to 1")
    other = nn.Linear(2 + dist.rank(), 2)
    expect_error(ValueError, lambda: dist.broadcast_parameters(other), "rank 0: 2 tensors",
                 "weight (2, 2)", "weight (2, 3)")


# ---- DistributedOptimizer + DistributedSampler -------------------------------------------------

def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 8), nn.Tanh(),
                         nn.Linear(8, 3)).double()


def check_optimizer_equivalence(dist, make_optimizer, name: str) -> None:
    """2 ranks x batch 4 with DistributedOptimizer == 1 process x batch 8."""
    rng = np.random.default_rng(3)
    x = nb.tensor(rng.normal(size=(48, 5)), dtype=nb.float64)
    y = nb.tensor(rng.integers(0, 3, size=48))
    dataset = TensorDataset(x, y)
    nb.manual_seed(200 + dist.rank())       # different weights on each rank...
    model = mlp()
    dist.broadcast_parameters(model)        # ...until rank 0's are sent to all
    reference = mlp()
    reference.load_state_dict(model.state_dict())

    # ~600 bytes per bucket: several buckets, most holding more than one parameter
    optimizer = dist.DistributedOptimizer(make_optimizer(model.parameters()),
                                          bucket_cap_mb=600 / 2**20)
    schedule = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    sampler = dist.DistributedSampler(dataset, shuffle=True, seed=5)
    loader = DataLoader(dataset, batch_size=4, sampler=sampler)
    single = make_optimizer(reference.parameters())
    single_schedule = optim.lr_scheduler.StepLR(single, step_size=1, gamma=0.5)
    steps = 0
    for epoch in range(2):
        sampler.set_epoch(epoch)
        for xb, yb in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()
            steps += 1
        order = sampler.permutation()      # the same on every rank
        for start in range(0, len(order), 8):
            batch = nb.tensor(order[start:start + 8])
            single.zero_grad()
            nn.functional.cross_entropy(reference(x[batch]), y[batch]).backward()
            single.step()
        schedule.step()
        single_schedule.step()
    assert steps == 12, steps
    buckets = optimizer.buckets
    assert 1 < len(buckets) < 6 and max(len(b) for b in buckets) > 1, \
        f"{name}: buckets of sizes {[len(b) for b in buckets]}"
    calls = optimizer.stats["allreduce_calls"]
    assert calls == steps * len(buckets), f"{name}: {calls} allreduce calls for {steps} steps"
    for (pname, p), q in zip(model.named_parameters(), reference.parameters()):
        diff = np.abs(p.detach().numpy() - q.detach().numpy()).max()
        assert diff <= TOLERANCE, f"{name}: {pname} differs from one process by {diff}"
    flat = np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
    gathered = allgather(flat)
    np.testing.assert_array_equal(gathered[0], gathered[1])


def check_gradients_of_unused_parameters(dist) -> None:
    used_by_rank_0 = nn.Parameter(nb.ones(2, dtype=nb.float64))
    unused = nn.Parameter(nb.ones(2, dtype=nb.float64))
    shared = nn.Parameter(nb.ones(2, dtype=nb.float64))
    optimizer = dist.DistributedOptimizer(optim.SGD([used_by_rank_0, unused, shared], lr=1.0))
    optimizer.zero_grad()
    loss = (shared * 2.0 * (dist.rank() + 1)).sum()
    if dist.rank() == 0:
        loss = loss + (used_by_rank_0 * 4.0).sum()
    loss.backward()
    optimizer.synchronize()
    assert shared.grad.tolist() == [3.0, 3.0], shared.grad       # mean of 2 and 4
    assert used_by_rank_0.grad.tolist() == [2.0, 2.0]            # mean of 4 and nothing
    assert unused.grad is None
    different = nn.Linear(2 + dist.rank(), 3)
    bad = dist.DistributedOptimizer(optim.SGD(different.parameters(), lr=0.1))
    different(nb.ones(1, 2 + dist.rank())).sum().backward()
    expect_error(ValueError, bad.step, "rank 0: 2 parameters, shapes (3, 2)",
                 "rank 1: 2 parameters, shapes (3, 3)")


def check_sampler_partition(dist) -> None:
    for n, drop_last in ((10, False), (11, False), (11, True)):
        sampler = dist.DistributedSampler(list(range(n)), seed=9, drop_last=drop_last)
        orders = []
        for epoch in range(3):
            sampler.set_epoch(epoch)
            mine = list(sampler)
            everyone = allgather(mine)
            assert len(everyone[0]) == len(everyone[1]), (n, everyone)
            counts = np.bincount(np.concatenate(everyone), minlength=n)
            if n % 2 == 0:
                assert (counts == 1).all(), f"n={n}: sample counts {counts}"
            elif drop_last:
                assert counts.sum() == n - 1 and counts.max() == 1, counts
            else:
                assert counts.sum() == n + 1 and counts.min() == 1, counts
            orders.append(sampler.permutation().tolist())
        assert orders[0] != orders[1] != orders[2], "set_epoch did not change the order"


def check_cuda(dist) -> None:
    """Tiny CUDA tensors (the simulator where there is no GPU): reduced through the host
    unless the MPI library is CUDA-aware."""
    t = nb.tensor([1.0, 2.0], device="cuda") * (dist.rank() + 1)
    out = dist.allreduce(t)
    assert out.device.type == "cuda" and out.cpu().tolist() == [1.5, 3.0], out
    nb.manual_seed(300 + dist.rank())
    model = nn.Linear(3, 2)
    dist.broadcast_parameters(model)
    reference = nn.Linear(3, 2)
    reference.load_state_dict(model.state_dict())
    model.to("cuda")
    optimizer = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.5))
    x = nb.tensor(np.arange(12, dtype=np.float32).reshape(4, 3) / 10)
    mine = x[2 * dist.rank():2 * dist.rank() + 2]
    optimizer.zero_grad()
    model(mine.to("cuda")).pow(2).mean().backward()
    optimizer.step()
    single = optim.SGD(reference.parameters(), lr=0.5)
    reference(x).pow(2).mean().backward()
    single.step()
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.detach().cpu().numpy(), q.detach().numpy(), atol=1e-6)


def main() -> None:
    reference_path, folder = sys.argv[1], sys.argv[2]
    check_keras_fit(reference_path, folder)
    import numbanet.distributed as dist
    assert dist.init() is dist.runtime.current()     # a second init changes nothing
    assert dist.local_rank() == dist.rank()           # one machine
    check_allreduce(dist)
    check_broadcast(dist)
    check_optimizer_equivalence(dist, lambda p: optim.SGD(p, lr=0.2, momentum=0.9), "SGD")
    check_optimizer_equivalence(dist, lambda p: optim.Adam(p, lr=0.01), "Adam")
    check_gradients_of_unused_parameters(dist)
    check_sampler_partition(dist)
    if nb.cuda.is_available():
        check_cuda(dist)
        print(f"rank {dist.rank()}: CUDA checks ran "
              f"({'simulator' if nb.cuda.is_simulated() else 'GPU'})", flush=True)
    print(f"rank {dist.rank()}: all checks passed", flush=True)


if __name__ == "__main__":
    main()
