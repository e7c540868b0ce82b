"""Run by ``test_distributed_mpi.py`` as ``mpirun -n 2 python rank_failure.py``: rank 1
raises while rank 0 waits for it in an allreduce. The job must end with a non-zero
status and rank 1's error, not hang."""
import numbanet as nb
import numbanet.distributed as dist

dist.init()
if dist.rank() == 1:
    raise ValueError("rank 1 failed on purpose")
dist.allreduce(nb.ones(3))           # waits for rank 1, which never comes
print("rank 0 went past the allreduce", flush=True)
