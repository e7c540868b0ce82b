"""Benchmark: a chain of 8 elementwise ops as one fused kernel vs one kernel per op.

The chain, on two float32 tensors ``a`` and ``b`` of 10**6 elements::

    out = nb.maximum((((a * b + 0.5).relu() - a) * 0.9), b) + 1.0) * a

(mul, add, relu, sub, mul, maximum, add, mul) is traced once with
``numbanet.jit.trace`` and run as a graph in three ways, each by its own worker
process:

* ``fused``:   the optimised plan: the 8 ops are one generated kernel
               (``numbanet/graph/fusion.py``) that reads ``a`` and ``b`` once and
               writes ``out`` once;
* ``unfused``: the same graph without optimisation (``optimize=False``): 8 backend
               kernels, the intermediates in buffers reused from call to call;
* ``eager``:   the same expression in eager numbanet (for scale: 8 kernels and 8
               fresh arrays per call).

Method. The workers run in turn, in a rotated order, for ``--rounds`` rounds (the
machine is shared: alternating keeps drifts out of the ratio); each times ``--calls``
calls one by one with ``time.perf_counter`` after ``--warmup`` calls and reports the
median. The table shows, per worker, the median over rounds, and the ratio
unfused/fused (goal >= 3 on the CPU). The workers check that fused and unfused
results agree. Run with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` removed from
the workers' environment (the benchmark machines set both).

Usage (from the repository root)::

    .venv/bin/python benchmarks/fusion_bench.py [--rounds 5] [--calls 50] [--device cpu]

``benchmarks/gpu_bench.py`` runs :func:`measure` in-process on CUDA (``fusion``).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

from runner import ROOT, report, require, run_worker, script

N_ELEMENTS = 10 ** 6
GOAL_SPEEDUP = 3.0
WORKERS = ("fused", "unfused", "eager")


def chain(nb, a, b):
    """The benchmarked chain of 8 elementwise ops."""
    return (nb.maximum(((a * b + 0.5).relu() - a) * 0.9, b) + 1.0) * a


def make_runner(kind: str, device: str, n: int = N_ELEMENTS, seed: int = 0):
    """(call, sync, check) for one way of computing the chain on ``device``."""
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


def measure(kind: str, device: str, calls: int, warmup: int, n: int = N_ELEMENTS) -> dict:
    """Median seconds per call of ``kind`` on ``device``, and the kernels it launches."""
    call, sync, check, kernels = make_runner(kind, device, n)
    t0 = time.perf_counter()
    call()
    sync()
    first = time.perf_counter() - t0
    for _ in range(warmup):
        call()
    sync()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        call()
        sync()
        times.append(time.perf_counter() - t0)
    return {"kind": kind, "median_s": statistics.median(times), "min_s": min(times),
            "first_s": first, "kernels": kernels, "max_abs_diff_vs_unfused": check()}


def worker(args) -> None:
    result = measure(args.worker, args.device, args.calls, args.warmup, args.n)
    report(result)


def measure_in_worker(kind: str, args) -> dict:
    return require(run_worker(script(__file__, "--worker", kind, "--device", args.device,
                                     "--calls", args.calls, "--warmup", args.warmup,
                                     "--n", args.n)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--calls", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--n", type=int, default=N_ELEMENTS)
    p.add_argument("--device", default="cpu")
    p.add_argument("--worker", choices=WORKERS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    medians = {k: [] for k in WORKERS}
    info = {}
    for r in range(args.rounds):
        order = WORKERS[r % 3:] + WORKERS[:r % 3]
        for kind in order:
            res = measure_in_worker(kind, args)
            medians[kind].append(res["median_s"])
            info[kind] = res
        print(f"round {r + 1}: " + ", ".join(f"{k} {1e3 * medians[k][-1]:.3f} ms"
                                            for k in WORKERS), flush=True)
    final = {k: statistics.median(v) for k, v in medians.items()}
    print(f"\nchain of 8 elementwise ops on {args.n} float32 elements, {args.device}, "
          f"median of {args.rounds} rounds x {args.calls} calls")
    print(f"{'way':10s} {'ms/call':>9s} {'kernels':>8s} {'max |diff|':>11s}")
    for k in WORKERS:
        print(f"{k:10s} {1e3 * final[k]:9.3f} {info[k]['kernels']:8d} "
              f"{info[k]['max_abs_diff_vs_unfused']:11.2e}")
    speedup = final["unfused"] / final["fused"]
    print(f"\nfused vs unfused: {speedup:.2f}x faster (goal >= {GOAL_SPEEDUP:g}x on the CPU): "
          f"{'met' if speedup >= GOAL_SPEEDUP else 'NOT met'}")
    print(f"fused vs eager:   {final['eager'] / final['fused']:.2f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
