"""``set_num_threads``/``get_num_threads``: the threads of numbanet's CPU kernels (Numba's
parallel loops), as PyTorch's intra-op threads. Numba starts its pool with
``NUMBA_NUM_THREADS`` threads (all cores unless set); fewer can be used, not more."""
from __future__ import annotations

import numba


def set_num_threads(n: int) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n!r}")
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def get_num_threads() -> int:
    return numba.get_num_threads()
