"""The machinery of ``Module.register_full_backward_hook`` and
``register_full_backward_pre_hook``: the module's tensor inputs and outputs pass through
identity ``Function``s (as PyTorch's ``BackwardHook`` does), whose backwards see the
gradients of the outputs (``grad_output``) and of the inputs (``grad_input``) and run the
hooks with them."""
from __future__ import annotations

import warnings

from ..autograd import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor


def _pack(index, values, size: int) -> tuple:
    out = [None] * size
    for i, v in zip(index, values):
        out[i] = v
    return tuple(out)


class _BackwardHook:
    """One forward's state for the module's full backward hooks, as PyTorch's
    ``BackwardHook``: identity ops around the tensors going in and coming out see their
    gradients in backward; the output side records ``grad_output`` (running the backward
    pre-hooks), the input side calls the hooks with ``grad_input``."""

    __slots__ = ("module", "hooks", "pre_hooks", "n_inputs", "input_index", "n_outputs",
                 "output_index", "grad_outputs")

    def __init__(self, module, hooks, pre_hooks):
        self.module, self.hooks, self.pre_hooks = module, hooks, pre_hooks
        self.n_inputs = self.n_outputs = 0
        self.input_index = self.output_index = self.grad_outputs = None

    def setup_inputs(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        index = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not index or not is_grad_enabled():
            return args
        self.input_index = index
        new = list(args)
        for i, t in zip(index, _Hooked.apply(self, "input", *(args[i] for i in index))):
            new[i] = t
        return tuple(new)

    def setup_outputs(self, result):
        single = not isinstance(result, tuple)
        outs = (result,) if single else result
        self.n_outputs = len(outs)
        index = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
        if not index or not is_grad_enabled():
            return result
        self.output_index = index
        new = list(outs)
        for i, t in zip(index, _Hooked.apply(self, "output", *(outs[i] for i in index))):
            new[i] = t
        return new[0] if single else tuple(new)

    def output_gradients(self, grads: tuple) -> tuple:
        self.grad_outputs = _pack(self.output_index, grads, self.n_outputs)
        for hook in self.pre_hooks:
            out = hook(self.module, self.grad_outputs)
            if out is None:
                continue
            if len(out) != len(self.grad_outputs):
                raise RuntimeError("Backward pre hook returned an invalid number of "
                                   f"grad_output, got {len(out)}, but expected "
                                   f"{len(self.grad_outputs)}")
            self.grad_outputs = tuple(out)
        grad_outputs = self.grad_outputs
        if self.input_index is None:  # no input needs a gradient: the hooks run now
            if self.hooks:
                warnings.warn("Full backward hook is firing when gradients are computed with "
                              "respect to module outputs since no inputs require gradients; "
                              "its grad_input is all None", stacklevel=2)
            grad_inputs = (None,) * self.n_inputs
            for hook in self.hooks:
                out = hook(self.module, grad_inputs, grad_outputs)
                if out is not None and not (isinstance(out, tuple)
                                            and all(g is None for g in out)):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
            self.grad_outputs = None
        return tuple(grad_outputs[i] for i in self.output_index)

    def input_gradients(self, grads: tuple) -> tuple:
        if self.grad_outputs is None:  # the gradient did not come through the outputs
            return grads
        grad_inputs = _pack(self.input_index, grads, self.n_inputs)
        for hook in self.hooks:
            out = hook(self.module, grad_inputs, self.grad_outputs)
            if out is None:
                continue
            if len(out) != len(grad_inputs):
                raise RuntimeError("Backward hook returned an invalid number of grad_input, "
                                   f"got {len(out)}, but expected {len(grad_inputs)}")
            grad_inputs = tuple(out)
        self.grad_outputs = None
        return tuple(grad_inputs[i] for i in self.input_index)


class _Hooked(Function):
    """Identity on a module's inputs (``side`` "input") or outputs ("output"), whose
    backward hands their gradients to the capture (the hooks)."""

    @staticmethod
    def forward(ctx, capture, side, *tensors):
        ctx.capture, ctx.side = capture, side
        ctx.set_materialize_grads(False)
        return tensors

    @staticmethod
    def backward(ctx, *grads):
        take = ctx.capture.input_gradients if ctx.side == "input" else \
            ctx.capture.output_gradients
        return (None, None, *take(grads))
