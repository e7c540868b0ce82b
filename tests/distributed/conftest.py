"""Running programs under ``mpirun``: the ``mpi_job`` fixture.

The programs in ``programs/`` run as separate MPI jobs of 2 ranks on this machine;
the fixture skips, saying what to install, where ``mpirun`` or ``mpi4py`` is
missing, and kills a job that outlives its timeout (a hang is a failure).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = Path(__file__).resolve().parent / "programs"
INSTALL_HINT = ("install an MPI runtime (apt-get install openmpi-bin libopenmpi-dev) and "
                "mpi4py (pip install \".[mpi]\")")


def mpi_missing() -> str | None:
    """Why MPI jobs can't run here, or None when they can."""
    if importlib.util.find_spec("mpi4py") is None:
        return f"mpi4py is not installed: {INSTALL_HINT}"
    if shutil.which("mpirun") is None:
        return f"no mpirun on PATH: {INSTALL_HINT}"
    return None


def program_env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def run_program(command: list, timeout: float, env: dict) -> subprocess.CompletedProcess:
    """Run ``command`` in its own process group; on timeout kill the group and fail."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"{' '.join(command)} did not finish within {timeout} s (a hang?); its "
                    f"output:\n{output}")
    return subprocess.CompletedProcess(command, process.returncode, output)


def mpirun_command(ranks: int) -> list:
    command = ["mpirun", "-n", str(ranks)]
    version = subprocess.run(["mpirun", "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in version or "OpenRTE" in version:
        # two ranks may share a core on small machines; root needs explicit permission
        command += ["--oversubscribe", "--bind-to", "none"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-run-as-root")
    return command


@pytest.fixture
def mpi_job():
    """``mpi_job(program, *args, ranks=2, timeout=120, env=None)``: run
    ``programs/<program>`` under mpirun and return the CompletedProcess (output merged)."""
    reason = mpi_missing()
    if reason:
        pytest.skip(reason)

    def run(program: str, *args, ranks: int = 2, timeout: float = 120, env=None):
        command = mpirun_command(ranks) + [sys.executable, str(PROGRAMS / program)] + \
            [str(a) for a in args]
        return run_program(command, timeout, program_env(**(env or {})))

    return run


@pytest.fixture
def single_process():
    """``single_process(code, timeout=60, env=None)``: run Python ``code`` in a fresh
    interpreter (not under mpirun), with numbanet importable."""
    def run(code: str, timeout: float = 60, env=None):
        return run_program([sys.executable, "-c", code], timeout, program_env(**(env or {})))

    return run
