"""The graph IR shared by ``numbanet.static`` (TensorFlow 1 style) and ``numbanet.jit``.

- ``ir.py``: nodes (backend primitives with shapes and dtypes) and values; JSON.
- ``recorder.py``: a *graph device* whose backend records nodes instead of
  computing, so ordinary numbanet code (forward passes, autograd's backward,
  optimizers) builds a graph when its tensors live there.
- ``passes.py``: dead-node removal, constant folding, elementwise fusion.
- ``fusion.py``: one generated Numba kernel (CPU and CUDA) per fused pattern.
- ``kernels.py`` and ``executor.py``: compile a graph into a plan of backend
  calls for one device and run it many times.
- ``serialization.py``: a graph and its weights in a zip of JSON and ``.npy``.
"""
from .executor import GraphRunError, Plan, UninitializedVariableError
from .ir import Graph, Node, Value
from .recorder import DataDependentError, Recorder, SymArray, is_graph_tensor

__all__ = ["Graph", "Node", "Value", "Plan", "Recorder", "SymArray", "DataDependentError",
           "GraphRunError", "UninitializedVariableError", "is_graph_tensor"]
