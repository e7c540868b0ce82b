"""Benchmark: data-parallel training over MPI, 1 rank vs 2 ranks on one machine.

The program: ``Sequential(Linear(784, 256), ReLU(), Linear(256, 256), ReLU(),
Linear(256, 10))``, ``CrossEntropyLoss``, ``DistributedOptimizer(SGD(lr=0.01,
momentum=0.9))``, float32, a fixed random batch of ``B`` samples per rank (no data
loading: the step is compute-bound). One step = ``zero_grad``, forward, loss,
backward, the gradient allreduce (one bucket: the model is 1.07 MB), the update and
``loss.item()``.

For each per-rank batch size ``B`` and each round, four MPI jobs run in the balanced
order of ``runner.py``: 1 rank with batch ``B`` (the reference), 1 rank with batch
``2B`` (the same global batch as 2 ranks), 2 ranks with batch ``B`` each, and the
control, the 2-rank job again. An MPI job cannot stay alive between requests (its idle
ranks would spin on the shared cores), so each measurement is a fresh job. Each job
times ``--steps`` steps one by one after ``--warmup`` steps; rank 0's median step time
gives the throughput (samples per second = ranks x B / step time). ``allreduce`` is the
median per step of the time inside ``MPI_Allreduce`` (waiting for the slower rank
included); ``reduce`` adds packing the gradients into the bucket and unpacking them. The
speed-up is the median of the per-round ratios of 2-rank to 1-rank throughput, printed
beside the control's ratio to the 2-rank job; the efficiency is the speed-up / 2.

Each rank is pinned to one thread: the workers run with ``OPENBLAS_NUM_THREADS=1``,
``OMP_NUM_THREADS=1`` and ``NUMBA_NUM_THREADS=1``, and without ``OPENBLAS_CORETYPE``
and ``OPENBLAS_L2_SIZE`` (the benchmark machines set both, and they slow current
NumPy down; only the benchmark's workers drop them). ``mpirun`` binds each rank to a
core (``--bind core``, the default) or not (``--bind none``).

Usage (from the repository root; needs mpirun and mpi4py)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        .venv/bin/python benchmarks/mpi_bench.py [--batches 64 256 1024] [--rounds 8]
                                                 [--steps 100] [--bind core]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

import runner
from runner import CONTROL, report, run_worker, script, worker_env

GOAL = 1.6  # 2-rank throughput over 1-rank throughput, on a compute-bound batch


# ---- worker: one rank of one MPI job ------------------------------------------------------------

def worker(batch: int, steps: int, warmup: int) -> None:
    import numpy as np

    import numbanet as nb
    import numbanet.distributed as dist
    from numbanet import nn, optim

    dist.init()
    rng = np.random.default_rng(dist.rank())
    x = nb.from_numpy(rng.standard_normal((batch, 784), dtype=np.float32))
    y = nb.from_numpy(rng.integers(0, 10, batch))
    nb.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    dist.broadcast_parameters(model)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    step_times, allreduce_times, reduce_times = [], [], []
    for i in range(warmup + steps):
        stats = dict(optimizer.stats)
        start = time.perf_counter()
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        loss.item()
        elapsed = time.perf_counter() - start
        if i >= warmup:
            step_times.append(elapsed)
            allreduce_times.append(optimizer.stats["allreduce_seconds"]
                                   - stats["allreduce_seconds"])
            reduce_times.append(optimizer.stats["reduce_seconds"] - stats["reduce_seconds"])
    if dist.rank() == 0:
        result = {"ranks": dist.world_size(), "batch": batch,
                  "step_ms": statistics.median(step_times) * 1e3,
                  "allreduce_ms": statistics.median(allreduce_times) * 1e3,
                  "reduce_ms": statistics.median(reduce_times) * 1e3,
                  "buckets": len(optimizer.buckets)}
        report(result)


# ---- launcher -----------------------------------------------------------------------------------

def mpirun(ranks: int, bind: str) -> list:
    command = ["mpirun", "-n", str(ranks), "--bind-to", bind]
    if os.geteuid() == 0:
        command.append("--allow-run-as-root")
    return command


def run_job(ranks: int, batch: int, args) -> dict:
    """One MPI job's figures, with its throughput (samples/s) under ``rate``."""
    command = mpirun(ranks, args.bind) + script(__file__, "--worker", "--batch", batch,
                                                "--steps", args.steps, "--warmup", args.warmup)
    env = worker_env(1, NUMBA_NUM_THREADS="1", MKL_NUM_THREADS="1")
    res = run_worker(command, env, args.timeout)
    if "error" not in res:
        res["rate"] = throughput(res)
    return res


def throughput(result: dict) -> float:
    return result["ranks"] * result["batch"] / (result["step_ms"] / 1e3)


def measure_batch(batch: int, args) -> list[dict]:
    """The rounds of the four jobs at per-rank batch ``batch``."""
    jobs = {"1 rank": (1, batch), "1 rank 2B": (1, 2 * batch), "2 ranks": (2, batch),
            CONTROL: (2, batch)}
    rounds = runner.alternate(list(jobs), lambda name: run_job(*jobs[name], args), args.rounds,
                              gap=0, key="rate",
                              log=lambda line: print(f"  B={batch} {line.strip()}"))
    missing = [name for name in jobs if not runner.column(rounds, name, "rate")]
    if missing:
        raise RuntimeError(f"B={batch}: no figure from {', '.join(missing)}")
    return rounds


def table_row(batch: int, rounds: list[dict]) -> str:
    def median(name, key):
        return statistics.median(runner.column(rounds, name, key))

    speedup = runner.paired(rounds, "2 ranks", "1 rank", "rate")["median"]
    control = runner.paired(rounds, "2 ranks", CONTROL, "rate")["median"]
    return (f"{batch:>7} {median('1 rank', 'step_ms'):>10.2f} {median('1 rank', 'rate'):>9.0f} "
            f"{median('1 rank 2B', 'rate'):>9.0f} {median('2 ranks', 'step_ms'):>11.2f} "
            f"{median('2 ranks', 'rate'):>10.0f} {median('2 ranks', 'allreduce_ms'):>13.3f} "
            f"{median('2 ranks', 'reduce_ms'):>10.3f} {speedup:>8.2f}x {speedup / 2:>10.0%} "
            f"{control:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 256, 1024],
                        help="samples per rank per step")
    parser.add_argument("--rounds", type=int, default=8,
                        help="rounds (8); a multiple of 8 keeps the order balanced")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--bind", choices=("core", "none"), default="core")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.batch, args.steps, args.warmup)
        return

    import mpi4py
    import numpy
    version = subprocess.run(["mpirun", "--version"], capture_output=True,
                             text=True).stdout.splitlines()[0]
    print(f"MLP 784-256-256-10, float32, SGD momentum; {os.cpu_count()} CPUs; {version}; "
          f"mpi4py {mpi4py.__version__}; numpy {numpy.__version__}; one thread per rank; "
          f"--bind-to {args.bind}; {args.rounds} rounds x {args.steps} steps "
          f"(+{args.warmup} warm-up)")
    print("(OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from the workers' environment)")
    header = (f"{'B/rank':>7} {'1 rank ms':>10} {'1 rank/s':>9} {'1r 2B/s':>9} {'2 ranks ms':>11} "
              f"{'2 ranks/s':>10} {'allreduce ms':>13} {'reduce ms':>10} {'speed-up':>9} "
              f"{'efficiency':>11} {'control':>8}")
    print(header)
    for batch in args.batches:
        print(table_row(batch, measure_batch(batch, args)), flush=True)
    print(f"goal: >= {GOAL}x throughput with 2 ranks on a compute-bound batch size (speed-up: "
          "median of the per-round ratios 2 ranks / 1 rank; control: 2 ranks / the same job "
          "again, 1.00 but for the machine's noise)")


if __name__ == "__main__":
    main()
