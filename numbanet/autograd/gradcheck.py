"""``gradcheck``: compare a function's autograd gradients with central differences."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .grad_mode import no_grad


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _evaluate(fn, inputs) -> np.ndarray:
    """All outputs of ``fn`` flattened into one float64 vector, without recording a graph."""
    with no_grad():
        return np.concatenate([o.detach().cpu().numpy().astype(np.float64).ravel()
                               for o in _as_tuple(fn(*inputs))])


def numerical_jacobian(fn, inputs, eps: float):
    """d(outputs, flattened)/d(input i, flattened) by central differences, for each input."""
    jacobians: list = []
    for t in inputs:
        if not (isinstance(t, Tensor) and t.requires_grad):
            jacobians.append(None)
            continue
        values = t.detach()
        if values.device.type == "cpu":
            flat = values.numpy().reshape(-1)  # a view of the tensor's memory
        else:  # written element by element through tensor ops, on the device
            flat = values.view(-1)
        start = values.cpu().numpy().reshape(-1)
        columns = []
        for k in range(start.size):
            orig = float(start[k])
            flat[k] = orig + eps
            plus = _evaluate(fn, inputs)
            flat[k] = orig - eps
            minus = _evaluate(fn, inputs)
            flat[k] = orig
            columns.append((plus - minus) / (2 * eps))
        jacobians.append(np.stack(columns, axis=1) if columns else None)
    return jacobians


def analytical_jacobian(fn, inputs):
    from . import grad
    outputs = _as_tuple(fn(*inputs))
    wanted = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    total = sum(o.numel() for o in outputs)
    rows = {id(t): np.zeros((total, t.numel())) for t in wanted}
    row = 0
    for o in outputs:
        for k in range(o.numel()):
            seed = np.zeros(o.numel())
            seed[k] = 1.0
            from ..creation import tensor
            g = tensor(seed.reshape(o.shape), dtype=o.dtype, device=o.device)
            grads = grad([o], wanted, grad_outputs=[g], retain_graph=True, allow_unused=True)
            for t, gt in zip(wanted, grads):
                if gt is not None:
                    rows[id(t)][row] = gt.detach().cpu().numpy().ravel()
            row += 1
    return [rows[id(t)] if id(t) in rows else None for t in inputs]


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """True if autograd's gradients of ``fn`` at ``inputs`` match central differences.

    Use float64 inputs with ``requires_grad=True``; on a mismatch, raises with the
    entries that differ (or returns False with ``raise_exception=False``)."""
    inputs = _as_tuple(inputs)
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad and t.dtype.name != "float64":
            import warnings
            warnings.warn(f"gradcheck: input {i} is {t.dtype.name}; central differences with "
                          f"eps={eps} need float64 inputs to be meaningful", stacklevel=2)
    numerical = numerical_jacobian(fn, inputs, eps)
    analytical = analytical_jacobian(fn, inputs)
    for i, (num, ana) in enumerate(zip(numerical, analytical)):
        if num is None:
            continue
        close = np.abs(num - ana) <= atol + rtol * np.abs(num)
        if not close.all():
            bad = np.argwhere(~close)[:5]
            listed = "; ".join(f"output {r}, input element {c}: numerical {num[r, c]:.6g}, "
                               f"analytical {ana[r, c]:.6g}" for r, c in bad)
            if raise_exception:
                raise RuntimeError(f"gradcheck: the Jacobian with respect to input {i} does not "
                                   f"match central differences ({(~close).sum()} entries "
                                   f"differ): {listed}")
            return False
    return True
