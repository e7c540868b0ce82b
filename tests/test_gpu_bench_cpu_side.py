"""The GPU check's CPU side: what ``benchmarks/gpu_bench.py`` computes, times and writes, and
that ``benchmarks/gpu_check.sh`` is ready to run. No GPU is needed (and none is used): the
benchmarks run here on ``--device cpu`` with tiny sizes."""
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
    spec.loader.exec_module(module)
    return module


gb = _load_gpu_bench()


def test_peak_bandwidth_is_double_data_rate_times_bus_width():
    assert gb.peak_bandwidth(2_619_000, 5120) == pytest.approx(2 * 2_619_000e3 * 5120 / 8)
    assert gb.peak_bandwidth(2_619_000, 5120) == pytest.approx(3.35e12, rel=0.01)  # H100 SXM5
    assert gb.peak_bandwidth(None, 5120) is None and gb.peak_bandwidth(2_619_000, 0) is None


def test_blocks_alternate_in_balanced_order_with_a_sync_before_every_clock_reading():
    now, events = [0.0], []
    cost = {"numbanet": 1.0, "reference": 2.0}

    def entry(name):
        def fn():
            events.append(name)
            now[0] += cost[name]
        return fn, lambda: events.append("sync")

    subject = entry("numbanet")
    entries = {"numbanet": subject, gb.CONTROL: subject, "reference": entry("reference")}
    rounds = gb.alternate_blocks(entries, rounds=6, inner=2, clock=lambda: now[0])
    assert [list(r) for r in rounds] == [gb.runner.balanced_order(list(entries), r)
                                         for r in range(6)]
    assert events[:4] == ["sync", "numbanet", "numbanet", "sync"]
    ratio = gb.runner.paired(rounds, "numbanet", "reference")
    control = gb.runner.paired(rounds, "numbanet", gb.CONTROL)
    assert ratio["median"] == pytest.approx(0.5) and ratio["n"] == 6
    assert control["median"] == pytest.approx(1.0)  # the same function: no difference


def test_a_failing_benchmark_is_recorded_and_the_next_one_still_runs():
    def good(ctx, res):
        res["ms"] = {"numbanet": 1.0}

    def bad(ctx, res):
        raise RuntimeError("kernel launch failed: too many resources requested")

    snapshots = []
    results = gb.run_benchmarks(gb.Context("cpu", gb.SMALL, torch_allowed=False),
                                (("a", "A", good), ("b", "B", bad), ("c", "C", good)),
                                lambda rs: snapshots.append([r["status"] for r in rs]))
    assert [r["status"] for r in results] == ["ok", "failed", "ok"]
    assert results[1]["error"] == "RuntimeError: kernel launch failed: too many resources " \
                                  "requested" and "Traceback" in results[1]["traceback"]
    assert snapshots[0] == ["ok", "not run", "not run"]  # the files follow every benchmark
    assert "**failed**" in gb.render_markdown(
        {"date": "d", "device_name": "card", "versions": "v", "command": "c", "rounds": 2},
        results)


def test_without_torch_the_ratio_is_not_measured_but_numbanet_and_its_control_are():
    ctx = gb.Context("cpu", gb.SMALL, torch_allowed=False)
    res = {"name": "matmul", "title": "matmul", "status": "ok"}
    gb.bench_matmul(ctx, res)
    assert res["ratio"] is None and "torch excluded" in res["note"]
    assert res["ms"]["numbanet"] > 0 and res["control"]["n"] == gb.SMALL["rounds"]


def test_cpu_smoke_run_measures_every_benchmark_against_its_reference_and_a_control(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    proc = subprocess.run([sys.executable, BENCH, "--device", "cpu", "--small",
                           "--out", str(tmp_path)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads((tmp_path / "gpu_bench.json").read_text())
    assert [b["name"] for b in data["benchmarks"]] == [b[0] for b in gb.BENCHMARKS]
    torch_here = importlib.util.find_spec("torch") is not None
    for b in data["benchmarks"]:
        assert b["status"] == "ok", b.get("error")
        assert b["control"]["n"] == gb.SMALL["rounds"] and b["ms"]["numbanet"] > 0
        if torch_here or b["name"] == "fusion":
            assert b["ratio"]["n"] == gb.SMALL["rounds"] and b["ms"]["reference"] > 0
    table = (tmp_path / "gpu_bench.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(gb.BENCHMARKS)  # the header and one row per benchmark
    assert all(row.count("|") == 9 for row in rows)


def test_gpu_check_script_is_executable_and_parses():
    assert os.access(CHECK, os.X_OK), f"{CHECK} is not executable (chmod +x)"
    proc = subprocess.run(["bash", "-n", CHECK], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    with open(CHECK) as fh:
        text = fh.read()
    assert text.startswith("#!/usr/bin/env bash") and "set -uo pipefail" in text
    for needle in ("unset NUMBA_ENABLE_CUDASIM", "-m cuda", "gpu_tests.log",
                   "benchmarks/gpu_bench.py --out \"$OUT\""):
        assert needle in text, needle
