"""What each node of the IR does at run time, as calls to the backend of a device.

``IMPLS[op](be, attrs, args)`` returns the tuple of the node's output arrays;
``args`` are the node's inputs as backend arrays or scalar literals. The
executor (``executor.py``) calls these for every node it does not handle
itself, and constant folding (``passes.py``) calls them on the CPU backend at
compile time. None of them writes into its inputs: values in a graph are
immutable, so an op that the backend does in place (``index_add``,
``adam_step``) works on a copy.
"""
from __future__ import annotations


def copy(be, a):
    """A fresh C-contiguous copy of ``a`` on the same backend."""
    out = be.empty(tuple(a.shape), _dtype_of(a))
    be.unary("identity", a, out)
    return out


def _dtype_of(a):
    from ..dtypes import from_numpy_dtype
    return from_numpy_dtype(a.dtype)


def _unary(be, attrs, args, out):
    be.unary(attrs["op"], args[0], out)
    return out


def _binary(be, attrs, args, out):
    be.binary(attrs["op"], args[0], args[1], out)
    return out


def _where(be, attrs, args, out):
    be.where(args[0], args[1], args[2], out)
    return out


ELEMENTWISE = {"unary": _unary, "binary": _binary, "where": _where}


def _reshape(be, attrs, args):
    r = be.reshape_view(args[0], attrs["shape"])
    if r is None:
        r = be.reshape_view(be.contiguous(args[0]), attrs["shape"])
    return (r,)


def _setslice(be, attrs, args):
    out = copy(be, args[0])
    be.unary("identity", args[1], be.basic_index(out, attrs["key"]))
    return (out,)


def _scatter(method):
    def run(be, attrs, args):
        dst = copy(be, args[0])
        getattr(be, method)(dst, attrs["axis"], be.contiguous(args[1]), args[2])
        return (dst,)
    return run


def _adam_step(be, attrs, args):
    p, g, m, v = args
    p, m, v = copy(be, p), copy(be, m), copy(be, v)
    be.adam_step(p, be.contiguous(g), m, v, *attrs["numbers"])
    return p, m, v


IMPLS = {
    "empty": lambda be, at, args, shape, dtype: (be.empty(shape, dtype),),
    "full": lambda be, at, args, shape, dtype: (be.full(shape, at["value"], dtype),),
    "arange": lambda be, at, args, shape, dtype: (be.arange(at["start"], at["stop"], at["step"],
                                                            dtype),),
    "rand": lambda be, at, args, shape, dtype: (be.rand(shape, dtype),),
    "randn": lambda be, at, args, shape, dtype: (be.randn(shape, dtype),),
    "randint": lambda be, at, args, shape, dtype: (be.randint(at["low"], at["high"], shape),),
}
# ops that take (be, attrs, args) and return a tuple of arrays
IMPLS_ARGS = {
    "permute": lambda be, at, args: (be.permute(args[0], at["perm"]),),
    "reshape": _reshape,
    "broadcast": lambda be, at, args: (be.broadcast_to(args[0], at["shape"]),),
    "slice": lambda be, at, args: (be.basic_index(args[0], at["key"]),),
    "setslice": _setslice,
    "contiguous": lambda be, at, args: (be.contiguous(args[0]),),
    "reduce": lambda be, at, args: (be.reduce(at["op"], args[0], at["axes"], at["dtype"]),),
    "argreduce": lambda be, at, args: (be.argreduce(at["op"], args[0], at["axis"]),),
    "matmul": lambda be, at, args: (be.matmul(args[0], args[1]),),
    "index_select": lambda be, at, args: (be.index_select(args[0], at["axis"],
                                                          be.contiguous(args[1])),),
    "index_add": _scatter("index_add"),
    "index_put": _scatter("index_put"),
    "im2col": lambda be, at, args: (be.im2col(args[0], at["geo"], at["out_hw"]),),
    "col2im": lambda be, at, args: (be.col2im(args[0], at["geo"], at["out_hw"], at["shape"]),),
    "max_pool2d": lambda be, at, args: tuple(be.max_pool2d(args[0], at["geo"], at["out_hw"])),
    "max_pool2d_backward": lambda be, at, args: (
        be.max_pool2d_backward(args[0], args[1], at["geo"], at["shape"]),),
    "avg_pool2d": lambda be, at, args: (
        be.avg_pool2d(args[0], at["geo"], at["out_hw"], at["count_include_pad"],
                      at["divisor_override"]),),
    "avg_pool2d_backward": lambda be, at, args: (
        be.avg_pool2d_backward(args[0], at["geo"], at["shape"], at["count_include_pad"],
                               at["divisor_override"]),),
    "adam_step": _adam_step,
}

# Ops whose output may share memory with an input (so it is not a fresh array).
VIEW_OPS = frozenset({"permute", "reshape", "broadcast", "slice", "contiguous"})


def evaluate(be, node, args):
    """The outputs of ``node`` computed on backend ``be`` from input arrays ``args``."""
    op = node.op
    if op in ELEMENTWISE:
        v = node.out
        return (ELEMENTWISE[op](be, node.attrs, args, be.empty(v.shape, v.dtype)),)
    if op in IMPLS_ARGS:
        return IMPLS_ARGS[op](be, node.attrs, args)
    if op in IMPLS:
        v = node.out
        return IMPLS[op](be, node.attrs, args, v.shape, v.dtype)
    raise ValueError(f"graph node {node.id} has the op {op!r}, which this version of numbanet "
                     "cannot run")
