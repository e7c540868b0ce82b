"""``manual_seed``: one seed for every random draw, on every device.

Besides the generators of the devices there is one on the host, a NumPy
``Generator``, for draws that decide *what happens* rather than what a tensor holds:
the order in which a ``DataLoader`` visits a data set, ``randperm`` (in creation.py).
Seeding it with the rest makes a whole training run repeat, batches included. This
module holds the seeds and generators only.
"""
from __future__ import annotations

import numpy as np

# Until manual_seed is called, the host generator starts from this fixed seed (the
# default of PyTorch's CPU generator), so a program that never seeds still repeats.
DEFAULT_SEED = 67280421310721

_seed = None
_host = None


def manual_seed(seed: int):
    """Seed the generators of all devices and of the host, so that runs repeat exactly."""
    global _seed, _host
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}")
    _seed = seed
    _host = np.random.default_rng(seed)
    from .device import _DEVICES
    for dev in list(_DEVICES.values()):
        backend = dev.loaded_backend()
        if backend is not None:
            backend.manual_seed(seed)


def initial_seed():
    return _seed


def host_generator() -> np.random.Generator:
    """The host's NumPy generator (reseeded by ``manual_seed``): shuffling order and other
    draws made on the CPU before any tensor exists."""
    global _host
    if _host is None:
        _host = np.random.default_rng(DEFAULT_SEED if _seed is None else _seed)
    return _host
