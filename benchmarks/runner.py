"""How a benchmark runs its workers: each in a subprocess of its own, reporting one line.

A benchmark script re-invokes itself (``--worker ...``) for every measurement, so that
the libraries it compares never share a process. The worker ends with ``report(result)``,
one line ``RESULT {json}`` on stdout; the parent's ``run_worker`` returns that dict.
A ``Server`` is a worker that stays alive and answers one request per line of its stdin
with one such line, so that measurements of different workers can alternate quickly.

Environment of a worker: this machine's ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` are
removed (they slow current NumPy's OpenBLAS down), the repository root is put first on
``PYTHONPATH``, and ``threads`` (when given) sets ``OPENBLAS_NUM_THREADS`` and
``OMP_NUM_THREADS``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT_TAG = "RESULT "
REMOVED_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


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


def require(result: dict) -> dict:
    """``result``, or a RuntimeError with the worker's output when it failed."""
    if "error" in result:
        raise RuntimeError(f"worker failed ({result['error']}):\n{result['stderr']}")
    return result
