"""``tf.train``: optimizers that add their update ops to the graph.

``optimizer.minimize(loss)`` is ``apply_gradients(compute_gradients(loss))``:
symbolic gradients of the loss with respect to the trainable variables
(``tf.gradients``, i.e. numbanet's autograd run on graph tensors), then one
``assign`` per variable (and per slot variable, for Adam), grouped into one
operation. Running that operation is one training step; the variables stay on
the Session's device.
"""
from __future__ import annotations

from .. import dtypes as dt
from .ops import gradients, sqrt
from .tensor import Operation, Tensor, Variable, assign, group


class Optimizer:
    """Base of the optimizers: ``compute_gradients``, ``apply_gradients``, ``minimize``."""

    def __init__(self, learning_rate, name: str):
        if not isinstance(learning_rate, (int, float)) or learning_rate <= 0:
            raise ValueError(f"{name}: learning_rate must be a positive number, got "
                             f"{learning_rate!r}")
        self.learning_rate = float(learning_rate)
        self._name = name

    def compute_gradients(self, loss: Tensor, var_list=None, **kwargs) -> list:
        """[(gradient, variable)] for the trainable variables (gradient None where the
        loss does not depend on the variable)."""
        if not isinstance(loss, Tensor):
            raise TypeError(f"{self._name}.minimize: the loss must be a graph tensor, got "
                            f"{type(loss).__name__}")
        if var_list is None:
            var_list = list(loss.graph._trainable)
        if not var_list:
            raise ValueError(f"{self._name}: no variables to optimize; make the weights with "
                             "tf.Variable (trainable=True) or pass var_list")
        grads = gradients(loss, var_list)
        return list(zip(grads, var_list))

    def apply_gradients(self, grads_and_vars, global_step=None, name=None) -> Operation:
        """One operation that updates every variable from its gradient."""
        pairs = [(g, v) for g, v in grads_and_vars if g is not None]
        if not pairs:
            names = [v.name for _, v in grads_and_vars]
            raise ValueError(f"{self._name}: no gradients for any variable ({names}); does "
                             "the loss depend on them?")
        updates = self._updates(pairs)
        if global_step is not None:
            updates.append(assign(global_step, global_step + 1))
        return group(*updates, name=name or self._name)

    def minimize(self, loss: Tensor, global_step=None, var_list=None, name=None, **kwargs):
        """The training step: ``sess.run([loss, optimizer.minimize(loss)], feed_dict)``."""
        return self.apply_gradients(self.compute_gradients(loss, var_list),
                                    global_step=global_step, name=name)

    def _updates(self, pairs) -> list:
        raise NotImplementedError


class GradientDescentOptimizer(Optimizer):
    """``w <- w - learning_rate * dloss/dw`` for every trainable variable."""

    def __init__(self, learning_rate, use_locking: bool = False, name: str = "GradientDescent"):
        super().__init__(learning_rate, name)

    def _updates(self, pairs) -> list:
        lr = self.learning_rate
        return [assign(v, v - lr * g) for g, v in pairs]


class AdamOptimizer(Optimizer):
    """Adam as TensorFlow 1 computes it: slots ``m``, ``v`` per variable and the powers
    ``beta1**t``, ``beta2**t`` as variables; per step::

        lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)
        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
        w = w - lr_t * m / (sqrt(v) + epsilon)

    Make the optimizer's ``minimize`` op before ``tf.global_variables_initializer()``, so
    that the initializer covers its slot variables."""

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08,
                 use_locking: bool = False, name: str = "Adam"):
        super().__init__(learning_rate, name)
        self.beta1, self.beta2, self.epsilon = float(beta1), float(beta2), float(epsilon)

    def _updates(self, pairs) -> list:
        dtype = pairs[0][1].dtype
        b1p = Variable(self.beta1, dtype=dtype, trainable=False, name="beta1_power")
        b2p = Variable(self.beta2, dtype=dtype, trainable=False, name="beta2_power")
        lr_t = self.learning_rate * sqrt(1.0 - b2p) / (1.0 - b1p)
        updates = []
        for g, w in pairs:
            zeros = _zeros_like_value(w)
            m = Variable(zeros, trainable=False, name=f"{w.op_name}/Adam")
            v = Variable(_zeros_like_value(w), trainable=False, name=f"{w.op_name}/Adam_1")
            m_new = assign(m, self.beta1 * m + (1.0 - self.beta1) * g)
            v_new = assign(v, self.beta2 * v + (1.0 - self.beta2) * g * g)
            updates.append(m_new)
            updates.append(v_new)
            updates.append(assign(w, w - lr_t * m_new / (sqrt(v_new) + self.epsilon)))
        updates.append(assign(b1p, b1p * self.beta1))
        updates.append(assign(b2p, b2p * self.beta2))
        return updates


def _zeros_like_value(w):
    from .ops import zeros
    return zeros(w.shape, w.dtype if w.dtype.is_floating_point else dt.float32)
