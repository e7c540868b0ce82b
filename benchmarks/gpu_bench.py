"""Benchmark: numbanet on a GPU against cuBLAS and PyTorch CUDA, on the same card, in one run.

Five benchmarks, each through numbanet's public API on ``--device`` (default ``cuda``):

* ``add``      ``a + b`` of two float32 tensors of 2**26 elements: GB/s, counting 3 x 4
               bytes per element (two reads, one write), and the fraction of the card's
               peak memory bandwidth (goal >= 60 %). The peak is
               ``2 * MEMORY_CLOCK_RATE[kHz] * 1e3 * GLOBAL_MEMORY_BUS_WIDTH[bits] / 8``
               bytes/s from ``numba.cuda.get_current_device()``, or, where those attributes
               are missing, a small table by card name (:data:`PEAK_BANDWIDTH_BY_NAME`).
               PyTorch's ``a + b`` on the same card is shown for scale (no goal).
* ``matmul``   ``a @ b``, float32, 4096 x 4096 x 4096: TFLOP/s (2 n**3 flops per product) and
               the ratio to cuBLAS, measured in the same run through PyTorch (TF32 switched
               off, so both are true fp32) and through CuPy where it is importable
               (goal >= 0.25, aim 0.5). The first 64 rows are checked against NumPy.
* ``seed_mlp`` the seed lecture's autograd loop (``benchmarks/seed_autograd.py``,
               N, D_in, H, D_out = 64, 1000, 100, 10): forward, ``loss.item()``, zeroing
               the grads, ``loss.backward()`` and the SGD update under ``no_grad``. ms/step,
               and the identical loop in PyTorch on the same device; ratio numbanet/PyTorch.
* ``mlp_adam`` a 784-256-256-10 MLP with biases, batch 128, ReLU (``clamp(min=0)``), softmax
               cross-entropy written with tensor ops (the row max, taken under ``no_grad`` as
               ``torch.logsumexp`` does, is subtracted; then exp, sum, log; the targets'
               log-probabilities are picked with a one-hot float matrix) and Adam
               (lr 1e-3, betas 0.9/0.999, eps 1e-8, PyTorch's update rule) written by hand
               with tensor ops under ``no_grad`` -- in both libraries, so that both do the
               same work. ms/step and the ratio numbanet/PyTorch.
* ``conv2d``   ``nn.functional.conv2d`` forward, float32, a ResNet-stage layer: input
               (16, 64, 56, 56), weight (64, 64, 3, 3), padding 1 (im2col + matmul):
               TFLOP/s (2 * N*O*OH*OW * C*kh*kw flops per call) and the ratio to PyTorch's
               ``conv2d`` (cuDNN, TF32 off) on the same card (no goal set). The output is
               checked against PyTorch, or, without it, the first image against numbanet on
               the CPU.

Both training loops start from the same float32 NumPy data, so their first-step losses
must agree; the relative difference is reported.

Timing. The first call of each timed function is reported on its own as
"compile/warm-up s" (it compiles numbanet's kernels, or loads them from Numba's cache;
for PyTorch it loads its kernels). Then a few warm-up calls, then timed repeats: the clock
is read only after ``numbanet.cuda.synchronize()`` / ``torch.cuda.synchronize()``; the
figure is the median over repeats of the per-call mean within a repeat. Repeats stop early
once a loop has used its time slice, so every benchmark takes a few seconds. CUDA is
initialised for both libraries before the first benchmark, so no first call pays for
creating the context.

Robustness. Each benchmark runs inside its own ``try``: a failure is recorded with its
message (and the figures measured before it) and the next benchmark still runs. A figure
whose reference library is missing is reported as "not measured", never estimated.
The JSON and Markdown files are rewritten after every benchmark, so a run that is killed
(``timeout``) still leaves what it measured; ``--budget-s`` skips the benchmarks that would
start after the budget is spent.

Usage (from the repository root)::

    python3 benchmarks/gpu_bench.py --out gpu_bench.json --markdown gpu_bench.md
    .venv/bin/python benchmarks/gpu_bench.py --device cpu --small      # CPU smoke run

``benchmarks/gpu_check.sh`` runs it, with the CUDA tests, on a lent GPU machine.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import importlib
import json
import math
import os
import platform
import statistics
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # beside it: seed_autograd.py
import seed_autograd  # noqa: E402  (the seed loop, shared with the CPU benchmark)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---- goals ---------------------------------------------------------------------------------

GOAL_ADD_FRACTION_OF_PEAK = 0.60
GOAL_MATMUL_VS_CUBLAS, AIM_MATMUL_VS_CUBLAS = 0.25, 0.5
# No goal has been set for the two training loops on a GPU: their ratios are reported with
# "no goal set". Put a number here (numbanet ms / PyTorch ms, lower is better) to judge them.
GOAL_SEED_MLP_VS_TORCH: float | None = None
GOAL_MLP_ADAM_VS_TORCH: float | None = None

#: Peak memory bandwidth in bytes/s by card name, for cards whose attributes cannot be read.
#: The first key contained in the name wins, so the specific names come first.
PEAK_BANDWIDTH_BY_NAME: tuple[tuple[str, float], ...] = (
    ("H200", 4.8e12),
    ("H100 NVL", 3.9e12),
    ("H100 PCIE", 2.0e12),
    ("H100", 3.35e12),  # SXM5: "NVIDIA H100 80GB HBM3"
)


@dataclass(frozen=True)
class Sizes:
    add_elements: int
    matmul_n: int
    add_repeats: int
    matmul_repeats: int
    train_warmup: int
    train_repeats: int
    train_steps_per_repeat: int
    slice_s: float  # time slice of one timed loop; repeats stop once it is used (min 3)
    conv_batch: int = 16  # conv2d: input (batch, channels, side, side), 3x3 weight
    conv_channels: int = 64
    conv_side: int = 56
    conv_repeats: int = 7


FULL = Sizes(add_elements=2 ** 26, matmul_n=4096, add_repeats=15, matmul_repeats=7,
             train_warmup=10, train_repeats=9, train_steps_per_repeat=20, slice_s=2.0)
SMALL = Sizes(add_elements=2 ** 20, matmul_n=256, add_repeats=5, matmul_repeats=3,
              train_warmup=2, train_repeats=3, train_steps_per_repeat=3, slice_s=0.5,
              conv_batch=2, conv_channels=8, conv_side=12, conv_repeats=3)

MLP_BATCH, MLP_SIZES, MLP_CLASSES = 128, (784, 256, 256, 10), 10
ADAM_LR, ADAM_BETAS, ADAM_EPS = 1e-3, (0.9, 0.999), 1e-8


# ---- figures, goals, verdicts --------------------------------------------------------------

@dataclass(frozen=True)
class Goal:
    """``value op target``; ``op`` is ``'>='`` (higher is better) or ``'<='``."""
    op: str
    target: float
    aim: float | None = None
    percent: bool = False  # show target and aim as percentages

    def text(self) -> str:
        def fmt(x):
            return f"{100 * x:.0f} %" if self.percent else f"{x:g}"
        sign = "≥" if self.op == ">=" else "≤"
        aim = f" (aim {fmt(self.aim)})" if self.aim is not None else ""
        return f"{sign} {fmt(self.target)}{aim}"


def verdict(value: float | None, goal: Goal | None) -> str:
    """``'met'``/``'missed'`` against ``goal``; ``'not measured'`` without a value; ``''``
    for a figure that has no goal."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not measured" if goal is not None else ""
    if goal is None:
        return ""
    if goal.op == ">=":
        return "met" if value >= goal.target else "missed"
    if goal.op == "<=":
        return "met" if value <= goal.target else "missed"
    raise ValueError(f"goal operator must be '>=' or '<=', got {goal.op!r}")


@dataclass
class Figure:
    """One measured number of a benchmark. ``value`` None means "not measured"; ``note``
    says why (or adds context)."""
    label: str
    value: float | None
    unit: str
    goal: Goal | None = None
    note: str = ""
    verdict: str = field(init=False, default="")

    def __post_init__(self):
        self.verdict = verdict(self.value, self.goal)


@dataclass
class Result:
    name: str
    title: str
    status: str = "not run"  # ok | failed | skipped | not run | interrupted
    error: str = ""
    traceback: str = ""
    seconds: float = 0.0
    figures: list = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def add(self, label, value, unit, goal=None, note="") -> Figure:
        fig = Figure(label, value, unit, goal, note)
        self.figures.append(fig)
        return fig


def peak_bandwidth(memory_clock_khz: float | None, bus_width_bits: float | None,
                   name: str | None) -> tuple[float | None, str]:
    """Peak memory bandwidth in bytes/s and where it came from.

    From the device attributes when both are positive (double data rate: two transfers a
    clock), else from :data:`PEAK_BANDWIDTH_BY_NAME`, else ``(None, reason)``.

    >>> peak_bandwidth(2_619_000, 5120, None)[0]   # H100 SXM5
    3352320000000.0
    """
    if memory_clock_khz and bus_width_bits and memory_clock_khz > 0 and bus_width_bits > 0:
        bw = 2.0 * memory_clock_khz * 1e3 * bus_width_bits / 8.0
        return bw, (f"device attributes: MEMORY_CLOCK_RATE {memory_clock_khz:g} kHz, "
                    f"GLOBAL_MEMORY_BUS_WIDTH {bus_width_bits:g} bits")
    upper = (name or "").upper()
    for key, bw in PEAK_BANDWIDTH_BY_NAME:
        if key in upper:
            return bw, f"table entry {key!r} for card {name!r} (device attributes unavailable)"
    return None, f"unknown peak: no device attributes and no table entry for card {name!r}"


def cuda_device_attributes() -> dict:
    """Name, memory clock and bus width of the current CUDA device, as numba reports them;
    missing entries are None (their errors under ``'errors'``)."""
    info = {"name": None, "memory_clock_khz": None, "bus_width_bits": None, "errors": []}
    try:
        from numba import cuda
        dev = cuda.get_current_device()
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        info["errors"].append(f"numba.cuda.get_current_device(): {type(exc).__name__}: {exc}")
        return info
    name = getattr(dev, "name", None)
    info["name"] = name.decode() if isinstance(name, bytes) else name
    for key, attr in (("memory_clock_khz", "MEMORY_CLOCK_RATE"),
                      ("bus_width_bits", "GLOBAL_MEMORY_BUS_WIDTH")):
        try:
            info[key] = int(getattr(dev, attr))
        except Exception as exc:  # noqa: BLE001
            info["errors"].append(f"{attr}: {type(exc).__name__}: {exc}")
    return info


# ---- timing --------------------------------------------------------------------------------

def timed_loop(fn: Callable[[], object], sync: Callable[[], None], *, warmup: int,
               repeats: int, inner: int, slice_s: float,
               clock: Callable[[], float] = time.perf_counter) -> dict:
    """Time ``fn``: its first call alone (compile/warm-up), ``warmup - 1`` more untimed
    calls, then up to ``repeats`` repeats of ``inner`` calls, synchronising before each
    clock reading. Repeats stop once ``slice_s`` is spent (after at least 3).
    Returns seconds: ``first``, ``median`` and ``min`` per call, and ``per_call`` list; and
    ``first_value`` and ``last``, what the first and the last call returned."""
    sync()
    t0 = clock()
    last = first_value = fn()
    sync()
    first = clock() - t0
    for _ in range(max(warmup - 1, 0)):
        last = fn()
    sync()
    per_call = []
    start = clock()
    for r in range(repeats):
        t0 = clock()
        for _ in range(inner):
            last = fn()
        sync()
        per_call.append((clock() - t0) / inner)
        if r >= 2 and clock() - start > slice_s:
            break
    return {"first": first, "median": statistics.median(per_call), "min": min(per_call),
            "per_call": per_call, "first_value": first_value, "last": last}


# ---- the run context: device, synchronisation, reference libraries -------------------------

class Context:
    """What every benchmark needs: numbanet, the device, a synchroniser for each library,
    the sizes, and access to the optional reference libraries."""

    def __init__(self, device: str, sizes: Sizes, seed: int = 0, deadline: float | None = None,
                 without: tuple = ()):
        self.device = device
        self.without = tuple(without)
        self.sizes = sizes
        self.seed = seed
        self.deadline = deadline
        self.is_cuda = device.startswith("cuda")
        self._nb = None
        self._nb_sync = None
        self.sync_source = ""
        self._refs: dict = {}

    # numbanet
    @property
    def nb(self):
        if self._nb is None:
            self._nb = import_numbanet()
        return self._nb

    def nb_sync(self) -> None:
        if self._nb_sync is None:
            self._nb_sync, self.sync_source = numbanet_synchronizer(self.nb, self.is_cuda)
        self._nb_sync()

    # references
    def reference(self, name: str):
        """``(module, None)`` or ``(None, reason)`` for ``'torch'`` or ``'cupy'``; torch is
        configured for true fp32 and checked to reach the device."""
        if name not in self._refs:
            self._refs[name] = self._load_reference(name)
        return self._refs[name]

    def _load_reference(self, name: str):
        if name in self.without:
            return None, f"not measured: {name} excluded with --without"
        if name == "cupy" and not self.is_cuda:
            return None, f"not measured: CuPy runs only on CUDA devices, not on '{self.device}'"
        try:
            mod = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - ImportError, or a broken install
            return None, f"not measured: {name} not importable ({type(exc).__name__}: {exc})"
        try:
            if name == "torch":
                mod.backends.cuda.matmul.allow_tf32 = False
                mod.backends.cudnn.allow_tf32 = False
                if self.is_cuda:
                    if not mod.cuda.is_available():
                        return None, "not measured: torch.cuda.is_available() is False"
                    mod.zeros(1, device=self.device)  # create the context now, not in a timing
                    mod.cuda.synchronize()
            elif name == "cupy":
                mod.zeros(1, dtype=mod.float32)
                mod.cuda.runtime.deviceSynchronize()
        except Exception as exc:  # noqa: BLE001
            return None, f"not measured: {name} could not reach '{self.device}' " \
                         f"({type(exc).__name__}: {exc})"
        return mod, None

    def torch_sync(self, torch) -> Callable[[], None]:
        return torch.cuda.synchronize if self.is_cuda else (lambda: None)

    def release(self):
        """Give memory back between benchmarks (PyTorch's and CuPy's caching allocators)."""
        gc.collect()
        torch = self._refs.get("torch", (None,))[0]
        if torch is not None and self.is_cuda:
            torch.cuda.empty_cache()
        cupy = self._refs.get("cupy", (None,))[0]
        if cupy is not None:
            cupy.get_default_memory_pool().free_all_blocks()


def import_numbanet():
    """``import numbanet``; from the repository root when it is not installed."""
    try:
        return importlib.import_module("numbanet")
    except ModuleNotFoundError as exc:
        if exc.name != "numbanet":
            raise
        sys.path.insert(0, ROOT)
        return importlib.import_module("numbanet")


def numbanet_cuda_module(nb):
    """``numbanet.cuda`` if it exists (as an attribute or a submodule), else None."""
    mod = getattr(nb, "cuda", None)
    if mod is not None:
        return mod
    try:
        return importlib.import_module("numbanet.cuda")
    except ModuleNotFoundError as exc:
        if exc.name not in ("numbanet.cuda",):
            raise
        return None


def numbanet_synchronizer(nb, is_cuda: bool):
    """The function that waits for numbanet's queued GPU work, and its name."""
    if not is_cuda:
        return (lambda: None), "none (CPU)"
    mod = numbanet_cuda_module(nb)
    if mod is not None and hasattr(mod, "synchronize"):
        return mod.synchronize, "numbanet.cuda.synchronize"
    from numba import cuda
    return cuda.synchronize, "numba.cuda.synchronize (numbanet.cuda.synchronize missing)"


def device_name(nb, device: str) -> tuple[str, str]:
    """The card's name and where it came from; the CPU's model name on ``'cpu'``."""
    if not device.startswith("cuda"):
        return cpu_model(), "/proc/cpuinfo"
    index = int(device.partition(":")[2] or 0)
    mod = numbanet_cuda_module(nb)
    if mod is not None and hasattr(mod, "get_device_name"):
        try:
            return str(mod.get_device_name(index)), "numbanet.cuda.get_device_name"
        except Exception:  # noqa: BLE001 - fall back to numba
            pass
    attrs = cuda_device_attributes()
    return str(attrs["name"]), "numba.cuda.get_current_device().name"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def kernel_cache_files(nb) -> int:
    """How many compiled-kernel cache files (``.nbi``/``.nbc``) numbanet has already: where
    there are some, the compile/warm-up figures are partly cache loads, not compiles."""
    tops = [os.path.dirname(getattr(nb, "__file__", "") or "")]
    if os.environ.get("NUMBA_CACHE_DIR"):
        tops.append(os.environ["NUMBA_CACHE_DIR"])
    count = 0
    for top in tops:
        for _, _, files in os.walk(top):
            count += sum(f.endswith((".nbi", ".nbc")) for f in files)
    return count


def versions(without: tuple = ()) -> dict:
    """Versions of Python and the libraries, read from package metadata (cheap)."""
    from importlib import metadata
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for key, dist in (("numpy", "numpy"), ("numba", "numba"), ("numba-cuda", "numba-cuda"),
                      ("torch", "torch"), ("cuda-bindings", "cuda-bindings")):
        if key in without:
            out[key] = "excluded (--without)"
            continue
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = "not installed"
    if "cupy" in without:
        out["cupy"] = "excluded (--without)"
    else:
        cupys = sorted(f"{d.metadata['Name']} {d.version}" for d in metadata.distributions()
                       if (d.metadata["Name"] or "").lower().startswith("cupy"))
        out["cupy"] = ", ".join(cupys) or "not installed"
    return out


# ---- the benchmarks ------------------------------------------------------------------------

def measure_reference(ctx: Context, res: Result, name: str, measure: Callable):
    """``(measure(module), "")`` for the reference library ``name``, or ``(None, why)`` when
    it is missing or fails (its traceback goes to ``res.details``); never raises."""
    module, why = ctx.reference(name)
    if module is None:
        return None, why
    try:
        return measure(module), ""
    except Exception as exc:  # noqa: BLE001 - a failing reference must not hide numbanet's figures
        res.details[f"{name}_traceback"] = "".join(traceback.format_exception(exc))[-3000:]
        return None, f"not measured: {name} failed ({type(exc).__name__}: {exc})"
    finally:
        ctx.release()


def _ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def _ms(seconds):
    return None if seconds is None else 1e3 * seconds


def bench_add(ctx: Context, res: Result) -> None:
    nb, n, sz = ctx.nb, ctx.sizes.add_elements, ctx.sizes
    nbytes = 3 * 4 * n
    res.details["elements"] = n
    res.details["bytes_per_call"] = nbytes
    if ctx.is_cuda:
        attrs = cuda_device_attributes()
        peak, source = peak_bandwidth(attrs["memory_clock_khz"], attrs["bus_width_bits"],
                                      attrs["name"])
        res.details["device_attributes"] = attrs
    else:
        peak, source = None, "no peak on the CPU (the fraction of peak is a GPU figure)"
    res.details["peak_bytes_per_s"] = peak
    res.details["peak_source"] = source

    nb.manual_seed(ctx.seed)
    a = nb.randn(n, device=ctx.device, dtype=nb.float32)
    b = nb.randn(n, device=ctx.device, dtype=nb.float32)
    # a and b are bound as defaults: the lambda runs inside timed_loop, before ``del a, b``
    t = timed_loop(lambda a=a, b=b: a + b, ctx.nb_sync, warmup=2, repeats=sz.add_repeats,
                   inner=5, slice_s=sz.slice_s)
    m = min(n, 1 << 20)  # check the sum on a slice: cheap, and catches a wrong kernel
    err = float(abs((t["last"][:m].cpu().numpy()) - (a[:m].cpu().numpy() + b[:m].cpu().numpy()))
                .max())
    res.details["max_abs_error_first_elements"] = err
    if err > 1e-6:
        raise AssertionError(f"a + b is wrong: max abs error {err:g} on the first {m} elements")
    del t["last"], t["first_value"]
    gbs = nbytes / t["median"] / 1e9
    res.add("numbanet a + b", gbs, "GB/s")
    res.add("fraction of peak bandwidth", None if peak is None else gbs * 1e9 / peak, "%",
            Goal(">=", GOAL_ADD_FRACTION_OF_PEAK, percent=True),
            note=source if peak is not None else f"not measured: {source}")
    res.add("numbanet compile/warm-up (first call)", t["first"], "s")
    res.details["numbanet"] = t
    del a, b

    def torch_add(torch):
        ta = torch.randn(n, device=ctx.device, dtype=torch.float32)
        tb = torch.randn(n, device=ctx.device, dtype=torch.float32)
        tt = timed_loop(lambda: ta + tb, ctx.torch_sync(torch), warmup=2,
                        repeats=sz.add_repeats, inner=5, slice_s=sz.slice_s)
        del tt["last"], tt["first_value"]
        res.details["torch"] = tt
        return nbytes / tt["median"] / 1e9

    gbs_torch, why = measure_reference(ctx, res, "torch", torch_add)
    res.add("PyTorch a + b (for scale)", gbs_torch, "GB/s", note=why)


def bench_matmul(ctx: Context, res: Result) -> None:
    import numpy as np
    nb, n, sz = ctx.nb, ctx.sizes.matmul_n, ctx.sizes
    flops = 2.0 * n ** 3
    res.details.update(n=n, flops_per_call=flops)
    rng = np.random.default_rng(ctx.seed)
    A = rng.standard_normal((n, n), dtype=np.float32)
    B = rng.standard_normal((n, n), dtype=np.float32)
    reference_rows = A[:64].astype(np.float64) @ B.astype(np.float64)
    scale = float(np.abs(reference_rows).max())

    def check(name, rows):
        err = float(np.abs(rows.astype(np.float64) - reference_rows).max()) / scale
        res.details[f"max_rel_error_{name}"] = err
        return err

    nb_error = None
    tflops = None
    try:
        a = nb.from_numpy(A).to(ctx.device)
        b = nb.from_numpy(B).to(ctx.device)
        t = timed_loop(lambda a=a, b=b: a @ b, ctx.nb_sync, warmup=1,
                       repeats=sz.matmul_repeats, inner=1, slice_s=sz.slice_s)
        del t["first_value"]
        err = check("numbanet", t.pop("last")[:64].cpu().numpy())
        if err > 1e-4:
            raise AssertionError(f"a @ b is wrong: max error {err:g} (relative to max |C|) "
                                 "in the first 64 rows")
        tflops = flops / t["median"] / 1e12
        res.details["numbanet"] = t
        del a, b
    except Exception as exc:  # noqa: BLE001 - measure the references anyway, then re-raise
        nb_error = exc
    res.add("numbanet a @ b", tflops, "TFLOP/s",
            note="" if nb_error is None else f"failed: {type(nb_error).__name__}")
    if nb_error is None:
        res.add("numbanet compile/warm-up (first call)", res.details["numbanet"]["first"], "s")
    ctx.release()

    goal = Goal(">=", GOAL_MATMUL_VS_CUBLAS, AIM_MATMUL_VS_CUBLAS)
    label = "cuBLAS" if ctx.is_cuda else "BLAS"

    def torch_matmul(torch):
        ta = torch.from_numpy(A).to(ctx.device)
        tb = torch.from_numpy(B).to(ctx.device)
        tt = timed_loop(lambda: ta @ tb, ctx.torch_sync(torch), warmup=1,
                        repeats=sz.matmul_repeats, inner=1, slice_s=sz.slice_s)
        del tt["first_value"]
        check("torch", tt.pop("last")[:64].cpu().numpy())
        res.details["torch"] = tt
        return flops / tt["median"] / 1e12

    def cupy_matmul(cupy):
        ca, cb = cupy.asarray(A), cupy.asarray(B)
        tc = timed_loop(lambda: ca @ cb, cupy.cuda.runtime.deviceSynchronize, warmup=1,
                        repeats=sz.matmul_repeats, inner=1, slice_s=sz.slice_s)
        del tc["first_value"]
        check("cupy", cupy.asnumpy(tc.pop("last")[:64]))
        res.details["cupy"] = tc
        return flops / tc["median"] / 1e12

    for name, via, fn in (("torch", "PyTorch", torch_matmul), ("cupy", "CuPy", cupy_matmul)):
        ref, why = measure_reference(ctx, res, name, fn)
        res.add(f"{label} via {via}" + (" (TF32 off)" if name == "torch" else ""), ref,
                "TFLOP/s", note=why)
        res.add(f"numbanet / {label} ({via})", _ratio(tflops, ref), "x", goal,
                note=why or ("" if nb_error is None else "numbanet failed"))
    if nb_error is not None:
        raise nb_error


def seed_mlp_data(seed: int):
    return seed_autograd._data(seed)


def seed_mlp_step(lib, arrays, device: str):
    """The lecture's autograd loop for ``lib`` (numbanet or torch: same API), on ``device``:
    the very loop ``seed_autograd.py`` times on the CPU."""
    return seed_autograd._loop_autograd(lib, arrays, device)


def mlp_adam_data(seed: int):
    """Inputs, one-hot targets and He-initialised weights (biases zero) of the 784-256-256-10
    MLP, as float32 NumPy arrays."""
    import numpy as np
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((MLP_BATCH, MLP_SIZES[0]), dtype=np.float32)
    labels = rng.integers(0, MLP_CLASSES, MLP_BATCH)
    onehot = np.eye(MLP_CLASSES, dtype=np.float32)[labels]
    params = []
    for fan_in, fan_out in zip(MLP_SIZES[:-1], MLP_SIZES[1:]):
        w = rng.standard_normal((fan_in, fan_out), dtype=np.float32) * np.float32(
            math.sqrt(2.0 / fan_in))
        params += [w.astype(np.float32), np.zeros(fan_out, dtype=np.float32)]
    return x, onehot, params


def mlp_adam_step(lib, data, device: str):
    """One training step of the 784-256-256-10 MLP with softmax cross-entropy and a
    hand-written Adam (PyTorch's rule), for ``lib`` (numbanet or torch) on ``device``."""
    x_, onehot_, params_ = data
    x = lib.from_numpy(x_).to(device)
    onehot = lib.from_numpy(onehot_).to(device)
    params = [lib.from_numpy(p.copy()).to(device).requires_grad_() for p in params_]
    exp_avg = [lib.zeros(*p.shape, device=device, dtype=lib.float32) for p in params]
    exp_avg_sq = [lib.zeros(*p.shape, device=device, dtype=lib.float32) for p in params]
    beta1, beta2 = ADAM_BETAS
    t = 0

    def step():
        nonlocal t
        w1, b1, w2, b2, w3, b3 = params
        h = (x.mm(w1) + b1).clamp(min=0)
        h = (h.mm(w2) + b2).clamp(min=0)
        z = h.mm(w3) + b3
        with lib.no_grad():
            zmax = z.max(dim=1, keepdim=True)[0]
        shifted = z - zmax
        log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
        loss = -(log_probs * onehot).sum() * (1.0 / MLP_BATCH)
        value = loss.item()
        for p in params:
            if p.grad is not None:
                p.grad.zero_()
        loss.backward()
        t += 1
        bias_correction1 = 1.0 - beta1 ** t
        bias_correction2 = 1.0 - beta2 ** t
        step_size = ADAM_LR / bias_correction1
        inv_sqrt_bc2 = 1.0 / math.sqrt(bias_correction2)
        with lib.no_grad():
            for p, m, v in zip(params, exp_avg, exp_avg_sq):
                g = p.grad
                m.mul_(beta1)
                m += (1.0 - beta1) * g
                v.mul_(beta2)
                v += (1.0 - beta2) * (g * g)
                denom = v.sqrt() * inv_sqrt_bc2 + ADAM_EPS
                p -= step_size * (m / denom)
        return value
    return step


def _bench_training(ctx: Context, res: Result, make_data, make_step, goal_ratio) -> None:
    sz = ctx.sizes
    data = make_data(ctx.seed)

    first_losses = {}  # from the same fresh weights: both libraries must agree on it

    def measure(name, lib, sync):
        step = make_step(lib, data, ctx.device)
        t = timed_loop(step, sync, warmup=sz.train_warmup, repeats=sz.train_repeats,
                       inner=sz.train_steps_per_repeat, slice_s=sz.slice_s)
        first_losses[name] = t.pop("first_value")
        t["last_loss"] = t.pop("last")
        res.details[name] = t
        return t

    nb_error, nb_ms = None, None
    try:
        nb_ms = _ms(measure("numbanet", ctx.nb, ctx.nb_sync)["median"])
    except Exception as exc:  # noqa: BLE001 - measure the reference anyway, then re-raise
        nb_error = exc
    ctx.release()
    res.add("numbanet", nb_ms, "ms/step",
            note="" if nb_error is None else f"failed: {type(nb_error).__name__}")
    if nb_error is None:
        res.add("numbanet compile/warm-up (first step)", res.details["numbanet"]["first"], "s")

    def torch_training(torch):
        return _ms(measure("torch", torch, ctx.torch_sync(torch))["median"])

    ref_ms, why = measure_reference(ctx, res, "torch", torch_training)
    where = "CUDA" if ctx.is_cuda else ctx.device
    res.add(f"PyTorch {where}", ref_ms, "ms/step", note=why or "")
    if ref_ms is not None:
        res.add("PyTorch warm-up (first step)", res.details["torch"]["first"], "s")
    ratio_note = why or ("" if nb_error is None else "numbanet failed")
    if goal_ratio is None and not ratio_note:
        ratio_note = "no goal set"
    res.add("numbanet / PyTorch (time)", _ratio(nb_ms, ref_ms), "x",
            None if goal_ratio is None else Goal("<=", goal_ratio), note=ratio_note)
    res.details["first_losses"] = first_losses
    if len(first_losses) == 2:
        a, b = first_losses["numbanet"], first_losses["torch"]
        rel = abs(a - b) / max(abs(b), 1e-30)
        res.details["first_loss_rel_diff"] = rel
        res.add("first-step loss, relative difference", rel, "rel",
                note="" if rel <= 1e-3 else "WARNING: the two loops do not compute the same "
                                             "thing (> 1e-3)")
    if nb_error is not None:
        raise nb_error


def bench_seed_mlp(ctx: Context, res: Result) -> None:
    _bench_training(ctx, res, seed_mlp_data, seed_mlp_step, GOAL_SEED_MLP_VS_TORCH)


def bench_mlp_adam(ctx: Context, res: Result) -> None:
    _bench_training(ctx, res, mlp_adam_data, mlp_adam_step, GOAL_MLP_ADAM_VS_TORCH)


def conv2d_flops(n: int, c: int, o: int, side: int, k: int = 3) -> float:
    """Multiply-adds x 2 of a stride-1 'same' convolution: every output element is a dot
    product of length C*k*k."""
    return 2.0 * n * o * side * side * c * k * k


def bench_conv2d(ctx: Context, res: Result) -> None:
    import numpy as np
    nb, sz = ctx.nb, ctx.sizes
    n, c, side = sz.conv_batch, sz.conv_channels, sz.conv_side
    flops = conv2d_flops(n, c, c, side)
    res.details.update(input=(n, c, side, side), weight=(c, c, 3, 3), padding=1,
                       flops_per_call=flops)
    rng = np.random.default_rng(ctx.seed)
    X = rng.standard_normal((n, c, side, side), dtype=np.float32)
    W = (rng.standard_normal((c, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    F = nb.nn.functional

    nb_error, tflops, nb_first = None, None, None
    try:
        x, w = nb.from_numpy(X).to(ctx.device), nb.from_numpy(W).to(ctx.device)
        t = timed_loop(lambda x=x, w=w: F.conv2d(x, w, padding=1), ctx.nb_sync, warmup=1,
                       repeats=sz.conv_repeats, inner=1, slice_s=sz.slice_s)
        del t["first_value"]
        nb_first = t.pop("last")[:1].cpu().numpy()
        tflops = flops / t["median"] / 1e12
        res.details["numbanet"] = t
        del x, w
    except Exception as exc:  # noqa: BLE001 - measure the reference anyway, then re-raise
        nb_error = exc
    res.add("numbanet conv2d forward", tflops, "TFLOP/s",
            note="" if nb_error is None else f"failed: {type(nb_error).__name__}")
    if nb_error is None:
        res.add("numbanet compile/warm-up (first call)", res.details["numbanet"]["first"], "s")
    ctx.release()

    def torch_conv(torch):
        tx, tw = torch.from_numpy(X).to(ctx.device), torch.from_numpy(W).to(ctx.device)
        conv = torch.nn.functional.conv2d
        tt = timed_loop(lambda: conv(tx, tw, padding=1), ctx.torch_sync(torch), warmup=1,
                        repeats=sz.conv_repeats, inner=1, slice_s=sz.slice_s)
        del tt["first_value"]
        res.details["torch_first_image"] = tt.pop("last")[:1].cpu().numpy()
        res.details["torch"] = tt
        return flops / tt["median"] / 1e12

    ref, why = measure_reference(ctx, res, "torch", torch_conv)
    if nb_first is not None:
        expected = res.details.pop("torch_first_image", None)
        if expected is None:  # no PyTorch: numbanet on the CPU is the reference
            expected = F.conv2d(nb.from_numpy(X[:1]), nb.from_numpy(W), padding=1).numpy()
        err = float(np.abs(nb_first - expected).max()) / max(float(np.abs(expected).max()),
                                                               1e-30)
        res.details["max_rel_error_first_image"] = err
        if err > 1e-4:
            raise AssertionError(f"conv2d is wrong: max error {err:g} (relative to max |out|) "
                                 "on the first image")
    where = "cuDNN" if ctx.is_cuda else "CPU"
    res.add(f"PyTorch conv2d ({where}, TF32 off)", ref, "TFLOP/s", note=why)
    res.add("numbanet / PyTorch (throughput)", _ratio(tflops, ref), "x",
            note=why or ("no goal set" if nb_error is None else "numbanet failed"))
    if nb_error is not None:
        raise nb_error


def bench_fusion(ctx: Context, res: Result) -> None:
    """A chain of 8 elementwise ops (``benchmarks/fusion_bench.py``) as one fused graph
    kernel, as 8 graph kernels and in eager mode; the speed-up fused/unfused (the goal of
    3x is a CPU goal; on a GPU the figure is reported)."""
    import fusion_bench
    ctx.nb  # noqa: B018 - the property imports numbanet the way this script imports it
    n = fusion_bench.N_ELEMENTS if ctx.sizes is FULL else 2 ** 16
    calls = 50 if ctx.sizes is FULL else 5
    res.details["elements"] = n
    found = {}
    for kind in ("fused", "unfused", "eager"):
        found[kind] = fusion_bench.measure(kind, ctx.device, calls=calls, warmup=3, n=n)
        res.details[kind] = found[kind]
        res.add(f"numbanet {kind} chain ({found[kind]['kernels']} kernels)",
                _ms(found[kind]["median_s"]), "ms")
    diff = found["fused"]["max_abs_diff_vs_unfused"]
    if diff > 1e-5:
        raise AssertionError(f"fused and unfused chains differ by {diff:g}")
    res.add("speed-up fused vs unfused", _ratio(found["unfused"]["median_s"],
                                                found["fused"]["median_s"]), "x",
            note="the >= 3x goal is set for the CPU; reported here")
    res.add("fused compile/warm-up (first call)", found["fused"]["first_s"], "s")


BENCHMARKS: tuple[tuple[str, str, Callable], ...] = (
    ("add", "elementwise add, float32, 2**26 elements", bench_add),
    ("matmul", "matmul, float32, 4096 x 4096 x 4096", bench_matmul),
    ("seed_mlp", "seed MLP training step (64x1000 -> 100 -> 10, MSE sum, SGD)", bench_seed_mlp),
    ("mlp_adam", "MLP 784-256-256-10, batch 128, softmax cross-entropy, Adam", bench_mlp_adam),
    ("conv2d", "conv2d forward, float32, (16, 64, 56, 56) * (64, 64, 3, 3), padding 1",
     bench_conv2d),
    ("fusion", "graph: 8 elementwise ops on 10**6 float32, fused vs one kernel per op",
     bench_fusion),
)


def small_title(title: str, sizes: Sizes) -> str:
    if sizes is FULL:
        return title
    c, side = sizes.conv_channels, sizes.conv_side
    return (title.replace("2**26", f"2**{int(math.log2(sizes.add_elements))}")
            .replace("4096 x 4096 x 4096", " x ".join([str(sizes.matmul_n)] * 3))
            .replace("10**6 float32", "2**16 float32")
            .replace("(16, 64, 56, 56) * (64, 64, 3, 3)",
                     f"({sizes.conv_batch}, {c}, {side}, {side}) * ({c}, {c}, 3, 3)"))


# ---- running and reporting -----------------------------------------------------------------

def run_benchmarks(ctx: Context, benchmarks, only=None,
                   on_progress: Callable[[list], None] | None = None) -> list:
    """Run each benchmark in turn; a failure is recorded and the next one still runs.
    ``on_progress(results)`` is called after each (to rewrite the output files)."""
    results = [Result(name, small_title(title, ctx.sizes)) for name, title, _ in benchmarks
               if only is None or name in only]
    funcs = {name: fn for name, _, fn in benchmarks}
    try:
        for res in results:
            if ctx.deadline is not None and time.monotonic() > ctx.deadline:
                res.status = "skipped"
                res.error = "not measured: the run's time budget (--budget-s) was spent"
            else:
                print(f"[gpu_bench] {res.name}: {res.title} ...", flush=True)
                t0 = time.perf_counter()
                res.status = "running"
                try:
                    funcs[res.name](ctx, res)
                    res.status = "ok"
                except Exception as exc:  # noqa: BLE001 - reported, and the next one runs
                    res.status = "failed"
                    res.error = f"{type(exc).__name__}: {exc}"
                    res.traceback = "".join(traceback.format_exception(exc))[-4000:]
                finally:
                    res.seconds = time.perf_counter() - t0
                    try:
                        ctx.release()
                    except Exception:  # noqa: BLE001 - never let cleanup stop the run
                        pass
                print(f"[gpu_bench] {res.name}: {res.status} in {res.seconds:.1f} s"
                      + (f" -- {res.error}" if res.error else ""), flush=True)
            if on_progress is not None:
                on_progress(results)
    except BaseException:  # KeyboardInterrupt from `timeout -s INT`: keep what was measured
        for res in results:
            if res.status == "running":
                res.status, res.error = "interrupted", "interrupted (time limit?)"
        if on_progress is not None:
            on_progress(results)
        raise
    return results


def _format_value(value, unit) -> str:
    if value is None:
        return "not measured"
    if unit == "%":
        return f"{100 * value:.1f} %"
    if unit == "GB/s":
        return f"{value:.1f} GB/s"
    if unit == "TFLOP/s":
        return f"{value:.3g} TFLOP/s"
    if unit == "ms/step":
        return f"{value:.3f} ms/step"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "x":
        return f"{value:.2f}"
    if unit == "rel":
        return f"{value:.1e}"
    return f"{value:g} {unit}"


def to_json(meta: dict, results: list) -> dict:
    return {"meta": meta, "benchmarks": [asdict(r) for r in results]}


def write_json(path: str, meta: dict, results: list) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(to_json(meta, results), fh, indent=2, default=_json_default)
    os.replace(tmp, path)


def _json_default(obj):
    if hasattr(obj, "item"):  # NumPy scalars
        return obj.item()
    return repr(obj)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(meta: dict, results: list) -> str:
    """A section ready to paste into ``benchmarks/RESULTS.md``."""
    v = meta.get("versions", {})
    lines = [
        f"### GPU figures ({meta.get('date', '?')}, {meta.get('device_name', '?')})",
        "",
        f"Command: `{meta.get('command', 'python3 benchmarks/gpu_bench.py')}`.",
        f"Device `{meta.get('device', '?')}`: {meta.get('device_name', '?')} "
        f"(name from {meta.get('device_name_source', '?')}); numbanet synchronised with "
        f"{meta.get('sync_source') or '?'}; numbanet from `{meta.get('numbanet_path', '?')}`.",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if k != "platform") + ".",
        "Timing: first call reported as compile/warm-up, then the median over repeats of the "
        "per-call mean, read after a synchronise. Ratios of rates (TFLOP/s): higher is better; "
        "ratios of times (ms/step): lower is better. Numba kernel cache files present at the "
        f"start: {meta.get('kernel_cache_files_at_start', '?')} (where non-zero, the "
        "compile/warm-up figures include cache loads, not only compiles).",
        "",
        "| benchmark | figure | measured | goal | verdict |",
        "|---|---|---:|---|---|",
    ]
    for r in results:
        if r.status in ("skipped", "not run", "interrupted") and not r.figures:
            lines.append(f"| {_cell(r.title)} | — | {r.status} | | "
                         f"{_cell(r.error or r.status)} |")
            continue
        for fig in r.figures:
            f = fig if isinstance(fig, dict) else asdict(fig)
            measured = _format_value(f["value"], f["unit"])
            goal = f["goal"]
            goal_txt = "" if goal is None else (goal.text() if isinstance(goal, Goal)
                                                else Goal(**goal).text())
            verdict_txt, note = f["verdict"], f["note"]
            if note and verdict_txt and note.startswith(verdict_txt):
                verdict_txt = note
            elif note:
                verdict_txt = f"{verdict_txt}; {note}" if verdict_txt else note
            lines.append(f"| {_cell(r.title)} | {_cell(f['label'])} | {_cell(measured)} | "
                         f"{_cell(goal_txt)} | {_cell(verdict_txt)} |")
        if r.status not in ("ok",):
            lines.append(f"| {_cell(r.title)} | **{r.status}** | | | {_cell(r.error)} |")
    lines.append("")
    return "\n".join(lines)


def write_markdown(path: str, meta: dict, results: list) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(render_markdown(meta, results))
    os.replace(tmp, path)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="'cuda' (default), 'cuda:N' or 'cpu'")
    p.add_argument("--small", action="store_true",
                   help="small sizes and few repeats (a smoke run, e.g. with --device cpu)")
    p.add_argument("--out", default="gpu_bench.json", help="JSON file to write")
    p.add_argument("--markdown", default=None, help="Markdown file to write")
    p.add_argument("--only", action="append", choices=[b[0] for b in BENCHMARKS],
                   help="run only this benchmark (repeatable)")
    p.add_argument("--without", action="append", default=[], choices=["torch", "cupy"],
                   help="treat this reference library as not installed (repeatable)")
    p.add_argument("--budget-s", type=float, default=None,
                   help="skip the benchmarks that would start after this many seconds")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    for name in args.without:
        sys.modules[name] = None  # makes `import name` raise ImportError
    sizes = SMALL if args.small else FULL
    deadline = None if args.budget_s is None else started + args.budget_s
    ctx = Context(args.device, sizes, seed=args.seed, deadline=deadline,
                  without=tuple(args.without))
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python3", "benchmarks/gpu_bench.py"] + (argv if argv is not None
                                                                      else sys.argv[1:])),
        "device": args.device, "small": args.small, "sizes": asdict(sizes),
        "versions": versions(tuple(args.without)), "host": platform.node(),
    }
    outputs = []

    def flush(results):
        meta["sync_source"] = ctx.sync_source
        meta["elapsed_s"] = round(time.monotonic() - started, 2)
        if args.out:
            write_json(args.out, meta, results)
        if args.markdown:
            write_markdown(args.markdown, meta, results)
        outputs[:] = results

    try:
        nb = ctx.nb
        meta["numbanet_version"] = getattr(nb, "__version__", "?")
        meta["numbanet_path"] = os.path.dirname(getattr(nb, "__file__", "?"))
        meta["kernel_cache_files_at_start"] = kernel_cache_files(nb)
        meta["device_name"], meta["device_name_source"] = device_name(nb, args.device)
        if ctx.is_cuda:
            mod = numbanet_cuda_module(nb)
            meta["numbanet_cuda_module"] = mod is not None
            meta["cuda_available"] = bool(mod.is_available()) if mod is not None and \
                hasattr(mod, "is_available") else None
            ctx.nb_sync()  # initialise numba's CUDA context before any timing
        ctx.reference("torch")  # and torch's; both share the device's primary context
    except Exception as exc:  # noqa: BLE001 - the benchmarks will report their own errors
        meta["setup_error"] = f"{type(exc).__name__}: {exc}"
        print(f"[gpu_bench] setup: {meta['setup_error']}", flush=True)
    flush([Result(n, small_title(t, sizes)) for n, t, _ in BENCHMARKS
           if args.only is None or n in args.only])
    results = run_benchmarks(ctx, BENCHMARKS, args.only, on_progress=flush)
    flush(results)
    print(render_markdown(meta, results))
    failed = [r.name for r in results if r.status != "ok"]
    print(f"[gpu_bench] done in {time.monotonic() - started:.1f} s; "
          f"{len(results) - len(failed)} of {len(results)} benchmarks ok"
          + (f"; not ok: {', '.join(failed)}" if failed else ""), flush=True)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
