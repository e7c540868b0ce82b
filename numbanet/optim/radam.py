"""``RAdam``: Adam with the variance of its adaptive rate rectified.

PyTorch's algorithm, for each parameter p with gradient g, at step t = 1, 2, ...::

    g = -g if maximize
    p = p * (1 - lr * weight_decay)               if decoupled_weight_decay
    g = g + weight_decay * p                      otherwise, if weight_decay != 0
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat = m / (1 - beta1**t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
    if rho_t > 5:
        r = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        p = p - lr * m_hat * r * sqrt(1 - beta2**t) / (sqrt(v) + eps)
    else:
        p = p - lr * m_hat                        (momentum SGD while the variance is wild)
"""
from __future__ import annotations

from ..creation import zeros_like
from .optimizer import Optimizer


class RAdam(Optimizer):
    """RAdam (Liu et al., 2019), with PyTorch's options; ``decoupled_weight_decay=True``
    gives RAdamW.

    >>> optimizer = optim.RAdam(model.parameters(), lr=1e-3)
    """

    _checked_options = {"lr": "learning rate", "eps": "epsilon value",
                        "betas": ("beta parameter", 1.0), "weight_decay": "weight_decay value"}
    _param_shaped_state = ("exp_avg", "exp_avg_sq")
    _required_state = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False):
        # foreach only chooses between PyTorch's kernels; it is kept for the same options
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, foreach=foreach,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _update_group(self, group: dict) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        rho_inf = 2 / (1 - beta2) - 1
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._state_of(p)
            if not state:
                state["step"] = 0
                state["exp_avg"] = zeros_like(p)
                state["exp_avg_sq"] = zeros_like(p)
            state["step"] += 1
            step = state["step"]
            g = self._decayed_grad(p, group)
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            exp_avg.add_((g - exp_avg) * (1 - beta1))  # PyTorch's lerp_(g, 1 - beta1)
            exp_avg_sq.mul_(beta2)
            exp_avg_sq.add_(g * g * (1 - beta2))
            bias_correction1 = 1 - beta1 ** step
            bias_correction2 = 1 - beta2 ** step
            m_hat = exp_avg / bias_correction1
            rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2
            if rho_t > 5.0:
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf /
                        ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                adaptive = bias_correction2 ** 0.5 / (exp_avg_sq.sqrt() + eps)
                p.sub_(m_hat * lr * adaptive * rect)
            else:
                p.sub_(m_hat * lr)
