"""Benchmark: the PyTorch-style training layer (nn + optim), numbanet vs PyTorch CPU.

Two programs, each the same code for both libraries (they share the API):

* ``seed_nn``: the seed lecture's "nn" program: ``Sequential(Linear(1000, 100), ReLU(),
  Linear(100, 10))``, ``MSELoss(reduction='sum')``, ``zero_grad``, ``backward`` and
  ``SGD(lr=1e-6).step()`` on a 64-row batch (goal: ratio <= 1.0, aim 0.8);
* ``mlp_adam``: ``Sequential(Linear(784, 256), ReLU(), Linear(256, 256), ReLU(),
  Linear(256, 10))``, ``CrossEntropyLoss``, ``Adam(lr=1e-3)``, batch 128 (goal <= 1.0).

Every step calls ``loss.item()``. Each (program, library) runs in its own subprocess (this
script re-invoked with ``--worker``), warm-up steps first, then ``--steps`` steps timed one
by one; the libraries alternate, in rotated order, for ``--rounds`` rounds, and the ratio
is numbanet's median over rounds divided by PyTorch's. The workers run without
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` (see seed_autograd.py), threads at their
defaults.

Usage (from the repository root)::

    .venv/bin/python benchmarks/nn_bench.py [--rounds 5] [--steps 500]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

from runner import ROOT, report, run_worker, script, worker_env
from seed_autograd import _versions

PROGRAMS = {"seed_nn": (1.0, 0.8), "mlp_adam": (1.0, None)}  # goal, aim
LIBRARIES = ("numbanet", "torch")


def _program(lib, name, seed):
    import numpy as np
    nn, optim = lib.nn, lib.optim
    rng = np.random.default_rng(seed)
    lib.manual_seed(seed)
    if name == "seed_nn":
        x = lib.from_numpy(rng.standard_normal((64, 1000), dtype=np.float32))
        y = lib.from_numpy(rng.standard_normal((64, 10), dtype=np.float32))
        model = nn.Sequential(nn.Linear(1000, 100), nn.ReLU(), nn.Linear(100, 10))
        loss_fn = nn.MSELoss(reduction="sum")
        optimizer = optim.SGD(model.parameters(), lr=1e-6)
    else:
        x = lib.from_numpy(rng.standard_normal((128, 784), dtype=np.float32))
        y = lib.from_numpy(rng.integers(0, 10, 128))
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                              nn.Linear(256, 10))
        loss_fn = nn.CrossEntropyLoss()
        optimizer = optim.Adam(model.parameters(), lr=1e-3)
    return training_step(model, loss_fn, optimizer, x, y)


def training_step(model, loss_fn, optimizer, x, y):
    """The timed step of every program: forward, ``loss.item()``, zero_grad, backward,
    step; returns the loss."""
    def step():
        loss = loss_fn(model(x), y)
        value = loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return value
    return step


def worker(library, program, args, make_program=None):
    if library == "torch":
        try:
            import torch as lib
        except Exception as exc:  # noqa: BLE001 - any import failure means "skip"
            return {"skipped": f"torch not importable ({type(exc).__name__}: {exc})"}
    else:
        sys.path.insert(0, ROOT)
        import numbanet as lib
    step = (make_program or _program)(lib, program, args.seed)
    first = step()
    for _ in range(args.warmup - 1):
        step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        last = step()
        times.append(time.perf_counter() - t0)
    return {"median_ms": 1e3 * statistics.median(times), "first_loss": first, "last_loss": last}


def _run(library, program, args, path=__file__):
    res = run_worker(script(path, "--worker", library, program, "--steps", args.steps,
                            "--warmup", args.warmup, "--seed", args.seed),
                     worker_env(args.threads))
    return res if "error" not in res else {"error": f"{res['error']}: {res['stderr'][-2000:]}"}


def main(argv=None, *, doc=__doc__, programs=None, make_program=None, script=__file__,
         steps=500, warmup=30):
    """Run the benchmark (or, with ``--worker``, one worker). Other benchmarks of training
    steps (conv_bench.py) call this with their own programs and script."""
    programs = programs or PROGRAMS
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--warmup", type=int, default=warmup)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--programs", nargs="*", default=list(programs), choices=list(programs))
    parser.add_argument("--threads", type=int, default=None,
                        help="OPENBLAS_NUM_THREADS and OMP_NUM_THREADS of the workers "
                             "(default: leave every library at its default)")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        report(worker(*args.worker, args, make_program))
        return 0

    v = _versions()
    print(f"machine: {v['nproc']} CPUs ({v['cpu']}); Python {v['python']}, numpy {v['numpy']}, "
          f"numba {v['numba']}, torch {v['torch']}; {args.rounds} rounds x {args.warmup} "
          f"warm-up + {args.steps} timed steps per worker; threads: "
          f"{'library defaults' if args.threads is None else args.threads}")
    failed = False
    for program in args.programs:
        rounds = {lib: [] for lib in LIBRARIES}
        for r in range(args.rounds):
            order = LIBRARIES if r % 2 == 0 else LIBRARIES[::-1]
            cells = []
            for lib in order:
                res = _run(lib, program, args, script)
                if "median_ms" in res:
                    rounds[lib].append(res["median_ms"])
                    cells.append(f"{lib} {res['median_ms']:.3f} ms "
                                 f"(loss {res['first_loss']:.4g} -> {res['last_loss']:.4g})")
                else:
                    cells.append(f"{lib}: {res.get('skipped') or res.get('error')}")
                    failed = failed or lib == "numbanet"
            print(f"  {program} round {r + 1}: " + "; ".join(cells), flush=True)
        if rounds["numbanet"] and rounds["torch"]:
            nb_ms, torch_ms = (statistics.median(rounds[lib]) for lib in LIBRARIES)
            goal, aim = programs[program]
            verdict = "met" if nb_ms / torch_ms <= goal else "MISSED"
            aim_text = f", aim {aim}" if aim else ""
            print(f"{program}: numbanet {nb_ms:.3f} ms/step, PyTorch {torch_ms:.3f} ms/step, "
                  f"ratio {nb_ms / torch_ms:.2f} (goal <= {goal}{aim_text}: {verdict})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
