"""``Adamax``: Adam with the infinity norm in place of the second moment.

PyTorch's algorithm, for each parameter p with gradient g, at step t = 1, 2, ...::

    g = -g if maximize
    g = g + weight_decay * p                      if weight_decay != 0
    m = beta1 * m + (1 - beta1) * g               (exp_avg)
    u = max(beta2 * u, |g| + eps)                 (exp_inf)
    p = p - lr / (1 - beta1**t) * m / u
"""
from __future__ import annotations

from ..autograd.ops import maximum
from ..creation import zeros_like
from .optimizer import Optimizer


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, 2014, section 7), with PyTorch's options.

    >>> optimizer = optim.Adamax(model.parameters(), lr=2e-3)
    """

    _checked_options = {"lr": "learning rate", "eps": "epsilon value",
                        "betas": ("beta parameter", 1.0), "weight_decay": "weight_decay value"}
    _param_shaped_state = ("exp_avg", "exp_inf")
    _required_state = ("step", "exp_avg", "exp_inf")

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False):
        # foreach only chooses between PyTorch's kernels; it is kept for the same options
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize))

    def _update_group(self, group: dict) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._state_of(p)
            if not state:
                state["step"] = 0
                state["exp_avg"] = zeros_like(p)
                state["exp_inf"] = zeros_like(p)
            state["step"] += 1
            g = self._decayed_grad(p, group)
            exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
            exp_avg.add_((g - exp_avg) * (1 - beta1))  # PyTorch's lerp_(g, 1 - beta1)
            exp_inf.mul_(beta2)
            exp_inf.copy_(maximum(exp_inf, g.abs() + eps))
            p.sub_(exp_avg / exp_inf, alpha=lr / (1 - beta1 ** state["step"]))
