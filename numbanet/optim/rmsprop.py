"""``RMSprop``: divide the gradient by a running root mean square of its recent values.

PyTorch's algorithm, for each parameter p with gradient g::

    g = -g if maximize
    g = g + weight_decay * p                      if weight_decay != 0
    v = alpha * v + (1 - alpha) * g * g
    if centered:  m = alpha * m + (1 - alpha) * g;  avg = sqrt(v - m * m) + eps
    else:         avg = sqrt(v) + eps
    if momentum > 0:  b = momentum * b + g / avg;  p = p - lr * b
    else:             p = p - lr * g / avg
"""
from __future__ import annotations

from ..creation import zeros_like
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), with PyTorch's options.

    >>> optimizer = optim.RMSprop(model.parameters(), lr=1e-2, momentum=0.9, centered=True)
    """

    _checked_options = {"lr": "learning rate", "eps": "epsilon value",
                        "momentum": "momentum value", "weight_decay": "weight_decay value",
                        "alpha": "alpha value"}
    _param_shaped_state = ("square_avg", "momentum_buffer", "grad_avg")
    _required_state = ("step", "square_avg")

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 foreach: bool | None = None, maximize: bool = False):
        # foreach only chooses between PyTorch's kernels; it is kept for the same options
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, foreach=foreach,
                                      maximize=maximize))

    def _update_group(self, group: dict) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        momentum, centered = group["momentum"], group["centered"]
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._state_of(p)
            if not state:
                state["step"] = 0
                state["square_avg"] = zeros_like(p)
            # also when momentum or centered is switched on after the first step
            if momentum > 0 and "momentum_buffer" not in state:
                state["momentum_buffer"] = zeros_like(p)
            if centered and "grad_avg" not in state:
                state["grad_avg"] = zeros_like(p)
            state["step"] += 1
            g = self._decayed_grad(p, group)
            square_avg = state["square_avg"]
            square_avg.mul_(alpha)
            square_avg.add_(g * g * (1 - alpha))
            if centered:
                grad_avg = state["grad_avg"]
                grad_avg.add_((g - grad_avg) * (1 - alpha))  # PyTorch's lerp_(g, 1 - alpha)
                avg = (square_avg - grad_avg * grad_avg).sqrt() + eps
            else:
                avg = square_avg.sqrt() + eps
            if momentum > 0:
                buf = state["momentum_buffer"]
                buf.mul_(momentum)
                buf.add_(g / avg)
                p.sub_(buf, alpha=lr)
            else:
                p.sub_(g / avg, alpha=lr)
