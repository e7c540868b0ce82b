"""The benchmarks' method (``benchmarks/runner.py``): workers that stay alive and answer
one timed block per request, rounds in a balanced order, a control worker, and verdicts
from the per-round ratios."""
from __future__ import annotations

import itertools
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import runner  # noqa: E402
from runner import CONTROL, Server, script  # noqa: E402

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


@pytest.mark.parametrize("n", [2, 3, 4])
def test_the_balanced_order_puts_each_worker_before_and_after_each_other_equally_often(n):
    names = [f"w{i}" for i in range(n)]
    orders = [runner.balanced_order(names, r) for r in range(2 * n)]
    assert all(sorted(o) == names for o in orders)
    for w in names:  # first and last equally often
        assert sum(o[0] == w for o in orders) == sum(o[-1] == w for o in orders) == 2
    for a, b in itertools.permutations(names, 2):
        before = sum(o.index(a) < o.index(b) for o in orders)
        assert before == n  # half of the 2n rounds each way


def test_alternate_measures_each_worker_once_a_round_after_a_pause_and_drops_a_failed_one():
    calls, pauses = [], []

    def measure(name):
        calls.append(name)
        if name == "broken" and calls.count("broken") == 2:
            return {"error": "exit status 1", "stderr": "boom"}
        return {"ms": {"numbanet": 1.0, "torch": 2.0, CONTROL: 1.1, "broken": 5.0}[name]}

    logged = []
    names = ["numbanet", "torch", CONTROL, "broken"]
    rounds = runner.alternate(names, measure, rounds=8, gap=0.25, log=logged.append,
                              sleep=pauses.append)
    assert len(rounds) == 8
    assert calls[:4] == runner.balanced_order(names, 0)
    assert pauses == [0.25] * len(calls)  # a pause before every block
    assert calls.count("broken") == 2  # asked again after its failure: never
    assert all({"numbanet", "torch", CONTROL} <= set(r) for r in rounds)
    assert sum("broken" in r for r in rounds) == 1
    assert any("worker broken failed (exit status 1)" in line and "boom" in line
               for line in logged)


def test_verdicts_are_the_median_of_the_per_round_ratios_with_the_control_beside_them():
    def rnd(nb, torch, control):
        return {"numbanet": {"ms": nb}, "torch": {"ms": torch}, CONTROL: {"ms": control}}

    rounds = [rnd(1.0, 2.0, 1.0), rnd(3.0, 2.0, 2.0), rnd(1.0, 1.0, 1.25),
              {"numbanet": {"ms": 9.0}}]  # a round without the others: not a pair
    ratio = runner.paired(rounds, "numbanet", "torch")
    assert ratio["n"] == 3 and ratio["median"] == pytest.approx(1.0)
    assert (ratio["min"], ratio["max"]) == pytest.approx((0.5, 1.5))
    assert ratio["of_medians"] == pytest.approx(1.0 / 2.0)  # of the paired rounds only
    control = runner.paired(rounds, "numbanet", CONTROL)
    assert control["median"] == pytest.approx(1.0) and control["max"] == pytest.approx(1.5)
    assert runner.paired(rounds, "numbanet", "numpy") is None
    assert runner.ratio_line("x", None).endswith("n/a (a worker is missing)")
    assert "noise" in runner.control_line(control)


def test_time_block_times_each_call_and_keeps_the_last_value():
    now = [0.0]
    costs = iter([0.003, 0.001, 0.002])

    def step():
        now[0] += next(costs)
        return now[0]

    block = runner.time_block(step, 3, clock=lambda: now[0])
    assert block["ms"] == pytest.approx(2.0) and block["min_ms"] == pytest.approx(1.0)
    assert block["steps"] == 3 and block["last"] == pytest.approx(0.006)


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
    assert 0 < first["min_ms"] <= first["ms"]
    assert second["last"] < ready["first_loss"]  # the loop keeps training between blocks
