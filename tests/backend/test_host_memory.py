"""The CPU backend's caching allocator (``backend/host_memory.py``): large arrays reuse
a buffer only once nothing refers to it, and importing numbanet changes nothing else in
the process (no C allocator settings, no warnings filters)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np

import numbanet as nb
from numbanet.backend import host_memory

BIG = (1000, 100)  # 400 KB of float32: above the pool's threshold


def test_a_large_array_reuses_a_buffer_only_once_nothing_refers_to_it():
    a = host_memory.empty(BIG, np.float32)
    a.fill(1)
    view = a[::2].T
    del a
    b = host_memory.empty(BIG, np.float32)  # the first buffer is still seen through ``view``
    b.fill(2)
    assert view.base is not b.base and (view == 1).all()
    del b
    held = host_memory.held_bytes()
    c = host_memory.empty((100, 1000), np.float32)  # same size, another shape: a free buffer
    assert host_memory.held_bytes() == held  # reused, not a new one
    assert c.base is not view.base and c.shape == (100, 1000) and c.dtype == np.float32
    assert (view == 1).all()


def test_small_arrays_are_plain_numpy_arrays():
    assert host_memory.empty((10, 10), np.float64).base is None


def test_memory_shared_with_numpy_or_dlpack_is_never_handed_out_again():
    t = nb.ones(*BIG)
    shared = t.numpy()  # the user's array over the tensor's memory
    capsule_view = np.from_dlpack(nb.full(BIG, 3.0))
    del t
    for _ in range(4):
        nb.zeros(*BIG)
    assert (shared == 1).all() and (capsule_view == 3).all()


def test_tensors_from_the_pool_compute_as_usual():
    x = nb.randn(*BIG)
    w = nb.randn(100, 300)
    for _ in range(3):  # the same sizes every step, as in training
        y = (x @ w).relu().sum(0)
    np.testing.assert_allclose(y.numpy(), np.maximum(x.numpy() @ w.numpy(), 0).sum(0),
                               rtol=1e-4)


def test_empty_cache_frees_what_nobody_uses():
    keep = host_memory.empty((300, 1000), np.float32)
    host_memory.empty((300, 1000), np.float32)  # dropped at once
    host_memory.empty_cache()
    assert host_memory.held_bytes() >= keep.nbytes
    before = host_memory.held_bytes()
    del keep
    assert host_memory.empty_cache() >= 300 * 1000 * 4
    assert host_memory.held_bytes() < before


def test_importing_numbanet_adds_no_warnings_filter():
    code = ("import warnings, numpy, numba; before = list(warnings.filters); "
            "import numbanet as nb, numbanet.keras, numbanet.static, numbanet.jit; "
            "nb.randn(3).sum(); print([f for f in warnings.filters if f not in before])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True).stdout.strip()
    assert out == "[]"
