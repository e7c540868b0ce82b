"""Benchmark: background prefetch hides data latency (``DataLoader(num_workers=...)``).

The data set is the digits (1,438 training images of the demo's split), read through a
``Dataset`` whose ``__getitem__`` sleeps ``--sleep-ms`` (1 ms) per sample, standing in for
a read from disk or a decoder. Each batch of 32 then takes about 32 ms to load, and the
training step (an MLP 64-512-512-10 with cross-entropy and Adam, a few ms) waits for it.

With ``num_workers=0`` the loop loads a batch, then trains on it: an epoch costs about
``batches * (load + step)``. With W worker threads, W batches load at once while the
loop trains (``time.sleep`` releases Python's GIL, as file reads do), so an epoch
approaches ``batches * max(load / W, step)``. The goal: ``num_workers=2`` at least 1.8x
faster than ``num_workers=0``.

OpenBLAS runs with one thread (``OPENBLAS_NUM_THREADS=1`` unless the environment sets it):
on the 2 shared cores of the benchmark machines its second thread made the step itself
swing from about 2 ms to about 80 ms (the BLAS-thread contention noted in RESULTS.md's
seed section), and this benchmark is about loading data, not about BLAS. Run with
``OPENBLAS_NUM_THREADS=2`` to see the default.

Method: one warm-up epoch per setting (kernels compiled), then ``--repeats`` rounds; in
each round every setting runs one epoch, in rotated order. The figures are the medians
over rounds of the epoch times. The same process measures the step alone (batches
already in memory) and the loading alone (no training).

Usage (from the repository root)::

    .venv/bin/python benchmarks/data_bench.py [--repeats 5] [--workers 0 1 2 4]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads OpenBLAS (see above)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numbanet as nb  # noqa: E402
from numbanet import nn, optim  # noqa: E402
from numbanet.demo import digits_split  # noqa: E402
from numbanet.utils.data import DataLoader, Dataset  # noqa: E402

GOAL = 1.8


class SlowDigits(Dataset):
    """The digits, each sample delayed as if read from a slow disk."""

    def __init__(self, x, y, sleep_s: float):
        self.x, self.y, self.sleep_s = x, y, sleep_s

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        time.sleep(self.sleep_s)
        return self.x[i], self.y[i]


def make_step():
    nb.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)

    def step(x, y):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def epoch_seconds(loader, step) -> float:
    start = time.perf_counter()
    for x, y in loader:
        step(x, y)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2, 4],
                        help="num_workers settings to time (default 0 1 2 4)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sleep-ms", type=float, default=1.0,
                        help="delay of each __getitem__ (default 1 ms)")
    args = parser.parse_args(argv)
    workers = sorted(set(args.workers) | {0, 2})

    x, y, _, _ = digits_split()
    dataset = SlowDigits(x, y, args.sleep_ms / 1000)
    loaders = {w: DataLoader(dataset, batch_size=args.batch_size, shuffle=True, num_workers=w)
               for w in workers}
    step = make_step()

    batches = list(loaders[0])
    for xb, yb in batches:  # compile, then time the step alone
        step(xb, yb)
    step_times = []
    for xb, yb in batches:
        start = time.perf_counter()
        step(xb, yb)
        step_times.append(time.perf_counter() - start)
    load_times = [epoch_seconds(loaders[0], lambda xb, yb: None) for _ in range(2)]
    for w in workers:
        epoch_seconds(loaders[w], step)  # warm-up

    times = {w: [] for w in workers}
    for r in range(args.repeats):
        order = workers[r % len(workers):] + workers[:r % len(workers)]
        for w in order:
            times[w].append(epoch_seconds(loaders[w], step))

    n_batches = len(loaders[0])
    print(f"numbanet {nb.__version__}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPU cores, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; "
          f"{len(dataset)} samples, batch {args.batch_size} "
          f"({n_batches} batches), __getitem__ sleeps {args.sleep_ms:g} ms, "
          f"{args.repeats} rounds")
    print(f"training step alone: {1000 * statistics.median(step_times):.2f} ms (median); "
          f"loading alone: {1000 * min(load_times) / n_batches:.1f} ms per batch")
    base = statistics.median(times[0])
    print("| num_workers | epoch (s), median | min | max | speed-up vs 0 |")
    print("|---:|---:|---:|---:|---:|")
    for w in workers:
        med = statistics.median(times[w])
        print(f"| {w} | {med:.3f} | {min(times[w]):.3f} | {max(times[w]):.3f} | "
              f"{base / med:.2f}x |")
    ratio = base / statistics.median(times[2])
    print(f"num_workers=2 vs 0: {ratio:.2f}x faster (goal >= {GOAL}x: "
          f"{'met' if ratio >= GOAL else 'missed'})")


if __name__ == "__main__":
    main()
