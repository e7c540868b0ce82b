"""``NAdam``: Adam with Nesterov momentum.

PyTorch's algorithm, for each parameter p with gradient g, at step t = 1, 2, ...
(``mu_product`` starts at 1)::

    g = -g if maximize
    p = p * (1 - lr * weight_decay)               if decoupled_weight_decay
    g = g + weight_decay * p                      otherwise, if weight_decay != 0
    mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_product = mu_product * mu_t
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    denom = sqrt(v / (1 - beta2**t)) + eps
    p = p - lr * (1 - mu_t) / (1 - mu_product) * g / denom
          - lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / denom
"""
from __future__ import annotations

import numbers

from ..creation import zeros_like
from ..tensor import Tensor
from .optimizer import Optimizer


class NAdam(Optimizer):
    """NAdam (Dozat, 2016), with PyTorch's options; ``decoupled_weight_decay=True`` gives
    NAdamW (the decay shrinks the parameters instead of entering the gradient).

    >>> optimizer = optim.NAdam(model.parameters(), lr=2e-3, momentum_decay=4e-3)
    """

    _checked_options = {"lr": "learning rate", "eps": "epsilon value",
                        "betas": ("beta parameter", 1.0), "weight_decay": "weight_decay value",
                        "momentum_decay": "momentum_decay value"}
    _param_shaped_state = ("exp_avg", "exp_avg_sq")
    _required_state = ("step", "mu_product", "exp_avg", "exp_avg_sq")

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False):
        # foreach only chooses between PyTorch's kernels; it is kept for the same options
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach))

    def _update_group(self, group: dict) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        momentum_decay = group["momentum_decay"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._state_of(p)
            if not state:
                state["step"] = 0
                state["mu_product"] = 1.0
                state["exp_avg"] = zeros_like(p)
                state["exp_avg_sq"] = zeros_like(p)
            state["step"] += 1
            step = state["step"]
            g = self._decayed_grad(p, group)
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
            mu_product = state["mu_product"] = state["mu_product"] * mu
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            exp_avg.add_((g - exp_avg) * (1 - beta1))  # PyTorch's lerp_(g, 1 - beta1)
            exp_avg_sq.mul_(beta2)
            exp_avg_sq.add_(g * g * (1 - beta2))
            denom = (exp_avg_sq / (1 - beta2 ** step)).sqrt() + eps
            p.sub_(g / denom, alpha=lr * (1.0 - mu) / (1.0 - mu_product))
            p.sub_(exp_avg / denom, alpha=lr * mu_next / (1.0 - mu_product * mu_next))

    def _loaded_state(self, value, param: Tensor, key: str, index: int):
        # mu_product is a number here; PyTorch saves it as a one-element tensor
        if key == "mu_product":
            if isinstance(value, Tensor) and value.numel() == 1:
                value = value.item()
            if not isinstance(value, numbers.Real) or isinstance(value, bool):
                raise ValueError(f"NAdam.load_state_dict: state 'mu_product' of parameter "
                                 f"{index} must be a number, got {value!r}")
            return float(value)
        return super()._loaded_state(value, param, key, index)
