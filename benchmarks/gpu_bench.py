"""Benchmark: numbanet on a GPU against PyTorch CUDA on the same card, in one run.

Each benchmark times three entries in this one process: numbanet, its reference, and the
control (numbanet's entry again). They take turns in the balanced order of ``runner.py``,
one block of ``inner`` calls each per round, the clock read after a synchronise; the
verdict is the median of the per-round ratios numbanet / reference (of times: lower is
better), printed beside numbanet / control, which shows the method's noise on the card.

* ``add``      ``a + b``, 2**26 float32 elements; reference PyTorch's ``a + b``. Also GB/s
               (3 x 4 bytes per element) and the fraction of the card's peak bandwidth,
               ``2 * MEMORY_CLOCK_RATE[kHz] * 1e3 * GLOBAL_MEMORY_BUS_WIDTH[bits] / 8``
               bytes/s as Numba reports them (goal >= 60 %).
* ``matmul``   ``a @ b``, float32, 4096 x 4096 x 4096; reference cuBLAS through PyTorch with
               TF32 off. TFLOP/s; goal: numbanet at least 0.25 of cuBLAS's throughput (aim
               0.5), i.e. a time ratio <= 4 (aim 2). The first 64 rows are checked.
* ``seed_mlp`` the seed autograd loop of ``seed_autograd.py`` (64x1000 -> 100 -> 10);
               reference the same loop in PyTorch; both start from the same data, and
               their first-step losses must agree.
* ``mlp_adam`` ``nn_bench.py``'s ``mlp_adam`` (784-256-256-10, cross-entropy, Adam, batch
               128) with ``nn`` and ``optim``; reference the same code in PyTorch.
* ``conv2d``   ``nn.functional.conv2d`` forward, input (16, 64, 56, 56), weight
               (64, 64, 3, 3), padding 1; reference PyTorch (cuDNN, TF32 off). TFLOP/s; the
               first image is checked against PyTorch's.
* ``fusion``   ``fusion_bench.py``'s chain of 8 elementwise ops on 10**6 elements as one
               fused graph kernel; reference the unfused graph (8 kernels), no PyTorch.

No goal is set for the training loops, conv2d and fusion on a GPU: their ratios are
reported. Without PyTorch (or without its CUDA build) the PyTorch-referenced ratios say
"not measured". A benchmark that fails is recorded with its error and the next one runs;
``gpu_bench.md`` and ``gpu_bench.json`` in ``--out`` are rewritten after every benchmark,
so a run stopped by a time limit keeps what it measured.

Usage (from the repository root; ``benchmarks/gpu_check.sh`` runs it on a GPU machine)::

    python3 benchmarks/gpu_bench.py --out "$OUT"
    .venv/bin/python benchmarks/gpu_bench.py --device cpu --small --out /tmp/g   # CPU smoke run
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
import traceback
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # runner.py and the CPU benchmarks whose programs run here
sys.path.insert(0, os.path.dirname(HERE))  # numbanet from this checkout

import runner  # noqa: E402
from runner import CONTROL  # noqa: E402

GOAL_ADD_FRACTION_OF_PEAK = 0.60
GOAL_MATMUL_TIME_RATIO, AIM_MATMUL_TIME_RATIO = 4.0, 2.0  # throughput >= 0.25, aim 0.5

FULL = dict(add_n=2 ** 26, matmul_n=4096, conv=(16, 64, 56), fusion_n=10 ** 6, rounds=6,
            warmup=3)
SMALL = dict(add_n=2 ** 16, matmul_n=64, conv=(2, 4, 8), fusion_n=2 ** 12, rounds=2,
             warmup=1)


def peak_bandwidth(memory_clock_khz, bus_width_bits) -> float | None:
    """Peak memory bandwidth in bytes/s (double data rate: two transfers a clock), or None
    when either attribute is missing.

    >>> peak_bandwidth(2_619_000, 5120)   # H100 SXM5
    3352320000000.0
    """
    if not memory_clock_khz or not bus_width_bits:
        return None
    return 2.0 * memory_clock_khz * 1e3 * bus_width_bits / 8.0


def alternate_blocks(entries: dict, rounds: int, inner: int,
                     clock: Callable[[], float] = time.perf_counter) -> list[dict]:
    """``entries`` is ``{name: (fn, sync)}``. Each round times one block of ``inner`` calls
    of every entry, in ``runner.balanced_order``, synchronising before each clock reading;
    returns per round ``{name: {"ms": ms per call}}``, the shape ``runner.paired`` reads."""
    out = []
    for r in range(rounds):
        got = {}
        for name in runner.balanced_order(list(entries), r):
            fn, sync = entries[name]
            sync()
            t0 = clock()
            for _ in range(inner):
                fn()
            sync()
            got[name] = {"ms": 1e3 * (clock() - t0) / inner}
        out.append(got)
    return out


class Context:
    """numbanet, the device, the sizes, and PyTorch where it can reach the device."""

    def __init__(self, device: str, sizes: dict, torch_allowed: bool = True):
        import numbanet
        self.nb, self.device, self.sizes = numbanet, device, sizes
        self.is_cuda = device.startswith("cuda")
        self.nb_sync = numbanet.cuda.synchronize if self.is_cuda else (lambda: None)
        self.torch, self.torch_why = None, "not measured: torch excluded (--without-torch)"
        if torch_allowed:
            self.torch, self.torch_why = _load_torch(device)

    def torch_sync(self):
        return self.torch.cuda.synchronize if self.is_cuda else (lambda: None)


def _load_torch(device: str):
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - any import failure means "not measured"
        return None, f"not measured: torch not importable ({type(exc).__name__}: {exc})"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            return None, "not measured: torch.cuda.is_available() is False"
        torch.zeros(1, device=device)  # its context now, not inside a timing
        torch.cuda.synchronize()
    return torch, ""


def _measure(ctx: Context, res: dict, subject, reference, inner: int) -> None:
    """Warm up and alternate ``subject`` (numbanet's ``(fn, sync)``), the control and
    ``reference`` (or None: then only numbanet and the control are timed)."""
    entries = {"numbanet": subject, CONTROL: subject}
    if reference is not None:
        entries["reference"] = reference
    for fn, sync in (subject, reference) if reference is not None else (subject,):
        for _ in range(ctx.sizes["warmup"]):
            fn()
        sync()
    rounds = alternate_blocks(entries, ctx.sizes["rounds"], inner)
    res["ms"] = {name: statistics.median(runner.column(rounds, name)) for name in entries}
    res["ratio"] = runner.paired(rounds, "numbanet", "reference")
    res["control"] = runner.paired(rounds, "numbanet", CONTROL)


def _torch_or_none(ctx: Context, res: dict, name: str = "PyTorch"):
    res["reference"] = name
    if ctx.torch is None:
        res["note"] = ctx.torch_why
    return ctx.torch


# ---- the benchmarks ------------------------------------------------------------------------

def bench_add(ctx: Context, res: dict) -> None:
    nb, n = ctx.nb, ctx.sizes["add_n"]
    a, b = nb.randn(n, device=ctx.device), nb.randn(n, device=ctx.device)
    err = float(abs((a + b)[:4096].cpu().numpy() - (a[:4096].cpu().numpy()
                                                     + b[:4096].cpu().numpy())).max())
    if err > 1e-6:
        raise AssertionError(f"a + b is wrong: max abs error {err:g}")
    torch = _torch_or_none(ctx, res)
    reference = None
    if torch is not None:
        ta, tb = torch.randn(n, device=ctx.device), torch.randn(n, device=ctx.device)
        reference = (lambda: ta + tb, ctx.torch_sync())
    _measure(ctx, res, (lambda: a + b, ctx.nb_sync), reference, inner=20)
    rate = 3 * 4 * n / (res["ms"]["numbanet"] / 1e3)
    res["rate"] = f"{rate / 1e9:.1f} GB/s"
    if ctx.is_cuda:
        from numba import cuda
        dev = cuda.get_current_device()
        peak = peak_bandwidth(getattr(dev, "MEMORY_CLOCK_RATE", None),
                              getattr(dev, "GLOBAL_MEMORY_BUS_WIDTH", None))
        if peak is None:
            res["goal"] = "not measured: the card's memory clock or bus width is not reported"
        else:
            frac = rate / peak
            res["rate"] += f", {100 * frac:.0f} % of the peak {peak / 1e9:.0f} GB/s"
            res["goal"] = (f"peak fraction >= {100 * GOAL_ADD_FRACTION_OF_PEAK:.0f} %: "
                           f"{'met' if frac >= GOAL_ADD_FRACTION_OF_PEAK else 'missed'}")


def bench_matmul(ctx: Context, res: dict) -> None:
    import numpy as np
    nb, n = ctx.nb, ctx.sizes["matmul_n"]
    rng = np.random.default_rng(0)
    A, B = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    a, b = nb.from_numpy(A).to(ctx.device), nb.from_numpy(B).to(ctx.device)
    expected = A[:64].astype(np.float64) @ B.astype(np.float64)
    err = float(np.abs((a @ b)[:64].cpu().numpy() - expected).max() / np.abs(expected).max())
    if err > 1e-4:
        raise AssertionError(f"a @ b is wrong: max error {err:g} (relative to max |C|)")
    torch = _torch_or_none(ctx, res, "cuBLAS via PyTorch, TF32 off" if ctx.is_cuda else
                           "PyTorch")
    reference = None
    if torch is not None:
        ta, tb = torch.from_numpy(A).to(ctx.device), torch.from_numpy(B).to(ctx.device)
        reference = (lambda: ta @ tb, ctx.torch_sync())
    _measure(ctx, res, (lambda: a @ b, ctx.nb_sync), reference, inner=3)
    res["rate"] = f"{2.0 * n ** 3 / (res['ms']['numbanet'] / 1e3) / 1e12:.3g} TFLOP/s"
    if res["ratio"] is not None:
        t = res["ratio"]["median"]
        res["goal"] = (f"time ratio <= {GOAL_MATMUL_TIME_RATIO:g} (aim {AIM_MATMUL_TIME_RATIO:g})"
                       f": {'met' if t <= GOAL_MATMUL_TIME_RATIO else 'missed'}"
                       f"{', aim met' if t <= AIM_MATMUL_TIME_RATIO else ''}")


def _bench_training(ctx: Context, res: dict, make_step) -> dict:
    step = make_step(ctx.nb)
    torch = _torch_or_none(ctx, res)
    reference = None if torch is None else (make_step(torch), ctx.torch_sync())
    first = {"numbanet": step()}
    if reference is not None:
        first["reference"] = reference[0]()
    _measure(ctx, res, (step, ctx.nb_sync), reference, inner=10)
    res["rate"] = f"{res['ms']['numbanet']:.3f} ms/step"
    return first


def bench_seed_mlp(ctx: Context, res: dict) -> None:
    import seed_autograd
    arrays = seed_autograd._data(0)
    first = _bench_training(ctx, res, lambda lib: seed_autograd._loop_autograd(
        lib, arrays, ctx.device))
    if "reference" in first:
        rel = abs(first["numbanet"] - first["reference"]) / abs(first["reference"])
        if rel > 1e-3:
            raise AssertionError(f"first-step losses differ by {rel:.1e} (relative)")


def bench_mlp_adam(ctx: Context, res: dict) -> None:
    import nn_bench
    _bench_training(ctx, res, lambda lib: nn_bench._program(lib, "mlp_adam", 0, ctx.device))


def bench_conv2d(ctx: Context, res: dict) -> None:
    import numpy as np
    nb = ctx.nb
    n, c, side = ctx.sizes["conv"]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, c, side, side), dtype=np.float32)
    W = (rng.standard_normal((c, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    x, w = nb.from_numpy(X).to(ctx.device), nb.from_numpy(W).to(ctx.device)
    conv = nb.nn.functional.conv2d
    got = conv(x, w, padding=1)[:1].cpu().numpy()
    torch = _torch_or_none(ctx, res, "PyTorch (cuDNN, TF32 off)" if ctx.is_cuda else "PyTorch")
    reference = None
    if torch is not None:
        tx, tw = torch.from_numpy(X).to(ctx.device), torch.from_numpy(W).to(ctx.device)
        tconv = torch.nn.functional.conv2d
        expected = tconv(tx, tw, padding=1)[:1].cpu().numpy()
        err = float(np.abs(got - expected).max() / np.abs(expected).max())
        if err > 1e-4:
            raise AssertionError(f"conv2d is wrong: max error {err:g} on the first image")
        reference = (lambda: tconv(tx, tw, padding=1), ctx.torch_sync())
    _measure(ctx, res, (lambda: conv(x, w, padding=1), ctx.nb_sync), reference, inner=3)
    flops = 2.0 * n * c * side * side * c * 9
    res["rate"] = f"{flops / (res['ms']['numbanet'] / 1e3) / 1e12:.3g} TFLOP/s"


def bench_fusion(ctx: Context, res: dict) -> None:
    import fusion_bench
    n = ctx.sizes["fusion_n"]
    fused, sync, check, kernels = fusion_bench.make_runner("fused", ctx.device, n)
    unfused, _, _, unfused_kernels = fusion_bench.make_runner("unfused", ctx.device, n)
    diff = check()
    if diff > 1e-5:
        raise AssertionError(f"fused and unfused chains differ by {diff:g}")
    res["reference"] = f"the unfused graph ({unfused_kernels} kernels)"
    _measure(ctx, res, (fused, sync), (unfused, sync), inner=20)
    res["rate"] = f"{kernels} fused kernel(s)"


#: name, title (formatted with the sizes), function
BENCHMARKS: tuple[tuple[str, str, Callable], ...] = (
    ("add", "elementwise add, {add_n} float32", bench_add),
    ("matmul", "matmul, float32, {matmul_n}^3", bench_matmul),
    ("seed_mlp", "seed autograd loop (64x1000 -> 100 -> 10, SGD)", bench_seed_mlp),
    ("mlp_adam", "nn MLP 784-256-256-10, batch 128, cross-entropy, Adam", bench_mlp_adam),
    ("conv2d", "conv2d forward, input {conv[0]}x{conv[1]}x{conv[2]}x{conv[2]}, 3x3, padding 1",
     bench_conv2d),
    ("fusion", "graph: 8 elementwise ops on {fusion_n} float32, fused vs unfused",
     bench_fusion),
)


# ---- running and writing -------------------------------------------------------------------

def run_benchmarks(ctx, benchmarks, on_progress: Callable[[list], None] = lambda rs: None):
    """Run each benchmark; a failure is recorded with its error and the next one runs.
    ``on_progress(results)`` follows each one (it rewrites the output files)."""
    results = [{"name": name, "title": title.format(**ctx.sizes), "status": "not run"}
               for name, title, _ in benchmarks]
    try:
        for res, (_, _, fn) in zip(results, benchmarks):
            print(f"[gpu_bench] {res['name']} ...", flush=True)
            res["status"] = "running"
            t0 = time.perf_counter()
            try:
                fn(ctx, res)
                res["status"] = "ok"
            except Exception as exc:  # noqa: BLE001 - recorded, and the next one runs
                res["status"], res["error"] = "failed", f"{type(exc).__name__}: {exc}"
                res["traceback"] = traceback.format_exc()[-3000:]
            res["seconds"] = round(time.perf_counter() - t0, 2)
            print(f"[gpu_bench] {res['name']}: {res['status']} in {res['seconds']} s"
                  + (f" -- {res['error']}" if "error" in res else ""), flush=True)
            on_progress(results)
    except KeyboardInterrupt:  # `timeout -s INT`: keep what was measured
        for res in results:
            if res["status"] == "running":
                res["status"], res["error"] = "interrupted", "stopped by the time limit"
        on_progress(results)
        raise
    return results


def _ratio_cell(ratio) -> str:
    return "not measured" if ratio is None else \
        f"**{ratio['median']:.2f}** ({ratio['min']:.2f}..{ratio['max']:.2f})"


def render_markdown(meta: dict, results: list) -> str:
    """The table for ``benchmarks/RESULTS.md``'s GPU section."""
    lines = [f"GPU figures, {meta['date']}: {meta['device_name']}; {meta['versions']}.",
             f"Command: `{meta['command']}`; {meta['rounds']} rounds, medians of the per-round "
             "ratios (range); times, lower is better.", "",
             "| benchmark | numbanet ms | reference | reference ms | numbanet / reference "
             "| numbanet / control | rate | goal |",
             "|---|---:|---|---:|---:|---:|---|---|"]
    for r in results:
        if r["status"] != "ok":
            lines.append(f"| {r['title']} | **{r['status']}** | | | | | | "
                         f"{r.get('error', '')} |".replace("\n", " "))
            continue
        ms = r["ms"]
        ref_ms = f"{ms['reference']:.4g}" if "reference" in ms else r.get("note", "")
        lines.append(f"| {r['title']} | {ms['numbanet']:.4g} | {r.get('reference', '')} | "
                     f"{ref_ms} | {_ratio_cell(r.get('ratio'))} | "
                     f"{_ratio_cell(r.get('control'))} | {r.get('rate', '')} | "
                     f"{r.get('goal', 'none set')} |")
    return "\n".join(lines) + "\n"


def write_outputs(out: str, meta: dict, results: list) -> None:
    for name, text in (("gpu_bench.md", render_markdown(meta, results)),
                       ("gpu_bench.json", json.dumps({"meta": meta, "benchmarks": results},
                                                     indent=2, default=str))):
        path = os.path.join(out, name)
        with open(path + ".tmp", "w") as fh:
            fh.write(text)
        os.replace(path + ".tmp", path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda", help="'cuda' (default), 'cuda:N' or 'cpu'")
    p.add_argument("--small", action="store_true", help="tiny sizes, 2 rounds (a smoke run)")
    p.add_argument("--out", default=".", help="folder for gpu_bench.md and gpu_bench.json")
    p.add_argument("--only", action="append", choices=[b[0] for b in BENCHMARKS])
    p.add_argument("--without-torch", action="store_true",
                   help="run as if PyTorch were not installed")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    sizes = SMALL if args.small else FULL
    ctx = Context(args.device, sizes, torch_allowed=not args.without_torch)
    if ctx.is_cuda and not ctx.nb.cuda.is_available():
        print("[gpu_bench] numbanet sees no CUDA device here (numbanet.cuda.is_available() is "
              "False): nothing measured", flush=True)
        return 1
    if ctx.is_cuda:
        name = ctx.nb.cuda.get_device_name()
        ctx.nb_sync()  # numba's CUDA context now, not inside a timing
    else:
        name = f"{platform.processor() or platform.machine()} CPU ({os.cpu_count()} cores)"
    import numba
    import numpy
    try:
        from importlib.metadata import version
        numba_cuda = f", numba-cuda {version('numba-cuda')}"
    except Exception:  # noqa: BLE001 - not installed: the CPU smoke run
        numba_cuda = ""
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "device": args.device, "device_name": name, "rounds": sizes["rounds"],
            "command": " ".join(["python3", "benchmarks/gpu_bench.py"]
                                + (sys.argv[1:] if argv is None else list(argv))),
            "versions": f"Python {platform.python_version()}, numpy {numpy.__version__}, "
                        f"numba {numba.__version__}{numba_cuda}, torch "
                        f"{ctx.torch.__version__ if ctx.torch else ctx.torch_why}"}
    chosen = tuple(b for b in BENCHMARKS if args.only is None or b[0] in args.only)
    try:
        results = run_benchmarks(ctx, chosen, lambda rs: write_outputs(args.out, meta, rs))
    except KeyboardInterrupt:
        print("[gpu_bench] interrupted; the files hold what was measured", flush=True)
        return 1
    print(render_markdown(meta, results))
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
