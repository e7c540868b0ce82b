"""Where the random draws of ``numbanet.utils.data`` come from: ``generator=``.

``None`` draws from numbanet's host generator, the one ``nb.manual_seed`` seeds; a
``numbanet.Generator`` is drawn from, its state advancing as PyTorch's does; so is a NumPy
``Generator``. Any other object with ``initial_seed()`` (a ``torch.Generator``) gets a
stream of its own, started from its seed: ``RandomSampler(ds, generator=g)`` repeats for
a given seed and still draws a new order every epoch. The draws are NumPy's, so a seed
gives other orders than PyTorch's, from the same distributions.
"""
from __future__ import annotations

import weakref

import numpy as np

from ... import random as host_random

# generator object -> (its initial seed, the NumPy stream drawn for it), weakly held; and
# id -> (object, seed, stream) for the objects that can't be weakly referenced
_STREAMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PINNED: dict = {}


def random_state(generator) -> np.random.Generator:
    """The NumPy generator that draws for ``generator=`` (see the module's docstring).

    For an object with only ``initial_seed()``, the stream starts again whenever its seed
    has changed (``g.manual_seed(s)`` with a new ``s``); a new object seeded with ``s``
    always starts from the beginning of ``s``'s stream."""
    if generator is None:
        return host_random.host_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    own = getattr(host_random, "Generator", None)
    if own is not None and isinstance(generator, own):
        return host_random.draws(generator)
    initial_seed = getattr(generator, "initial_seed", None)
    if not callable(initial_seed):
        raise TypeError(f"generator must be a Generator (an object with manual_seed() and "
                        f"initial_seed(), such as numbanet.Generator or torch.Generator) or "
                        f"None for numbanet's global seed, got {type(generator).__name__}")
    seed = int(initial_seed())
    try:
        entry = _STREAMS.get(generator)
        pinned = False
    except TypeError:  # not weakly referable
        entry = _PINNED.get(id(generator), (None,))[1:] or None
        pinned = True
    if entry is None or entry[0] != seed:
        entry = (seed, np.random.default_rng(seed % 2**64))
        if pinned:
            _PINNED[id(generator)] = (generator, *entry)
        else:
            _STREAMS[generator] = entry
    return entry[1]


def draw_seed(generator) -> int:
    """A seed drawn from ``generator=`` (as PyTorch's loader draws its workers' base seed)."""
    return int(random_state(generator).integers(0, 2**63, dtype=np.int64))
