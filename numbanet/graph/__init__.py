"""The graph IR shared by ``numbanet.static`` (TensorFlow 1 style) and ``numbanet.jit``.

- ``ir.py``: nodes (backend primitives with shapes and dtypes) and values; JSON.
- ``recorder.py``: a *graph device* whose backend records nodes instead of
  computing, so ordinary numbanet code (forward passes, autograd's backward,
  optimizers) builds a graph when its tensors live there; ``value_of`` (the value
  a graph tensor holds) and ``SymbolicWeights`` (a module's tensors as variables
  while it is traced) are how ``static`` and ``jit`` reach those tensors. Its
  backend is ``symbolic``: its arrays have no host values, so value checks (index
  bounds) are left to the kernels when the graph runs.
- ``passes.py``: dead-node removal, constant folding, elementwise fusion.
- ``fusion.py``: one generated Numba kernel (CPU and CUDA) per fused pattern.
- ``kernels.py`` and ``executor.py``: compile a graph into a plan of backend
  calls for one device and run it many times; ``to_device``, ``to_device_array``,
  ``to_host_arrays``, ``host_copy`` and ``as_tensors`` carry arrays in and out of a
  plan.
- ``serialization.py``: a graph and its weights in a zip of JSON and ``.npy``.
"""
from .executor import GraphRunError, Plan, UninitializedVariableError
from .ir import Graph, Node, Value
from .recorder import (
                       DataDependentError,
                       Recorder,
                       SymArray,
                       SymbolicWeights,
                       is_graph_tensor,
                       value_of,
)

__all__ = ["Graph", "Node", "Value", "Plan", "Recorder", "SymArray", "SymbolicWeights",
           "DataDependentError", "GraphRunError", "UninitializedVariableError",
           "is_graph_tensor", "value_of"]
