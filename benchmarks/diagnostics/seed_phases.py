"""Diagnostic: where a step of the seed autograd loop spends its time, phase by phase.

The loop of ``benchmarks/seed_autograd.py`` with a clock reading between its phases (forward with
the loss, ``loss.item()``, zeroing the grads, ``backward``, the update under
``no_grad``), in one process, for numbanet or PyTorch. It prints the 10th percentile
of each phase over ``--steps`` steps (the fastest moments of a shared machine, where
the comparison is least disturbed). ``--size tiny`` runs the loop on 2x3 tensors, where
kernels cost nothing and what is left is each library's bookkeeping per op.

Clock readings between the phases change what they measure, most for PyTorch (whose
phases add up to more than its whole step): compare whole steps with
``benchmarks/seed_autograd.py``, and use this script to see which phase moved.

``--root DIR`` imports numbanet from another checkout, to compare two versions::

    .venv/bin/python benchmarks/diagnostics/seed_phases.py --lib numbanet --size tiny
    .venv/bin/python benchmarks/diagnostics/seed_phases.py --lib torch --size tiny
    git worktree add /tmp/old <commit>
    .venv/bin/python benchmarks/diagnostics/seed_phases.py --lib numbanet --root /tmp/old
"""
from __future__ import annotations

import argparse
import os
import sys
import time

SIZES = {"tiny": (2, 3, 4, 2), "seed": (64, 1000, 100, 10)}  # N, D_in, H, D_out
PHASES = ("forward", "item", "zero_", "backward", "update", "step")


def phase_times(lib, size, steps, warmup=300, seed=0):
    """Per-step seconds of each phase (lists, in the order of PHASES)."""
    import numpy as np
    n, d_in, h, d_out = SIZES[size]
    rng = np.random.default_rng(seed)
    x, y, w1, w2 = (lib.from_numpy(rng.standard_normal(s, dtype=np.float32))
                    for s in ((n, d_in), (n, d_out), (d_in, h), (h, d_out)))
    w1.requires_grad_()
    w2.requires_grad_()
    clock = time.perf_counter
    times = [[] for _ in PHASES]
    for i in range(warmup + steps):
        t0 = clock()
        loss = (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()
        t1 = clock()
        loss.item()
        t2 = clock()
        if w1.grad is not None:
            w1.grad.zero_()
            w2.grad.zero_()
        t3 = clock()
        loss.backward()
        t4 = clock()
        with lib.no_grad():
            w1 -= 1e-6 * w1.grad
            w2 -= 1e-6 * w2.grad
        t5 = clock()
        if i >= warmup:
            for k, dt in enumerate((t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0)):
                times[k].append(dt)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lib", choices=("numbanet", "torch"), default="numbanet")
    parser.add_argument("--size", choices=tuple(SIZES), default="tiny")
    parser.add_argument("--steps", type=int, default=5000, help="timed steps (5000)")
    parser.add_argument("--root", help="import numbanet from this checkout")
    args = parser.parse_args(argv)
    here = os.path.dirname(os.path.abspath(__file__))  # benchmarks/diagnostics
    sys.path.insert(0, os.path.abspath(args.root) if args.root else
                    os.path.dirname(os.path.dirname(here)))
    lib = __import__(args.lib)
    times = phase_times(lib, args.size, args.steps)
    tenth = [sorted(t)[len(t) // 10] * 1e6 for t in times]
    where = f" ({os.path.dirname(lib.__file__)})" if args.lib == "numbanet" else ""
    print(f"{args.lib}{where}, {args.size} sizes {SIZES[args.size]}, 10th percentile of "
          f"{args.steps} steps, us:")
    print("  " + "  ".join(f"{p} {v:.1f}" for p, v in zip(PHASES, tenth)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
