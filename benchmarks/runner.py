"""How every benchmark measures: workers in subprocesses, alternating blocks, a control.

The method. Each thing measured (numbanet, its reference, ...) is a worker: the benchmark
script re-invoked with ``--worker ...``, in a subprocess of its own, so that the libraries
compared never share a process. A worker prepares its program, warms it up, reports that
it is ready, then stays alive and answers each line of its stdin (a count) with one timed
block (``serve``). The parent asks the workers in turn, one block each per round, in an
order that rotates and reverses (``balanced_order``: each worker runs first, last, before
and after each other one equally often), with a short pause before each block
(``alternate``). One more worker, the **control**, runs the subject's own program again:
its ratio to the subject shows the method's noise on this machine, so a ratio against
the reference is read against it. Verdicts use the median of the per-round ratios
(``paired``): the two blocks of a ratio ran within a second of each other.

A worker's last word on each request is ``report(result)``, one line ``RESULT {json}`` on
stdout; ``Server.ask`` returns that dict, and ``run_worker`` the one of a worker that runs
once (a fresh process per measurement, where a job cannot stay alive: ``mpi_bench.py``).

Environment of a worker: this machine's ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are
removed (they slow current NumPy's OpenBLAS down), the repository root is put first on
``PYTHONPATH``, and ``threads`` (when given) sets ``OPENBLAS_NUM_THREADS`` and
``OMP_NUM_THREADS``.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT_TAG = "RESULT "
REMOVED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
CONTROL = "control"  # the worker that runs the subject's program a second time


def worker_env(threads: int | None = None, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in REMOVED_ENV}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    if threads:
        env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(threads)
    env.update(extra)
    return env


def report(result: dict) -> None:
    """The worker's last word: its result, as the line ``run_worker`` looks for."""
    print(RESULT_TAG + json.dumps(result), flush=True)


def _result(line: str) -> dict | None:
    """The dict of a ``RESULT`` line, or None for any other line."""
    return json.loads(line[len(RESULT_TAG):]) if line.startswith(RESULT_TAG) else None


def run_worker(cmd: list, env: dict | None = None, timeout: float = 600) -> dict:
    """Run the worker command ``cmd`` and return what it reported, or
    ``{"error": ..., "stderr": ...}`` when it reported nothing."""
    cmd = [str(c) for c in cmd]
    proc = subprocess.run(cmd, env=worker_env() if env is None else env, capture_output=True,
                          text=True, cwd=ROOT, timeout=timeout)
    for line in reversed(proc.stdout.splitlines()):
        if (result := _result(line)) is not None:
            return result
    return {"error": f"exit status {proc.returncode} from {' '.join(cmd)}",
            "stderr": (proc.stdout + proc.stderr)[-3000:]}


class Server:
    """A worker process that answers requests: ``ask(line)`` writes one line to its stdin
    and returns the dict of its next ``RESULT`` line (``read()`` only waits for one)."""

    def __init__(self, cmd: list, env: dict | None = None):
        self.cmd = " ".join(str(c) for c in cmd)
        self._stderr = tempfile.TemporaryFile(mode="w+")  # a file: a pipe could fill and block
        self.proc = subprocess.Popen([str(c) for c in cmd], env=worker_env() if env is None
                                     else env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, text=True, cwd=ROOT)

    def read(self) -> dict:
        out = []
        for line in self.proc.stdout:
            if (result := _result(line)) is not None:
                return result
            out.append(line)
        self.proc.wait()
        self._stderr.seek(0)
        return {"error": f"exit status {self.proc.returncode} from {self.cmd}",
                "stderr": ("".join(out) + self._stderr.read())[-3000:]}

    def ask(self, line: str) -> dict:
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except OSError:  # it has exited; read() says how
            pass
        return self.read()

    def close(self, timeout: float = 30) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


def script(path: str, *args) -> list:
    """The command that runs the benchmark script ``path`` with this Python."""
    return [sys.executable, os.path.abspath(path), *args]


# ---- the worker's side ---------------------------------------------------------------------

def time_block(step: Callable[[], object], n: int,
               clock: Callable[[], float] = time.perf_counter) -> dict:
    """Time ``n`` calls of ``step`` one by one: the median and the fastest call in ms, and
    what the last call returned."""
    times, last = [], None
    for _ in range(n):
        t0 = clock()
        last = step()
        times.append(clock() - t0)
    return {"ms": 1e3 * statistics.median(times), "min_ms": 1e3 * min(times), "steps": n,
            "last": last}


def serve(block: Callable[[int], dict], ready: dict, lines=None) -> None:
    """A worker's loop: report ``ready``, then answer each line of stdin (a count ``n``)
    with ``report(block(n))``. ``block`` is usually ``lambda n: time_block(step, n)``."""
    report(ready)
    for line in (sys.stdin if lines is None else lines):
        if line.strip():
            report(block(int(line)))


# ---- the parent's side ---------------------------------------------------------------------

def balanced_order(names: list, r: int) -> list:
    """The workers' order in round ``r``: rotations of ``names``, then of ``names``
    reversed, so that over ``2 * len(names)`` rounds each worker runs first, last, before
    and after each other one equally often."""
    names = list(names)
    base = names if (r // len(names)) % 2 == 0 else names[::-1]
    k = r % len(names)
    return base[k:] + base[:k]


def start_servers(commands: dict, env: dict | None = None) -> tuple[dict, dict, dict]:
    """Start one ``Server`` per ``{name: command}`` and wait until each is ready.
    Returns ``(servers, ready, problems)``: the servers that are ready, what each reported
    when ready, and for the others why not: ``problem_text`` of what they answered."""
    servers, ready, problems = {}, {}, {}
    for name, cmd in commands.items():
        srv = Server(cmd, env)
        res = srv.read()
        if "skipped" in res or "error" in res:
            srv.close()
            problems[name] = problem_text(res)
            continue
        servers[name], ready[name] = srv, res
    return servers, ready, problems


def problem_text(res: dict) -> str:
    """Why a worker gave no figure: its ``skipped`` note (a library not installed) or its
    error with the end of its output."""
    if "skipped" in res:
        return f"skipped: {res['skipped']}"
    return f"failed ({res['error']}):\n{res.get('stderr', '')}"


def close_all(servers: dict) -> None:
    for srv in servers.values():
        srv.close()


def alternate(names: list, measure: Callable[[str], dict], rounds: int, gap: float = 0.25,
              key: str = "ms", log: Callable[[str], None] | None = print,
              sleep: Callable[[float], None] = time.sleep) -> list[dict]:
    """Run ``rounds`` rounds; in each, ``measure(name)`` once per worker in
    ``balanced_order``, ``gap`` seconds after the block before. Returns, per round, the
    ``{name: result}`` of the workers that answered; a worker that fails once is reported
    and left out of the rounds after."""
    names, out = list(names), []
    for r in range(rounds):
        got, cells = {}, []
        for name in balanced_order(names, r):
            if name not in names:  # failed earlier in this round
                continue
            if gap:
                sleep(gap)
            res = measure(name)
            if "error" in res:
                names.remove(name)
                cells.append(f"{name} FAILED")
                if log is not None:
                    log(f"  worker {name} {problem_text(res)}")
                continue
            got[name] = res
            cells.append(f"{name} {res[key]:.3f}")
        out.append(got)
        if log is not None:
            log(f"  round {r + 1}/{rounds}: " + ", ".join(cells))
        if not names:
            break
    return out


def column(rounds: list[dict], name: str, key: str = "ms") -> list[float]:
    """``name``'s figures, round by round (the rounds it answered)."""
    return [r[name][key] for r in rounds if name in r]


def paired(rounds: list[dict], a: str, b: str, key: str = "ms") -> dict | None:
    """The ratio ``a / b`` of ``key`` in each round both answered: its median, range and
    count, and the ratio of the two medians over those rounds; None if no round has both."""
    both = [r for r in rounds if a in r and b in r]
    if not both:
        return None
    ratios = [r[a][key] / r[b][key] for r in both]
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
            "n": len(ratios), "of_medians": statistics.median(column(both, a, key))
            / statistics.median(column(both, b, key))}


def ratio_line(label: str, ratio: dict | None, goal: str = "") -> str:
    """One printed ratio: ``label: 0.93 (median of 30 per-round ratios, range ..)``."""
    if ratio is None:
        return f"{label}: n/a (a worker is missing)"
    return (f"{label}: {ratio['median']:.2f}{f'  ({goal})' if goal else ''}  [median of "
            f"{ratio['n']} per-round ratios, range {ratio['min']:.2f} .. {ratio['max']:.2f}; "
            f"ratio of the medians {ratio['of_medians']:.2f}]")


def control_line(ratio: dict | None, subject: str = "numbanet") -> str:
    """The control's ratio, printed under every verdict."""
    return ratio_line(f"{subject} / control", ratio,
                      "the same program twice: 1.00 but for the machine's noise")
