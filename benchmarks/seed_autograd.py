"""Benchmark: the seed lecture's autograd loop in numbanet vs PyTorch CPU vs hand-written NumPy.

The loop (CS231n lecture 8, PyTorch "autograd" program; `tests/test_seed_programs.py` runs it)::

    N, D_in, H, D_out = 64, 1000, 100, 10          # float32
    y_pred = x.mm(w1).clamp(min=0).mm(w2)
    loss = (y_pred - y).pow(2).sum()
    loss.item()                                     # as the lecture prints it, every step
    if w1.grad is not None: w1.grad.zero_(); w2.grad.zero_()
    loss.backward()
    with no_grad():
        w1 -= learning_rate * w1.grad
        w2 -= learning_rate * w2.grad

is run, one step at a time, by four workers:

* ``numbanet``: the loop above with ``import numbanet as nb``;
* ``torch``:    the same loop in PyTorch on the CPU (skipped, with a note, if torch
                cannot be imported);
* ``numpy``:    the lecture's NumPy/"PyTorch Tensors" program: forward, the
                hand-written backward (``grad_h[h < 0] = 0`` …) and the update;
* ``control``:  the numbanet loop again, in a process of its own.

All of them start from the same float32 data (NumPy ``default_rng(seed)``), so their
first-step losses must agree; the script checks this.

Method: that of ``runner.py``. Each worker is a subprocess (this script re-invoked
with ``--worker NAME``) that stays alive for the whole run. It builds the data and runs
``--warmup`` steps; then, on each request, it times a block of ``--steps`` steps one by
one with ``time.perf_counter`` and reports the block's median per-step time. The workers
take turns, one block each per round, in an order that rotates and reverses, for
``--rounds`` rounds, with a pause of ``--gap`` seconds before each block (long enough for
the BLAS and OpenMP threads of the worker before to stop spinning). The verdicts use the
median of the per-round ratios (numbanet/PyTorch, goal <= 1.0, aim 0.8; numbanet/NumPy,
goal <= 1.3); numbanet/control shows how far two runs of the same code differ on this
machine (up to 30 % in a single round on the shared machines).

Threads. Nothing is pinned: NumPy's OpenBLAS, numbanet's matmul (which calls it)
and PyTorch use their defaults. Each worker reports its thread count
(``torch.get_num_threads()``, OpenBLAS's ``get_num_threads``); should PyTorch's
default differ from NumPy's BLAS thread count, the torch worker is limited to the
NumPy count with ``torch.set_num_threads`` and says so.

``--threads N`` sets ``OPENBLAS_NUM_THREADS`` and ``OMP_NUM_THREADS`` to N in the
workers instead (a diagnostic for loaded machines; not the reference setting).

Environment. The workers run with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``
removed from their environment: the benchmark machines set both, and they slow
current NumPy's OpenBLAS down. Only this benchmark's subprocesses are affected.

Start-up. ``cold``: a fresh subprocess whose ``NUMBA_CACHE_DIR`` is a new, empty
temporary directory, so neither that directory nor the package's own
``numbanet/**/__pycache__/*.nbi|*.nbc`` kernel cache is used (with
``NUMBA_CACHE_DIR`` set, Numba reads and writes only there). The script checks
this: cache files must appear in the temporary directory, and the worker inspects
its own Numba dispatchers: every cached numbanet kernel must have its cache
location in the temporary directory, with 0 cache hits in the cold run and 0
compilations in the warm runs. Cold start = ``import numbanet``
+ creating the tensors + the first full training step (goal < 10 s). ``warm``:
further subprocesses with the same, now filled, cache directory: ``import numbanet``
(goal < 1 s) and the first step. Python's own ``.pyc`` files are not cleared.

Usage (from the repository root)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        .venv/bin/python benchmarks/seed_autograd.py [--rounds 32] [--steps 300] [--gap 0.25]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import runner
from runner import CONTROL, REMOVED_ENV, ROOT, report, run_worker, script, worker_env

N, D_IN, H, D_OUT = 64, 1000, 100, 10
LEARNING_RATE = 1e-6
WORKERS = ("numbanet", "torch", "numpy", CONTROL)
LABELS = {"numbanet": "numbanet", "torch": "PyTorch CPU", "numpy": "NumPy (manual backward)",
          CONTROL: "numbanet again (control)"}

GOAL_VS_TORCH, AIM_VS_TORCH, GOAL_VS_NUMPY = 1.0, 0.8, 1.3
GOAL_COLD_S, GOAL_WARM_IMPORT_S = 10.0, 1.0


# ---- workers (run in subprocesses) -----------------------------------------------------

def _data(seed):
    import numpy as np
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape, dtype=np.float32)
            for shape in ((N, D_IN), (N, D_OUT), (D_IN, H), (H, D_OUT))]


def _numpy_blas_info():
    """OpenBLAS thread count and core type of NumPy's bundled BLAS, where readable."""
    import ctypes
    import glob

    import numpy as np
    info = {"numpy_blas_threads": None, "numpy_blas_core": None}
    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in glob.glob(os.path.join(libdir, "*openblas*")):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas_", "openblas_"):
            for suffix in ("64_", ""):
                threads = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                core = getattr(lib, f"{prefix}get_corename{suffix}", None)
                if threads is not None and info["numpy_blas_threads"] is None:
                    info["numpy_blas_threads"] = int(threads())
                if core is not None and info["numpy_blas_core"] is None:
                    core.restype = ctypes.c_char_p
                    info["numpy_blas_core"] = core().decode()
    return info


def _loop_autograd(lib, arrays, device="cpu"):
    """The lecture's autograd loop for ``lib``: numbanet or torch, which share this API, on
    ``device`` (``gpu_bench.py`` runs it on 'cuda'). It updates copies of ``arrays``."""
    x_, y_, w1_, w2_ = (a.copy() for a in arrays)
    x, y = lib.from_numpy(x_).to(device), lib.from_numpy(y_).to(device)
    w1 = lib.from_numpy(w1_).to(device).requires_grad_()
    w2 = lib.from_numpy(w2_).to(device).requires_grad_()

    def step():
        nonlocal w1, w2  # the in-place updates below rebind the names (to the same tensors)
        y_pred = x.mm(w1).clamp(min=0).mm(w2)
        loss = (y_pred - y).pow(2).sum()
        value = loss.item()
        if w1.grad is not None:
            w1.grad.zero_()
            w2.grad.zero_()
        loss.backward()
        with lib.no_grad():
            w1 -= LEARNING_RATE * w1.grad
            w2 -= LEARNING_RATE * w2.grad
        return value
    return step


def _loop_numbanet(arrays):
    import numbanet
    return _loop_autograd(numbanet, arrays)


def _loop_torch(arrays):
    import torch
    return _loop_autograd(torch, arrays)


def _loop_numpy(arrays):
    import numpy as np
    x, y, w1, w2 = arrays

    def step():
        nonlocal w1, w2  # updated in place
        h = x.dot(w1)
        h_relu = np.maximum(h, 0)
        y_pred = h_relu.dot(w2)
        loss = np.square(y_pred - y).sum()
        value = float(loss)
        grad_y_pred = 2.0 * (y_pred - y)
        grad_w2 = h_relu.T.dot(grad_y_pred)
        grad_h_relu = grad_y_pred.dot(w2.T)
        grad_h = grad_h_relu.copy()
        grad_h[h < 0] = 0
        grad_w1 = x.T.dot(grad_h)
        w1 -= LEARNING_RATE * grad_w1
        w2 -= LEARNING_RATE * grad_w2
        return value
    return step


def worker_steady(name, args):
    """Warm up and report; then time one block of steps per line read from stdin, and
    report each block's median per-step time."""
    info = {"worker": name}
    if name == "torch":
        try:
            import torch
        except Exception as exc:  # noqa: BLE001 - any import failure means "skip"
            return {"worker": name,
                    "skipped": f"torch not importable ({type(exc).__name__}: {exc})"}
        info.update(_numpy_blas_info())
        info["torch_version"] = torch.__version__
        info["torch_threads_default"] = torch.get_num_threads()
        blas = info["numpy_blas_threads"]
        if blas is not None and blas != torch.get_num_threads():
            torch.set_num_threads(blas)
            info["torch_threads_note"] = f"set to NumPy's BLAS thread count {blas}"
        info["torch_threads"] = torch.get_num_threads()
        step = _loop_torch(_data(args.seed))
    elif name in ("numbanet", CONTROL):
        sys.path.insert(0, ROOT)
        step = _loop_numbanet(_data(args.seed))
        info.update(_numpy_blas_info())
    elif name == "numpy":
        step = _loop_numpy(_data(args.seed))
        info.update(_numpy_blas_info())
    else:
        raise SystemExit(f"unknown worker {name!r}; expected one of {WORKERS}")

    info["first_loss"] = step()
    for _ in range(max(args.warmup - 1, 0)):
        step()
    runner.serve(lambda n: runner.time_block(step, n), info)
    return None


def _numba_cache_stats():
    """Where numbanet's compiled kernels are cached, and how many were loaded vs compiled."""
    import gc

    from numba.core.dispatcher import Dispatcher
    paths, hits, misses, used, uncached = set(), 0, 0, 0, 0
    for obj in gc.get_objects():
        if not isinstance(obj, Dispatcher):
            continue
        if not getattr(obj.py_func, "__module__", "").startswith("numbanet") or not obj.signatures:
            continue
        stats = obj.stats
        if stats.cache_path is None:  # a kernel compiled without cache=True
            uncached += 1
            continue
        used += 1
        paths.add(str(stats.cache_path))
        hits += sum(stats.cache_hits.values())
        misses += sum(stats.cache_misses.values())
    return {"kernels_used": used, "kernels_uncached": uncached, "cache_hits": hits,
            "cache_misses": misses, "cache_paths": sorted(paths)}


def worker_start(args):
    """Time ``import numbanet`` + tensor creation + the first step (cold or warm cache)."""
    clock = time.perf_counter
    t0 = clock()
    sys.path.insert(0, ROOT)
    import numbanet  # noqa: F401 - the import is what is timed
    t1 = clock()
    numba_loaded = "numba" in sys.modules
    step = _loop_numbanet(_data(args.seed))
    t2 = clock()
    loss = step()
    t3 = clock()
    step()
    t4 = clock()
    return {"worker": "start", "import_s": t1 - t0, "setup_s": t2 - t1, "first_step_s": t3 - t2,
            "second_step_ms": 1e3 * (t4 - t3), "total_s": t3 - t0, "first_loss": loss,
            "numba_cache_dir": os.environ.get("NUMBA_CACHE_DIR"),
            "numba_loaded_by_import": numba_loaded, **_numba_cache_stats()}


# ---- driver ----------------------------------------------------------------------------

_THREADS = None  # --threads: None leaves every library at its default


def _worker_env(extra=None):
    return worker_env(_THREADS, **(extra or {}))


def _run_worker(name, args, extra_env=None):
    return run_worker(script(__file__, "--worker", name, "--seed", args.seed),
                      _worker_env(extra_env), args.timeout)


def _kernel_cache_files(top):
    found = {}
    for dirpath, _, files in os.walk(top):
        for f in files:
            if f.endswith((".nbi", ".nbc")):
                path = os.path.join(dirpath, f)
                st = os.stat(path)
                found[path] = (st.st_size, st.st_mtime_ns)
    return found


def _verdict(value, goal, aim=None):
    aim_txt = f", aim {aim:.1f}" if aim is not None else ""
    return f"goal <= {goal:.1f}{aim_txt}: {'ok' if value <= goal else 'MISSED'}"


def _versions():
    code = ("import sys, numpy, numba; print(sys.version.split()[0], numpy.__version__, "
            "numba.__version__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_worker_env()).stdout.split()
    torch_v = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                             capture_output=True, text=True, env=_worker_env()).stdout.strip()
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"python": out[0] if out else "?", "numpy": out[1] if len(out) > 1 else "?",
            "numba": out[2] if len(out) > 2 else "?", "torch": torch_v or "not importable",
            "nproc": os.cpu_count(), "cpu": cpu}


def bench_steady(args):
    commands = {name: script(__file__, "--worker", name, "--warmup", args.warmup,
                             "--seed", args.seed) for name in WORKERS}
    servers, info, problems = runner.start_servers(commands, _worker_env())
    try:
        rounds = runner.alternate(list(servers), lambda name: servers[name].ask(str(args.steps)),
                                  args.rounds, args.gap,
                                  log=lambda line: print(line, flush=True))
    finally:
        runner.close_all(servers)
    for name in info:
        answered = [r[name] for r in rounds if name in r]
        if answered:
            info[name]["last_loss"] = answered[-1]["last"]
    per_round = {name: runner.column(rounds, name) for name in info}
    notes = [f"{LABELS[name]} {why}" for name, why in problems.items()]
    return per_round, rounds, info, notes


def bench_start(args):
    out = {}
    tmp = tempfile.mkdtemp(prefix="numbanet-bench-cache-")
    try:
        env = {"NUMBA_CACHE_DIR": tmp}
        if _kernel_cache_files(tmp):
            raise RuntimeError(f"fresh cache directory {tmp} is not empty")
        out["cold"] = _run_worker("start", args, env)
        out["cache_files_in_tmp"] = len(_kernel_cache_files(tmp))
        out["warm"] = [_run_worker("start", args, env) for _ in range(args.warm_runs)]
        out["tmp"] = tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _cache_verdict(res, tmp, cold):
    """Check, from the worker's own Numba dispatchers, that the cache used was ``tmp``."""
    inside = all(p.startswith(tmp) for p in res["cache_paths"]) and res["cache_paths"]
    if cold:
        ok = inside and res["cache_hits"] == 0 and res["cache_misses"] > 0
    else:
        ok = inside and res["cache_hits"] > 0 and res["cache_misses"] == 0
    return ok, (f"{res['kernels_used']} cached numbanet kernels used ("
                f"+{res['kernels_uncached']} inline helpers without a cache of their own), "
                f"{res['cache_misses']} compiled, "
                f"{res['cache_hits']} loaded from cache, cache location "
                f"{'= the temporary NUMBA_CACHE_DIR' if inside else ', '.join(res['cache_paths'])}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=32,
                        help="rounds: one block of timed steps per worker each (32); a multiple "
                             "of twice the number of workers (8) keeps the order balanced")
    parser.add_argument("--steps", type=int, default=300, help="timed steps per block (300)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed steps per worker (200)")
    parser.add_argument("--gap", type=float, default=0.25,
                        help="seconds of pause before each block (0.25)")
    parser.add_argument("--control", action="store_true",
                        help="accepted for older command lines: the control worker always runs")
    parser.add_argument("--warm-runs", type=int, default=3, help="warm-start subprocesses (3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data (0)")
    parser.add_argument("--no-start", action="store_true", help="skip the cold/warm start part")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per worker (600)")
    parser.add_argument("--json", metavar="PATH", help="also write all results to PATH")
    parser.add_argument("--threads", type=int, default=None,
                        help="set OPENBLAS_NUM_THREADS and OMP_NUM_THREADS to N in the workers "
                             "(torch follows NumPy's count); default: leave every library at "
                             "its default")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    global _THREADS
    _THREADS = args.threads

    if args.worker:
        res = worker_start(args) if args.worker == "start" else worker_steady(args.worker, args)
        if res is not None:  # a steady worker has reported block by block
            report(res)
        return 0

    v = _versions()
    removed = [k for k in REMOVED_ENV if k in os.environ]
    threads = ("" if args.threads is None
               else f"OPENBLAS_NUM_THREADS=OMP_NUM_THREADS={args.threads}; ")
    print("seed autograd loop: N, D_in, H, D_out = 64, 1000, 100, 10, float32, "
          "forward + backward + SGD update per step")
    print(f"machine: {v['nproc']} CPUs ({v['cpu']}); Python {v['python']}, numpy {v['numpy']}, "
          f"numba {v['numba']}, torch {v['torch']}")
    print(f"workers run with {' and '.join(REMOVED_ENV)} removed from their environment "
          f"(set here: {', '.join(removed) if removed else 'neither'}); "
          f"{threads}"
          f"{args.warmup} warm-up steps per worker, then {args.rounds} rounds of one block of "
          f"{args.steps} timed steps per worker, {args.gap} s apart")
    print()

    per_round, rounds, info, notes = bench_steady(args)
    medians = {w: statistics.median(ms) for w, ms in per_round.items() if ms}

    print()
    blas = next((r.get("numpy_blas_threads") for r in info.values()
                 if r.get("numpy_blas_threads") is not None), None)
    core = next((r.get("numpy_blas_core") for r in info.values() if r.get("numpy_blas_core")), None)
    print(f"threads: NumPy OpenBLAS {blas if blas is not None else '?'} "
          f"(core type {core or '?'})", end="")
    if "torch" in info:
        t = info["torch"]
        print(f", torch.get_num_threads() = {t['torch_threads']}"
              + (f" (default {t['torch_threads_default']}, {t['torch_threads_note']})"
                 if "torch_threads_note" in t else " (default)"))
    else:
        print()
    for note in dict.fromkeys(notes):
        print(f"note: {note}")
    print()
    print(f"{'':26s} {'median ms/step':>14s} {'min..max of block medians':>28s} "
          f"{'first loss':>14s} {'last loss':>12s}")
    for w in WORKERS:
        if w not in medians:
            print(f"{LABELS[w]:26s} {'no figure':>14s}")
            continue
        rs = per_round[w]
        print(f"{LABELS[w]:26s} {medians[w]:14.3f} {min(rs):13.3f} .. {max(rs):9.3f}  "
              f"{info[w]['first_loss']:14.6g} {info[w]['last_loss']:12.4g}")
    first = [info[w]["first_loss"] for w in medians]
    if first and max(first) - min(first) > 1e-4 * max(abs(f) for f in first):
        print("WARNING: the first-step losses differ: the loops do not compute the same thing")
    print()
    ratios = {}
    for other, label, goal, aim in (("torch", "PyTorch", GOAL_VS_TORCH, AIM_VS_TORCH),
                                    ("numpy", "NumPy", GOAL_VS_NUMPY, None)):
        ratios[other] = ratio = runner.paired(rounds, "numbanet", other)
        print(runner.ratio_line(f"numbanet / {label}", ratio,
                                "" if ratio is None else _verdict(ratio["median"], goal, aim)))
    ratios[CONTROL] = runner.paired(rounds, "numbanet", CONTROL)
    print(runner.control_line(ratios[CONTROL]))

    start = None
    if not args.no_start:
        print()
        start = bench_start(args)
        cold, warm = start["cold"], start["warm"]
        if "error" in cold or any("error" in w for w in warm):
            bad = cold if "error" in cold else next(w for w in warm if "error" in w)
            print(f"start-up worker failed ({bad['error']}):\n{bad['stderr']}", file=sys.stderr)
        else:
            ok_cold, cold_txt = _cache_verdict(cold, start["tmp"], cold=True)
            ok_warm = [_cache_verdict(w, start["tmp"], cold=False) for w in warm]
            not_cold = ("" if ok_cold and start["cache_files_in_tmp"]
                        else "  -- WARNING: not a cold run")
            print(f"numbanet cold start (empty NUMBA_CACHE_DIR): import {cold['import_s']:.2f} s + "
                  f"tensors {cold['setup_s']:.2f} s + first step {cold['first_step_s']:.2f} s = "
                  f"{cold['total_s']:.2f} s  (goal < {GOAL_COLD_S:.0f} s: "
                  f"{'ok' if cold['total_s'] < GOAL_COLD_S else 'MISSED'})")
            print(f"  cache check (cold): {start['cache_files_in_tmp']} .nbi/.nbc files written to "
                  f"the temporary NUMBA_CACHE_DIR; {cold_txt}{not_cold}")
            print(f"  cache check (warm): {ok_warm[0][1]}"
                  f"{'' if all(ok for ok, _ in ok_warm) else '  -- WARNING: not a warm run'}")
            imp = statistics.median(w["import_s"] for w in warm)
            fst = statistics.median(w["first_step_s"] for w in warm)
            tot = statistics.median(w["total_s"] for w in warm)
            print(f"numbanet warm start (median of {len(warm)}): import {imp:.2f} s  (goal < "
                  f"{GOAL_WARM_IMPORT_S:.0f} s: {'ok' if imp < GOAL_WARM_IMPORT_S else 'MISSED'}), "
                  f"first step {1e3 * fst:.1f} ms, import + tensors + first step {tot:.2f} s")
            if not cold["numba_loaded_by_import"]:
                print("  note: `import numbanet` does not import numba; numba's own import "
                      "time falls in the first step")
            start["warm_median"] = {"import_s": imp, "first_step_s": fst, "total_s": tot}

    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"versions": v, "args": vars(args), "per_round_ms": per_round,
                       "median_ms": medians, "ratios": ratios, "workers": info, "start": start},
                      fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
