"""Benchmark: the seed MLP training step as a static graph vs the same step in eager mode.

One training step is forward, loss, gradients of both weights, the SGD update, and the
loss brought to the host (as the seed prints it), on float32 data made once:

* ``static``:  the seed's TensorFlow v3 program with ``import numbanet.static as tf``:
               ``sess.run([loss, updates], feed_dict={x: xv, y: yv})`` (x and y fed
               every step, the weights kept in the Session);
* ``dynamic``: the same network in eager numbanet, the seed's PyTorch autograd loop:
               forward, ``loss.item()``, zeroing the grads, ``loss.backward()``, the
               update under ``no_grad``.

Two networks (``--net``):

* ``torch-seed``: N, D_in, H, D_out = 64, 1000, 100, 10, loss ``sum((y_pred - y)**2)``,
  lr 1e-6 (the PyTorch programs of the seed; DESIGN.md's anchor network);
* ``tf-seed``: N, D, H = 64, 1000, 100 with a 1000-wide output, loss
  ``mean over rows of sum((y_pred - y)**2)``, lr 1e-5 (the TensorFlow programs).

Both start from the same arrays; the workers report their first-step losses, which
must agree.

Method. Each (network, way) is a worker subprocess (this script with ``--worker``);
the ways alternate within each round, the order rotating, for ``--rounds`` rounds. A
worker runs ``--warmup`` steps, then times ``--steps`` steps one by one with
``time.perf_counter`` and reports the median. The table shows the median over rounds
and the speed-up dynamic/static (goal >= 1.25). The workers run without
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` (the benchmark machines set both).
``--threads N`` sets ``OPENBLAS_NUM_THREADS`` and ``OMP_NUM_THREADS`` in the workers:
on a shared 2-core machine a second BLAS thread that has to wait for a busy core
turns a 0.1 ms matmul into tens of milliseconds, for both ways alike.

Usage (from the repository root)::

    .venv/bin/python benchmarks/static_bench.py [--rounds 5] [--steps 300] [--net both]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

from runner import ROOT, report, require, run_worker, script, worker_env

NETS = {"torch-seed": dict(N=64, D_in=1000, H=100, D_out=10, lr=1e-6, loss="sum"),
        "tf-seed": dict(N=64, D_in=1000, H=100, D_out=1000, lr=1e-5, loss="row_mean")}
WAYS = ("static", "dynamic")
GOAL_SPEEDUP = 1.25


def data(net: dict, seed: int = 0):
    import numpy as np
    rng = np.random.default_rng(seed)
    N, D_in, H, D_out = net["N"], net["D_in"], net["H"], net["D_out"]
    return [rng.standard_normal(s, dtype=np.float32)
            for s in ((N, D_in), (N, D_out), (D_in, H), (H, D_out))]


def static_step(net: dict, device: str = "cpu"):
    """A function running one training step of the static graph; returns the loss."""
    import numbanet.static as tf
    x_v, y_v, w1_v, w2_v = data(net)
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, shape=x_v.shape)
    y = tf.placeholder(tf.float32, shape=y_v.shape)
    w1 = tf.Variable(w1_v)
    w2 = tf.Variable(w2_v)
    h = tf.maximum(tf.matmul(x, w1), 0)
    y_pred = tf.matmul(h, w2)
    diff = y_pred - y
    if net["loss"] == "sum":
        loss = tf.reduce_sum(diff ** 2)
    else:
        loss = tf.reduce_mean(tf.reduce_sum(diff ** 2, axis=1))
    grad_w1, grad_w2 = tf.gradients(loss, [w1, w2])
    lr = net["lr"]
    updates = tf.group(w1.assign(w1 - lr * grad_w1), w2.assign(w2 - lr * grad_w2))
    sess = tf.Session(device=device)
    sess.run(tf.global_variables_initializer())
    feed = {x: x_v, y: y_v}

    def step():
        return float(sess.run([loss, updates], feed_dict=feed)[0])
    return step


def dynamic_step(net: dict, device: str = "cpu"):
    import numbanet as nb
    x_v, y_v, w1_v, w2_v = data(net)
    x, y = nb.tensor(x_v, device=device), nb.tensor(y_v, device=device)
    w1 = nb.tensor(w1_v, device=device, requires_grad=True)
    w2 = nb.tensor(w2_v, device=device, requires_grad=True)
    lr, row_mean = net["lr"], net["loss"] == "row_mean"

    def step():
        y_pred = x.mm(w1).clamp(min=0).mm(w2)
        sq = (y_pred - y).pow(2)
        loss = sq.sum(1).mean() if row_mean else sq.sum()
        value = loss.item()
        if w1.grad is not None:
            w1.grad.zero_()
            w2.grad.zero_()
        loss.backward()
        with nb.no_grad():  # w1 -= lr * w1.grad, written as a method in this closure
            w1.sub_(lr * w1.grad)
            w2.sub_(lr * w2.grad)
        return value
    return step


def worker(args) -> None:
    sys.path.insert(0, ROOT)
    net = NETS[args.net]
    step = (static_step if args.worker == "static" else dynamic_step)(net, args.device)
    t0 = time.perf_counter()
    first_loss = step()
    first = time.perf_counter() - t0
    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    report({"median_s": statistics.median(times), "min_s": min(times), "first_s": first,
            "first_loss": first_loss})


def measure_in_worker(way: str, net: str, args) -> dict:
    return require(run_worker(script(__file__, "--worker", way, "--net", net,
                                     "--steps", args.steps, "--warmup", args.warmup,
                                     "--device", args.device),
                              worker_env(args.threads)))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--net", choices=sorted(NETS) + ["both"], default="both")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0,
                   help="BLAS threads in the workers (default: the library's own choice); "
                        "1 gives steadier figures on a loaded machine")
    p.add_argument("--worker", choices=WAYS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    nets = sorted(NETS) if args.net == "both" else [args.net]
    status = 0
    for net in nets:
        medians = {w: [] for w in WAYS}
        losses = {}
        for r in range(args.rounds):
            order = WAYS if r % 2 == 0 else WAYS[::-1]
            for way in order:
                res = measure_in_worker(way, net, args)
                medians[way].append(res["median_s"])
                losses[way] = res["first_loss"]
            print(f"{net} round {r + 1}: " + ", ".join(
                f"{w} {1e3 * medians[w][-1]:.3f} ms" for w in WAYS), flush=True)
        final = {w: statistics.median(v) for w, v in medians.items()}
        speedup = final["dynamic"] / final["static"]
        agree = abs(losses["static"] - losses["dynamic"]) <= 1e-4 * abs(losses["dynamic"])
        cfg = NETS[net]
        print(f"\n{net}: {cfg['N']}x{cfg['D_in']} -> {cfg['H']} -> {cfg['D_out']}, "
              f"{args.device}, median of {args.rounds} rounds x {args.steps} steps")
        print(f"  static  {1e3 * final['static']:.3f} ms/step   (first-step loss "
              f"{losses['static']:.6g})")
        print(f"  dynamic {1e3 * final['dynamic']:.3f} ms/step   (first-step loss "
              f"{losses['dynamic']:.6g}; {'agree' if agree else 'DISAGREE'})")
        print(f"  static is {speedup:.2f}x faster (goal >= {GOAL_SPEEDUP:g}x): "
              f"{'met' if speedup >= GOAL_SPEEDUP else 'NOT met'}\n", flush=True)
        if not agree:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
