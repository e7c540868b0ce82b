"""``numbanet.accelerator``: the device-neutral questions that PyTorch's ``torch.accelerator``
answers, which current PyTorch examples ask first (``device = accelerator.current_accelerator()
if accelerator.is_available() else "cpu"``). numbanet's one kind of accelerator is CUDA (a GPU,
or Numba's simulator when it is switched on)."""
from __future__ import annotations

from . import cuda as _cuda
from .device import device as _device


def is_available() -> bool:
    return _cuda.is_available()


def current_accelerator(check_available: bool = False):
    """The accelerator's device (``device(type='cuda')``), or None when there is none."""
    if not is_available():
        return None
    return _device("cuda")


def device_count() -> int:
    return _cuda.device_count()


def current_device_index() -> int:
    return 0 if is_available() else -1


def synchronize(device=None) -> None:
    if is_available():
        _cuda.synchronize()
