"""A caching allocator for the CPU backend's large arrays.

glibc hands out blocks of 128 KiB and more as fresh ``mmap`` regions and returns them to
the system when they are freed, so a training loop that makes the same 400 KB gradient
every step pays a page fault per 4 KiB of it, every step: 100-150 µs per array on the
seed network (benchmarks/seed_autograd.py). The CPU backend takes its large arrays from
here instead: each is a view of a buffer that this pool keeps, and a buffer is handed
out again once nothing refers to it any more (no array, view or exported capsule: each
of them holds a reference to the buffer, which is the base of every view NumPy makes).

Small arrays come from NumPy as usual (glibc's heap reuses them without page faults).
The pool holds at most ``LIMIT`` bytes; past that, arrays are plain NumPy arrays.
``empty_cache()`` gives the buffers nobody uses back to the system, as
``torch.cuda.empty_cache`` does for the GPU. Nothing outside numbanet changes: the C
allocator's settings are left alone.
"""
from __future__ import annotations

import math
import sys
import threading

import numpy as np

MIN_BYTES = 128 << 10  # glibc's default mmap threshold: smaller blocks come from its heap
LIMIT = 512 << 20  # the most bytes the pool keeps
SMALL = MIN_BYTES // 8  # fewer elements than this are small whatever their dtype

_free_lists: dict[int, list] = {}  # size in bytes -> the buffers of that size
_held = 0  # bytes in the pool's buffers
_lock = threading.Lock()  # the DataLoader's threads allocate too
_refcount = sys.getrefcount


def empty(shape: tuple, dtype) -> np.ndarray:
    """``np.empty(shape, dtype)``, from a buffer of the pool when the array is large."""
    count = math.prod(shape)
    if count < SMALL:  # small for any dtype: the common case, at once
        return np.empty(shape, dtype)
    dtype = np.dtype(dtype)
    nbytes = count * dtype.itemsize
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype)
    return np.ndarray(shape, dtype, _buffer(nbytes))  # a view of the buffer: its base


def zeros(shape: tuple, dtype) -> np.ndarray:
    out = empty(shape, dtype)
    out.fill(0)
    return out


def _buffer(nbytes: int) -> np.ndarray:
    global _held
    with _lock:
        buffers = _free_lists.get(nbytes)
        if buffers is not None:
            # the most recently used free buffer first (its memory is likely still in the
            # cache, as glibc's heap reuses the block freed last); the list, ``buf`` and
            # getrefcount's argument are its only references when no array refers to it
            for i in range(len(buffers) - 1, -1, -1):
                buf = buffers[i]
                if _refcount(buf) == 3:
                    if i != len(buffers) - 1:
                        buffers.append(buffers.pop(i))
                    return buf
        buf = np.empty(nbytes, np.uint8)
        if _held + nbytes <= LIMIT:
            _free_lists.setdefault(nbytes, []).append(buf)
            _held += nbytes
        return buf


def empty_cache() -> int:
    """Give the pool's unused buffers back to the system; returns the bytes freed."""
    global _held
    freed = 0
    with _lock:
        for nbytes, buffers in list(_free_lists.items()):
            kept = [b for b in buffers if _refcount(b) > 3]  # the list, ``b``, the argument
            freed += nbytes * (len(buffers) - len(kept))
            if kept:
                _free_lists[nbytes] = kept
            else:
                del _free_lists[nbytes]
        _held -= freed
    return freed


def held_bytes() -> int:
    """Bytes in the pool's buffers, in use or not."""
    return _held
