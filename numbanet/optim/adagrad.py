"""``Adagrad``: per-coordinate learning rates from the sum of all past squared gradients.

PyTorch's algorithm, for each parameter p with gradient g, at step t = 1, 2, ...::

    g = -g if maximize
    g = g + weight_decay * p                      if weight_decay != 0
    clr = lr / (1 + (t - 1) * lr_decay)
    s = s + g * g                                 (s starts at initial_accumulator_value)
    p = p - clr * g / (sqrt(s) + eps)
"""
from __future__ import annotations

from ..creation import full_like
from .optimizer import Optimizer


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), with PyTorch's options.

    >>> optimizer = optim.Adagrad(model.parameters(), lr=1e-2, lr_decay=1e-3)
    """

    _checked_options = {"lr": "learning rate", "lr_decay": "lr_decay value",
                        "weight_decay": "weight_decay value",
                        "initial_accumulator_value": "initial_accumulator_value value",
                        "eps": "epsilon value"}
    _param_shaped_state = ("sum",)
    _required_state = ("step", "sum")

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10,
                 foreach: bool | None = None, *, maximize: bool = False):
        # foreach only chooses between PyTorch's kernels; it is kept for the same options
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, foreach=foreach, maximize=maximize))

    def _init_state(self, p, group: dict) -> None:
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["sum"] = full_like(p, group["initial_accumulator_value"])

    def add_param_group(self, param_group: dict) -> None:
        # As in PyTorch, the state exists from the start (the sum starts at a chosen value).
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            self._init_state(p, group)

    def _update_group(self, group: dict) -> None:
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        for p in group["params"]:
            if p.grad is None:
                continue
            self._init_state(p, group)
            state = self._state_of(p)
            state["step"] += 1
            g = self._decayed_grad(p, group)
            clr = lr / (1 + (state["step"] - 1) * lr_decay)
            state_sum = state["sum"]
            state_sum.add_(g * g)
            p.sub_(g / (state_sum.sqrt() + eps), alpha=clr)
