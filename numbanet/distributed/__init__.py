"""``numbanet.distributed``: data-parallel training over MPI, on one machine or many.

Each process (a *rank*) holds a full copy of the model and trains on its own part
of every batch; before each update the ranks average their gradients with MPI's
allreduce, so all copies take the same step and stay equal. Start K ranks with an
MPI launcher, ``mpirun -n K python train.py``, on one machine or, with a hostfile,
on a cluster::

    import numbanet as nb
    import numbanet.distributed as dist
    from numbanet import nn, optim
    from numbanet.utils.data import DataLoader, TensorDataset

    dist.init()                                         # join the job
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    dist.broadcast_parameters(model)                    # every rank starts from rank 0's
    optimizer = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.1))
    dataset = TensorDataset(x, y)
    sampler = dist.DistributedSampler(dataset, shuffle=True, seed=0)
    loader = DataLoader(dataset, batch_size=64, sampler=sampler)  # this rank's samples
    for epoch in range(10):
        sampler.set_epoch(epoch)
        for xb, yb in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            optimizer.step()                            # averages, then updates
    if dist.rank() == 0:
        nb.save(model.state_dict(), "model.nbz")

Keras's ``model.fit`` does all of this by itself when the script runs under
``mpirun``: see ``numbanet.keras``.

MPI is an optional dependency: ``pip install "numbanet[mpi]"`` installs ``mpi4py``,
which needs an MPI library (Open MPI, MPICH) on the machine. Importing this module
never needs them; ``init()`` says what is missing.
"""
from .collectives import allreduce, broadcast_parameters
from .optimizer import DistributedOptimizer
from .runtime import (
                      MPIUnavailableError,
                      barrier,
                      init,
                      is_initialized,
                      local_rank,
                      rank,
                      world_size,
)
from .sampler import DistributedSampler

__all__ = ["DistributedOptimizer", "DistributedSampler", "MPIUnavailableError", "allreduce",
           "barrier", "broadcast_parameters", "init", "is_initialized", "local_rank", "rank",
           "world_size"]
