"""``tf.layers``: ``dense``, which makes its own variables."""
from __future__ import annotations

from .. import dtypes as dt
from .graph import get_default_graph
from .initializers import glorot_uniform_initializer, zeros_initializer
from .ops import matmul
from .tensor import Tensor, Variable


def dense(inputs, units: int, activation=None, use_bias: bool = True,
          kernel_initializer=None, bias_initializer=None, kernel_regularizer=None,
          bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
          bias_constraint=None, trainable: bool = True, name: str | None = None,
          reuse=None) -> Tensor:
    """``activation(inputs @ kernel + bias)`` with a new kernel variable of shape
    (in, units), initialised by ``kernel_initializer`` (Glorot uniform by default), and a
    bias of zeros.

    >>> h = tf.layers.dense(inputs=x, units=H, activation=tf.nn.relu,
    ...                     kernel_initializer=tf.contrib.layers.xavier_initializer())"""
    if not isinstance(inputs, Tensor):
        raise TypeError(f"dense: inputs must be a graph tensor, got {type(inputs).__name__}")
    if len(inputs.shape) < 1:
        raise ValueError(f"dense: inputs need at least one dimension, got shape "
                         f"{tuple(inputs.shape)}")
    if not isinstance(units, int) or units <= 0:
        raise ValueError(f"dense: units must be a positive int, got {units!r}")
    graph = get_default_graph()
    scope = graph.unique_name(name or "dense")
    dtype = inputs.dtype if inputs.dtype.is_floating_point else dt.float32
    k_init = kernel_initializer or glorot_uniform_initializer()
    kernel = Variable(k_init((inputs.shape[-1], units), dtype=dtype), trainable=trainable,
                      name=f"{scope}/kernel")
    out = matmul(inputs, kernel)
    if use_bias:
        b_init = bias_initializer or zeros_initializer()
        bias = Variable(b_init((units,), dtype=dtype), trainable=trainable, name=f"{scope}/bias")
        out = out + bias
    if activation is not None:
        out = activation(out)
    return out
