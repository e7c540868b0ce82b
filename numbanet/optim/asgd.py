"""``ASGD``: averaged stochastic gradient descent.

PyTorch's algorithm, for each parameter p with gradient g, at step t = 1, 2, ...
(eta starts at lr, mu at 1)::

    g = -g if maximize
    g = g + weight_decay * p                      if weight_decay != 0
    p = p * (1 - lambd * eta) - eta * g
    ax = ax + mu * (p - ax)                       (ax = p while mu is 1)
    eta = lr / (1 + lambd * lr * t) ** alpha
    mu = 1 / max(1, t - t0)

``ax`` is the running average of the parameter, averaged from step ``t0`` on; use it
for evaluation (``optimizer.state[p]["ax"]``).
"""
from __future__ import annotations

import numbers

from ..creation import zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky, 1992), with PyTorch's options.

    >>> optimizer = optim.ASGD(model.parameters(), lr=1e-2, t0=100)
    """

    _checked_options = {"lr": "learning rate", "weight_decay": "weight_decay value"}
    _param_shaped_state = ("ax",)
    _required_state = ("step", "eta", "mu", "ax")

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach: bool | None = None,
                 maximize: bool = False):
        # foreach only chooses between PyTorch's kernels; it is kept for the same options
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0,
                                      weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize))

    def _update_group(self, group: dict) -> None:
        lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._state_of(p)
            if not state:
                state["step"] = 0
                state["eta"] = float(lr)
                state["mu"] = 1.0
                state["ax"] = zeros_like(p)
            state["step"] += 1
            step, eta, mu = state["step"], state["eta"], state["mu"]
            g = self._decayed_grad(p, group)
            p.mul_(1 - lambd * eta)
            p.sub_(g, alpha=eta)
            ax = state["ax"]
            if mu != 1:
                ax.add_((p - ax) * mu)
            else:
                ax.copy_(p)
            state["eta"] = lr / (1 + lambd * lr * step) ** alpha
            state["mu"] = 1 / max(1, step - t0)

    def _loaded_state(self, value, param: Tensor, key: str, index: int):
        # eta and mu are numbers here; PyTorch saves them as one-element tensors
        if key in ("eta", "mu"):
            if isinstance(value, Tensor) and value.numel() == 1:
                value = value.item()
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                raise ValueError(f"ASGD.load_state_dict: state '{key}' of parameter {index} "
                                 f"must be a number, got {value!r}")
            return float(value)
        return super()._loaded_state(value, param, key, index)
