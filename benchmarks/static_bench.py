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

Method: that of ``runner.py``. For each network three workers (this script with
``--worker``) stay alive: static, dynamic, and the control (static again). Each runs
``--warmup`` steps, then answers each request with a block of ``--steps`` steps timed one
by one; the workers alternate in balanced order for ``--rounds`` rounds. The verdict is
the median of the per-round speed-ups dynamic/static (goal >= 1.25), printed beside
static/control. The workers run without ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``
(the benchmark machines set both). ``--threads N`` sets ``OPENBLAS_NUM_THREADS`` and
``OMP_NUM_THREADS`` in the workers: on a shared 2-core machine a second BLAS thread that
has to wait for a busy core turns a 0.1 ms matmul into tens of milliseconds, for both
ways alike.

Usage (from the repository root)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        .venv/bin/python benchmarks/static_bench.py [--rounds 12] [--steps 200] [--threads 1]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import runner
from runner import CONTROL, ROOT, script, worker_env

NETS = {"torch-seed": dict(N=64, D_in=1000, H=100, D_out=10, lr=1e-6, loss="sum"),
        "tf-seed": dict(N=64, D_in=1000, H=100, D_out=1000, lr=1e-5, loss="row_mean")}
WAYS = ("static", "dynamic", CONTROL)
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
    step = (dynamic_step if args.worker == "dynamic" else static_step)(net, args.device)
    t0 = time.perf_counter()
    first_loss = step()
    first = time.perf_counter() - t0
    for _ in range(args.warmup):
        step()
    runner.serve(lambda n: runner.time_block(step, n), {"first_s": first,
                                                          "first_loss": first_loss})


def measure(net: str, args) -> tuple[list, dict]:
    commands = {way: script(__file__, "--worker", way, "--net", net, "--warmup", args.warmup,
                            "--device", args.device) for way in WAYS}
    servers, ready, problems = runner.start_servers(commands, worker_env(args.threads))
    try:
        if problems:
            raise RuntimeError("; ".join(f"{w} {why}" for w, why in problems.items()))
        rounds = runner.alternate(list(servers), lambda w: servers[w].ask(str(args.steps)),
                                  args.rounds, args.gap,
                                  log=lambda line: print(f"  {net} {line.strip()}", flush=True))
    finally:
        runner.close_all(servers)
    return rounds, ready


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=12,
                   help="rounds (12); a multiple of 6 keeps the order balanced")
    p.add_argument("--steps", type=int, default=200, help="timed steps per block (200)")
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--gap", type=float, default=0.25, help="pause before each block (0.25 s)")
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
        rounds, ready = measure(net, args)
        ms = {w: statistics.median(runner.column(rounds, w)) for w in WAYS}
        losses = {w: ready[w]["first_loss"] for w in WAYS}
        agree = abs(losses["static"] - losses["dynamic"]) <= 1e-4 * abs(losses["dynamic"])
        cfg = NETS[net]
        print(f"\n{net}: {cfg['N']}x{cfg['D_in']} -> {cfg['H']} -> {cfg['D_out']}, "
              f"{args.device}, {args.rounds} rounds x {args.steps} steps, medians over blocks")
        for w in WAYS:
            print(f"  {w:8s} {ms[w]:.3f} ms/step   (first-step loss {losses[w]:.6g})")
        if not agree:
            print("  WARNING: the static and dynamic first-step losses DISAGREE")
        speedup = runner.paired(rounds, "dynamic", "static")
        print("  " + runner.ratio_line(
            "dynamic / static (speed-up)", speedup,
            f"goal >= {GOAL_SPEEDUP:g}: "
            f"{'met' if speedup and speedup['median'] >= GOAL_SPEEDUP else 'NOT met'}"))
        print("  " + runner.control_line(runner.paired(rounds, "static", CONTROL), "static"),
              flush=True)
        if not agree:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
