"""Benchmark: a chain of 8 elementwise ops as one fused kernel vs one kernel per op.

The chain, on two float32 tensors ``a`` and ``b`` of 10**6 elements::

    out = nb.maximum((((a * b + 0.5).relu() - a) * 0.9), b) + 1.0) * a

(mul, add, relu, sub, mul, maximum, add, mul) is traced once with
``numbanet.jit.trace`` and run as a graph in three ways, each by its own worker
process, and a fourth worker, the control, runs the fused way again:

* ``fused``:   the optimised plan: the 8 ops are one generated kernel
               (``numbanet/graph/fusion.py``) that reads ``a`` and ``b`` once and
               writes ``out`` once;
* ``unfused``: the same graph without optimisation (``optimize=False``): 8 backend
               kernels, the intermediates in buffers reused from call to call;
* ``eager``:   the same expression in eager numbanet (for scale: 8 kernels and 8
               fresh arrays per call).

Method: that of ``runner.py``. The workers stay alive; after ``--warmup`` calls each
answers every request with a block of ``--calls`` calls timed one by one, and they
alternate in balanced order for ``--rounds`` rounds. The verdict is the median of the
per-round ratios unfused/fused (goal >= 3 on the CPU), printed beside fused/control. The
workers check that fused and unfused results agree. The workers run with
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` removed from their environment.

Usage (from the repository root)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        .venv/bin/python benchmarks/fusion_bench.py [--rounds 8] [--calls 30]

``benchmarks/gpu_bench.py`` runs :func:`make_runner` on CUDA (``fusion``).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import runner
from runner import CONTROL, ROOT, script, worker_env

N_ELEMENTS = 10 ** 6
GOAL_SPEEDUP = 3.0
WORKERS = ("fused", "unfused", "eager", CONTROL)


def chain(nb, a, b):
    """The benchmarked chain of 8 elementwise ops."""
    return (nb.maximum(((a * b + 0.5).relu() - a) * 0.9, b) + 1.0) * a


def make_runner(kind: str, device: str, n: int = N_ELEMENTS, seed: int = 0):
    """(call, sync, check, kernels) for one way (``fused``, ``unfused`` or ``eager``) of
    computing the chain on ``device``; ``check()`` is the largest difference from the
    unfused graph's result."""
    try:
        import numbanet as nb
    except ModuleNotFoundError:  # not installed: the repository's copy
        sys.path.insert(0, ROOT)
        import numbanet as nb
    import numbanet.jit as jit
    nb.manual_seed(seed)
    a = nb.randn(n).to(device)
    b = nb.randn(n).to(device)
    graph = jit.trace(lambda x, y: chain(nb, x, y), (a, b), name="chain")
    sync = nb.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    if kind == "eager":
        def call():
            return chain(nb, a, b)
    else:
        optimize = kind == "fused"

        def call():
            return graph(a, b, optimize=optimize)
    kernels = graph.kernel_count(device, optimize=(kind == "fused")) if kind != "eager" else 8

    def check():
        got = call().cpu().numpy()
        ref = graph(a, b, optimize=False).cpu().numpy()
        return float(abs(got - ref).max())
    return call, sync, check, kernels


def worker(args) -> None:
    kind = "fused" if args.worker == CONTROL else args.worker
    call, sync, check, kernels = make_runner(kind, args.device, args.n)

    def timed():
        call()
        sync()
    t0 = time.perf_counter()
    timed()
    first = time.perf_counter() - t0
    for _ in range(args.warmup):
        timed()
    runner.serve(lambda n: runner.time_block(timed, n),
                 {"first_s": first, "kernels": kernels, "max_abs_diff_vs_unfused": check()})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=8,
                   help="rounds (8); a multiple of 8 keeps the order balanced")
    p.add_argument("--calls", type=int, default=30, help="timed calls per block (30)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--gap", type=float, default=0.25, help="pause before each block (0.25 s)")
    p.add_argument("--n", type=int, default=N_ELEMENTS)
    p.add_argument("--device", default="cpu")
    p.add_argument("--worker", choices=WORKERS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    commands = {k: script(__file__, "--worker", k, "--device", args.device, "--warmup",
                          args.warmup, "--n", args.n) for k in WORKERS}
    servers, info, problems = runner.start_servers(commands, worker_env())
    try:
        if problems:
            raise RuntimeError("; ".join(f"{k} {why}" for k, why in problems.items()))
        rounds = runner.alternate(WORKERS, lambda k: servers[k].ask(str(args.calls)),
                                  args.rounds, args.gap, log=lambda line: print(line, flush=True))
    finally:
        runner.close_all(servers)
    ms = {k: statistics.median(runner.column(rounds, k)) for k in WORKERS}
    print(f"\nchain of 8 elementwise ops on {args.n} float32 elements, {args.device}, "
          f"{args.rounds} rounds x {args.calls} calls, medians over blocks")
    print(f"{'way':10s} {'ms/call':>9s} {'kernels':>8s} {'max |diff|':>11s}")
    for k in WORKERS:
        print(f"{k:10s} {ms[k]:9.3f} {info[k]['kernels']:8d} "
              f"{info[k]['max_abs_diff_vs_unfused']:11.2e}")
    speedup = runner.paired(rounds, "unfused", "fused")
    print("\n" + runner.ratio_line(
        "unfused / fused (speed-up)", speedup,
        f"goal >= {GOAL_SPEEDUP:g} on the CPU: "
        f"{'met' if speedup and speedup['median'] >= GOAL_SPEEDUP else 'NOT met'}"))
    print(runner.ratio_line("eager / fused (speed-up)", runner.paired(rounds, "eager", "fused")))
    print(runner.control_line(runner.paired(rounds, "fused", CONTROL), "fused"))
    return 0 if info["fused"]["max_abs_diff_vs_unfused"] <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
