"""The benchmarks' worker plumbing (``benchmarks/runner.py``): a ``Server`` answers one
request per line and says why when it dies; the seed benchmark's workers serve blocks;
the phase diagnostic (``benchmarks/seed_phases.py``) times every phase of every step."""
from __future__ import annotations

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from runner import Server, script  # noqa: E402

ECHO = """
import sys
from runner import report
report({"ready": True})
for line in sys.stdin:
    if line.strip() == "die":
        print("something went wrong", file=sys.stderr)
        sys.exit(3)
    print("chatter that is not a result")
    report({"twice": 2 * int(line)})
"""


def _echo_server():
    return Server([sys.executable, "-c", ECHO],
                  env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "benchmarks")})


def test_a_server_answers_each_request_with_its_result_line():
    srv = _echo_server()
    try:
        assert srv.read() == {"ready": True}
        assert srv.ask("4") == {"twice": 8}
        assert srv.ask("21") == {"twice": 42}
    finally:
        srv.close()
    assert srv.proc.returncode == 0


def test_a_server_that_dies_reports_its_exit_status_and_output():
    srv = _echo_server()
    try:
        srv.read()
        res = srv.ask("die")
        again = srv.ask("1")  # asking a dead server again neither hangs nor raises
    finally:
        srv.close()
    assert res["error"].startswith("exit status 3 from ")
    assert "something went wrong" in res["stderr"]
    assert again["error"].startswith("exit status 3 from ")


def test_the_seed_benchmark_worker_times_one_block_per_request():
    bench = os.path.join(ROOT, "benchmarks", "seed_autograd.py")
    srv = Server(script(bench, "--worker", "numpy", "--warmup", "2"))
    try:
        ready = srv.read()
        first = srv.ask("3")
        second = srv.ask("5")
    finally:
        srv.close()
    assert ready["worker"] == "numpy" and ready["first_loss"] > 0
    assert first["steps"] == 3 and second["steps"] == 5
    assert 0 < first["min_ms"] <= first["median_ms"]
    assert second["last_loss"] < ready["first_loss"]  # the loop keeps training between blocks


def test_the_phase_diagnostic_times_every_phase_of_every_step():
    import seed_phases

    import numbanet
    times = seed_phases.phase_times(numbanet, "tiny", steps=7, warmup=2)
    assert len(times) == len(seed_phases.PHASES) and all(len(t) == 7 for t in times)
    for k in range(7):  # the phases of a step add up to the whole step
        parts = [times[p][k] for p in range(len(seed_phases.PHASES) - 1)]
        assert min(parts) >= 0 and sum(parts) == pytest.approx(times[-1][k], rel=1e-9)
