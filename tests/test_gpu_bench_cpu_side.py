"""The GPU check's CPU side: what ``benchmarks/gpu_bench.py`` computes, judges and writes,
and that ``benchmarks/gpu_check.sh`` is ready to run. No GPU is needed (and none is used):
the benchmark runs here on ``--device cpu`` with small sizes."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "benchmarks", "gpu_bench.py")
CHECK = os.path.join(ROOT, "benchmarks", "gpu_check.sh")


def _load_gpu_bench():
    spec = importlib.util.spec_from_file_location("gpu_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_bench"] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


gb = _load_gpu_bench()

TINY = gb.Sizes(add_elements=64, matmul_n=16, add_repeats=3, matmul_repeats=3, train_warmup=1,
                train_repeats=3, train_steps_per_repeat=1, slice_s=0.05)


# ---- peak bandwidth ------------------------------------------------------------------------

def test_peak_bandwidth_is_double_data_rate_times_bus_width():
    bw, source = gb.peak_bandwidth(2_619_000, 5120, "NVIDIA H100 80GB HBM3")
    assert bw == pytest.approx(2 * 2_619_000e3 * 5120 / 8)
    assert bw == pytest.approx(3.35e12, rel=0.01)
    assert "MEMORY_CLOCK_RATE" in source and "GLOBAL_MEMORY_BUS_WIDTH" in source


def test_peak_bandwidth_prefers_attributes_to_the_name_table():
    bw, _ = gb.peak_bandwidth(1_000_000, 1024, "NVIDIA H200")
    assert bw == pytest.approx(2 * 1e9 * 1024 / 8)


@pytest.mark.parametrize("name, expected", [
    ("NVIDIA H100 80GB HBM3", 3.35e12),
    ("NVIDIA H100 SXM5 80GB", 3.35e12),
    ("NVIDIA H100 PCIe", 2.0e12),
    ("NVIDIA H100 NVL", 3.9e12),
    ("NVIDIA H200", 4.8e12),
    ("NVIDIA H200 NVL", 4.8e12),
])
def test_peak_bandwidth_falls_back_to_the_name_table(name, expected):
    for clock, bus in ((None, None), (0, 5120), (2_619_000, 0)):
        bw, source = gb.peak_bandwidth(clock, bus, name)
        assert bw == expected
        assert "table" in source


def test_peak_bandwidth_of_an_unknown_card_is_none_with_a_reason():
    bw, source = gb.peak_bandwidth(None, None, "Some Other GPU")
    assert bw is None and "Some Other GPU" in source
    assert gb.peak_bandwidth(None, None, None)[0] is None


# ---- goals and verdicts --------------------------------------------------------------------

def test_verdict_at_least_goal_is_met_at_the_boundary_and_missed_below():
    goal = gb.Goal(">=", 0.6)
    assert gb.verdict(0.6, goal) == "met"
    assert gb.verdict(0.75, goal) == "met"
    assert gb.verdict(0.59, goal) == "missed"


def test_verdict_at_most_goal():
    goal = gb.Goal("<=", 1.0)
    assert gb.verdict(1.0, goal) == "met"
    assert gb.verdict(1.3, goal) == "missed"


def test_verdict_without_a_value_is_not_measured_and_without_a_goal_is_empty():
    assert gb.verdict(None, gb.Goal(">=", 0.25)) == "not measured"
    assert gb.verdict(float("nan"), gb.Goal(">=", 0.25)) == "not measured"
    assert gb.verdict(3.0, None) == ""
    assert gb.verdict(None, None) == ""
    with pytest.raises(ValueError, match="'>=' or '<='"):
        gb.verdict(1.0, gb.Goal(">", 1.0))


def test_goal_text_shows_target_aim_and_percentages():
    assert gb.Goal(">=", 0.25, 0.5).text() == "≥ 0.25 (aim 0.5)"
    assert gb.Goal(">=", 0.6, percent=True).text() == "≥ 60 %"
    assert gb.Goal("<=", 1.0).text() == "≤ 1"


def test_figures_carry_their_verdict():
    res = gb.Result("x", "X")
    met = res.add("fraction of peak", 0.7, "%", gb.Goal(">=", 0.6, percent=True))
    missing = res.add("ratio", None, "x", gb.Goal(">=", 0.25), note="not measured: no torch")
    assert met.verdict == "met" and missing.verdict == "not measured"


# ---- timing --------------------------------------------------------------------------------

class FakeClock:
    """A clock that advances by a fixed amount per call of the timed function."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_timed_loop_reports_the_first_call_apart_and_the_median_of_repeats():
    clock = FakeClock()
    costs = iter([5.0] + [1.0] * 2 + [0.5, 0.5, 0.5, 0.5, 0.6, 0.6, 0.4, 0.4, 0.5, 0.5])
    calls = []

    def fn():
        clock.now += next(costs)
        calls.append(1)
        return len(calls)

    t = gb.timed_loop(fn, lambda: None, warmup=3, repeats=5, inner=2, slice_s=100.0,
                      clock=clock)
    assert t["first"] == 5.0
    assert t["per_call"] == pytest.approx([0.5, 0.5, 0.6, 0.4, 0.5])
    assert t["median"] == pytest.approx(0.5) and t["min"] == pytest.approx(0.4)
    assert t["first_value"] == 1 and t["last"] == len(calls) == 3 + 10


def test_timed_loop_stops_repeating_once_its_time_slice_is_spent():
    clock = FakeClock()

    def fn():
        clock.now += 1.0

    t = gb.timed_loop(fn, lambda: None, warmup=1, repeats=50, inner=1, slice_s=2.5, clock=clock)
    assert len(t["per_call"]) == 3  # at least 3, then stop: 3 s > 2.5 s


def test_timed_loop_synchronises_before_every_clock_reading():
    events = []
    clock = FakeClock()

    def fn():
        events.append("call")

    def sync():
        events.append("sync")

    gb.timed_loop(fn, sync, warmup=1, repeats=3, inner=2, slice_s=10.0, clock=clock)
    # first call, then each repeat: the call(s) are always followed by a sync
    assert events[:3] == ["sync", "call", "sync"]
    assert events[-3:] == ["call", "call", "sync"]


# ---- running benchmarks: failures, missing libraries, budget --------------------------------

def _fake_benchmarks(log):
    def good(ctx, res):
        log.append(res.name)
        res.add("speed", 2.0, "x", gb.Goal(">=", 1.0))

    def bad(ctx, res):
        log.append(res.name)
        res.add("before the failure", 1.5, "GB/s")
        raise RuntimeError("kernel launch failed: too many resources requested")

    return (("first", "first benchmark", good), ("broken", "broken benchmark", bad),
            ("last", "last benchmark", good))


def test_a_failing_benchmark_is_reported_and_the_next_one_still_runs():
    log, snapshots = [], []
    ctx = gb.Context("cpu", TINY)
    results = gb.run_benchmarks(ctx, _fake_benchmarks(log),
                                on_progress=lambda rs: snapshots.append([r.status for r in rs]))
    assert log == ["first", "broken", "last"]
    assert [r.status for r in results] == ["ok", "failed", "ok"]
    broken = results[1]
    assert broken.error == "RuntimeError: kernel launch failed: too many resources requested"
    assert "Traceback" in broken.traceback
    assert [f.label for f in broken.figures] == ["before the failure"]  # kept
    assert snapshots[0] == ["ok", "not run", "not run"]  # files rewritten after each one
    assert snapshots[-1] == ["ok", "failed", "ok"]


def test_only_selects_benchmarks():
    log = []
    results = gb.run_benchmarks(gb.Context("cpu", TINY), _fake_benchmarks(log), only=["last"])
    assert log == ["last"] and [r.name for r in results] == ["last"]


def test_benchmarks_after_the_budget_are_skipped_not_run():
    log = []
    ctx = gb.Context("cpu", TINY, deadline=0.0)  # time.monotonic() is far past 0
    results = gb.run_benchmarks(ctx, _fake_benchmarks(log))
    assert log == [] and {r.status for r in results} == {"skipped"}
    assert "budget" in results[0].error


def test_an_interrupted_run_keeps_what_it_measured_and_reraises():
    def interrupted(ctx, res):
        res.add("half done", 1.0, "s")
        raise KeyboardInterrupt  # what `timeout -s INT` delivers

    benchmarks = (("a", "A", lambda ctx, res: res.add("done", 1.0, "s")),
                  ("b", "B", interrupted), ("c", "C", lambda ctx, res: None))
    seen = []
    with pytest.raises(KeyboardInterrupt):
        gb.run_benchmarks(gb.Context("cpu", TINY), benchmarks, on_progress=seen.append)
    statuses = [r.status for r in seen[-1]]
    assert statuses == ["ok", "interrupted", "not run"]


def test_a_library_excluded_or_missing_is_not_measured(monkeypatch):
    ctx = gb.Context("cpu", TINY, without=("torch",))
    module, why = ctx.reference("torch")
    assert module is None and why.startswith("not measured") and "--without" in why

    monkeypatch.setitem(sys.modules, "cupy", None)  # `import cupy` raises ImportError
    ctx = gb.Context("cuda", TINY)
    module, why = ctx.reference("cupy")
    assert module is None and why.startswith("not measured: cupy not importable")


def test_cupy_is_not_measured_on_the_cpu():
    module, why = gb.Context("cpu", TINY).reference("cupy")
    assert module is None and "only on CUDA" in why


def test_a_failing_reference_is_not_measured_and_does_not_raise():
    ctx = gb.Context("cpu", TINY)
    ctx._refs["torch"] = (object(), None)  # importable, but its measurement fails
    res = gb.Result("r", "R")

    def measure(torch):
        raise RuntimeError("CUBLAS_STATUS_NOT_INITIALIZED")

    value, why = gb.measure_reference(ctx, res, "torch", measure)
    assert value is None
    assert why == "not measured: torch failed (RuntimeError: CUBLAS_STATUS_NOT_INITIALIZED)"
    assert "CUBLAS_STATUS_NOT_INITIALIZED" in res.details["torch_traceback"]


def test_matmul_without_torch_reports_its_ratios_as_not_measured():
    ctx = gb.Context("cpu", TINY, without=("torch",))
    res = gb.Result("matmul", "matmul")
    gb.bench_matmul(ctx, res)
    by_label = {f.label: f for f in res.figures}
    assert by_label["numbanet a @ b"].value > 0
    ratio = by_label["numbanet / BLAS (PyTorch)"]
    assert ratio.value is None and ratio.verdict == "not measured"
    assert "torch excluded" in ratio.note
    assert by_label["numbanet / BLAS (CuPy)"].verdict == "not measured"
    assert res.details["max_rel_error_numbanet"] < 1e-5


def test_conv2d_flops_count_a_multiply_add_as_two():
    assert gb.conv2d_flops(16, 64, 64, 56) == 2.0 * 16 * 64 * 56 * 56 * 64 * 9


def test_conv2d_without_torch_is_checked_against_the_cpu_and_reports_no_ratio():
    import dataclasses
    sizes = dataclasses.replace(TINY, conv_batch=2, conv_channels=3, conv_side=5)
    ctx = gb.Context("cpu", sizes, without=("torch",))
    res = gb.Result("conv2d", "conv2d")
    gb.bench_conv2d(ctx, res)
    by_label = {f.label: f for f in res.figures}
    assert by_label["numbanet conv2d forward"].value > 0
    assert by_label["numbanet / PyTorch (throughput)"].value is None
    assert "torch excluded" in by_label["numbanet / PyTorch (throughput)"].note
    assert res.details["max_rel_error_first_image"] < 1e-6
    assert "conv2d" in gb.small_title(dict((n, t) for n, t, _ in gb.BENCHMARKS)["conv2d"],
                                      sizes) and "(2, 3, 5, 5)" in gb.small_title(
        dict((n, t) for n, t, _ in gb.BENCHMARKS)["conv2d"], sizes)


# ---- writing JSON and Markdown -------------------------------------------------------------

def _sample_results():
    ok = gb.Result("add", "elementwise add")
    ok.status = "ok"
    ok.add("numbanet a + b", 2400.0, "GB/s")
    ok.add("fraction of peak bandwidth", 0.72, "%", gb.Goal(">=", 0.6, percent=True),
           note="device attributes: ...")
    ok.add("numbanet / cuBLAS (PyTorch)", 0.2, "x", gb.Goal(">=", 0.25, 0.5))
    ok.add("numbanet / cuBLAS (CuPy)", None, "x", gb.Goal(">=", 0.25, 0.5),
           note="not measured: cupy not importable")
    failed = gb.Result("matmul", "matmul | tiled")
    failed.status, failed.error = "failed", "CudaAPIError: launch failed"
    skipped = gb.Result("seed_mlp", "seed MLP")
    skipped.status, skipped.error = "skipped", "not measured: the run's time budget was spent"
    return [ok, failed, skipped]


META = {"date": "2026-11-28T00:00:00+00:00", "device": "cuda", "device_name": "NVIDIA H100",
        "versions": {"python": "3.12.3", "numba": "0.68.1"}}


def test_markdown_table_has_every_figure_with_goal_and_verdict(tmp_path):
    path = tmp_path / "bench.md"
    gb.write_markdown(str(path), META, _sample_results())
    text = path.read_text()
    assert "| benchmark | figure | measured | goal | verdict |" in text
    assert "NVIDIA H100" in text and "numba 0.68.1" in text
    assert "| 72.0 % | ≥ 60 % | met; device attributes: ... |" in text
    assert "| 0.20 | ≥ 0.25 (aim 0.5) | missed |" in text
    assert "| not measured | ≥ 0.25 (aim 0.5) | not measured: cupy not importable |" in text
    assert "matmul \\| tiled" in text  # a pipe in a cell does not break the table
    assert "**failed**" in text and "CudaAPIError: launch failed" in text
    assert "seed MLP | — | skipped |" in text
    for line in text.splitlines():
        if line.startswith("| ") and "\\|" not in line:
            assert line.count("|") == 6, line


def test_json_holds_meta_figures_and_verdicts(tmp_path):
    path = tmp_path / "bench.json"
    gb.write_json(str(path), META, _sample_results())
    data = json.loads(path.read_text())
    assert data["meta"]["device_name"] == "NVIDIA H100"
    add, matmul, seed = data["benchmarks"]
    assert add["status"] == "ok" and matmul["status"] == "failed" and seed["status"] == "skipped"
    fig = add["figures"][1]
    assert fig["value"] == 0.72 and fig["verdict"] == "met"
    assert fig["goal"] == {"op": ">=", "target": 0.6, "aim": None, "percent": True}
    assert add["figures"][3]["value"] is None and add["figures"][3]["verdict"] == "not measured"
    assert not list(tmp_path.glob("*.tmp"))  # written atomically


# ---- end to end ----------------------------------------------------------------------------

def test_cpu_smoke_run_writes_valid_json_and_markdown(tmp_path):
    out, md = tmp_path / "bench.json", tmp_path / "bench.md"
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    proc = subprocess.run([sys.executable, BENCH, "--device", "cpu", "--small",
                           "--out", str(out), "--markdown", str(md)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["meta"]["device"] == "cpu" and data["meta"]["small"] is True
    names = [b["name"] for b in data["benchmarks"]]
    assert names == ["add", "matmul", "seed_mlp", "mlp_adam", "conv2d", "fusion"]
    assert all(b["status"] == "ok" for b in data["benchmarks"]), \
        [(b["name"], b["error"]) for b in data["benchmarks"]]
    for b in data["benchmarks"]:
        assert b["figures"][0]["label"].startswith("numbanet") and b["figures"][0]["value"] > 0
    training = {b["name"]: b for b in data["benchmarks"]}
    for name in ("seed_mlp", "mlp_adam"):
        # numbanet and PyTorch start from the same data: their first losses agree
        if "torch" in training[name]["details"]["first_losses"]:
            assert training[name]["details"]["first_loss_rel_diff"] < 1e-4
    text = md.read_text()
    assert text.startswith("### GPU figures")
    assert text.count("\n| ") >= 2 + 4 and "ms/step" in text and "TFLOP/s" in text


# ---- the shell script ----------------------------------------------------------------------

def test_gpu_check_script_is_executable_and_parses():
    assert os.access(CHECK, os.X_OK), f"{CHECK} is not executable (chmod +x)"
    proc = subprocess.run(["bash", "-n", CHECK], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    with open(CHECK) as fh:
        text = fh.read()
    assert text.startswith("#!/usr/bin/env bash") and "set -uo pipefail" in text
    for needle in ("unset NUMBA_ENABLE_CUDASIM", "-m cuda", "gpu_tests.log", "gpu_bench.json",
                   "gpu_bench.md", "--no-index", "--no-deps"):
        assert needle in text, needle
