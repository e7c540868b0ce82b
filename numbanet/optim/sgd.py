"""``SGD``: stochastic gradient descent, with momentum, Nesterov and weight decay.

PyTorch's algorithm, for each parameter p with gradient g::

    g = -g if maximize
    g = g + weight_decay * p                      if weight_decay != 0
    if momentum != 0:
        b = g (first step)  or  b = momentum * b + (1 - dampening) * g
        g = g + momentum * b  if nesterov  else  b
    p = p - lr * g
"""
from __future__ import annotations

from ..creation import zeros_like
from .optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum).

    >>> optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    """

    _checked_options = {"lr": "learning rate", "momentum": "momentum value",
                        "weight_decay": "weight_decay value"}
    _param_shaped_state = ("momentum_buffer",)

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(f"Nesterov momentum requires a momentum and zero dampening; got "
                             f"momentum={momentum}, dampening={dampening}")
        # foreach only chooses between PyTorch's kernels; it is kept for the same options
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize, foreach=foreach))

    def _update_group(self, group: dict) -> None:
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        nesterov = group["nesterov"]
        for p in group["params"]:
            if p.grad is None:
                continue
            g = self._decayed_grad(p, group)
            if momentum != 0:
                state = self._state_of(p)
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = zeros_like(p)
                    buf.copy_(g)
                else:
                    buf.mul_(momentum)
                    buf.add_(g, alpha=1 - dampening)
                g = g + momentum * buf if nesterov else buf
            p.sub_(g, alpha=lr)
