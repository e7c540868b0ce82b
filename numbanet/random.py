"""``manual_seed``: one seed for every random draw, on every device; ``Generator``: a
stream of random numbers of its own, for the draws that are given it (``generator=``).

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


class Generator:
    """A random number generator of its own, as ``torch.Generator``: draws that are given it
    (``rand(3, generator=g)``, ``randperm``, ``DataLoader(generator=g)``...) repeat for a
    given seed, whatever else the program draws. Its numbers are made on the host (NumPy's
    PCG64) and copied to the tensor's device."""

    def __init__(self, device="cpu"):
        from .device import as_device
        self.device = as_device(device)
        self._seed = DEFAULT_SEED
        self._rng = np.random.default_rng(DEFAULT_SEED)

    def manual_seed(self, seed: int) -> Generator:
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"manual_seed expected a long, but got {type(seed).__name__}")
        self._seed = int(seed) % (1 << 64)
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy; returns the seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy) % (1 << 63))
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        """The generator's state as a tensor (for ``set_state``)."""
        from .creation import tensor
        full = self._rng.bit_generator.state
        words = [full["state"]["state"], full["state"]["inc"]]
        return tensor([(w >> s) & 0xFFFFFFFF for w in words for s in (96, 64, 32, 0)]
                      + [full["has_uint32"], full["uinteger"]])

    def set_state(self, new_state) -> Generator:
        values = [int(v) for v in new_state.tolist()]
        if len(values) != 10:
            raise RuntimeError(f"set_state: expected the 10 values of get_state(), got "
                               f"{len(values)}")
        state, inc = (sum(v << s for v, s in zip(values[i:i + 4], (96, 64, 32, 0)))
                      for i in (0, 4))
        self._rng.bit_generator.state = {"bit_generator": "PCG64",
                                         "state": {"state": state, "inc": inc},
                                         "has_uint32": values[8], "uinteger": values[9]}
        return self

    def __repr__(self) -> str:
        return f"<numbanet.Generator object on {self.device}>"


def draws(generator) -> np.random.Generator:
    """The NumPy generator behind ``generator`` (a Generator, or a NumPy Generator)."""
    if isinstance(generator, Generator):
        return generator._rng
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator must be a numbanet.Generator, got {type(generator).__name__}")
