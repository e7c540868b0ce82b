"""The differentiable ops of numbanet, one ``Function`` each, and their functional forms.

The elementwise unary ops are declared in the registry (``registry.UNARY``): their
functions are exported here and their Tensor methods attached from it."""
import sys as _sys

from ... import tensor as _tensor
from .elementwise import (
                          add,
                          bitwise,
                          clamp,
                          compare,
                          div,
                          invert,
                          logical_not,
                          maximum,
                          minimum,
                          mul,
                          pow,
                          sign,
                          sub,
                          where,
)
from .indexing import getitem, index_select, narrow
from .inplace import add_into, copy_, fill_, inplace, inplace_unary, setitem, zeros_on
from .linalg import matmul, mm
from .reduction import (
                          all,
                          amax,
                          any,
                          argmax,
                          argmin,
                          log_softmax,
                          max,
                          mean,
                          min,
                          softmax,
                          sum,
                          sum_to_shape,
                          var,
)
from .registry import UNARY as _UNARY
from .registry import attach_methods as _attach_methods
from .shape import (
                          cast,
                          cat,
                          clone,
                          contiguous,
                          expand,
                          flatten,
                          permute,
                          reshape,
                          set_data_,
                          squeeze,
                          stack,
                          t,
                          to_device,
                          transpose,
                          unsqueeze,
                          view,
)

globals().update({name: spec.function for name, spec in _UNARY.items()})  # exp, relu, sin...
_attach_methods()
_tensor._ops = _sys.modules[__name__]  # Tensor's methods call the ops through it

__all__ = [name for name in dir() if not name.startswith("_")]
