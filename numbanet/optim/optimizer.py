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

from collections import defaultdict
from typing import Any, Callable, Iterable

from ..autograd.grad_mode import enable_grad, no_grad
from ..tensor import Tensor


class _RequiredParameter:
    """Marks an option with no default: every parameter group must then give it."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def check_non_negative(name: str, value, what: str | None = None):
    """Raise PyTorch's ValueError for a hyper-parameter that must be >= 0."""
    if not 0.0 <= value:
        raise ValueError(f"Invalid {what or name} value: {value} ({name} must be >= 0)")


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of tensors, or of dicts (parameter groups) each with a
            ``"params"`` entry and, optionally, its own options.
        defaults: the options used by groups that do not give them.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any]):
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
                raise ValueError(f"can't optimize a non-leaf Tensor (shape {p.shape}, made by "
                                 f"{p.grad_fn.name()}); optimize the leaf it was computed from, "
                                 "or detach() it and set requires_grad=True")
            if not p.requires_grad:
                raise ValueError(f"can't optimize a Tensor that does not require grad (shape "
                                 f"{p.shape}); create it with requires_grad=True or wrap it in "
                                 "nn.Parameter")
            if id(p) in seen:
                raise ValueError(f"a parameter (shape {p.shape}) appears twice in the same "
                                 "parameter group; list each tensor once")
            seen.add(id(p))
        group = dict(param_group)
        group["params"] = params
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
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
        sizes. State tensors move to their parameter's device (and floating dtype)."""
        saved_groups = state_dict["param_groups"]
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
        state: defaultdict[Tensor, dict] = defaultdict(dict)
        for i, values in state_dict["state"].items():
            if i not in by_index:
                continue  # PyTorch ignores state for parameters it does not know
            p = by_index[i]
            state[p] = {k: _like_param(v, p, k) for k, v in values.items()}
        self.state = state
        self.param_groups = [dict(saved, params=group["params"])
                             for group, saved in zip(self.param_groups, saved_groups)]
        for group in self.param_groups:
            for name, default in self.defaults.items():
                group.setdefault(name, default)


def _like_param(value, param: Tensor, key: str):
    """A copy of a saved state value on ``param``'s device (and, for floating values,
    in its dtype), as PyTorch does when loading."""
    if not isinstance(value, Tensor):
        return value
    if key != "step" and value.dtype.is_floating_point and param.dtype.is_floating_point:
        value = value.to(param.dtype)
    return value.to(param.device).clone()
