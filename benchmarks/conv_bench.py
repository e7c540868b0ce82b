"""Benchmark: training steps of small convolutional networks, numbanet vs PyTorch CPU.

Two programs, each the same code for both libraries (they share the API):

* ``digits_cnn``: the digits CNN of ``numbanet.models.digits_cnn`` (conv 3x3 16 - relu -
  maxpool 2 - conv 3x3 32 - relu - maxpool 2 - linear 128 -> 10) on 8x8 images, batch 64,
  ``CrossEntropyLoss``, ``Adam(lr=1e-3)``;
* ``lenet``: LeNet-5 (``numbanet.models.lenet``: conv 5x5 6 pad 2 - pool - conv 5x5 16 -
  pool - 120 - 84 - 10) on random 28x28 images, batch 64, ``CrossEntropyLoss``,
  ``SGD(lr=0.01, momentum=0.9)``.

Goal: numbanet / PyTorch <= 1.5 for both (aim 1.0). The method is that of
``nn_bench.py`` (and ``runner.py``): every step calls ``loss.item()``; numbanet, PyTorch
and the control (numbanet again) are workers that stay alive and answer with blocks of
``--steps`` steps timed one by one, alternating in balanced order for ``--rounds``
rounds; the verdict is the median of the per-round ratios numbanet / PyTorch, printed
beside numbanet / control. Workers run without ``OPENBLAS_CORETYPE`` and
``OPENBLAS_L2_SIZE``, threads at their defaults.

``--threads N`` sets ``OPENBLAS_NUM_THREADS`` and ``OMP_NUM_THREADS`` to N in the workers
(as in seed_autograd.py). On a 2-core machine shared with other work, PyTorch's default of
two OpenMP threads can stall for whole scheduler slices at every parallel region (a
digits step measured 270 ms instead of 3 ms), so run both settings there and report
both.

Usage (from the repository root)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        .venv/bin/python benchmarks/conv_bench.py [--rounds 12] [--steps 100] [--threads 1]
"""
from __future__ import annotations

import sys

import nn_bench

PROGRAMS = {"digits_cnn": (1.5, 1.0), "lenet": (1.5, 1.0)}  # goal, aim


def _model(nn, name):
    if name == "digits_cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 2 * 2, 10))
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def _program(lib, name, seed):
    import numpy as np
    rng = np.random.default_rng(seed)
    lib.manual_seed(seed)
    side = 8 if name == "digits_cnn" else 28
    x = lib.from_numpy(rng.random((64, 1, side, side), dtype=np.float32))
    y = lib.from_numpy(rng.integers(0, 10, 64))
    model = _model(lib.nn, name)
    loss_fn = lib.nn.CrossEntropyLoss()
    if name == "digits_cnn":
        optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
    else:
        optimizer = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return nn_bench.training_step(model, loss_fn, optimizer, x, y)


def main(argv=None):
    return nn_bench.main(argv, doc=__doc__, programs=PROGRAMS, make_program=_program,
                         script=__file__, steps=100, warmup=20)


if __name__ == "__main__":
    sys.exit(main())
