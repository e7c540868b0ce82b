"""Fused optimizer updates, written once for both backends.

An optimizer step is a handful of elementwise formulas over a parameter and its
state. Run as separate elementwise ops it would read and write each array several
times; fused, each element is read once and written once. The formulas of one
element live here; ``cpu.py`` compiles them with ``njit`` inside a serial loop and
``cuda_kernels.py`` with ``cuda.jit(device=True)`` inside a grid-stride loop.
"""
import math
from types import SimpleNamespace

from .specialise import specialise


def adam_constants(p, lr, beta1, beta2, eps, bias_correction1, bias_correction2_sqrt,
                   weight_decay):
    """The numbers of one Adam step in ``p``'s dtype, as PyTorch's kernels use them: float32
    parameters are updated in float32 arithmetic (which also vectorises twice as wide)."""
    real = p.dtype.type
    return (real(lr / bias_correction1), real(bias_correction2_sqrt), real(beta2), real(eps),
            real(weight_decay), real(1.0 - beta1), real(1.0 - beta2))


def adam_element(p, g, m, v, i, constants):
    """Element ``i`` of one Adam step, in PyTorch's order (see ``Backend.adam_step``)."""
    step_size, bc2_sqrt, beta2, eps, weight_decay, one_minus_beta1, one_minus_beta2 = constants
    grad = g[i]
    if weight_decay != 0:
        grad = grad + weight_decay * p[i]
    mi = m[i] + (grad - m[i]) * one_minus_beta1
    vi = v[i] * beta2 + one_minus_beta2 * grad * grad
    m[i] = mi
    v[i] = vi
    p[i] = p[i] - step_size * (mi / (math.sqrt(vi) / bc2_sqrt + eps))


def compiled(jit, target: str) -> SimpleNamespace:
    """These functions compiled by ``jit`` for ``target``."""
    return SimpleNamespace(**{fn.__name__: specialise(fn, jit, target)
                              for fn in (adam_constants, adam_element)})
