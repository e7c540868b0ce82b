"""``Optimizer``: the base of every optimizer, with PyTorch's semantics.

An optimizer holds *parameter groups* (``param_groups``): each is a dict with a
list of parameters under ``"params"`` and the options (``lr``, ``momentum``...)
that apply to them. Options a group leaves out come from the optimizer's
``defaults``. ``state`` maps each parameter to a dict of what the update rule
remembers between steps (momentum buffers, running averages, the step count).

A subclass only writes ``_update_group(group)``: the base runs it for every group
under ``no_grad`` and handles the closure, ``zero_grad`` and (de)serialisation::

    optimizer = optim.SGD([{"params": model.base.parameters()},
                           {"params": model.head.parameters(), "lr": 1e-2}],
                          lr=1e-3, momentum=0.9)
    optimizer.zero_grad()
    loss_fn(model(x), y).backward()
    optimizer.step()
"""
from __future__ import annotations

import math
import numbers
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Callable, Iterable

from ..autograd import enable_grad, no_grad
from ..tensor import Tensor


class _RequiredParameter:
    """Marks an option with no default: every parameter group must then give it."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _check_option(optimizer: str, name: str, value, words: str, below: float | None):
    """PyTorch's errors for an option that must be a real number in [0, below) (or >= 0):
    TypeError when it is not a number, ValueError ("Invalid learning rate: -0.1") when it is
    out of range. NaN and infinity are refused too: they would silently ruin every weight."""
    if isinstance(value, Tensor) or not isinstance(value, numbers.Real):
        raise TypeError(f"{optimizer}: {name} must be a number, got {type(value).__name__} "
                        f"{value!r}; give a Python float, e.g. {name}=0.1")
    if not (math.isfinite(value) and value >= 0 and (below is None or value < below)):
        allowed = f"in [0, {below:g})" if below is not None else ">= 0"
        raise ValueError(f"Invalid {words}: {value} ({optimizer}'s {name} must be a finite "
                         f"number {allowed})")


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of tensors, or of dicts (parameter groups) each with a
            ``"params"`` entry and, optionally, its own options.
        defaults: the options used by groups that do not give them.
    """

    #: the numeric options a subclass checks in its defaults, in every parameter group and in
    #: every loaded state dict: name -> what PyTorch's error calls it, for a number >= 0, or
    #: (that name, bound) for a pair of numbers in [0, bound), such as Adam's betas
    _checked_options: dict[str, str | tuple] = {}
    #: the per-parameter state tensors that have their parameter's shape
    _param_shaped_state: tuple[str, ...] = ()
    #: the entries every started state has (a loaded state lacking one is refused)
    _required_state: tuple[str, ...] = ()

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any]):
        self._check_options(defaults)
        self.defaults = dict(defaults)
        self.state: defaultdict[Tensor, dict] = defaultdict(dict)
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got a single {type(params).__name__}; "
                            "wrap it in a list: [tensor]")
        if isinstance(params, dict):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got a dict; wrap the parameter group in a "
                            "list: [group]")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def _check_options(self, group: dict) -> None:
        name = type(self).__name__
        for option, words in self._checked_options.items():
            value = group.get(option, required)
            if value is required:
                continue
            if isinstance(words, str):
                _check_option(name, option, value, words, None)
                continue
            words, below = words
            if not isinstance(value, (tuple, list)):
                raise TypeError(f"{name}: {option} must be a pair of numbers, got "
                                f"{type(value).__name__} {value!r}, e.g. {option}=(0.9, 0.999)")
            if len(value) != 2:
                raise ValueError(f"{name}: {option} must be a pair of numbers, got {len(value)} "
                                 f"of them: {value!r}")
            for i, v in enumerate(value):
                _check_option(name, option, v, f"{words} at index {i}", below)

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"

    # ---- parameter groups ----------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (e.g. a layer unfrozen while
        fine-tuning); options it leaves out are the optimizer's defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        params = param_group.get("params")
        if params is None:
            raise ValueError("a parameter group must have a 'params' entry with its tensors")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs; "
                            "use a list instead")
        else:
            params = list(params)
        seen: set[int] = set()
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"can't optimize a non-leaf Tensor (shape {tuple(p.shape)}, "
                                 f"made by {p.grad_fn.name()}); optimize the leaf it was "
                                 "computed from, or detach() it and set requires_grad=True")
            if not p.requires_grad:
                raise ValueError(f"can't optimize a Tensor that does not require grad (shape "
                                 f"{tuple(p.shape)}); create it with requires_grad=True or "
                                 "wrap it in nn.Parameter")
            if id(p) in seen:
                raise ValueError(f"a parameter (shape {tuple(p.shape)}) appears twice in the "
                                 "same parameter group; list each tensor once")
            seen.add(id(p))
        group = dict(param_group)
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        self._check_options(group)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing & seen:
            raise ValueError("some parameters appear in more than one parameter group; each "
                             "tensor may belong to one group only")
        self.param_groups.append(group)

    # ---- the training loop -----------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of all parameters: set them to None (the default, which
        frees memory) or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad = p.grad.detach()
                    else:
                        p.grad.requires_grad_(False)
                    with no_grad():
                        p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient, in place.

        ``closure``, when given, re-evaluates the model and returns the loss; it runs
        with grad mode on, and its loss is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                self._update_group(group)
        return loss

    @staticmethod
    def _decayed_grad(p: Tensor, group: dict) -> Tensor:
        """The gradient a step follows: negated with ``maximize``, with L2 weight decay
        added; with ``decoupled_weight_decay`` (AdamW's) the parameter is shrunk in place
        instead, by ``lr * weight_decay``."""
        g = -p.grad if group["maximize"] else p.grad
        weight_decay = group["weight_decay"]
        if weight_decay != 0:
            if group.get("decoupled_weight_decay", False):
                p.mul_(1 - group["lr"] * weight_decay)
            else:
                g = g + weight_decay * p
        return g

    def _state_of(self, p: Tensor) -> dict:
        """``self.state[p]`` for an update, refusing state left on another device than its
        parameter (a model moved with ``model.cuda()`` after the optimizer made its state)
        before the update uses it."""
        state = self.state[p]
        if state:
            device = p.device
            for key, value in state.items():
                if value.__class__ is Tensor and value.device is not device \
                        and value.device != device:
                    raise RuntimeError(
                        f"{type(self).__name__}.step: Expected all tensors to be on the same "
                        f"device, but found at least two devices, {p.device} (a parameter of "
                        f"shape {tuple(p.shape)}) and {value.device} (its state '{key}')! "
                        "Create the optimizer after moving the model, or load its "
                        "state_dict() into a new optimizer, which moves the state to each "
                        "parameter's device")
        return state

    def _update_group(self, group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _update_group(group)")

    # ---- saving and loading ------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The optimizer's state in PyTorch's layout::

            {"state": {0: {"momentum_buffer": tensor}, ...},
             "param_groups": [{"lr": 0.01, ..., "params": [0, 1]}, ...]}

        Parameters are numbered in the order of the groups. Unlike PyTorch the
        tensors are copies: numbanet tensors cannot be deep-copied, and a snapshot
        that keeps changing as training goes on would surprise.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state and self.state[p]:
                    state[index[id(p)]] = {k: v.clone() if isinstance(v, Tensor) else v
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a ``state_dict()``; the optimizer must have as many groups, of the same
        sizes. State tensors move to their parameter's device (and floating dtype). Every
        entry is checked before anything changes, so a refused dict leaves the optimizer as
        it was."""
        name = type(self).__name__
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}. "
                            f"Pass the dict that {name}.state_dict() returns")
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise KeyError(f"{name}.load_state_dict: the state dict has no '{key}' entry; "
                               "expected the dict that state_dict() returns, with 'state' and "
                               "'param_groups'")
        saved_groups = state_dict["param_groups"]
        if not isinstance(state_dict["state"], Mapping) or \
                not isinstance(saved_groups, (list, tuple)):
            raise TypeError(f"{name}.load_state_dict: 'state' must be a dict and "
                            f"'param_groups' a list, got {type(state_dict['state']).__name__} "
                            f"and {type(saved_groups).__name__}")
        for i, saved in enumerate(saved_groups):
            if not isinstance(saved, Mapping) or \
                    not isinstance(saved.get("params"), (list, tuple)):
                raise ValueError(f"{name}.load_state_dict: param_groups[{i}] must be a dict "
                                 f"with a 'params' list of parameter numbers, got {saved!r}")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups: "
                             f"{len(saved_groups)} saved, {len(self.param_groups)} in this "
                             "optimizer")
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't "
                                 f"match the size of optimizer's group: group {i} has "
                                 f"{len(saved['params'])} parameters saved, "
                                 f"{len(group['params'])} in this optimizer")
        by_index = {}
        for group, saved in zip(self.param_groups, saved_groups):
            for i, p in zip(saved["params"], group["params"]):
                by_index[i] = p
        groups = [dict(saved, params=group["params"])
                  for group, saved in zip(self.param_groups, saved_groups)]
        for group in groups:
            for option, default in self.defaults.items():
                group.setdefault(option, default)
            self._check_options(group)
        state: defaultdict[Tensor, dict] = defaultdict(dict)
        for i, values in state_dict["state"].items():
            if i not in by_index:
                continue  # PyTorch ignores state for parameters it does not know
            if not isinstance(values, Mapping):
                raise TypeError(f"{name}.load_state_dict: the state of parameter {i} must be "
                                f"a dict, got {type(values).__name__}")
            missing = [k for k in self._required_state if values and k not in values]
            if missing:
                raise ValueError(f"{name}.load_state_dict: the state of parameter {i} lacks "
                                 f"{', '.join(missing)} (it has {', '.join(map(str, values))}); "
                                 f"load a dict saved by {name}.state_dict()")
            p = by_index[i]
            state[p] = {k: self._loaded_state(v, p, k, i) for k, v in values.items()}
        self.state = state
        self.param_groups = groups

    def _loaded_state(self, value, param: Tensor, key: str, index: int):
        """A saved state value checked and copied onto ``param``'s device (and, for
        floating values, into its dtype), as PyTorch does when loading; the step count
        becomes an int."""
        where = f"{type(self).__name__}.load_state_dict: state '{key}' of parameter {index}"
        if key == "step":
            step = value.item() if isinstance(value, Tensor) and value.numel() == 1 else value
            if isinstance(step, float) and step.is_integer():
                step = int(step)
            if not isinstance(step, numbers.Integral) or isinstance(step, bool) or step < 0:
                raise ValueError(f"{where} must be a count of steps (an int >= 0), got {value!r}")
            return int(step)
        like_param = key in self._param_shaped_state
        if like_param and (not isinstance(value, Tensor) or
                           tuple(value.shape) != tuple(param.shape)):
            got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(f"{where} must be a tensor of the parameter's shape "
                             f"{tuple(param.shape)}, got {got}")
        if not isinstance(value, Tensor):
            return value
        if like_param or (value.dtype.is_floating_point and param.dtype.is_floating_point):
            value = value.to(param.dtype)
        return value.to(param.device).clone()
