"""Benchmark: the PyTorch-style training layer (nn + optim), numbanet vs PyTorch CPU.

Two programs, each the same code for both libraries (they share the API):

* ``seed_nn``: the seed lecture's "nn" program: ``Sequential(Linear(1000, 100), ReLU(),
  Linear(100, 10))``, ``MSELoss(reduction='sum')``, ``zero_grad``, ``backward`` and
  ``SGD(lr=1e-6).step()`` on a 64-row batch (goal: ratio <= 1.0, aim 0.8);
* ``mlp_adam``: ``Sequential(Linear(784, 256), ReLU(), Linear(256, 256), ReLU(),
  Linear(256, 10))``, ``CrossEntropyLoss``, ``Adam(lr=1e-3)``, batch 128 (goal <= 1.0).

Every step calls ``loss.item()``. Method: that of ``runner.py``. For each program three
workers (this script re-invoked with ``--worker``) stay alive: numbanet, PyTorch and the
control (numbanet again). Each runs its warm-up steps, then answers each request with a
block of ``--steps`` steps timed one by one; the workers alternate, in balanced order, for
``--rounds`` rounds, and the verdict is the median of the per-round ratios numbanet /
PyTorch, printed beside numbanet / control. The workers run without
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` (see runner.py), threads at their defaults.

Usage (from the repository root)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        .venv/bin/python benchmarks/nn_bench.py [--rounds 12] [--steps 300]
"""
from __future__ import annotations

import argparse
import statistics
import sys

import runner
from runner import CONTROL, ROOT, report, script, worker_env
from seed_autograd import _versions

PROGRAMS = {"seed_nn": (1.0, 0.8), "mlp_adam": (1.0, None)}  # goal, aim
WORKERS = ("numbanet", "torch", CONTROL)


def _program(lib, name, seed, device="cpu"):
    """The training step of program ``name`` in ``lib`` (numbanet or torch) on ``device``
    (``gpu_bench.py`` runs ``mlp_adam`` on 'cuda')."""
    import numpy as np
    nn, optim = lib.nn, lib.optim
    rng = np.random.default_rng(seed)
    lib.manual_seed(seed)
    if name == "seed_nn":
        x = lib.from_numpy(rng.standard_normal((64, 1000), dtype=np.float32))
        y = lib.from_numpy(rng.standard_normal((64, 10), dtype=np.float32))
        model = nn.Sequential(nn.Linear(1000, 100), nn.ReLU(), nn.Linear(100, 10))
        loss_fn = nn.MSELoss(reduction="sum")
    else:
        x = lib.from_numpy(rng.standard_normal((128, 784), dtype=np.float32))
        y = lib.from_numpy(rng.integers(0, 10, 128))
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                              nn.Linear(256, 10))
        loss_fn = nn.CrossEntropyLoss()
    model.to(device)
    if name == "seed_nn":
        optimizer = optim.SGD(model.parameters(), lr=1e-6)
    else:
        optimizer = optim.Adam(model.parameters(), lr=1e-3)
    return training_step(model, loss_fn, optimizer, x.to(device), y.to(device))


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
    """Build the program, warm it up, report ready, then serve blocks of timed steps."""
    if library == "torch":
        try:
            import torch as lib
        except Exception as exc:  # noqa: BLE001 - any import failure means "skip"
            report({"skipped": f"torch not importable ({type(exc).__name__}: {exc})"})
            return
    else:
        sys.path.insert(0, ROOT)
        import numbanet as lib
    step = (make_program or _program)(lib, program, args.seed)
    first = step()
    for _ in range(args.warmup - 1):
        step()
    runner.serve(lambda n: runner.time_block(step, n), {"first_loss": first})


def measure(program, args, path):
    """Alternate numbanet, PyTorch and the control on ``program``; the rounds' results."""
    commands = {lib: script(path, "--worker", lib, program, "--warmup", args.warmup,
                            "--seed", args.seed) for lib in WORKERS}
    servers, ready, problems = runner.start_servers(commands, worker_env(args.threads))
    for lib, why in problems.items():
        print(f"  {program}: {lib} {why}")
    try:
        rounds = runner.alternate(list(servers), lambda lib: servers[lib].ask(str(args.steps)),
                                  args.rounds, args.gap,
                                  log=lambda line: print(f"  {program} {line.strip()}", flush=True))
    finally:
        runner.close_all(servers)
    return rounds, ready


def main(argv=None, *, doc=__doc__, programs=None, make_program=None, script=__file__,
         steps=300, warmup=30):
    """Run the benchmark (or, with ``--worker``, one worker). Other benchmarks of training
    steps (conv_bench.py) call this with their own programs and script."""
    programs = programs or PROGRAMS
    parser = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=12,
                        help="rounds (12); a multiple of 6 keeps the order balanced")
    parser.add_argument("--steps", type=int, default=steps, help="timed steps per block")
    parser.add_argument("--warmup", type=int, default=warmup)
    parser.add_argument("--gap", type=float, default=0.25,
                        help="seconds of pause before each block (0.25)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--programs", nargs="*", default=list(programs), choices=list(programs))
    parser.add_argument("--threads", type=int, default=None,
                        help="OPENBLAS_NUM_THREADS and OMP_NUM_THREADS of the workers "
                             "(default: leave every library at its default)")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker, args, make_program)
        return 0

    v = _versions()
    print(f"machine: {v['nproc']} CPUs ({v['cpu']}); Python {v['python']}, numpy {v['numpy']}, "
          f"numba {v['numba']}, torch {v['torch']}; workers numbanet, torch and control "
          f"(numbanet again), {args.warmup} warm-up steps each, then {args.rounds} rounds of "
          f"one block of {args.steps} timed steps per worker; threads: "
          f"{'library defaults' if args.threads is None else args.threads}")
    failed = False
    for program in args.programs:
        rounds, ready = measure(program, args, script)
        failed = failed or "numbanet" not in ready
        goal, aim = programs[program]
        ms = {lib: statistics.median(runner.column(rounds, lib)) for lib in WORKERS
              if runner.column(rounds, lib)}
        print(f"{program}: " + ", ".join(f"{lib} {t:.3f} ms/step" for lib, t in ms.items())
              + "; first losses " + ", ".join(f"{lib} {r['first_loss']:.6g}"
                                              for lib, r in ready.items()))
        ratio = runner.paired(rounds, "numbanet", "torch")
        verdict = "" if ratio is None else (
            f"goal <= {goal}{f', aim {aim}' if aim else ''}: "
            f"{'met' if ratio['median'] <= goal else 'MISSED'}")
        print(runner.ratio_line(f"{program}: numbanet / PyTorch", ratio, verdict))
        print(runner.control_line(runner.paired(rounds, "numbanet", CONTROL),
                                  f"{program}: numbanet"), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
