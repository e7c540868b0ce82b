"""Data-parallel training on 2 ranks, run as real MPI jobs (``mpirun -n 2``).

What each job checks is in its program (``programs/``); here: that it ran on both
ranks, that its output is what a user should see, and that a failing rank ends
the job with its error instead of hanging it.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

import numbanet as nb

PROGRAMS = Path(__file__).resolve().parent / "programs"


def load_program(name: str):
    spec = importlib.util.spec_from_file_location(name, PROGRAMS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_ranks_train_like_one_process_with_twice_the_batch(mpi_job, tmp_path):
    checks = load_program("data_parallel_checks")
    reference = tmp_path / "reference.npz"
    checks.keras_reference(str(reference))      # one process, here, without MPI
    assert len(np.load(reference).files) > 4
    job = mpi_job("data_parallel_checks.py", reference, tmp_path, timeout=150)
    assert job.returncode == 0, job.stdout
    for rank in (0, 1):
        assert f"rank {rank}: all checks passed" in job.stdout, job.stdout
        if nb.cuda.is_available():  # the simulator where there is no GPU
            assert f"rank {rank}: CUDA checks ran" in job.stdout, job.stdout
    # only rank 0 prints progress: one "Epoch i/3" line per epoch, not one per rank
    for epoch in (1, 2, 3):
        assert job.stdout.count(f"Epoch {epoch}/3") == 1, job.stdout
    assert len(list(tmp_path.glob("model-*.keras"))) == 3
    rows = (tmp_path / "training.csv").read_text().splitlines()
    assert rows[0] == "epoch,accuracy,loss,val_accuracy,val_loss" and len(rows) == 4, rows


def test_a_rank_that_raises_ends_the_job_with_its_error(mpi_job):
    job = mpi_job("rank_failure.py", timeout=60)
    assert job.returncode != 0, job.stdout
    assert "ValueError: rank 1 failed on purpose" in job.stdout, job.stdout
    assert "rank 1 of 2 raised an uncaught ValueError" in job.stdout, job.stdout
    assert "rank 0 went past the allreduce" not in job.stdout


SINGLE_PROCESS = """
import numpy as np
import numbanet as nb
import numbanet.distributed as dist
from numbanet import nn, optim

world = dist.init()
assert (dist.rank(), dist.world_size()) == (0, 1), world
t = nb.tensor([[1.0, 2.0], [3.0, 4.0]])
for op in ("mean", "sum", "max", "min"):
    assert dist.allreduce(t, op=op).tolist() == t.tolist()
nb.manual_seed(0)
model = nn.Linear(3, 2)
dist.broadcast_parameters(model)
reference = nn.Linear(3, 2)
reference.load_state_dict(model.state_dict())
optimizer = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
single = optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
x = nb.randn(4, 3)
for _ in range(3):
    for net, opt in ((model, optimizer), (reference, single)):
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
assert optimizer.stats["allreduce_calls"] == 0    # nothing to reduce in a job of one
for p, q in zip(model.parameters(), reference.parameters()):
    assert np.array_equal(p.detach().numpy(), q.detach().numpy())
print("single process: ok")
"""


def test_init_without_a_launcher_makes_a_job_of_one(mpi_job, single_process):
    # mpi_job: skips where MPI is missing
    job = single_process(SINGLE_PROCESS)
    assert job.returncode == 0 and "single process: ok" in job.stdout, job.stdout
