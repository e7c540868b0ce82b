"""TensorFlow 1 on numbanet's kernels: build a graph once, run it many times.

The seed lecture's TensorFlow programs run with one changed import::

    import numbanet.static as tf

    x = tf.placeholder(tf.float32, shape=(N, D))
    w1 = tf.Variable(tf.random_normal((D, H)))
    ...
    loss = tf.reduce_mean(tf.reduce_sum((y_pred - y) ** 2, axis=1))
    grad_w1, grad_w2 = tf.gradients(loss, [w1, w2])
    updates = tf.group(w1.assign(w1 - lr * grad_w1), w2.assign(w2 - lr * grad_w2))
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for t in range(50):
            loss_val, _ = sess.run([loss, updates], feed_dict={x: xv, y: yv})

How it works, and how it differs from eager numbanet:

- *Building* runs ordinary numbanet ops on tensors that live on a graph device
  (``numbanet/graph/recorder.py``): each op appends nodes to the graph and
  computes nothing. ``tf.gradients`` runs numbanet's autograd backward on
  those tensors, so its gradients are the eager ones, recorded.
- *Running* (``Session.run``) compiles what the fetches need into a plan:
  dead nodes dropped, constants folded, chains of elementwise ops fused into
  single generated kernels (``numbanet/graph/passes.py``, ``fusion.py``); then
  it runs the plan with no Python autograd bookkeeping at all. Variables live on
  the Session's device between runs.

Shapes are static (no ``None`` dimensions). A graph runs on one device: the
Session's ``device=``, else a GPU if ops were built under ``tf.device('/gpu:0')``,
else the CPU. In one run, every read of a variable sees its value from the
start of the run, and assignments take effect when the run ends.
"""
from ..graph.executor import GraphRunError, UninitializedVariableError
from ..graph.recorder import DataDependentError
from . import contrib, initializers, layers, losses, nn, train
from .graph import Graph, device, get_default_graph, reset_default_graph
from .ops import (
                  abs,
                  add,
                  bool,
                  cast,
                  constant,
                  divide,
                  exp,
                  float16,
                  float32,
                  float64,
                  global_variables,
                  global_variables_initializer,
                  gradients,
                  int32,
                  int64,
                  log,
                  matmul,
                  maximum,
                  minimum,
                  multiply,
                  negative,
                  ones,
                  ones_like,
                  placeholder,
                  pow,
                  random_normal,
                  random_uniform,
                  reduce_max,
                  reduce_mean,
                  reduce_sum,
                  reshape,
                  sigmoid,
                  sqrt,
                  square,
                  subtract,
                  tanh,
                  trainable_variables,
                  transpose,
                  variables_initializer,
                  where,
                  zeros,
                  zeros_like,
)
from .session import InteractiveSession, Session, get_default_session
from .tensor import Operation, Tensor, Variable, assign, group

__all__ = [
    "Graph", "Operation", "Session", "InteractiveSession", "Tensor", "Variable",
    "DataDependentError", "GraphRunError", "UninitializedVariableError",
    "abs", "add", "assign", "bool", "cast", "constant", "contrib", "device", "divide", "exp",
    "float16", "float32", "float64", "get_default_graph", "get_default_session",
    "global_variables", "global_variables_initializer", "gradients", "group", "initializers",
    "int32", "int64", "layers", "log", "losses", "matmul", "maximum", "minimum", "multiply",
    "negative", "nn", "ones", "ones_like", "placeholder", "pow", "random_normal",
    "random_uniform", "reduce_max", "reduce_mean", "reduce_sum", "reset_default_graph",
    "reshape", "sigmoid", "sqrt", "square", "subtract", "tanh", "train", "trainable_variables",
    "transpose", "variables_initializer", "where", "zeros", "zeros_like"]
