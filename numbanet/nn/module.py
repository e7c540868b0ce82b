"""``Module``: the base of every layer and model, with PyTorch's semantics.

A module registers what is assigned to its attributes: a ``Parameter`` becomes one
of its parameters, a ``Module`` one of its children, and ``register_buffer`` adds
state that is saved but not trained. Everything else walks that tree::

    class TwoLayerNet(nn.Module):
        def __init__(self, D_in, H, D_out):
            super().__init__()
            self.linear1 = nn.Linear(D_in, H)
            self.linear2 = nn.Linear(H, D_out)

        def forward(self, x):
            return self.linear2(self.linear1(x).clamp(min=0))

    model = TwoLayerNet(1000, 100, 10)
    [name for name, _ in model.named_parameters()]
    # ['linear1.weight', 'linear1.bias', 'linear2.weight', 'linear2.bias']

Hooks see a module's calls as in PyTorch: ``register_forward_pre_hook`` and
``register_forward_hook`` around ``forward``, ``register_full_backward_hook`` with the
gradients of its inputs and outputs (captured by identity ops on both sides, whose backward
runs the hooks), each returning a handle whose ``remove()`` unregisters the hook. A module
without hooks is called with a single test of its hook tables.
"""
from __future__ import annotations

import copy
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from typing import NamedTuple

from .. import dtypes as _dtypes
from ..autograd import no_grad
from ..autograd.hooks import RemovableHandle
from ..autograd.ops.shape import set_data_
from ..tensor import Tensor
from .backward_hooks import _BackwardHook
from .parameter import Parameter


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns: the keys the module has that the state dict lacks,
    and the keys of the state dict that the module does not have."""

    missing_keys: list
    unexpected_keys: list

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")

    __str__ = __repr__


_HOOK_DICTS = ("_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_forward_hooks",
               "_forward_hooks_with_kwargs", "_forward_hooks_always_called",
               "_backward_hooks", "_backward_pre_hooks")


class Module:
    """Base class of layers and models: subclass it, assign layers and ``Parameter``s in
    ``__init__`` (after ``super().__init__()``), and write ``forward``."""

    training: bool

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        for name in _HOOK_DICTS:
            object.__setattr__(self, name, OrderedDict())

    # ---- attribute registration -------------------------------------------------------------
    def _registry(self):
        try:
            return object.__getattribute__(self, "_parameters")
        except AttributeError:
            raise AttributeError(
                f"cannot assign to {type(self).__name__} before Module.__init__() has run: "
                "call super().__init__() first in your __init__") from None

    def __setattr__(self, name: str, value):
        params = self._registry()
        buffers, modules = self._buffers, self._modules
        if isinstance(value, Parameter):
            self._forget(name)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter "
                                f"'{name}' (nn.Parameter or None expected)")
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (nn.Module or None expected)")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer "
                                f"'{name}' (Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        self._non_persistent.discard(name)
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str):  # called only when normal lookup fails
        if not name.startswith("__"):
            for registry in ("_parameters", "_buffers", "_modules"):
                found = self.__dict__.get(registry)
                if found is not None and name in found:
                    return found[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str):
        if name in self._parameters or name in self._buffers or name in self._modules:
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add ``param`` (an ``nn.Parameter``, or None) as the parameter ``name``."""
        self._check_name(name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (nn.Parameter or None required)")
        if param is not None and param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                             "parameters must be created explicitly. To express "
                             f"'{name}' as a function of another Tensor, compute the value "
                             "in the forward() method.")
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None,
                        persistent: bool = True) -> None:
        """Add ``tensor`` as the buffer ``name``: state that moves with the module and, if
        ``persistent``, is saved in its ``state_dict``, but is not trained."""
        self._check_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer "
                            f"'{name}' (Tensor or None required)")
        self._forget(name)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add ``module`` as the child ``name`` (also ``self.name = module``)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name(name, "module", self._modules)
        self._forget(name)
        self._modules[name] = module

    register_module = add_module

    def _check_name(self, name, what: str, registry) -> None:
        """PyTorch's checks of a name to register: a string without '.', not empty, and not
        an attribute of the class or a registered entry of another kind already (a plain
        instance attribute of that name is replaced, so that ``self.w = None`` in
        ``__init__`` can become a weight later)."""
        if not isinstance(name, str):
            raise TypeError(f"{what} name should be a string. Got {type(name).__name__}")
        if "." in name:
            got = f", got: {name}" if what == "module" else ""
            raise KeyError(f'{what} name can\'t contain "."{got}')
        if not name:
            raise KeyError(f'{what} name can\'t be empty string ""')
        if name not in registry and (hasattr(type(self), name) or any(
                name in other for other in (self._parameters, self._buffers, self._modules))):
            raise KeyError(f"attribute '{name}' already exists")

    # ---- calling ------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  '"forward" function')

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks or self._forward_hooks or self._backward_hooks \
                or self._backward_pre_hooks:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args, kwargs):
        """``forward`` between the module's hooks, in PyTorch's order: forward pre-hooks,
        the backward hooks' capture of the inputs, ``forward``, forward hooks, the backward
        hooks' capture of the outputs. Forward hooks registered with ``always_call=True``
        also run when something before them raised."""
        result = None
        called = set()
        try:
            for hook_id, hook in list(self._forward_pre_hooks.items()):
                if hook_id in self._forward_pre_hooks_with_kwargs:
                    out = hook(self, args, kwargs)
                    if out is not None:
                        if not (isinstance(out, tuple) and len(out) == 2):
                            raise RuntimeError("forward pre-hook must return None or a tuple "
                                               f"of (new_args, new_kwargs), but got {out}.")
                        args, kwargs = out
                else:
                    out = hook(self, args)
                    if out is not None:
                        args = out if isinstance(out, tuple) else (out,)
            capture = None
            if self._backward_hooks or self._backward_pre_hooks:
                capture = _BackwardHook(self, list(self._backward_hooks.values()),
                                        list(self._backward_pre_hooks.values()))
                args = capture.setup_inputs(args)
            result = self.forward(*args, **kwargs)
            for hook_id, hook in list(self._forward_hooks.items()):
                if hook_id in self._forward_hooks_always_called:
                    called.add(hook_id)
                if hook_id in self._forward_hooks_with_kwargs:
                    out = hook(self, args, kwargs, result)
                else:
                    out = hook(self, args, result)
                if out is not None:
                    result = out
        except Exception:
            for hook_id, hook in list(self._forward_hooks.items()):
                if hook_id not in self._forward_hooks_always_called or hook_id in called:
                    continue
                try:
                    if hook_id in self._forward_hooks_with_kwargs:
                        out = hook(self, args, kwargs, result)
                    else:
                        out = hook(self, args, result)
                    if out is not None:
                        result = out
                except Exception as e:
                    warnings.warn("module forward hook with ``always_call=True`` raised an "
                                  "exception that was silenced as another error was raised "
                                  f"in forward: {e}", stacklevel=2)
            raise
        if capture is not None:
            if not isinstance(result, (Tensor, tuple)):
                warnings.warn("For backward hooks to be called, module output should be a "
                              f"Tensor or a tuple of Tensors but received {type(result)}",
                              stacklevel=2)
            result = capture.setup_outputs(result)
        return result

    # ---- hooks ------------------------------------------------------------------------------
    def _add_hook(self, registry: str, hook, prepend: bool, *flags) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"a module hook must be callable, got {type(hook).__name__}")
        hooks = getattr(self, registry)
        extras = [getattr(self, name) for name in _HOOK_DICTS if name.startswith(registry)
                  and name != registry]
        handle = RemovableHandle(hooks, extra_dict=extras)
        hooks[handle.id] = hook
        for name, on in flags:
            if on:
                getattr(self, name)[handle.id] = True
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args)`` (``with_kwargs``: ``hook(module, args, kwargs)``) runs
        before ``forward``; what it returns, if not None, replaces the inputs: a tuple (or a
        single value) of positional arguments, or ``(args, kwargs)`` with ``with_kwargs``."""
        return self._add_hook("_forward_pre_hooks", hook, prepend,
                              ("_forward_pre_hooks_with_kwargs", with_kwargs))

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` (``with_kwargs``: ``hook(module, args, kwargs,
        output)``) runs after ``forward``; what it returns, if not None, replaces the
        output. With ``always_call`` it runs even when the forward raised."""
        return self._add_hook("_forward_hooks", hook, prepend,
                              ("_forward_hooks_with_kwargs", with_kwargs),
                              ("_forward_hooks_always_called", always_call))

    def register_full_backward_pre_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_output)`` runs when the gradients of the module's outputs are
        known; what it returns, if not None, replaces ``grad_output``."""
        return self._add_hook("_backward_pre_hooks", hook, prepend)

    def register_full_backward_hook(self, hook, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` runs when the gradients of the module's
        positional inputs are known (None where an input is no tensor or needs no
        gradient); what it returns, if not None, replaces ``grad_input``. The inputs and
        outputs the hook sees are tensors passed positionally (or a tuple of outputs)."""
        return self._add_hook("_backward_hooks", hook, prepend)

    # ---- the tree ---------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """(dotted name, module) for this module and every module under it; a module
        reached twice is listed once unless ``remove_duplicate=False``."""
        memo = set() if memo is None else memo
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                               remove_duplicate)

    def modules(self, remove_duplicate: bool = True):
        for _, m in self.named_modules(remove_duplicate=remove_duplicate):
            yield m

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool = True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for mod_prefix, module in mods:
            for name, t in getattr(module, registry).items():
                if t is None or (remove_duplicate and id(t) in seen):
                    continue
                seen.add(id(t))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        yield from self._named("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        yield from self._named("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- state ------------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """Parameters and persistent buffers by dotted name, in registration order."""
        out = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                out[prefix + name] = b if keep_vars else b.detach()
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy values into this module's parameters and buffers (the same objects, in
        place; with ``assign``, the state dict's tensors take their places instead). Returns
        ``(missing_keys, unexpected_keys)``; with ``strict`` (the default) either is an
        error that lists the keys, as a shape mismatch always is."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}. "
                            "Pass the mapping of names to tensors that state_dict() returns "
                            "(or that nb.load(path) reads back)")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor):
                errors.append(f'While copying the parameter named "{key}", expected Tensor or '
                              "Tensor-like object from checkpoint but received "
                              f"{type(value)}")
            elif tuple(value.shape) != tuple(target.shape):
                errors.append(f"size mismatch for {key}: copying a param with shape "
                              f"{tuple(value.shape)} from checkpoint, the shape in current "
                              f"model is {tuple(target.shape)}.")
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ". ")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        with no_grad():
            for key, target in own.items():
                if key not in state_dict:
                    continue
                if not assign:
                    target.copy_(state_dict[key])
                    continue
                path, _, name = key.rpartition(".")
                owner = self.get_submodule(path)
                value = state_dict[key]
                if name in owner._parameters:
                    if not isinstance(value, Parameter):
                        value = Parameter(value, requires_grad=target.requires_grad)
                    owner._parameters[name] = value
                else:
                    owner._buffers[name] = value
        return IncompatibleKeys(missing, unexpected)

    def get_submodule(self, target: str) -> Module:
        """The module at dotted path ``target`` (``""``: this module)."""
        module = self
        for item in target.split(".") if target else ():
            if not hasattr(module, item):
                raise AttributeError(f"{type(module).__name__} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target`` (``"encoder.0.weight"``)."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if not hasattr(module, name):
            raise AttributeError(f"{type(module).__name__} has no attribute `{name}`")
        param = getattr(module, name)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target`` (``"bn.running_mean"``)."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if not hasattr(module, name):
            raise AttributeError(f"{type(module).__name__} has no attribute `{name}`")
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return module._buffers[name]

    # ---- modes and gradients ----------------------------------------------------------------
    def train(self, mode: bool = True):
        if not isinstance(mode, bool):
            raise ValueError(f"train(mode): mode must be a bool, got {mode!r}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True):
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = p.grad.detach()
                p.grad.zero_()

    # ---- devices and dtypes -----------------------------------------------------------------
    def _apply(self, fn):
        """Replace every parameter's and buffer's data with ``fn(data)``, in place."""
        for module in self.modules():
            for registry in (module._parameters, module._buffers):
                for t in registry.values():
                    if t is None:
                        continue
                    with no_grad():
                        new = fn(t.detach())
                    if new is not t:  # ``t.data = new``: the same object, the optimizer's
                        set_data_(t, new)
                    if t.grad is not None:
                        with no_grad():
                            t.grad = fn(t.grad)
        return self

    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)`` or ``to(device, dtype)``; dtypes change floating
        point parameters and buffers only, as in PyTorch."""
        for a in (*args, kwargs.get("dtype")):
            if a is not None and _is_dtype(a) and not _dtypes.as_dtype(a).is_floating_point:
                raise TypeError("nn.Module.to only accepts floating point or complex dtypes, "
                                f"but got desired dtype={_dtypes.as_dtype(a)}")

        def move(t):
            if not t.dtype.is_floating_point:
                kw = {k: v for k, v in kwargs.items() if k != "dtype"}
                ar = [a for a in args if not _is_dtype(a)]
                return t.to(*ar, **kw) if (ar or kw) else t
            return t.to(*args, **kwargs)
        return self._apply(move)

    def cuda(self, device=None):
        return self._apply(lambda t: t.cuda(device))

    def cpu(self):
        return self._apply(lambda t: t.cpu())

    def _floating_to(self, name: str, method: str):
        dtype = getattr(_dtypes, name, None)
        if not isinstance(dtype, _dtypes.DType):
            raise TypeError(f"Module.{method}(): numbanet has no {name} dtype yet (tensors "
                            f"hold {', '.join(d.name for d in _dtypes.ALL)}); use .float() "
                            "or .double()")
        return self._apply(lambda t: t.to(dtype) if t.dtype.is_floating_point else t)

    def double(self):
        return self._floating_to("float64", "double")

    def float(self):
        return self._floating_to("float32", "float")

    def half(self):
        return self._floating_to("float16", "half")

    def bfloat16(self):
        return self._floating_to("bfloat16", "bfloat16")

    def apply(self, fn):
        """Call ``fn`` on every submodule (children first) and on this module."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- copying and pickling ------------------------------------------------------------
    def __copy__(self):
        """A shallow copy: a new module object over the same registries (and so the same
        parameters, buffers and children), as ``copy.copy`` of a PyTorch module."""
        new = type(self).__new__(type(self))
        object.__getattribute__(new, "__dict__").update(self.__dict__)
        return new

    def __deepcopy__(self, memo):
        """A copy of the whole tree; a tensor held twice is copied once (tensors and
        Parameters deep-copy themselves)."""
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        state = copy.deepcopy(self.__dict__, memo)
        object.__getattribute__(new, "__dict__").update(state)
        return new

    def __setstate__(self, state):
        """Unpickling (tensors pickle themselves): the registries a module of an older
        pickle may lack are added empty."""
        state = dict(state)
        for name in _HOOK_DICTS:
            state.setdefault(name, OrderedDict())
        state.setdefault("_non_persistent", set())
        object.__getattribute__(self, "__dict__").update(state)

    # ---- printing ---------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, child in self._modules.items():
            text = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        head = type(self).__name__ + "("
        if not lines:
            return head + ")"
        if len(lines) == 1 and not self._modules:
            return head + lines[0] + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


def _is_dtype(a) -> bool:
    from .. import dtypes
    return isinstance(a, dtypes.DType) or (isinstance(a, str) and a in dtypes._BY_NAME)
