"""``numbanet.cuda``: what PyTorch's ``torch.cuda`` offers for one or a few GPUs.

Nothing here imports Numba's CUDA support until it is asked a question, so that
``import numbanet`` works on machines without a GPU or the CUDA toolkit.
"""
from __future__ import annotations


def _backend_module():
    from .backend import cuda
    return cuda


def is_available() -> bool:
    """Whether ops can run on device 'cuda': a GPU with a working driver, or Numba's CUDA
    simulator (``NUMBA_ENABLE_CUDASIM=1`` set before numbanet is imported)."""
    try:
        return _backend_module().is_available()
    except Exception:  # no numba-cuda, no driver: no CUDA
        return False


def device_count() -> int:
    return _backend_module().device_count() if is_available() else 0


def is_simulated() -> bool:
    """True when CUDA kernels run on Numba's simulator instead of a GPU."""
    return _backend_module().SIMULATED


def synchronize(device=None) -> None:
    """Wait until every kernel launched so far has finished (for timing)."""
    if not is_available():
        raise RuntimeError("synchronize: CUDA is not available here")
    if not _backend_module().SIMULATED:
        from numba import cuda
        cuda.synchronize()


def get_device_name(device=None) -> str:
    if not is_available():
        raise RuntimeError("get_device_name: CUDA is not available here")
    if _backend_module().SIMULATED:
        return "Numba CUDA simulator"
    from numba import cuda
    name = cuda.get_current_device().name
    return name.decode() if isinstance(name, bytes) else str(name)


def current_device() -> int:
    return 0


def manual_seed(seed: int) -> None:
    """Seed the generators of the CUDA devices (``numbanet.manual_seed`` seeds all devices)."""
    from .device import device as _device
    _device("cuda", 0).backend.manual_seed(seed)


manual_seed_all = manual_seed
