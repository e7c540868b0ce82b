"""``Adam`` and ``AdamW``: adaptive moment estimation.

PyTorch's algorithm, for each parameter p with gradient g, at step t = 1, 2, ...::

    g = -g if maximize
    p = p * (1 - lr * weight_decay)               AdamW, or decoupled_weight_decay=True
    g = g + weight_decay * p                      Adam, if weight_decay != 0
    m = beta1 * m + (1 - beta1) * g               (first moment)
    v = beta2 * v + (1 - beta2) * g * g           (second moment)
    v_max = max(v_max, v) and use v_max for v     if amsgrad
    p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
"""
from __future__ import annotations

from ..autograd.ops import maximum
from ..autograd.ops.fused import adam_
from ..creation import zeros_like
from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2014), with PyTorch's options.

    >>> optimizer = optim.Adam(model.parameters(), lr=1e-4)
    """

    _checked_options = {"lr": "learning rate", "eps": "epsilon value",
                        "betas": ("beta parameter", 1.0), "weight_decay": "weight_decay value"}
    _param_shaped_state = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _required_state = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False,
                 decoupled_weight_decay: bool = False):
        # foreach only chooses between PyTorch's kernels; it is kept for the same options
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, foreach=foreach,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _update_group(self, group: dict) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
        # amsgrad, maximize and AdamW's decay take the op by op path; so does a parameter
        # the fused op can't take (another dtype or device, a non-contiguous gradient...)
        fusable = not (amsgrad or group["maximize"] or
                       (group["decoupled_weight_decay"] and weight_decay))
        params, states, grads, exp_avgs, exp_avg_sqs, steps = [], [], [], [], [], []
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self._state_of(p)
            if not state:
                state["step"] = 0
                state["exp_avg"] = zeros_like(p)
                state["exp_avg_sq"] = zeros_like(p)
            if amsgrad and "max_exp_avg_sq" not in state:  # also when switched on later
                state["max_exp_avg_sq"] = zeros_like(p)
            state["step"] += 1
            params.append(p)
            states.append(state)
            grads.append(p.grad)
            exp_avgs.append(state["exp_avg"])
            exp_avg_sqs.append(state["exp_avg_sq"])
            steps.append(state["step"])
        if fusable:
            left = adam_(params, grads, exp_avgs, exp_avg_sqs, steps, lr=lr, beta1=beta1,
                         beta2=beta2, eps=eps, weight_decay=weight_decay, unfusable="skip")
        else:
            left = range(len(params))
        for i in left:
            self._update_op_by_op(group, params[i], states[i], steps[i])

    def _update_op_by_op(self, group: dict, p, state: dict, step: int) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        amsgrad = group["amsgrad"]
        g = self._decayed_grad(p, group)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.add_((g - exp_avg) * (1 - beta1))  # PyTorch's lerp_(g, 1 - beta1)
        exp_avg_sq.mul_(beta2)
        exp_avg_sq.add_(g * g * (1 - beta2))
        bias_correction1 = 1 - beta1 ** step
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        if amsgrad:
            max_sq = state["max_exp_avg_sq"]
            max_sq.copy_(maximum(max_sq, exp_avg_sq))
            second = max_sq
        else:
            second = exp_avg_sq
        denom = second.sqrt() / bias_correction2_sqrt + eps
        p.sub_(exp_avg / denom, alpha=lr / bias_correction1)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): the parameters
    shrink by ``lr * weight_decay`` each step instead of the decay entering the gradient.

    >>> optimizer = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2)
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict) -> None:
        # AdamW's decay is always decoupled, whatever the loaded groups say (as in PyTorch)
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
