"""``python -m numbanet.demo``: the seed lecture's two-layer network, trained with autograd.

A 64×1000 batch of random inputs, a hidden layer of 100 ReLUs and 10 outputs, the
sum of squared errors as loss, and plain gradient descent, exactly the
PyTorch "autograd" program of CS231n lecture 8, written with numbanet.
"""
from __future__ import annotations

import argparse
import time

import numbanet as nb


def train(steps: int = 500, learning_rate: float = 1e-6, seed: int = 0, report=print):
    nb.manual_seed(seed)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x = nb.randn(N, D_in)
    y = nb.randn(N, D_out)
    w1 = nb.randn(D_in, H, requires_grad=True)
    w2 = nb.randn(H, D_out, requires_grad=True)
    losses = []
    for t in range(steps):
        y_pred = x.mm(w1).clamp(min=0).mm(w2)
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        if report and (t % max(steps // 10, 1) == 0 or t == steps - 1):
            report(f"step {t:4d}  loss {losses[-1]:12.6g}")
        if w1.grad is not None:
            w1.grad.zero_()
            w2.grad.zero_()
        loss.backward()
        with nb.no_grad():
            w1 -= learning_rate * w1.grad
            w2 -= learning_rate * w2.grad
    return losses


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m numbanet.demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=500, help="training steps (default 500)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    losses = train(args.steps)
    print(f"loss fell from {losses[0]:.6g} to {losses[-1]:.6g} in {args.steps} steps "
          f"({time.perf_counter() - start:.1f} s, compiling included)")


if __name__ == "__main__":
    main()
