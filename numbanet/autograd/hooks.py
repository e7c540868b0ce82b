"""Gradient hooks: ``Tensor.register_hook(hook)`` calls ``hook(grad)`` when the gradient
of that tensor has been computed, and uses what it returns (a Tensor) instead, if not None.

A non-leaf tensor's hooks are kept on the node that made it, under the tensor's output
number (as PyTorch keeps them on its ``grad_fn``); the engine runs them before the node's
backward and before ``retain_grad`` and ``autograd.grad`` see the gradient. A leaf has no
node: its hooks are kept here, by the tensor, and run before the gradient is added into
``.grad`` (or captured by ``autograd.grad``).
"""
from __future__ import annotations

import itertools
import weakref

from ..tensor import Tensor

_ids = itertools.count()
# id(leaf) -> (a weak reference to the leaf, {handle id: hook}); the entry goes with the
# leaf. Empty in most programs, so the engine tests it first. (Not a WeakKeyDictionary:
# that compares keys with ==, which is elementwise for tensors.)
LEAF_HOOKS: dict = {}


class _Table(dict):
    """A dict of hooks that a handle can refer to weakly (a plain dict cannot be)."""

    __slots__ = ("__weakref__",)


class RemovableHandle:
    """What ``Tensor.register_hook`` and the modules' ``register_*_hook`` methods return:
    ``handle.remove()`` unregisters the hook (from ``hooks_dict`` and any ``extra_dict``);
    used as a context manager, the hook is removed on leaving the ``with`` block."""

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = next(_ids)
        extras = [] if extra_dict is None else (
            extra_dict if isinstance(extra_dict, list) else [extra_dict])
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extras)

    def remove(self) -> None:
        for ref in (self.hooks_dict_ref, *self.extra_dict_ref):
            hooks = ref()
            if hooks is not None and self.id in hooks:
                del hooks[self.id]

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def register_hook(t: Tensor, hook) -> RemovableHandle:
    if not callable(hook):
        raise TypeError(f"register_hook expects a callable, got {type(hook).__name__}")
    if not t._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    node = t.grad_fn
    if node is None:
        entry = LEAF_HOOKS.get(id(t))
        if entry is None or entry[0]() is not t:
            entry = LEAF_HOOKS[id(t)] = (weakref.ref(t), _Table())
            weakref.finalize(t, LEAF_HOOKS.pop, id(t), None)
        table = entry[1]
    else:
        if node._hooks is None:
            node._hooks = {}
        table = node._hooks.get(t._output_nr)
        if table is None:
            table = node._hooks[t._output_nr] = _Table()
    handle = RemovableHandle(table)
    table[handle.id] = hook
    return handle


def run_hooks(table: dict, g: Tensor) -> Tensor:
    """``g`` passed through the hooks of ``table`` in the order they were registered."""
    for hook in list(table.values()):
        new = hook(g)
        if new is not None:
            if not isinstance(new, Tensor):
                raise TypeError(f"a gradient hook must return a Tensor or None, got "
                                f"{type(new).__name__}")
            if new._shape != g._shape:
                raise RuntimeError(f"hook '{getattr(hook, '__name__', hook)}' has changed the "
                                   f"size of value: it returned shape {new._shape} for a "
                                   f"gradient of shape {g._shape}")
            g = new
    return g


def leaf_gradient(leaf: Tensor, g: Tensor) -> Tensor:
    entry = LEAF_HOOKS.get(id(leaf))
    return run_hooks(entry[1], g) if entry and entry[1] and entry[0]() is leaf else g
