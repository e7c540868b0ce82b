"""Devices: where a tensor's data lives, and which backend runs its ops."""
from __future__ import annotations

import importlib


class device:
    """A device, written like PyTorch's: ``'cpu'``, ``'cuda'`` or ``'cuda:1'``.

    >>> nb.device('cuda:0').type, nb.device('cuda:0').index
    ('cuda', 0)
    """

    # ``backend`` is a slot, filled on first use by __getattr__: ops read it as a plain
    # attribute, since every op reads it.
    __slots__ = ("type", "index", "backend")
    _known = ("cpu", "cuda")

    def __new__(cls, spec, index: int | None = None):
        if isinstance(spec, device):
            return spec
        if not isinstance(spec, str):
            raise TypeError(f"a device is a string like 'cpu', 'cuda' or 'cuda:0', got {spec!r}")
        text = spec.strip().lower()
        kind, _, idx = text.partition(":")
        if kind not in cls._known or (idx and not idx.isdigit()) or (idx and index is not None):
            raise RuntimeError(f"unknown device {spec!r}: expected 'cpu', 'cuda' or 'cuda:N' "
                             "(N the GPU's index)")
        if idx:
            index = int(idx)
        if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
            raise TypeError(f"device(): the index must be an int, got {index!r}")
        if index is not None and index < 0:
            raise RuntimeError(f"device {spec!r}, index {index}: Device index must not be "
                               "negative")
        if kind == "cpu":
            index = None
        elif index is None:
            index = 0
        key = (kind, index)
        cached = _DEVICES.get(key)
        if cached is not None:
            return cached
        self = object.__new__(cls)
        self.type = kind
        self.index = index
        _DEVICES[key] = self
        return self

    def __getattr__(self, name):
        """``backend``, the backend object that runs ops for this device, is imported on
        first use (the slot is empty until then)."""
        if name != "backend":
            raise AttributeError(f"'device' object has no attribute '{name}'")
        try:
            module = importlib.import_module(f"numbanet.backend.{self.type}")
        except ModuleNotFoundError as e:
            if e.name != f"numbanet.backend.{self.type}":
                raise
            raise RuntimeError(f"device '{self}': this version of numbanet has no "
                               f"{self.type} backend; use device='cpu'") from None
        backend = module.backend_for(self)
        from .random import initial_seed
        if initial_seed() is not None:  # nb.manual_seed ran before this device's first use
            backend.manual_seed(initial_seed())
        self.backend = backend
        return backend

    def loaded_backend(self):
        """The backend if it has been imported already, else None (imports nothing)."""
        try:
            return device.backend.__get__(self, device)
        except AttributeError:
            return None

    def __repr__(self) -> str:
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __reduce__(self):
        return (device, (str(self),))


_DEVICES: dict = {}
CPU = device("cpu")


_default = [CPU]


def set_default_device(spec) -> None:
    """The device of new tensors made without ``device=`` (``torch.set_default_device``);
    ``None`` means the CPU again. ``from_numpy`` always shares the CPU array."""
    _default[0] = CPU if spec is None else as_device(spec)


def get_default_device() -> device:
    return _default[0]


def as_device(spec) -> device:
    """Where a tensor goes: ``None`` is the default device; ``'cuda'`` means the current GPU,
    ``cuda:0`` (as in PyTorch)."""
    if spec is None:
        return _default[0]
    if isinstance(spec, int):
        return device("cuda", spec)
    dev = device(spec)
    return device("cuda", 0) if dev.type == "cuda" and dev.index is None else dev
