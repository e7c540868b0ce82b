"""``Adadelta``: per-coordinate steps from running averages of squared gradients and of
squared updates, so that an update has the units of its parameter.

PyTorch's algorithm, for each parameter p with gradient g::

    g = -g if maximize
    g = g + weight_decay * p                      if weight_decay != 0
    v = rho * v + (1 - rho) * g * g               (square_avg)
    delta = sqrt(u + eps) / sqrt(v + eps) * g
    u = rho * u + (1 - rho) * delta * delta       (acc_delta)
    p = p - lr * delta
"""
from __future__ import annotations

from ..creation import zeros_like
from .optimizer import Optimizer


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), with PyTorch's options.

    >>> optimizer = optim.Adadelta(model.parameters(), lr=1.0, rho=0.9)
    """

    _checked_options = {"lr": "learning rate", "rho": "rho value", "eps": "epsilon value",
                        "weight_decay": "weight_decay value"}
    _param_shaped_state = ("square_avg", "acc_delta")
    _required_state = ("step", "square_avg", "acc_delta")

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False):
        # foreach only chooses between PyTorch's kernels; it is kept for the same options
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, foreach=foreach))

    def _check_options(self, group: dict) -> None:
        super()._check_options(group)
        rho = group.get("rho", 0)
        if rho > 1:  # a number >= 0 by now; PyTorch takes rho = 1 (no forgetting)
            raise ValueError(f"Invalid rho value: {rho} (Adadelta's rho must be a finite "
                             "number in [0, 1])")

    def _update_group(self, group: dict) -> None:
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._state_of(p)
            if not state:
                state["step"] = 0
                state["square_avg"] = zeros_like(p)
                state["acc_delta"] = zeros_like(p)
            state["step"] += 1
            g = self._decayed_grad(p, group)
            square_avg, acc_delta = state["square_avg"], state["acc_delta"]
            square_avg.mul_(rho)
            square_avg.add_(g * g * (1 - rho))
            delta = (acc_delta + eps).sqrt() / (square_avg + eps).sqrt() * g
            acc_delta.mul_(rho)
            acc_delta.add_(delta * delta * (1 - rho))
            p.sub_(delta, alpha=lr)
