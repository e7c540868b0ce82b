"""Learning-rate schedulers: ``StepLR``, ``ExponentialLR``, ``CosineAnnealingLR``.

A scheduler changes ``group["lr"]`` of its optimizer's groups each time its
``step()`` is called (once an epoch, after ``optimizer.step()``). Like PyTorch
they compute the new rate from the current one (the "recursive" form), so a
rate changed by hand or by another scheduler is taken into account::

    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch()
        scheduler.step()
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

from .optimizer import Optimizer


def _real(value, scheduler: str, name: str) -> float:
    """A scheduler's number: TypeError when it is not one, ValueError when not finite."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{scheduler}: {name} must be a number, got {type(value).__name__} "
                        f"{value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{scheduler}: {name} must be a finite number, got {value}")
    return value


def _positive_int(value, scheduler: str, name: str) -> int:
    """A count of epochs: a whole number > 0 (2.0 is taken as 2)."""
    if _real(value, scheduler, name) != int(value) or value <= 0:
        raise ValueError(f"{scheduler}: {name} must be a positive integer, got {value}")
    return int(value)


class LRScheduler:
    """Base of the schedulers: subclasses write ``get_lr()``, the rates for ``last_epoch``."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] "
                                   "when resuming a scheduler with last_epoch >= 0; load the "
                                   "optimizer's state_dict first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()``, one per parameter group."""
        return self._last_lr

    def step(self) -> None:
        """Advance one epoch and set the groups' learning rates."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Everything the scheduler holds except the optimizer."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a ``state_dict()``: only the entries this scheduler has (never the
        optimizer it drives)."""
        name = type(self).__name__
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}. "
                            f"Pass the dict that {name}.state_dict() returns")
        unexpected = sorted(str(k) for k in state_dict if k not in self.state_dict())
        if unexpected:
            raise KeyError(f"{name}.load_state_dict: unexpected key(s) {', '.join(unexpected)}; "
                           f"expected those of {name}.state_dict(): "
                           f"{', '.join(self.state_dict())}")
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    >>> scheduler = StepLR(optimizer, step_size=30, gamma=0.1)  # lr 0.05 -> 0.005 at epoch 30
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1):
        self.step_size = _positive_int(step_size, "StepLR", "step_size")
        self.gamma = _real(gamma, "StepLR", "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = _real(gamma, "ExponentialLR", "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]


class CosineAnnealingLR(LRScheduler):
    """Anneal the learning rate from its initial value to ``eta_min`` along half a cosine
    of period ``T_max`` epochs (SGDR without restarts):

        lr_t = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2

    computed recursively from the current rate, as PyTorch does.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0,
                 last_epoch: int = -1):
        self.T_max = _positive_int(T_max, "CosineAnnealingLR", "T_max")
        self.eta_min = _real(eta_min, "CosineAnnealingLR", "eta_min")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        epoch, T_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return [group["lr"] for group in groups]
        if self._step_count == 1 and epoch > 0:
            return [eta_min + (base_lr - eta_min) * (1 + math.cos(epoch * math.pi / T_max)) / 2
                    for base_lr in self.base_lrs]
        if (epoch - 1 - T_max) % (2 * T_max) == 0:
            return [group["lr"] + (base_lr - eta_min) * (1 - math.cos(math.pi / T_max)) / 2
                    for base_lr, group in zip(self.base_lrs, groups)]
        return [(1 + math.cos(math.pi * epoch / T_max)) /
                (1 + math.cos(math.pi * (epoch - 1) / T_max)) * (group["lr"] - eta_min) + eta_min
                for group in groups]
