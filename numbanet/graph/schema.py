"""What a saved graph may hold: one schema per op, checked before anything runs.

A graph file (``serialization.py``) comes from anywhere, and the kernels that run its
nodes trust the shapes they are given (Numba does not check bounds). So a node read
from a file is accepted only if it is one of the ops of :data:`OPS`, with the number
of inputs its schema says, attributes of the names, types and ranges it lists, inputs
of the shapes and dtypes it accepts, and declared outputs equal to the ones its rule
computes from those inputs and attributes. Each rule is the backend contract's
(``backend/__init__.py``) statement of what the primitive returns; a graph recorded
by numbanet satisfies it by construction, a crafted one fails here, with an error
that names the file, the node and what was wrong.

:data:`OPS` is also the allow-list: ``fused`` nodes (made by the optimiser, never
saved), ``assign`` and ``group`` (side effects, which a traced graph has none of) are
not in it. What only the data can tell (the values of an index that a placeholder
feeds) is checked by the kernels at run time; an index stored in the file as a
constant is checked here, against the dimension it indexes.
"""
from __future__ import annotations

import math
import os
from typing import Callable, NamedTuple

from .. import dtypes as dt
from ..backend import scalar
from ..backend.windows import window_count
from ..fileio import ArchiveError
from .ir import Value

# No value may have this many elements: beyond it sizes and flat offsets would come
# near int64's range in the kernels' index arithmetic.
MAX_ELEMENTS = 1 << 40
MAX_DIMS = 32

_FLOATS = (dt.float32, dt.float64)
_NUMBERS = (dt.float32, dt.float64, dt.int64)


class Invalid(Exception):
    """What is wrong with one node (made into an ArchiveError naming file and node)."""


def _require(ok, message: str):
    if not ok:
        raise Invalid(message)


# ---- attribute checkers: each returns the value (normalised) or raises Invalid ----------

def _is_int(x) -> bool:
    return type(x) is int


def integer(lo=None, hi=None):
    def check(x):
        _require(_is_int(x), f"must be an int, got {x!r}")
        _require((lo is None or x >= lo) and (hi is None or x <= hi),
                 f"must be in [{lo}, {hi}], got {x}")
        return x
    return check


def boolean(x):
    _require(type(x) is bool, f"must be true or false, got {x!r}")
    return x


def _is_number(x) -> bool:
    """A float, or an int of int64's range (JSON's ints have no bound)."""
    return type(x) is float or _is_int(x) and -2**63 <= x < 2**63


def number(x):
    _require(_is_number(x), f"must be a float or an int64, got {x!r}")
    return x


def finite(x):
    _require(_is_number(x) and math.isfinite(x), f"must be a finite number, got {x!r}")
    return x


def one_of(names):
    def check(x):
        _require(isinstance(x, str) and x in names,
                 f"must be one of {sorted(names)}, got {x!r}")
        return x
    return check


def text(x):
    _require(isinstance(x, str) and 0 < len(x) <= 1000, f"must be a name, got {x!r}")
    return x


def dtype(x):
    _require(isinstance(x, dt.DType), f"must be a dtype, got {x!r}")
    return x


def tuple_of(item, length=None):
    def check(x):
        _require(isinstance(x, tuple), f"must be a tuple, got {x!r}")
        _require(length is None or len(x) == length,
                 f"must have {length} entries, got {len(x)}")
        return tuple(item(v) for v in x)
    return check


dim = integer(0, MAX_ELEMENTS)
shape_attr = tuple_of(dim)
pair = tuple_of(integer(0, MAX_ELEMENTS), 2)


def geometry(x):
    """(kh, kw, sh, sw, ph, pw, dh, dw): sizes, strides and dilations >= 1, padding >= 0."""
    kh, kw, sh, sw, ph, pw, dh, dw = tuple_of(integer(0, 1 << 20), 8)(x)
    _require(min(kh, kw, sh, sw, dh, dw) >= 1,
             f"kernel size, stride and dilation must be at least 1, got {x}")
    return x


def _slice_part(v):
    _require(v is None or _is_int(v) and -2**63 <= v < 2**63,
             f"slice bounds must be int64s or null, got {v!r}")
    return v


def key(x):
    """A basic index: a tuple of ints and slices (ints and None bounds, step not 0)."""
    _require(isinstance(x, tuple), f"must be a tuple of ints and slices, got {x!r}")
    for k in x:
        if isinstance(k, slice):
            _slice_part(k.start), _slice_part(k.stop), _slice_part(k.step)
            _require(k.step != 0, "a slice step must not be zero")
        else:
            _require(_is_int(k), f"must hold ints and slices only, got {k!r}")
    return x


# ---- output rules: (inputs, attrs, declared outputs) -> the outputs the op makes --------

def _specs(ins):
    return [(v.shape, v.dtype) for v in ins]


def _broadcasts(src: tuple, to: tuple) -> bool:
    return len(src) <= len(to) and all(s in (1, t) for s, t in zip(src[::-1], to[::-1]))


def _operand(x, out_shape, what):
    """The dtype of an elementwise operand, after checking that it broadcasts to the
    output (an array) or is a number (a literal)."""
    if isinstance(x, Value):
        _require(_broadcasts(x.shape, out_shape),
                 f"{what} of shape {x.shape} does not broadcast to the output's {out_shape}")
        return x.dtype
    return dt.from_numpy_dtype(x.dtype)


_FLOAT_MATH = scalar.FLOAT_RESULT  # exp, sin...: float results (backend/scalar.py marks them)
_TO_BOOL = scalar.BOOL_RESULT  # to_bool, logical_not, isnan...
_COMPARE = {"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"}


def _elementwise_out(op, in_dtypes, out: dt.DType):
    """Checks the dtypes of an elementwise op: casts change dtype, comparisons give bool,
    every other op keeps its operands' dtype."""
    if op == "identity":
        return
    if op in _TO_BOOL or op in _COMPARE:
        _require(out is dt.bool_, f"{op} gives bool, the file declares {out.name}")
        _require(op in _TO_BOOL or in_dtypes[0] is in_dtypes[1],
                 f"{op} compares operands of one dtype, got "
                 f"{' and '.join(d.name for d in in_dtypes)}")
        return
    _require(all(d is out for d in in_dtypes),
             f"{op} keeps its operands' dtype: operands "
             f"{', '.join(d.name for d in in_dtypes)} give {out.name}")
    _require(out in (_FLOATS if op in _FLOAT_MATH else _NUMBERS),
             f"{op} does not take {out.name} operands")


def _elementwise(ins, attrs, declared):
    _require(len(declared) == 1, "an elementwise op has one output")
    shape, out = declared[0]
    names = ("the condition", "the first operand", "the second operand") if len(ins) == 3 \
        else ("the first operand", "the second operand")
    in_dtypes = [_operand(x, shape, names[k]) for k, x in enumerate(ins)]
    if "op" in attrs:
        _elementwise_out(attrs["op"], in_dtypes, out)
    else:  # where
        _require(in_dtypes[0] is dt.bool_, f"the condition is {in_dtypes[0].name}, not bool")
        _require(in_dtypes[1] is out and in_dtypes[2] is out,
                 f"where's values are {in_dtypes[1].name} and {in_dtypes[2].name}, its output "
                 f"{out.name}")
    return declared


def _source(ins, attrs, declared):  # placeholder, variable, constant, empty: as declared
    _require(len(declared) == 1, "a source op has one output")
    return declared


def _random(kind):
    def rule(ins, attrs, declared):
        _require(len(declared) == 1, "a random op has one output")
        (shape, out), = declared
        if kind == "int":
            _require(out is dt.int64, f"randint gives int64, the file declares {out.name}")
            _require(attrs["low"] < attrs["high"],
                     f"randint needs low < high, got {attrs['low']} and {attrs['high']}")
        else:
            _require(out in _FLOATS, f"random floats can't be {out.name}")
        return declared
    return rule


def _full(ins, attrs, declared):
    _require(len(declared) == 1, "full has one output")
    value, out = attrs["value"], declared[0][1]
    if out is dt.bool_:
        _require(type(value) is bool, f"a bool fill value must be true or false, got {value!r}")
    elif out is dt.int64:
        _require(_is_int(value), f"an int64 fill value must be an int, got {value!r}")
    return declared


def _arange(ins, attrs, declared):
    start, stop, step = attrs["start"], attrs["stop"], attrs["step"]
    _require(step != 0, "arange's step must not be zero")
    n = (stop - start) / step
    _require(n <= MAX_ELEMENTS, f"arange({start}, {stop}, {step}) has more than "
                                f"{MAX_ELEMENTS} elements")
    n = max(0, math.ceil(n))
    _require(len(declared) == 1 and declared[0][1] in _NUMBERS,
             "arange has one output of numbers")
    return [((n,), declared[0][1])]


def _same_as_input(ins, attrs, declared):  # contiguous
    return _specs(ins)


def _permute(ins, attrs, declared):
    (a,), perm = ins, attrs["perm"]
    _require(sorted(perm) == list(range(len(a.shape))),
             f"perm {perm} is not a permutation of the {len(a.shape)} dimensions of {a.shape}")
    return [(tuple(a.shape[p] for p in perm), a.dtype)]


def _reshape(ins, attrs, declared):
    (a,), shape = ins, attrs["shape"]
    _require(math.prod(shape) == math.prod(a.shape),
             f"shape {shape} does not hold the {math.prod(a.shape)} elements of {a.shape}")
    return [(shape, a.dtype)]


def _broadcast(ins, attrs, declared):
    (a,), shape = ins, attrs["shape"]
    _require(_broadcasts(a.shape, shape), f"shape {a.shape} does not broadcast to {shape}")
    return [(shape, a.dtype)]


def sliced_shape(shape: tuple, k: tuple) -> tuple:
    """The shape of ``a[k]`` for a basic index ``k`` (ints and slices) on a shape, after
    checking every int against its dimension."""
    _require(len(k) <= len(shape), f"index {k} has more entries than the {len(shape)} "
                                   f"dimensions of {shape}")
    out = []
    for d, part in enumerate(k):
        if isinstance(part, slice):
            out.append(len(range(*part.indices(shape[d]))))
        else:
            _require(-shape[d] <= part < shape[d],
                     f"index {part} is out of range for dimension {d} of size {shape[d]}")
    return tuple(out) + tuple(shape[len(k):])


def _slice(ins, attrs, declared):
    (a,) = ins
    return [(sliced_shape(a.shape, attrs["key"]), a.dtype)]


def _setslice(ins, attrs, declared):
    dst, src = ins
    target = sliced_shape(dst.shape, attrs["key"])
    _require(_broadcasts(src.shape, target),
             f"the value of shape {src.shape} does not broadcast to the slice's {target}")
    _require(src.dtype is dst.dtype, f"the value is {src.dtype.name}, the array "
                                     f"{dst.dtype.name}")
    return [(dst.shape, dst.dtype)]


def _axes_in(a, axes):
    _require(len(set(axes)) == len(axes) and all(0 <= x < len(a.shape) for x in axes),
             f"axes {axes} are not distinct dimensions of {a.shape}")


def _reduce(ins, attrs, declared):
    (a,), axes, out = ins, attrs["axes"], attrs["dtype"]
    _axes_in(a, axes)
    if attrs["op"] in ("max", "min"):
        _require(out is a.dtype, f"{attrs['op']} keeps the dtype: {a.dtype.name} gives "
                                 f"{out.name}")
    return [(tuple(s for i, s in enumerate(a.shape) if i not in axes), out)]


def _argreduce(ins, attrs, declared):
    (a,), axis = ins, attrs["axis"]
    _axes_in(a, (axis,))
    _require(a.shape[axis] > 0, f"arg{attrs['op']} of an empty dimension {axis} of {a.shape}")
    _require(a.dtype in _NUMBERS, f"arg{attrs['op']} does not take {a.dtype.name}")
    return [(tuple(s for i, s in enumerate(a.shape) if i != axis), dt.int64)]


def _matmul(ins, attrs, declared):
    a, b = ins
    _require(len(a.shape) >= 2 and len(b.shape) >= 2,
             f"matmul takes arrays of 2 or more dimensions, got {a.shape} and {b.shape}")
    _require(a.shape[-1] == b.shape[-2], f"matmul of {a.shape} and {b.shape}: "
                                         f"{a.shape[-1]} != {b.shape[-2]}")
    _require(a.dtype is b.dtype and a.dtype in _NUMBERS,
             f"matmul of {a.dtype.name} and {b.dtype.name}")
    batch_a, batch_b = a.shape[:-2], b.shape[:-2]
    n = max(len(batch_a), len(batch_b))
    batch = []
    for x, y in zip((1,) * (n - len(batch_a)) + batch_a, (1,) * (n - len(batch_b)) + batch_b):
        _require(x == y or 1 in (x, y),
                 f"matmul's batch dimensions {batch_a} and {batch_b} do not broadcast")
        batch.append(max(x, y) if 0 not in (x, y) else 0)
    batch = tuple(batch)
    return [(batch + (a.shape[-2], b.shape[-1]), a.dtype)]


def _index_of(a, axis, index):
    _axes_in(a, (axis,))
    _require(index.dtype is dt.int64 and len(index.shape) == 1,
             f"the index must be a 1-D int64 array, got {index.dtype.name}{list(index.shape)}")
    return a.shape[:axis] + (index.shape[0],) + a.shape[axis + 1:]


def _index_select(ins, attrs, declared):
    a, index = ins
    return [(_index_of(a, attrs["axis"], index), a.dtype)]


def _scatter(ins, attrs, declared):  # index_add, index_put
    dst, index, src = ins
    expected = _index_of(dst, attrs["axis"], index)
    _require(src.shape == expected and src.dtype is dst.dtype,
             f"the values must be {dst.dtype.name}{list(expected)}, got "
             f"{src.dtype.name}{list(src.shape)}")
    return [(dst.shape, dst.dtype)]


def _check_windows(image_shape, geo, out_hw, ceil_allowed: bool):
    """``out_hw`` is the window count of PyTorch's formula (floor mode, or ceil mode when
    ``ceil_allowed``) for an (N, C, H, W) image of ``image_shape``."""
    _require(len(image_shape) == 4, f"the image must be (N, C, H, W), got {image_shape}")
    kh, kw, sh, sw, ph, pw, dh, dw = geo
    modes = (False, True) if ceil_allowed else (False,)
    for size, k, s, p, d, o, what in ((image_shape[2], kh, sh, ph, dh, out_hw[0], "height"),
                                      (image_shape[3], kw, sw, pw, dw, out_hw[1], "width")):
        fits = {window_count(size, k, s, p, d, ceil) for ceil in modes}
        _require(o in fits, f"an output {what} of {o} does not follow from the input's {size} "
                            f"and the window {geo} (expected "
                            f"{' or '.join(map(str, sorted(fits)))})")


def _float_image(x):
    _require(x.dtype in _FLOATS, f"the image must hold floats, got {x.dtype.name}")


def _im2col(ins, attrs, declared):
    (x,), geo, (oh, ow) = ins, attrs["geo"], attrs["out_hw"]
    _check_windows(x.shape, geo, attrs["out_hw"], False)
    _float_image(x)
    n, c = x.shape[:2]
    return [((c * geo[0] * geo[1], n, oh * ow), x.dtype)]


def _col2im(ins, attrs, declared):
    (cols,), geo, (oh, ow), shape = ins, attrs["geo"], attrs["out_hw"], attrs["shape"]
    _check_windows(shape, geo, attrs["out_hw"], False)
    _float_image(cols)
    expected = (shape[1] * geo[0] * geo[1], shape[0], oh * ow)
    _require(cols.shape == expected, f"the columns for {shape} must be {expected}, got "
                                     f"{cols.shape}")
    return [(shape, cols.dtype)]


def _max_pool2d(ins, attrs, declared):
    (x,), out_hw = ins, attrs["out_hw"]
    _check_windows(x.shape, attrs["geo"], out_hw, True)
    _float_image(x)
    shape = x.shape[:2] + out_hw
    return [(shape, x.dtype), (shape, dt.int64)]


def _pooled(g, shape, geo):
    _require(len(shape) == 4 and len(g.shape) == 4 and g.shape[:2] == shape[:2],
             f"the gradient {g.shape} and the image {shape} must be (N, C, ...) alike")
    _check_windows(shape, geo, g.shape[2:], True)
    _float_image(g)


def _max_pool2d_backward(ins, attrs, declared):
    g, indices = ins
    _pooled(g, attrs["shape"], attrs["geo"])
    _require(indices.shape == g.shape and indices.dtype is dt.int64,
             f"the indices must be int64{list(g.shape)}, got "
             f"{indices.dtype.name}{list(indices.shape)}")
    return [(attrs["shape"], g.dtype)]


def _no_dilation(geo):
    _require(geo[6] == geo[7] == 1, f"average pooling has no dilation, got {geo}")


def _avg_pool2d(ins, attrs, declared):
    (x,), out_hw = ins, attrs["out_hw"]
    _no_dilation(attrs["geo"])
    _check_windows(x.shape, attrs["geo"], out_hw, True)
    _float_image(x)
    return [(x.shape[:2] + out_hw, x.dtype)]


def _avg_pool2d_backward(ins, attrs, declared):
    (g,) = ins
    _no_dilation(attrs["geo"])
    _pooled(g, attrs["shape"], attrs["geo"])
    return [(attrs["shape"], g.dtype)]


def _adam_step(ins, attrs, declared):
    p = ins[0]
    _require(p.dtype in _FLOATS and all((x.shape, x.dtype) == (p.shape, p.dtype) for x in ins),
             f"adam_step takes four float arrays of one shape and dtype, got "
             f"{', '.join(f'{x.dtype.name}{list(x.shape)}' for x in ins)}")
    return [(p.shape, p.dtype)] * 3


def _dimension(node):
    """[-n, n): the indices into the dimension ``axis`` of the op's first input."""
    n = node.inputs[0].shape[node.attrs["axis"]]
    return -n, n


def _plane(node):
    """[-1, H*W): a pixel of the (H, W) plane, or -1 for a window wholly in the padding."""
    return -1, node.attrs["shape"][2] * node.attrs["shape"][3]


class Op(NamedTuple):
    inputs: int  # how many
    attrs: dict  # name -> checker
    rule: Callable  # (inputs, attrs, declared outputs) -> outputs
    literals: bool = False  # whether an input may be a number stored in the node
    # (lo, hi) that the values of input 1, an index, must lie in; checked when the index
    # is a constant of the file (the kernels check the others as they run)
    index: Callable | None = None


_NAMED = {"name": text}
_WINDOW = {"geo": geometry, "out_hw": pair}
_AVG = {"count_include_pad": boolean, "divisor_override": integer(0, 1 << 31)}

OPS = {
    "placeholder": Op(0, _NAMED, _source),
    "variable": Op(0, _NAMED, _source),
    "constant": Op(0, {}, _source),
    "empty": Op(0, {}, _source),
    "full": Op(0, {"value": number}, _full),
    "arange": Op(0, {"start": finite, "stop": finite, "step": finite}, _arange),
    "rand": Op(0, {}, _random("float")),
    "randn": Op(0, {}, _random("float")),
    "randint": Op(0, {"low": integer(-2**63, 2**63 - 1), "high": integer(-2**63, 2**63 - 1)},
                  _random("int")),
    "unary": Op(1, {"op": one_of(scalar.UNARY)}, _elementwise, literals=True),
    "binary": Op(2, {"op": one_of(scalar.BINARY)}, _elementwise, literals=True),
    "where": Op(3, {}, _elementwise, literals=True),
    "permute": Op(1, {"perm": tuple_of(integer(0, MAX_DIMS))}, _permute),
    "reshape": Op(1, {"shape": shape_attr}, _reshape),
    "broadcast": Op(1, {"shape": shape_attr}, _broadcast),
    "slice": Op(1, {"key": key}, _slice),
    "setslice": Op(2, {"key": key}, _setslice),
    "contiguous": Op(1, {}, _same_as_input),
    "reduce": Op(1, {"op": one_of(scalar.REDUCE), "axes": tuple_of(integer(0, MAX_DIMS)),
                     "dtype": dtype}, _reduce),
    "argreduce": Op(1, {"op": one_of({"max", "min"}), "axis": integer(0, MAX_DIMS)},
                    _argreduce),
    "matmul": Op(2, {}, _matmul),
    "index_select": Op(2, {"axis": integer(0, MAX_DIMS)}, _index_select, index=_dimension),
    "index_add": Op(3, {"axis": integer(0, MAX_DIMS)}, _scatter, index=_dimension),
    "index_put": Op(3, {"axis": integer(0, MAX_DIMS)}, _scatter, index=_dimension),
    "im2col": Op(1, _WINDOW, _im2col),
    "col2im": Op(1, {**_WINDOW, "shape": tuple_of(dim, 4)}, _col2im),
    "max_pool2d": Op(1, _WINDOW, _max_pool2d),
    "max_pool2d_backward": Op(2, {"geo": geometry, "shape": tuple_of(dim, 4)},
                              _max_pool2d_backward, index=_plane),
    "avg_pool2d": Op(1, {**_WINDOW, **_AVG}, _avg_pool2d),
    "avg_pool2d_backward": Op(1, {"geo": geometry, "shape": tuple_of(dim, 4), **_AVG},
                              _avg_pool2d_backward),
    "adam_step": Op(4, {"numbers": tuple_of(number, 7)}, _adam_step),
}


def check_attrs(op: str, attrs: dict) -> dict:
    """``attrs`` of a node of ``op``, checked against its schema (Invalid if wrong)."""
    schema = OPS[op]
    missing = set(schema.attrs) - set(attrs)
    extra = set(attrs) - set(schema.attrs)
    _require(not missing and not extra,
             f"takes the attributes {sorted(schema.attrs)}, got {sorted(attrs)}")
    checked = {}
    for name, check in schema.attrs.items():
        try:
            checked[name] = check(attrs[name])
        except Invalid as e:
            raise Invalid(f"attribute {name!r} {e}") from None
    return checked


def check_node(node, constants: dict):
    """Checks a node whose inputs were checked before it: its inputs against its op's
    schema, its declared outputs against what the op makes of them, and any index
    stored as a constant against the dimension it indexes. Raises Invalid."""
    schema = OPS[node.op]
    _require(len(node.inputs) == schema.inputs,
             f"takes {schema.inputs} input(s), got {len(node.inputs)}")
    _require(schema.literals or all(isinstance(x, Value) for x in node.inputs),
             "takes arrays only, not numbers, as inputs")
    declared = [(v.shape, v.dtype) for v in node.outputs]
    expected = schema.rule(node.inputs, node.attrs, declared)
    _require(declared == [(tuple(s), d) for s, d in expected],
             "declares the outputs " + _show(declared) + ", but its inputs and attributes give "
             + _show(expected))
    if schema.index is not None:
        index = node.inputs[1]
        array = constants.get(index.node.id) if index.node.op == "constant" else None
        if array is not None and array.size:
            lo, hi = schema.index(node)
            bad = (array < lo) | (array >= hi)
            if bad.any():
                raise Invalid(f"its constant index holds {array[bad][0]}, outside "
                              f"[{lo}, {hi - 1}]")


def _show(specs) -> str:
    return "(" + ", ".join(f"{d.name}{list(s)}" for s, d in specs) + ")"


def _memory() -> int:
    """This machine's memory in bytes (no bound where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def check_size(shape: tuple, kind: dt.DType, what: str):
    """A value of ``shape`` and ``kind`` fits in this machine's memory: a tiny file cannot
    make a run allocate (and the system kill the process for) more than there is."""
    nbytes = math.prod(shape) * kind.itemsize
    _require(nbytes <= _memory(), f"{what} {kind.name}{list(shape)} needs {nbytes >> 20} MiB, "
                                  f"more than this machine's {_memory() >> 20} MiB of memory")


def check_shape(shape, what: str) -> tuple:
    """A declared shape: a list of at most MAX_DIMS non-negative ints whose product is below
    MAX_ELEMENTS."""
    _require(isinstance(shape, list) and len(shape) <= MAX_DIMS and all(
        _is_int(s) and 0 <= s <= MAX_ELEMENTS for s in shape),
        f"{what} must be a list of at most {MAX_DIMS} non-negative ints, got {shape!r}")
    _require(math.prod(shape) <= MAX_ELEMENTS,
             f"{what} {shape} has more than {MAX_ELEMENTS} elements")
    return tuple(shape)


def check_dtype(name, what: str) -> dt.DType:
    _require(isinstance(name, str) and name in {d.name for d in dt.ALL},
             f"{what} must be one of {[d.name for d in dt.ALL]}, got {name!r}")
    return dt.as_dtype(name)


# ---- reading the JSON of a graph ------------------------------------------------------

_NODE_KEYS = {"id", "op", "name", "inputs", "attrs", "outputs"}


def _decode_input(x, graph):
    """A node input from its JSON: an earlier node's output, or a number of a dtype."""
    if isinstance(x, dict) and set(x) == {"node", "index"}:
        ref, index = x["node"], x["index"]
        _require(_is_int(ref) and 0 <= ref < len(graph.nodes),
                 f"refers to node {ref!r}: inputs must be nodes that come before it")
        outs = graph.nodes[ref].outputs
        _require(_is_int(index) and 0 <= index < len(outs),
                 f"refers to output {index!r} of node {ref}, which has {len(outs)} output(s)")
        return outs[index]
    _require(isinstance(x, dict) and set(x) == {"literal", "dtype"},
             f"has the input {x!r}; an input is {{'node', 'index'}} or {{'literal', 'dtype'}}")
    kind, value = check_dtype(x["dtype"], "a literal's dtype"), x["literal"]
    if kind is dt.bool_:
        ok = type(value) is bool
    else:
        ok = _is_number(value) and (kind is not dt.int64 or _is_int(value))
    _require(ok, f"has the {kind.name} literal {value!r}, which is not a {kind.name}")
    return kind.numpy.type(value)


def _decode_attr(v):
    if v is None or type(v) in (bool, int, float, str):
        return v
    _require(isinstance(v, dict) and len(v) == 1, f"has the attribute value {v!r}, which no "
                                                  "numbanet op takes")
    (tag, body), = v.items()
    if tag == "slice":
        _require(isinstance(body, list) and len(body) == 3,
                 f"has the slice {body!r}; a slice is [start, stop, step]")
        return slice(*body)
    if tag == "dtype":
        return check_dtype(body, "a dtype attribute")
    _require(tag == "tuple" and isinstance(body, list), f"has the attribute value {v!r}, which "
                                                        "no numbanet op takes")
    return tuple(_decode_attr(x) for x in body)


def graph_from_json(data, constants: dict, where: str = "graph"):
    """The :class:`~numbanet.graph.ir.Graph` that ``data["nodes"]`` describes, every node
    checked against :data:`OPS` (an ArchiveError naming ``where`` and the node otherwise).
    ``constants``: node id -> array of each ``constant`` node, checked against its
    declared shape and dtype."""
    from .ir import Graph
    nodes = data.get("nodes") if isinstance(data, dict) else None
    if not isinstance(nodes, list):
        raise ArchiveError(f"{where}: 'nodes' must be a list of nodes, got {type(nodes).__name__}")
    g = Graph()
    for position, spec in enumerate(nodes):
        op = spec.get("op") if isinstance(spec, dict) else None
        try:
            _require(isinstance(spec, dict) and set(spec) == _NODE_KEYS,
                     f"must be an object with the keys {sorted(_NODE_KEYS)}")
            _require(spec["id"] == position and _is_int(spec["id"]),
                     f"has the id {spec['id']!r}; node ids count up from 0")
            _require(isinstance(op, str) and op in OPS,
                     f"has the op {op!r}, which is not one a numbanet graph file may hold "
                     f"({', '.join(sorted(OPS))})")
            _require(spec["name"] is None or isinstance(spec["name"], str),
                     f"has the name {spec['name']!r}")
            _require(isinstance(spec["inputs"], list) and len(spec["inputs"]) <= 4,
                     "must list at most 4 inputs")
            _require(isinstance(spec["attrs"], dict), "must have an object of attributes")
            _require(isinstance(spec["outputs"], list) and 0 < len(spec["outputs"]) <= 3 and
                     all(isinstance(o, dict) and set(o) == {"shape", "dtype"}
                         for o in spec["outputs"]),
                     "must list its outputs as {'shape', 'dtype'} objects")
            inputs = [_decode_input(x, g) for x in spec["inputs"]]
            outs = [(check_shape(o["shape"], "an output shape"),
                     check_dtype(o["dtype"], "an output dtype")) for o in spec["outputs"]]
            for shape, kind in outs:
                check_size(shape, kind, "an output of")
            attrs = check_attrs(op, {k: _decode_attr(v) for k, v in spec["attrs"].items()})
            node = g.add(op, inputs, attrs, outs, spec["name"])
            if op == "constant":
                array = constants.get(position)
                _require(array is not None, "is a constant whose array is not in the file")
                array = as_declared(array, node.out.shape)
                _require(array.shape == node.out.shape and array.dtype == node.out.dtype.numpy,
                         f"declares a constant {_show(outs)}, but its array is "
                         f"{array.dtype}{list(array.shape)}")
                array.setflags(write=False)
                g.constants[position] = array
            check_node(node, g.constants)
        except Invalid as e:
            raise error(where, position, op, e) from None
        if node.name:
            g._names.setdefault(node.name, 0)
    return g


def as_declared(array, shape: tuple):
    """A stored array as the value of its declared ``shape``: earlier saves stored a 0-d
    array as 1-d of one element (np.ascontiguousarray makes 0-d arrays 1-d)."""
    if shape == () and array.shape == (1,):
        return array.reshape(())
    return array


def error(where: str, node_id, op, problem) -> ArchiveError:
    node = f"node {node_id}" + (f" ({op})" if isinstance(op, str) else "")
    return ArchiveError(f"{where}: {node}: {problem}; the file is damaged or was not written by "
                        "numbanet")


__all__ = ["OPS", "Op", "Invalid", "graph_from_json", "check_node", "check_attrs",
           "check_shape", "check_size", "check_dtype", "as_declared", "MAX_ELEMENTS"]
