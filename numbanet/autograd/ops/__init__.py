"""The differentiable ops of numbanet, one ``Function`` each, and their functional forms."""
from .elementwise import (abs, add, bitwise, clamp, compare, div, exp, invert, log, logical_not,
                          maximum, minimum, mul, neg, pow, relu, sigmoid, sign, sqrt, sub, tanh,
                          where)
from .indexing import getitem
from .inplace import add_into, copy_, fill_, inplace, inplace_unary, setitem, zeros_on
from .linalg import matmul, mm
from .reduction import (all, amax, any, argmax, argmin, log_softmax, max, mean, min, softmax,
                        sum, var)
from .shape import (cast, cat, clone, contiguous, expand, flatten, permute, reshape, squeeze,
                    stack, sum_to_shape, t, to_device, transpose, unsqueeze, view)

__all__ = [name for name in dir() if not name.startswith("_")]
