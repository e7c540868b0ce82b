"""CUDA random numbers: xoroshiro128+ states kept on the device, one per kernel thread.

The states are made at the first draw from the seed ``manual_seed`` gave (else from fresh
entropy), and every draw advances them; nothing is copied from the host but the seed.
"""
from __future__ import annotations

import warnings

import numpy as np

from . import checks
from .cuda_kernels import _RANDOM, RANDOM_STATES, SIMULATED, _floor_to_int, launch
from .cuda_memory import _alloc, _flat

with warnings.catch_warnings():  # on the simulator, Numba's random module warns as it loads
    warnings.simplefilter("ignore")
    from numba.cuda.random import create_xoroshiro128p_states


class RandomOps:
    """The random-number primitives of ``CUDABackend`` (its ``_seed`` and ``_states``)."""

    def manual_seed(self, seed):
        self._seed = seed
        self._states = None  # made again, from this seed, at the next draw

    def _random_states(self):
        if self._states is None:
            seed = self._seed if self._seed is not None else np.random.SeedSequence().entropy
            with warnings.catch_warnings():
                # the simulator runs Numba's state set-up in object mode, warning as it goes
                warnings.simplefilter("ignore")
                self._states = create_xoroshiro128p_states(RANDOM_STATES, seed=seed % 2**64)
        return self._states

    def _draw(self, kind, shape, dtype, a, b):
        out = _alloc(shape, dtype)
        n = out.size
        if n:
            blocks, threads = launch(min(n, RANDOM_STATES))
            blocks = min(blocks, RANDOM_STATES // threads)
            flat = _flat(out)
            kernel = _RANDOM[kind, np.dtype(dtype)][blocks, threads]
            with warnings.catch_warnings():
                if SIMULATED:  # its xoroshiro128+ runs on NumPy uint64s, whose wrap-around warns
                    warnings.filterwarnings("ignore", "overflow encountered in scalar",
                                            RuntimeWarning)
                kernel(self._random_states(), flat, flat.dtype.type(a), flat.dtype.type(b))
        return out

    def rand(self, shape, dtype):
        return self._draw("uniform", shape, dtype.numpy, 0.0, 1.0)

    def randn(self, shape, dtype):
        return self._draw("normal", shape, dtype.numpy, 0.0, 1.0)

    def randint(self, low, high, shape):
        checks.random_range(low, high)
        u = self._draw("uniform", shape, np.float64, 0.0, 1.0)
        out = _alloc(shape, np.int64)
        if out.size:
            blocks, threads = launch(out.size)
            _floor_to_int[blocks, threads](_flat(u), np.int64(low), np.int64(high - low),
                                           _flat(out))
        return out
