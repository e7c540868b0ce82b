"""Recurrent layers: ``RNN`` (Elman, tanh or relu) and ``LSTM``, with PyTorch's arguments,
parameter names, shapes, gate order and initialisation.

A recurrent layer reads a sequence one step at a time and carries a hidden state from
step to step. Here the time loop is an ordinary Python ``for`` loop: with a dynamic
(define-by-run) graph, every step simply records its ops, and backpropagation through
time is ``loss.backward()``. Sequences of different lengths need no special support:
the loop just runs longer.

For layer k (and direction ``_reverse`` when bidirectional) the parameters are
``weight_ih_l{k}`` (G*hidden, input), ``weight_hh_l{k}`` (G*hidden, hidden),
``bias_ih_l{k}`` and ``bias_hh_l{k}`` (G*hidden,), with G = 1 for RNN and 4 for LSTM
(gates in the order input, forget, cell, output), all drawn from
U(-1/sqrt(hidden), 1/sqrt(hidden)). One step of an LSTM::

    i, f, g, o = split(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh, 4)
    c = sigmoid(f) * c + sigmoid(i) * tanh(g)
    h = sigmoid(o) * tanh(c)
"""
from __future__ import annotations

import math

from ..autograd import ops
from ..autograd.ops.dispatch import same_device
from ..creation import empty, zeros
from ..tensor import Tensor
from . import functional as F
from . import init
from ._functional import checks as _checks
from .module import Module
from .parameter import Parameter


class _RNNBase(Module):
    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        for what, n in (("input_size", input_size), ("hidden_size", hidden_size),
                        ("num_layers", num_layers)):
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise ValueError(f"{name}: {what} must be a positive int, got {n!r}")
        _checks._probability(dropout, name, "dropout")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first = bias, batch_first
        self.dropout, self.bidirectional = float(dropout), bidirectional
        directions = 2 if bidirectional else 1
        rows = self._gates * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for suffix in self._suffixes(layer):
                self.register_parameter(f"weight_ih_l{suffix}", Parameter(
                    empty(rows, layer_input, dtype=dtype, device=device)))
                self.register_parameter(f"weight_hh_l{suffix}", Parameter(
                    empty(rows, hidden_size, dtype=dtype, device=device)))
                if bias:
                    self.register_parameter(f"bias_ih_l{suffix}", Parameter(
                        empty(rows, dtype=dtype, device=device)))
                    self.register_parameter(f"bias_hh_l{suffix}", Parameter(
                        empty(rows, dtype=dtype, device=device)))
        self.reset_parameters()

    def _suffixes(self, layer: int):
        return (f"{layer}", f"{layer}_reverse") if self.bidirectional else (f"{layer}",)

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _weights(self, suffix: str):
        get = self._parameters.get
        return (get(f"weight_ih_l{suffix}"), get(f"weight_hh_l{suffix}"),
                get(f"bias_ih_l{suffix}"), get(f"bias_hh_l{suffix}"))

    # ---- checks -----------------------------------------------------------------------------
    def _sequence(self, x: Tensor):
        """``x`` as (L, N, input_size), and whether it was unbatched (L, input_size)."""
        name = type(self).__name__
        if not isinstance(x, Tensor):
            _checks._not_a_tensor(name, "input", 1, x)
        if x.ndim not in (2, 3):
            order = "N, L" if self.batch_first else "L, N"
            raise ValueError(f"{name}: expected a 3-D input ({order}, input_size) or an "
                             f"unbatched 2-D (L, input_size), got shape {tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{name}: expected input with last dimension input_size="
                             f"{self.input_size}, got shape {tuple(x.shape)}")
        same_device(name, x, self.weight_ih_l0)
        seq, unbatched = (x.unsqueeze(1), True) if x.ndim == 2 else \
            ((x.transpose(0, 1) if self.batch_first else x), False)
        if seq.shape[0] == 0:
            raise RuntimeError(f"Expected sequence length to be larger than 0 in RNN ({name} got "
                               f"an input of shape {tuple(x.shape)}, with no time steps)")
        return seq, unbatched

    def _initial(self, h0, batch: int, unbatched: bool, x: Tensor, what: str):
        layers = self.num_layers * (2 if self.bidirectional else 1)
        if h0 is None:
            return zeros(layers, batch, self.hidden_size, dtype=x.dtype, device=x.device)
        name = type(self).__name__
        if not isinstance(h0, Tensor):
            _checks._not_a_tensor(name, what, 2, h0)
        same_device(name, x, h0)
        expected = (layers, self.hidden_size) if unbatched else \
            (layers, batch, self.hidden_size)
        if tuple(h0.shape) != expected:
            raise ValueError(f"{type(self).__name__}: expected {what} of shape {expected} "
                             f"(num_layers * num_directions, batch, hidden_size), got "
                             f"{tuple(h0.shape)}")
        return h0.unsqueeze(1) if unbatched else h0

    # ---- the time loop ----------------------------------------------------------------------
    def _run(self, x: Tensor, states: list):
        """Run every layer and direction over ``x`` (L, N, in); ``states`` holds the initial
        state tuple of each (layer, direction) and is replaced by the final ones."""
        directions = 2 if self.bidirectional else 1
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for d, suffix in enumerate(self._suffixes(layer)):
                state = states[layer * directions + d]
                out, state = self._direction(x, state, self._weights(suffix), reverse=d == 1)
                outputs.append(out)
                finals.append(state)
            x = outputs[0] if directions == 1 else ops.cat(outputs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, finals

    def _direction(self, x: Tensor, state, weights, reverse: bool):
        w_ih, w_hh, b_ih, b_hh = weights
        steps, batch = x.shape[0], x.shape[1]
        # the input's share of every step in one matrix product
        x_proj = F.linear(x.reshape(steps * batch, x.shape[2]), w_ih, b_ih).reshape(
            steps, batch, w_ih.shape[0])
        outputs = [None] * steps
        order = range(steps - 1, -1, -1) if reverse else range(steps)
        for t in order:
            gates = x_proj[t] + F.linear(state[0], w_hh, b_hh)
            state = self._cell(gates, state)
            outputs[t] = state[0]
        return ops.stack(outputs, 0), state

    def _cell(self, gates: Tensor, state):
        raise NotImplementedError

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


def _output(layer: _RNNBase, out: Tensor, unbatched: bool) -> Tensor:
    if unbatched:
        return out.squeeze(1)
    return out.transpose(0, 1) if layer.batch_first else out


class RNN(_RNNBase):
    """Elman RNN: ``h_t = tanh(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)`` (or relu
    with ``nonlinearity='relu'``). ``rnn(x, h0=None)`` returns ``(output, h_n)``: output
    (L, N, D*hidden) (or (N, L, ...) with ``batch_first``), h_n (num_layers*D, N, hidden)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; use 'tanh' or "
                             "'relu'")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype)
        self.nonlinearity = nonlinearity

    def _cell(self, gates, state):
        return (ops.tanh(gates) if self.nonlinearity == "tanh" else ops.relu(gates),)

    def forward(self, x: Tensor, hx: Tensor | None = None):
        seq, unbatched = self._sequence(x)
        h0 = self._initial(hx, seq.shape[1], unbatched, seq, "hx")
        out, finals = self._run(seq, [(h0[k],) for k in range(h0.shape[0])])
        h_n = ops.stack([s[0] for s in finals], 0)
        return _output(self, out, unbatched), (h_n.squeeze(1) if unbatched else h_n)


class LSTM(_RNNBase):
    """Long short-term memory. ``lstm(x, (h0, c0)=None)`` returns
    ``(output, (h_n, c_n))`` with the shapes of ``RNN``; gates in PyTorch's order
    (input, forget, cell, output)."""

    _gates = 4

    def _cell(self, gates, state):
        hidden = self.hidden_size
        c = state[1]
        sig = ops.sigmoid(gates)
        i, f, o = sig[:, :hidden], sig[:, hidden:2 * hidden], sig[:, 3 * hidden:]
        g = ops.tanh(gates[:, 2 * hidden:3 * hidden])
        c = f * c + i * g
        return o * ops.tanh(c), c

    def forward(self, x: Tensor, hx=None):
        seq, unbatched = self._sequence(x)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError("LSTM: hx must be a pair (h_0, c_0) of tensors, or None")
        h0 = self._initial(None if hx is None else hx[0], seq.shape[1], unbatched, seq, "h_0")
        c0 = self._initial(None if hx is None else hx[1], seq.shape[1], unbatched, seq, "c_0")
        out, finals = self._run(seq, [(h0[k], c0[k]) for k in range(h0.shape[0])])
        h_n = ops.stack([s[0] for s in finals], 0)
        c_n = ops.stack([s[1] for s in finals], 0)
        if unbatched:
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return _output(self, out, unbatched), (h_n, c_n)


__all__ = ["RNN", "LSTM"]
