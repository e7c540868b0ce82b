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

OpenBLAS runs with one thread (``OPENBLAS_NUM_THREADS=1`` in the workers unless the
environment sets it): on the 2 shared cores of the benchmark machines its second thread
made the step itself swing from about 2 ms to about 80 ms, and this benchmark is about
loading data, not about BLAS. Run with ``OPENBLAS_NUM_THREADS=2`` to see the default.

Method: that of ``runner.py``. Each setting of ``--workers`` is a worker process (this
script re-invoked with ``--worker W``) with its own loader and model, and the control is
a second ``num_workers=2`` worker. After one warm-up epoch each answers every request with
one timed epoch; they alternate in balanced order for ``--rounds`` rounds. The verdict is
the median of the per-round ratios epoch(0) / epoch(2), printed beside the control's
epoch(2) / epoch(control). The ``num_workers=0`` worker also measures, before it is
ready, the step alone (batches already in memory) and the loading alone (no training).

Usage (from the repository root)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        .venv/bin/python benchmarks/data_bench.py [--rounds 10] [--workers 0 1 2 4]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import runner
from runner import CONTROL, ROOT, script, worker_env

GOAL = 1.8


def make_dataset(sleep_s: float):
    from numbanet.demo import digits_split
    from numbanet.utils.data import Dataset

    class SlowDigits(Dataset):
        """The digits, each sample delayed as if read from a slow disk."""

        def __init__(self, x, y):
            self.x, self.y = x, y

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            time.sleep(sleep_s)
            return self.x[i], self.y[i]

    x, y, _, _ = digits_split()
    return SlowDigits(x, y)


def make_step():
    import numbanet as nb
    from numbanet import nn, optim
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


def worker(args) -> None:
    sys.path.insert(0, ROOT)
    import numbanet as nb
    from numbanet.utils.data import DataLoader
    num_workers = 2 if args.worker == CONTROL else int(args.worker)
    dataset = make_dataset(args.sleep_ms / 1000)
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True,
                        num_workers=num_workers)
    step = make_step()
    info = {"num_workers": num_workers, "batches": len(loader), "samples": len(dataset),
            "numbanet": nb.__version__}
    if num_workers == 0:
        batches = list(loader)
        for xb, yb in batches:  # compile, then time the step alone
            step(xb, yb)
        step_times = []
        for xb, yb in batches:
            start = time.perf_counter()
            step(xb, yb)
            step_times.append(time.perf_counter() - start)
        loading = min(epoch_seconds(loader, lambda xb, yb: None) for _ in range(2))
        info.update(step_ms=1e3 * statistics.median(step_times),
                    load_ms_per_batch=1e3 * loading / len(loader))
    epoch_seconds(loader, step)  # warm-up

    def block(n):
        times = [epoch_seconds(loader, step) for _ in range(n)]
        return {"ms": 1e3 * statistics.median(times)}
    runner.serve(block, info)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10,
                        help="rounds (10); a multiple of twice the number of workers keeps "
                             "the order balanced")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2, 4],
                        help="num_workers settings to time (default 0 1 2 4; 0 and 2 always)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sleep-ms", type=float, default=1.0,
                        help="delay of each __getitem__ (default 1 ms)")
    parser.add_argument("--gap", type=float, default=0.25, help="pause before each block (0.25 s)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return 0

    settings = [str(w) for w in sorted(set(args.workers) | {0, 2})] + [CONTROL]
    threads = int(os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    commands = {w: script(__file__, "--worker", w, "--batch-size", args.batch_size,
                          "--sleep-ms", args.sleep_ms) for w in settings}
    servers, info, problems = runner.start_servers(commands, worker_env(threads))
    try:
        if problems:
            raise RuntimeError("; ".join(f"{w} {why}" for w, why in problems.items()))
        rounds = runner.alternate(settings, lambda w: servers[w].ask("1"), args.rounds, args.gap,
                                  log=lambda line: print(line, flush=True))
    finally:
        runner.close_all(servers)

    zero = info["0"]
    print(f"numbanet {zero['numbanet']}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPU cores, OPENBLAS_NUM_THREADS={threads}; {zero['samples']} "
          f"samples, batch {args.batch_size} ({zero['batches']} batches), __getitem__ sleeps "
          f"{args.sleep_ms:g} ms, {args.rounds} rounds")
    print(f"training step alone: {zero['step_ms']:.2f} ms (median); loading alone: "
          f"{zero['load_ms_per_batch']:.1f} ms per batch")
    print("| num_workers | epoch (s), median | min | max | speed-up vs 0, per round |")
    print("|---|---:|---:|---:|---:|")
    for w in settings:
        epochs = [ms / 1e3 for ms in runner.column(rounds, w)]
        speedup = runner.paired(rounds, "0", w)
        label = "2 (control)" if w == CONTROL else w
        print(f"| {label} | {statistics.median(epochs):.3f} | {min(epochs):.3f} | "
              f"{max(epochs):.3f} | {speedup['median']:.2f}x |")
    ratio = runner.paired(rounds, "0", "2")
    print(runner.ratio_line("num_workers=0 / num_workers=2 (speed-up)", ratio,
                            f"goal >= {GOAL}: {'met' if ratio['median'] >= GOAL else 'missed'}"))
    print(runner.control_line(runner.paired(rounds, "2", CONTROL), "num_workers=2"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
