"""Optimizers with Keras 3's update rules and defaults (not PyTorch's).

The two libraries differ in small ways that change training trajectories:

- **SGD with momentum.** Keras keeps the learning rate *inside* the velocity::

      v = momentum * v - learning_rate * g;   p = p + v
      (nesterov: p = p + momentum * v - learning_rate * g)

  PyTorch keeps it outside (``b = momentum * b + g;  p -= lr * b``): the two agree
  while the learning rate is constant and part ways when it changes.
- **Adam**'s epsilon is 1e-7 (PyTorch: 1e-8) and is added to sqrt(v) *after*
  the bias correction is folded into the step size::

      m += (g - m) * (1 - beta_1);   v += (g * g - v) * (1 - beta_2)
      alpha = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t)
      p -= alpha * m / (sqrt(v) + epsilon)

- **RMSprop** adds epsilon *inside* the square root, with rho = 0.9 (PyTorch:
  alpha = 0.99, epsilon outside)::

      v = rho * v + (1 - rho) * g * g
      (centered: a = rho * a + (1 - rho) * g;  v_hat = v - a * a, else v_hat = v)
      step = learning_rate * g / sqrt(v_hat + epsilon)
      (momentum: b = momentum * b + step;  p -= b, else p -= step)

An optimizer is made without parameters and learns them at its first step, as in
Keras: ``SGD(learning_rate=0.1)``, then ``model.compile(optimizer=...)``. Options of
every optimizer: ``weight_decay`` (decoupled: p -= p * weight_decay * lr before the
update), ``clipvalue``, ``clipnorm`` (each gradient) and ``global_clipnorm`` (all
together). The Keras 1 argument ``lr`` is accepted with a DeprecationWarning.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ..autograd import no_grad, ops
from ..autograd.ops.fused import adam_
from ..creation import zeros_like
from ..tensor import Tensor


def hyperparameter(owner: str, name: str, value, high: float = math.inf,
                   closed: bool = True, positive: bool = False) -> float:
    """A hyperparameter as a float: TypeError unless it is a real number, ValueError unless
    it is in [0, high] ([0, high) when not ``closed``; above 0 when ``positive``); NaN and
    inf never are."""
    span = f"in [0, {high:g}{']' if closed else ')'}" if high != math.inf else \
        "> 0" if positive else ">= 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number {span}, got {value!r} "
                        f"({type(value).__name__})")
    value = float(value)
    if not (math.isfinite(value) and (0 < value if positive else 0 <= value)
            and (value <= high if closed else value < high)):
        raise ValueError(f"{owner}: {name} must be a number {span}, got {value}")
    return value


class Optimizer:
    """Base class: keeps the step count (``iterations``), the learning rate and the
    per-parameter state ("slots": velocities, moments), and applies gradients."""

    _slot_names: tuple = ()

    def __init__(self, learning_rate: float = 0.001, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str | None = None, **kwargs):
        cls = type(self).__name__
        if "lr" in kwargs:
            lr = kwargs.pop("lr")
            warnings.warn(f"{cls}(lr={lr}) is the Keras 1 name; use {cls}(learning_rate={lr})",
                          DeprecationWarning, stacklevel=3)
            learning_rate = lr
        if "decay" in kwargs:
            raise TypeError(f"{cls}: the decay argument was removed in Keras 3. To lower the "
                            "learning rate as training goes on, set optimizer.learning_rate "
                            "from a callback, e.g. keras.callbacks.LambdaCallback("
                            "on_epoch_begin=...)")
        if kwargs:
            raise TypeError(f"{cls}: unexpected keyword argument(s) {sorted(kwargs)}")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(f"{cls}: give at most one of clipnorm, clipvalue and "
                             "global_clipnorm")
        self.learning_rate = learning_rate

        def optional(name, value, positive=False):
            return None if value is None else hyperparameter(cls, name, value, positive=positive)
        self.weight_decay = optional("weight_decay", weight_decay)
        self.clipnorm = optional("clipnorm", clipnorm, positive=True)
        self.clipvalue = optional("clipvalue", clipvalue)
        self.global_clipnorm = optional("global_clipnorm", global_clipnorm, positive=True)
        self.name = name or cls.lower()
        self.iterations = 0
        self._slots: dict[str, dict] = {s: {} for s in self._slot_names}

    @property
    def learning_rate(self) -> float:
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float):
        self._learning_rate = hyperparameter(type(self).__name__, "learning_rate", value)

    # ---- applying gradients -----------------------------------------------------------------
    def apply_gradients(self, grads_and_vars) -> None:
        """One step: ``optimizer.apply_gradients(zip(grads, model.trainable_weights))``."""
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        self._step([v for _, v in pairs], [g for g, _ in pairs])

    def apply(self, grads, trainable_variables) -> None:
        self.apply_gradients(zip(grads, trainable_variables))

    def step_on_grads(self, params: list) -> None:
        """One step for every parameter that has a ``.grad`` (what ``fit`` calls)."""
        with_grad = [p for p in params if p.grad is not None]
        self._step(with_grad, [p.grad for p in with_grad])

    def _step(self, params: list, grads: list) -> None:
        with no_grad():
            grads = self._clip(grads)
            self.iterations += 1
            lr = self._learning_rate
            cast = []
            for p, g in zip(params, grads):
                if g.device is not p.device or g.dtype is not p.dtype:
                    g = g.to(p.device, p.dtype)
                if self.weight_decay:
                    p.sub_(p * (self.weight_decay * lr))
                cast.append(g)
            self._update_steps(cast, params, lr)

    def _update_steps(self, grads: list, params: list, lr: float) -> None:
        """``update_step`` for every parameter; an optimizer with a fused op for many
        parameters at once overrides it."""
        for p, g in zip(params, grads):
            self.update_step(g, p, lr)

    def _clip(self, grads: list) -> list:
        if self.clipvalue is not None:
            return [ops.clamp(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            return [g * (self.clipnorm / ops.maximum((g * g).sum().sqrt(), self.clipnorm))
                    for g in grads]
        if self.global_clipnorm is not None and grads:
            total = sum((g * g).sum() for g in grads).sqrt()
            scale = self.global_clipnorm / ops.maximum(total, self.global_clipnorm)
            return [g * scale for g in grads]
        return grads

    def update_step(self, gradient: Tensor, variable: Tensor, learning_rate: float) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement update_step")

    def slot(self, name: str, variable: Tensor) -> Tensor:
        """The state ``name`` of ``variable`` (zeros at first), on its device."""
        table = self._slots[name]
        s = table.get(variable)
        if s is None or s.device is not variable.device:
            s = table[variable] = zeros_like(variable) if s is None else s.to(variable.device)
        return s

    # ---- saving -------------------------------------------------------------------------------
    def get_config(self) -> dict:
        return {"name": self.name, "learning_rate": self._learning_rate,
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm}

    @classmethod
    def from_config(cls, config: dict):
        if not isinstance(config, dict):
            raise TypeError(f"{cls.__name__}.from_config expects a dict of its constructor's "
                            f"arguments, got {type(config).__name__}")
        return cls(**config)

    def state_arrays(self, variables: list) -> dict:
        """The step count and every slot of ``variables``, as NumPy arrays by name."""
        out = {"iterations": np.array(self.iterations, dtype=np.int64)}
        for name, table in self._slots.items():
            for i, v in enumerate(variables):
                if v in table:
                    out[f"{name}/{i}"] = table[v].cpu().numpy().copy()
        return out

    def load_state_arrays(self, variables: list, arrays: dict) -> None:
        from .layers.layer import copy_into
        self.iterations = int(np.asarray(arrays.get("iterations", 0)).reshape(()))
        for key, value in arrays.items():
            if key == "iterations":
                continue
            name, _, index = key.partition("/")
            if name not in self._slots or not index.isdigit() or int(index) >= len(variables):
                raise ValueError(f"optimizer state {key!r} does not fit this {type(self).__name__}"
                                 f" and its {len(variables)} variables")
            v = variables[int(index)]
            copy_into(self.slot(name, v), value, f"optimizer slot {key!r}")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items()
                         if k != "name" and v is not None)
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Gradient descent, with Keras's momentum (the learning rate inside the velocity).

    >>> optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
    """

    _slot_names = ("momentum",)

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0,
                 nesterov: bool = False, **kwargs):
        momentum = hyperparameter("SGD", "momentum", momentum, 1)
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum, self.nesterov = momentum, bool(nesterov)

    def update_step(self, g, p, lr):
        if self.momentum == 0:
            p.sub_(g, alpha=lr)
            return
        v = self.slot("momentum", p)
        v.mul_(self.momentum)
        v.sub_(g, alpha=lr)
        if self.nesterov:
            p.add_(v * self.momentum - g * lr)
        else:
            p.add_(v)

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam with Keras's defaults (epsilon 1e-7) and order of operations.

    >>> optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    """

    _slot_names = ("momentum", "velocity", "velocity_hat")

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs):
        beta_1 = hyperparameter("Adam", "beta_1", beta_1, 1, closed=False)
        beta_2 = hyperparameter("Adam", "beta_2", beta_2, 1, closed=False)
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2 = beta_1, beta_2
        self.epsilon, self.amsgrad = hyperparameter("Adam", "epsilon", epsilon), bool(amsgrad)

    def update_step(self, g, p, lr):
        self._adam_steps([g], [p], lr)

    def _update_steps(self, grads: list, params: list, lr: float) -> None:
        if type(self).update_step is Adam.update_step:  # all at once, unless a subclass
            self._adam_steps(grads, params, lr)        # has its own rule
        else:
            super()._update_steps(grads, params, lr)

    def _adam_steps(self, grads: list, params: list, lr: float) -> None:
        # The fused op computes Keras's form (epsilon added to sqrt(v), the correction folded
        # into the step size), one kernel per parameter; amsgrad and what the op can't take
        # (another dtype, a non-contiguous gradient...) go op by op.
        left = range(len(params))
        if not self.amsgrad:
            left = adam_(params, grads, [self.slot("momentum", p) for p in params],
                         [self.slot("velocity", p) for p in params], self.iterations, lr=lr,
                         beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon,
                         eps_placement="keras", unfusable="skip")
        for i in left:
            self._update_op_by_op(grads[i], params[i], lr)

    def _update_op_by_op(self, g, p, lr):
        t = self.iterations
        m, v = self.slot("momentum", p), self.slot("velocity", p)
        correction1 = 1 - self.beta_1 ** t
        correction2_sqrt = (1 - self.beta_2 ** t) ** 0.5
        m.add_((g - m) * (1 - self.beta_1))
        v.add_((g * g - v) * (1 - self.beta_2))
        if self.amsgrad:
            v_hat = self.slot("velocity_hat", p)
            v_hat.copy_(ops.maximum(v_hat, v))
            v = v_hat
        alpha = lr * correction2_sqrt / correction1
        p.sub_(m * alpha / (v.sqrt() + self.epsilon))

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class RMSprop(Optimizer):
    """RMSprop with Keras's defaults (rho 0.9, epsilon 1e-7 inside the square root).

    >>> optimizer = keras.optimizers.RMSprop(learning_rate=1e-3)
    """

    _slot_names = ("velocity", "momentum", "average_gradient")

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs):
        rho = hyperparameter("RMSprop", "rho", rho, 1, closed=False)
        momentum = hyperparameter("RMSprop", "momentum", momentum, 1)
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.momentum = rho, momentum
        self.epsilon, self.centered = hyperparameter("RMSprop", "epsilon", epsilon), \
            bool(centered)

    def update_step(self, g, p, lr):
        v = self.slot("velocity", p)
        v.mul_(self.rho)
        v.add_(g * g * (1 - self.rho))
        if self.centered:
            a = self.slot("average_gradient", p)
            a.mul_(self.rho)
            a.add_(g * (1 - self.rho))
            denominator = v - a * a + self.epsilon
        else:
            denominator = v + self.epsilon
        increment = g * lr / denominator.sqrt()
        if self.momentum > 0:
            b = self.slot("momentum", p)
            b.mul_(self.momentum)
            b.add_(increment)
            p.sub_(b)
        else:
            p.sub_(increment)

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def get(identifier) -> Optimizer:
    """An optimizer from a name (``'adam'``, ``'sgd'``, ``'rmsprop'``, any case, with
    Keras's defaults), an instance, or a saved config."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer {identifier!r}. Expected one of "
                             f"{sorted(_BY_NAME)} (any case), or an instance such as "
                             "keras.optimizers.Adam(learning_rate=1e-3)")
        return cls()
    if isinstance(identifier, dict) and str(identifier.get("class_name")).lower() in _BY_NAME:
        return _BY_NAME[identifier["class_name"].lower()].from_config(
            identifier.get("config", {}))
    hint = " (a numbanet.optim optimizer follows PyTorch's rules; use keras.optimizers here)" \
        if type(identifier).__module__.startswith("numbanet.optim") else ""
    raise TypeError(f"optimizer must be a name or a keras.optimizers.Optimizer, got "
                    f"{type(identifier).__name__}{hint}")


def serialize(optimizer: Optimizer) -> dict:
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}
