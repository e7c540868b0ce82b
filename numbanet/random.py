"""``manual_seed``: one seed for every random draw, on every device."""
from __future__ import annotations

_seed = None


def manual_seed(seed: int):
    """Seed the generators of all devices, so that runs repeat exactly."""
    global _seed
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}")
    _seed = seed
    from .device import _DEVICES
    for dev in list(_DEVICES.values()):
        if dev._backend is not None:
            dev._backend.manual_seed(seed)


def initial_seed():
    return _seed
