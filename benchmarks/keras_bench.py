"""Benchmark: ``model.fit`` in numbanet.keras vs Keras 3 on its PyTorch backend, per epoch.

Two programs:

* ``seed``: the seed lecture's Keras program (CS231n lecture 8), 64 samples of
  1000 -> 100 (relu) -> 1000, MSE, SGD with learning rate 1, ``fit`` for 50 epochs
  of one batch of 64. numbanet runs it as written in the lecture (Keras 1 names:
  ``Dense(input_dim=, output_dim=)``, ``SGD(lr=)``, ``fit(nb_epoch=)``); Keras 3 no
  longer accepts those names, so its worker writes the same model in Keras 3 terms.
* ``digits``: the 8x8 digits classifier of the tests, ``Sequential([Dense(64, 'relu'),
  Dense(10, 'softmax')])``, Adam, sparse categorical cross-entropy with the accuracy
  metric, batch 32 (45 batches per epoch over the 1,438 training images).

Method: that of ``runner.py``. For each program three workers (this script re-invoked
with ``--worker``) stay alive: numbanet, Keras and the control (numbanet again). Each
builds the model and runs ``fit`` for the warm-up epochs (Numba compiles its kernels,
PyTorch warms up); then each request is one ``fit`` of the timed epochs, timed with
``time.perf_counter``, reported in milliseconds per epoch. The workers alternate in
balanced order for ``--rounds`` rounds; the verdict is the median of the per-round
ratios Keras / numbanet (goal: at least 2), printed beside numbanet / control. All
workers get the same data, drawn by the parent and handed over in a temporary ``.npz``
file, and run with ``verbose=0``.

Keras runs in its own Python environment, given by ``--keras-python`` (default
``/tmp/kvenv/bin/python`` when it exists), with ``KERAS_BACKEND=torch``. Make one
with ``python3 -m venv /tmp/kvenv && /tmp/kvenv/bin/pip install torch==2.13.0
keras==3.15.1``. Without it the Keras side is skipped, with a message.

Environment. As in ``seed_autograd.py``, the workers run with ``OPENBLAS_CORETYPE``
and ``OPENBLAS_L2_SIZE`` removed. Threads stay at their defaults unless
``--threads N`` is given: then ``OPENBLAS_NUM_THREADS`` and ``OMP_NUM_THREADS`` are
N in both workers and the Keras worker calls ``torch.set_num_threads(N)``. Each
worker reports its thread counts.

Usage (from the repository root)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        .venv/bin/python benchmarks/keras_bench.py [--rounds 6] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np
import runner
from runner import CONTROL, ROOT, worker_env

DEFAULT_KERAS_PYTHON = "/tmp/kvenv/bin/python"
GOAL = 2.0
PROGRAMS = ("seed", "digits")
WORKERS = ("numbanet", "keras", CONTROL)
SEED_N, SEED_D, SEED_H = 64, 1000, 100


# ---- the programs, in each library (run in the workers) --------------------------------------
def _numbanet_seed(data):
    """The lecture's program as written, import paths changed to numbanet.keras."""
    from numbanet.keras.layers.core import Activation, Dense
    from numbanet.keras.models import Sequential
    from numbanet.keras.optimizers import SGD
    N, D, H = SEED_N, SEED_D, SEED_H
    model = Sequential()
    model.add(Dense(input_dim=D, output_dim=H))
    model.add(Activation('relu'))
    model.add(Dense(input_dim=H, output_dim=D))
    optimizer = SGD(lr=1e0)
    model.compile(loss='mean_squared_error', optimizer=optimizer)
    x, y = data["seed_x"], data["seed_y"]
    return lambda epochs: model.fit(x, y, nb_epoch=epochs, batch_size=N, verbose=0)


def _keras_seed(data):
    """The same model in Keras 3, which no longer takes the Keras 1 names."""
    import keras
    from keras.layers import Activation, Dense
    model = keras.Sequential([keras.Input((SEED_D,)), Dense(SEED_H), Activation("relu"),
                              Dense(SEED_D)])
    model.compile(loss="mean_squared_error", optimizer=keras.optimizers.SGD(learning_rate=1e0))
    x, y = data["seed_x"], data["seed_y"]
    return lambda epochs: model.fit(x, y, epochs=epochs, batch_size=SEED_N, verbose=0)


def _digits(keras, data):
    Dense = keras.layers.Dense
    model = keras.Sequential([Dense(64, activation="relu"), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x, y = data["digits_x"], data["digits_y"]
    return lambda epochs: model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)


def _library(name):
    if name == "numbanet":
        import numbanet
        from numbanet import keras
        return keras, {"numbanet": numbanet.__version__}
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import torch
    if os.environ.get("KERAS_BENCH_THREADS"):
        torch.set_num_threads(int(os.environ["KERAS_BENCH_THREADS"]))
    return keras, {"keras": keras.__version__, "torch": torch.__version__,
                   "torch_threads": torch.get_num_threads(),
                   "keras_backend": keras.backend.backend()}


def worker(name: str, program: str, data_path: str, warmup: int) -> None:
    """Build the program, warm it up, report ready; then time one ``fit`` of ``n`` epochs
    per request."""
    warnings.simplefilter("ignore")   # the Keras 1 names of the seed program warn
    keras, info = _library("numbanet" if name == CONTROL else name)
    data = dict(np.load(data_path))
    if program == "seed":
        fit = _keras_seed(data) if name == "keras" else _numbanet_seed(data)
    else:
        fit = _digits(keras, data)
    fit(warmup)

    def block(epochs):
        start = time.perf_counter()
        history = fit(epochs)
        elapsed = time.perf_counter() - start
        losses = history.history["loss"]
        res = {"ms": elapsed / epochs * 1e3, "first_loss": float(losses[0]),
               "last_loss": float(losses[-1])}
        if "accuracy" in history.history:
            res["last_accuracy"] = float(history.history["accuracy"][-1])
        return res
    info.update(worker=name, program=program,
                openblas_threads=os.environ.get("OPENBLAS_NUM_THREADS", "default"))
    runner.serve(block, info)


# ---- the parent ----------------------------------------------------------------------------------
def _worker_env(threads):
    env = worker_env(threads, KERAS_BACKEND="torch")
    if threads is not None:
        env["KERAS_BENCH_THREADS"] = str(threads)
    return env


def measure(program, pythons, args, data_path):
    """Alternate the workers on ``program``; the rounds' results and the ready reports."""
    warmup, epochs = (args.seed_warmup, args.seed_epochs) if program == "seed" else \
        (args.digits_warmup, args.digits_epochs)
    commands = {name: [python, os.path.abspath(__file__), "--worker", name, "--program",
                       program, "--data", data_path, "--warmup", warmup]
                for name, python in pythons.items()}
    servers, ready, problems = runner.start_servers(commands, _worker_env(args.threads))
    for name, why in problems.items():
        print(f"{program}: {name} {why}")
    try:
        rounds = runner.alternate(list(servers), lambda name: servers[name].ask(str(epochs)),
                                  args.rounds, args.gap,
                                  log=lambda line: print(f"  {program} {line.strip()}",
                                                         flush=True))
    finally:
        runner.close_all(servers)
    return rounds, ready


def _data(path):
    """The seed's random data and the digits training split, shared by both workers."""
    sys.path.insert(0, ROOT)
    from numbanet.demo import digits_split
    rng = np.random.default_rng(0)
    x_train, y_train, _, _ = digits_split()
    np.savez(path, seed_x=rng.standard_normal((SEED_N, SEED_D)),
             seed_y=rng.standard_normal((SEED_N, SEED_D)), digits_x=x_train, digits_y=y_train)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6,
                        help="rounds (6); a multiple of 6 keeps the order balanced")
    parser.add_argument("--seed-epochs", type=int, default=50)
    parser.add_argument("--seed-warmup", type=int, default=5)
    parser.add_argument("--digits-epochs", type=int, default=10)
    parser.add_argument("--digits-warmup", type=int, default=1)
    parser.add_argument("--gap", type=float, default=0.25, help="pause before each block (0.25 s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="OPENBLAS/OMP threads and torch.set_num_threads in the workers")
    parser.add_argument("--keras-python", default=None,
                        help=f"Python with keras and torch (default {DEFAULT_KERAS_PYTHON} if it "
                             "exists)")
    parser.add_argument("--programs", default=",".join(PROGRAMS))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--program", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.program, args.data, args.warmup)
        return

    keras_python = args.keras_python or (DEFAULT_KERAS_PYTHON
                                         if os.path.exists(DEFAULT_KERAS_PYTHON) else None)
    if keras_python is None:
        print(f"Keras side skipped: no --keras-python given and {DEFAULT_KERAS_PYTHON} does not "
              "exist (python3 -m venv /tmp/kvenv && /tmp/kvenv/bin/pip install torch==2.13.0 "
              "keras==3.15.1)")
    pythons = {"numbanet": sys.executable, "keras": keras_python, CONTROL: sys.executable}
    pythons = {name: python for name, python in pythons.items() if python}
    print(f"threads: {'default' if args.threads is None else args.threads}; workers "
          f"{', '.join(pythons)}; {args.rounds} rounds")
    with tempfile.TemporaryDirectory() as tmp:
        data_path = os.path.join(tmp, "data.npz")
        _data(data_path)
        for program in [p for p in args.programs.split(",") if p]:
            rounds, ready = measure(program, pythons, args, data_path)
            _report(program, rounds, ready)


def _report(program, rounds, ready):
    versions = {k: v for name in ready for k, v in ready[name].items()
                if k in ("numbanet", "keras", "torch", "torch_threads", "keras_backend")}
    print("; ".join(f"{k}={v}" for k, v in versions.items()))
    for name in WORKERS:
        runs = runner.column(rounds, name)
        if runs:
            last = [r[name] for r in rounds if name in r][-1]
            extra = f", accuracy {last['last_accuracy']:.3f}" if "last_accuracy" in last else ""
            print(f"{program} {name}: {statistics.median(runs):.2f} ms/epoch "
                  f"({min(runs):.2f}..{max(runs):.2f}); loss {last['first_loss']:.4g} -> "
                  f"{last['last_loss']:.4g} over the last timed fit{extra}")
    ratio = runner.paired(rounds, "keras", "numbanet")
    print(runner.ratio_line(f"{program}: Keras / numbanet", ratio, "" if ratio is None else
                            f"goal >= {GOAL:g}: {'met' if ratio['median'] >= GOAL else 'missed'}"))
    print(runner.control_line(runner.paired(rounds, "numbanet", CONTROL), f"{program}: numbanet"),
          flush=True)


if __name__ == "__main__":
    main()
