"""What a user sees when MPI is missing or an argument is wrong: errors that say what to
install or change. None of these needs an MPI runtime; none initialises MPI in the
test process."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import numbanet as nb
import numbanet.distributed as dist
from numbanet import keras, optim
from numbanet.distributed import runtime
from numbanet.keras.layers import Dense


@pytest.fixture
def no_mpi4py(monkeypatch):
    """As if mpi4py were not installed."""
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)
    monkeypatch.setattr(runtime, "_world", None)


def test_importing_numbanet_never_imports_mpi4py(single_process):
    job = single_process("import sys, numbanet, numbanet.distributed, numbanet.keras\n"
                         "assert 'mpi4py' not in sys.modules, 'mpi4py was imported'\n"
                         "print('ok')")
    assert job.returncode == 0 and "ok" in job.stdout, job.stdout


def test_init_without_mpi4py_says_what_to_install(no_mpi4py):
    with pytest.raises(dist.MPIUnavailableError, match=r'pip install "numbanet\[mpi\]"'):
        dist.init()
    assert not dist.is_initialized()


def test_init_without_an_mpi_library_says_what_to_install(single_process):
    mpi4py = pytest.importorskip("mpi4py", reason="needs mpi4py (pip install \".[mpi]\")")
    if int(mpi4py.__version__.split(".")[0]) < 4:
        pytest.skip("MPI4PY_LIBMPI, which this test sets, needs mpi4py >= 4")
    job = single_process(
        "import numbanet.distributed as dist\n"
        "try:\n"
        "    dist.init()\n"
        "except dist.MPIUnavailableError as e:\n"
        "    print('error:', e)\n",
        env={"MPI4PY_LIBMPI": "/nonexistent/libmpi.so.40"})   # as on a machine without MPI
    assert job.returncode == 0, job.stdout
    assert "error: mpi4py is installed but found no MPI library" in job.stdout, job.stdout
    assert "apt-get install openmpi-bin libopenmpi-dev" in job.stdout


def test_fit_under_mpirun_without_mpi4py_says_what_to_install(no_mpi4py, monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")   # what mpirun -n 2 sets
    model = keras.Sequential([Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(dist.MPIUnavailableError, match="mpi4py"):
        model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)


def test_fit_outside_mpirun_stays_a_single_process_run(no_mpi4py, monkeypatch):
    for name in runtime._LAUNCHER_SIZE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    model = keras.Sequential([Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)     # mpi4py never needed
    assert not dist.is_initialized()


def test_functions_that_need_the_job_say_to_call_init(monkeypatch):
    monkeypatch.setattr(runtime, "_world", None)
    for call in (dist.rank, dist.world_size, dist.local_rank, dist.barrier,
                 lambda: dist.allreduce(nb.ones(2)),
                 lambda: dist.broadcast_parameters([nb.ones(2)]),
                 lambda: dist.DistributedOptimizer(optim.SGD([nb.ones(2, requires_grad=True)],
                                                             lr=0.1))):
        with pytest.raises(RuntimeError, match=r"call numbanet.distributed.init\(\) first"):
            call()


def test_bad_arguments_are_named_before_any_communication(monkeypatch):
    monkeypatch.setattr(runtime, "_world", None)
    with pytest.raises(TypeError, match="expects a numbanet Tensor, got list"):
        dist.allreduce([1.0, 2.0])
    with pytest.raises(ValueError, match=r"op must be one of \['mean', 'sum', 'max', 'min'\], "
                                         "got 'avg'"):
        dist.allreduce(nb.ones(2), op="avg")
    with pytest.raises(TypeError, match=r"op='mean'\) needs a floating-point tensor, got int64"):
        dist.allreduce(nb.tensor([1, 2]))
    with pytest.raises(TypeError, match="'x' is a str, not a Tensor"):
        dist.broadcast_parameters({"x": "weights"})
    with pytest.raises(TypeError, match="model.fit averages gradients"):
        dist.DistributedOptimizer(keras.optimizers.SGD())
    p = nb.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="bucket_cap_mb must be a positive number"):
        dist.DistributedOptimizer(optim.SGD([p], lr=0.1), bucket_cap_mb=0)
