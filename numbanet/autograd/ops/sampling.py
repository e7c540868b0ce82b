"""Random sampling from given parameters: ``normal``, ``bernoulli``, ``multinomial``, and
the in-place initialisers ``uniform_``, ``normal_``, ``bernoulli_``, ``exponential_``,
``random_``. Samples are not differentiable (as in PyTorch): they are drawn outside autograd.
Each takes ``generator=`` (a ``numbanet.Generator``) for a stream of its own."""
from __future__ import annotations

import numpy as np

from ... import creation
from ... import dtypes as dt
from ...random import draws, host_generator
from ...tensor import Tensor
from ..grad_mode import no_grad
from .inplace import copy_


def _uniform(shape, dtype, device, generator) -> Tensor:
    return creation.rand(*shape, generator=generator, dtype=dtype, device=device)


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None) -> Tensor:
    """Normal samples with the given means and standard deviations (tensors or numbers,
    broadcast; with numbers only, ``size`` gives the shape)."""
    tensors = [t for t in (mean, std) if isinstance(t, Tensor)]
    if not tensors:
        if size is None:
            raise TypeError("normal(): with a number mean and std, give size=, e.g. "
                            "normal(0.0, 1.0, size=(3,))")
        shape, like = tuple(size), None
    else:
        like = tensors[0]
        shape = tuple(sum(tensors[1:], tensors[0] * 0).shape) if len(tensors) > 1 else \
            tuple(like.shape)
    if isinstance(std, Tensor):
        if bool((std < 0).any()):
            raise RuntimeError("normal expects all elements of std >= 0.0")
    elif std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    dtype = dtype or (like.dtype if like is not None else dt.DEFAULT_FLOAT)
    device = device or (like.device if like is not None else None)
    with no_grad():
        z = creation.randn(*shape, generator=generator, dtype=dtype, device=device)
        return z * (std.detach() if isinstance(std, Tensor) else std) + \
            (mean.detach() if isinstance(mean, Tensor) else mean)


def bernoulli(input: Tensor, p=None, *, generator=None) -> Tensor:
    """1 with probability ``input`` (or ``p``), else 0, in ``input``'s dtype."""
    probs = input if p is None else p
    with no_grad():
        u = _uniform(tuple(input.shape), input.dtype, input.device, generator)
        if isinstance(probs, Tensor):
            probs = probs.detach()
            if bool(((probs < 0) | (probs > 1)).any()):
                raise RuntimeError("bernoulli: all probabilities must be in [0, 1]")
        elif not 0 <= probs <= 1:
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={probs}")
        return (u < probs).to(input.dtype)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator=None) -> Tensor:
    """``num_samples`` category indices per row of ``input`` (weights, not necessarily
    normalised), with or without replacement."""
    if input.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim, got shape {input._shape}")
    weights = input.detach().cpu().numpy().astype(np.float64)
    rows = weights.reshape(-1, weights.shape[-1])
    if (rows < 0).any() or not np.isfinite(rows).all():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if (rows.sum(axis=1) <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError(f"cannot sample n_sample > prob_dist.size(-1) samples without "
                           f"replacement ({num_samples} > {rows.shape[1]})")
    if not replacement and num_samples > (rows > 0).sum(axis=1).min():
        raise RuntimeError("invalid multinomial distribution (with replacement=False, not "
                           "enough non-negative category to sample)")
    rng = host_generator() if generator is None else draws(generator)
    picked = np.stack([rng.choice(rows.shape[1], size=num_samples, replace=replacement,
                                  p=row / row.sum()) for row in rows]).astype(np.int64)
    picked = picked.reshape(*weights.shape[:-1], num_samples)
    return creation.tensor(picked, device=input.device)


# ---- in place: x.uniform_(a, b)... ---------------------------------------------------------

def _fill_with(x: Tensor, values: Tensor) -> Tensor:
    with no_grad():
        return copy_(x, values)


def uniform_(x: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    u = _uniform(tuple(x.shape), _float_of(x), x.device, generator)
    return _fill_with(x, u * (b - a) + a)


def normal_(x: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    z = creation.randn(*x.shape, generator=generator, dtype=_float_of(x), device=x.device)
    return _fill_with(x, z * std + mean)


def bernoulli_(x: Tensor, p=0.5, *, generator=None) -> Tensor:
    return _fill_with(x, bernoulli(x, p, generator=generator))


def exponential_(x: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    u = _uniform(tuple(x.shape), _float_of(x), x.device, generator)
    return _fill_with(x, -(1 - u).log() / lambd)


def random_(x: Tensor, from_: int = 0, to: int | None = None, *, generator=None) -> Tensor:
    """Integers in [from, to); ``to`` defaults to the largest the dtype holds exactly
    (2**24 for float32, 2**53 for float64, 2**63 - 1 for int64, 2 for bool)."""
    if to is None:
        if from_ != 0 and not isinstance(from_, int):
            raise TypeError("random_: from must be an int")
        from_, to = (0, from_) if from_ else (0, _LIMITS[x.dtype.name])
    if to <= from_:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} "
                           f">= to={to}")
    values = creation.randint(from_, to, tuple(x.shape), generator=generator, device=x.device)
    return _fill_with(x, values)


_LIMITS = {"float32": 1 << 24, "float64": 1 << 53, "int64": (1 << 63) - 1, "bool": 2}


def _float_of(x: Tensor):
    return x.dtype if x.dtype.is_floating_point else dt.DEFAULT_FLOAT
