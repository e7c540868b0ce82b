"""The four dtypes of numbanet and NumPy-like type promotion.

``nb.float32`` is the default for floating-point data; ``nb.float64``,
``nb.int64`` and ``nb.bool`` complete the set. NumPy dtypes (``np.float64``)
and strings (``'float64'``, ``'float'``, ``'long'``) are accepted wherever a
dtype is expected.
"""
from __future__ import annotations

import builtins

import numpy as np


class DType:
    """A tensor element type. Compare with ``==``; ``.numpy`` is the NumPy dtype."""

    __slots__ = ("name", "numpy", "is_floating_point", "category", "itemsize")

    def __init__(self, name: str, np_dtype, category: int):
        self.name = name
        self.numpy = np.dtype(np_dtype)
        # category orders kinds for promotion: bool < integer < floating point.
        self.category = category
        self.is_floating_point = category == 2
        self.itemsize = self.numpy.itemsize

    def __repr__(self) -> str:
        return f"numbanet.{self.name}"

    def __reduce__(self):
        return (as_dtype, (self.name,))


float32 = DType("float32", np.float32, 2)
float64 = DType("float64", np.float64, 2)
int64 = DType("int64", np.int64, 1)
bool_ = DType("bool", np.bool_, 0)

ALL = (float32, float64, int64, bool_)
_BY_NUMPY = {d.numpy: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update({"float": float32, "double": float64, "long": int64, "int": int64,
                 "float32": float32, "float64": float64, "int64": int64, "bool": bool_})

DEFAULT_FLOAT = float32  # set_default_dtype changes it
DEFAULT_INT = int64


def set_default_dtype(d) -> None:
    """The dtype of new floating-point tensors (float32 at start; float64 possible), and
    the type Python floats promote integer tensors to, as PyTorch's."""
    global DEFAULT_FLOAT
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got "
                        f"{d}")
    DEFAULT_FLOAT = d


def get_default_dtype() -> DType:
    return DEFAULT_FLOAT
# the integers numbanet holds, and takes as operands: [INT64_LOW, INT64_END)
INT64_LOW, INT64_END = -(1 << 63), 1 << 63


def as_dtype(obj) -> DType:
    """Turn a numbanet dtype, NumPy dtype, Python type or string into a DType."""
    if isinstance(obj, DType):
        return obj
    if isinstance(obj, str):
        found = _BY_NAME.get(obj.replace("numbanet.", "").replace("torch.", ""))
        if found is not None:
            return found
    elif obj is builtins.float:
        return DEFAULT_FLOAT
    elif obj is builtins.int:
        return DEFAULT_INT
    elif obj is builtins.bool:
        return bool_
    else:
        try:
            found = _BY_NUMPY.get(np.dtype(obj))
        except TypeError:
            found = None
        if found is not None:
            return found
    raise TypeError(
        f"unsupported dtype {obj!r}: numbanet tensors hold float32, float64, int64 or bool "
        "(pass nb.float32, nb.float64, nb.int64, nb.bool, a NumPy dtype or one of those names)")


# names of PyTorch dtypes that NumPy does not know (NumPy's own are found by np.dtype)
_OTHER_NAMES = {"bfloat16", "half", "cfloat", "cdouble", "chalf", "short", "qint8", "quint8",
                "qint32", "float8_e4m3fn", "float8_e5m2"}


def is_unsupported_dtype_name(name: str) -> bool:
    """Whether ``name`` names a dtype of NumPy or PyTorch that numbanet does not have."""
    name = name.replace("torch.", "").replace("numpy.", "")
    if name in _BY_NAME:
        return False
    if name in _OTHER_NAMES:
        return True
    try:
        np.dtype(name)
    except TypeError:
        return False
    return True


def from_numpy_dtype(np_dtype) -> DType:
    """The numbanet dtype that holds values of a NumPy dtype (float16 -> float32,
    int8 -> int64...)."""
    np_dtype = np.dtype(np_dtype)
    found = _BY_NUMPY.get(np_dtype)
    if found is not None:
        return found
    if np_dtype.kind == "f":
        return float64 if np_dtype.itemsize > 4 else float32
    if np_dtype.kind in "iu":
        return int64
    raise TypeError(f"cannot make a tensor from NumPy data of dtype {np_dtype}: "
                    "numbanet tensors hold float32, float64, int64 or bool")


def promote(a: DType, b: DType) -> DType:
    """The dtype of a binary op's result on two tensors (NumPy's rules on our four dtypes)."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    return a if a.itemsize >= b.itemsize else b


def scalar_category(value) -> int:
    if isinstance(value, (bool, np.bool_)):
        return 0
    if isinstance(value, (int, np.integer)):
        return 1
    return 2


def promote_scalar(t: DType, value) -> DType:
    """A Python scalar is 'weak': it changes the dtype only when it is of a higher kind."""
    c = scalar_category(value)
    if c <= t.category:
        return t
    return DEFAULT_FLOAT if c == 2 else DEFAULT_INT
