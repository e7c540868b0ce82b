"""The MPI job this process belongs to: ``init``, ``rank``, ``world_size``.

MPI comes from ``mpi4py``, imported only when ``init()`` runs, so that importing
numbanet never needs it. Two things can be missing, and each gets its own message:
the ``mpi4py`` package (``pip install "numbanet[mpi]"``) and an MPI library for it
to load (Open MPI or MPICH, from the system's packages or the cluster's modules).

A process started by ``mpirun -n K`` / ``mpiexec -n K`` joins the job of K ranks; a
process started alone is a job of one (``world_size() == 1``), in which every
collective returns its input, so one script serves both.

In a job of several ranks, ``init`` also makes an uncaught exception end the whole
job (``MPI_Abort``) after its traceback is printed. Without that, the rank that
failed would exit while the others wait for it forever inside a collective.
"""
from __future__ import annotations

import importlib
import os
import sys

# Environment variables through which MPI launchers tell a process the size of its job:
# Open MPI, MPICH/Hydra and Intel MPI (PMI), PMIx-based launchers, MVAPICH.
_LAUNCHER_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE",
                            "MV2_COMM_WORLD_SIZE")
_LAUNCHER_LOCAL_RANK_VARIABLES = ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID",
                                  "MV2_COMM_WORLD_LOCAL_RANK", "PMIX_LOCAL_RANK")
_INSTALL_MPI_RUNTIME = (
    "Install an MPI library: on Debian/Ubuntu `apt-get install openmpi-bin libopenmpi-dev` "
    "(or `mpich`), on macOS `brew install open-mpi`, on a cluster `module load openmpi` (or "
    "your site's MPI module); then start the job with `mpirun -n 2 python train.py`")


class MPIUnavailableError(ImportError):
    """MPI can't be used here: ``mpi4py`` is not installed, or it finds no MPI library.
    The message says which, and what to install."""


class World:
    """The job as this process sees it: the MPI communicator, this rank and the size."""

    def __init__(self, comm, mpi, cuda_aware: bool):
        self.comm = comm
        self.MPI = mpi
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.cuda_aware = cuda_aware
        self.local_rank = _local_rank(comm, mpi)

    def __repr__(self) -> str:
        return f"<World rank {self.rank} of {self.size}>"


def _local_rank(comm, mpi) -> int:
    """This rank's number on its machine: from the launcher, else by asking MPI which
    ranks share memory with it (a collective, so it runs in ``init``, on every rank)."""
    for name in _LAUNCHER_LOCAL_RANK_VARIABLES:
        value = os.environ.get(name)
        if value and value.isdigit():
            return int(value)
    local = comm.Split_type(mpi.COMM_TYPE_SHARED)
    try:
        return local.Get_rank()
    finally:
        local.Free()


_world: World | None = None


def import_mpi():
    """``mpi4py.MPI``, or an ``MPIUnavailableError`` saying what to install."""
    try:
        importlib.import_module("mpi4py")
    except ImportError as e:
        raise MPIUnavailableError(
            f"numbanet.distributed needs the mpi4py package, which is not installed ({e}). "
            "Install it with `pip install \"numbanet[mpi]\"` (or `pip install mpi4py`); it also "
            f"needs an MPI library at run time. {_INSTALL_MPI_RUNTIME}") from None
    try:
        return importlib.import_module("mpi4py.MPI")
    except (ImportError, RuntimeError, OSError) as e:
        detail = " ".join(str(e).split())
        raise MPIUnavailableError(
            f"mpi4py is installed but found no MPI library to load ({type(e).__name__}: "
            f"{detail}). {_INSTALL_MPI_RUNTIME}. If an MPI library is installed in an unusual "
            "place, point MPI4PY_LIBMPI at its libmpi.so") from None


def launched_world_size() -> int:
    """The number of processes an MPI launcher started this one with (1 when it was
    started alone), read from the launcher's environment variables without MPI."""
    for name in _LAUNCHER_SIZE_VARIABLES:
        value = os.environ.get(name)
        if value and value.isdigit():
            return int(value)
    return 1


def init(cuda_aware: bool | None = None) -> World:
    """Join the MPI job this process was started in (``mpirun -n K python train.py``), or
    make a job of one when it was started alone. Calling it again does nothing.

    >>> import numbanet.distributed as dist
    >>> dist.init()
    >>> print(f"rank {dist.rank()} of {dist.world_size()}")

    ``cuda_aware``: whether the MPI library reads and writes GPU memory itself, so that
    CUDA tensors are reduced without a copy through the host. ``None`` asks the library
    (Open MPI's ``MPIX_Query_cuda_support``) unless ``NUMBANET_MPI_CUDA_AWARE=0/1`` says.

    Raises ``MPIUnavailableError`` when mpi4py or an MPI library is missing.
    """
    global _world
    if _world is not None:
        return _world
    mpi = import_mpi()
    if cuda_aware is None:
        cuda_aware = _query_cuda_support()
    world = World(mpi.COMM_WORLD, mpi, bool(cuda_aware))
    if world.size > 1:
        _abort_job_on_uncaught_exception(world)
    _world = world
    return world


def is_initialized() -> bool:
    """Whether ``init()`` has run in this process."""
    return _world is not None


def current() -> World:
    """The ``World`` of ``init()``; an error that says to call it when it has not run."""
    if _world is None:
        raise RuntimeError("numbanet.distributed is not initialized: call "
                           "numbanet.distributed.init() first (once, at the start of the "
                           "script), then start the script with `mpirun -n K python script.py`")
    return _world


def active_world() -> World | None:
    """The ``World`` when this process is one of several ranks, else None. Keras's ``fit``
    asks this: it joins the job by itself when an MPI launcher started K > 1 processes."""
    if _world is None:
        if launched_world_size() <= 1:
            return None
        init()
    return _world if _world.size > 1 else None


def is_primary() -> bool:
    """Whether this process prints progress and writes checkpoints and logs: rank 0 of a
    job, or a process outside any job. Keras's callbacks ask this."""
    return _world is None or _world.rank == 0


def rank() -> int:
    """This process's number in the job, from 0 to ``world_size() - 1``."""
    return current().rank


def world_size() -> int:
    """The number of processes in the job (1 for a process started alone)."""
    return current().size


def local_rank() -> int:
    """This process's number among the job's processes on the same machine: the GPU it
    should use, e.g. ``nb.device(f"cuda:{dist.local_rank() % nb.cuda.device_count()}")``."""
    return current().local_rank


def barrier() -> None:
    """Wait until every rank has reached this point."""
    current().comm.Barrier()


def _query_cuda_support() -> bool:
    forced = os.environ.get("NUMBANET_MPI_CUDA_AWARE")
    if forced in ("0", "1"):
        return forced == "1"
    try:
        import ctypes
        query = ctypes.CDLL(None).MPIX_Query_cuda_support  # Open MPI's extension
    except (OSError, AttributeError):
        return False
    query.restype = ctypes.c_int
    return bool(query())


def _abort_job_on_uncaught_exception(world: World) -> None:
    """Print an uncaught exception as usual, then abort every rank of the job."""
    previous = sys.excepthook

    def excepthook(kind, value, traceback):
        try:
            sys.stderr.write(f"numbanet.distributed: rank {world.rank} of {world.size} raised "
                             f"an uncaught {kind.__name__}; aborting the MPI job\n")
            previous(kind, value, traceback)
            sys.stderr.flush()
            sys.stdout.flush()
        finally:
            world.comm.Abort(1)

    sys.excepthook = excepthook
