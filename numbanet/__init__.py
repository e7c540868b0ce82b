"""numbanet: a deep-learning micro-framework whose kernels are compiled with Numba.

>>> import numbanet as nb
>>> x = nb.randn(3, 4, requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad.shape
(3, 4)
"""
from . import accelerator, autograd, backends, cuda, datasets, linalg, nn, optim, utils
from .autograd import enable_grad, no_grad, set_grad_enabled
from .autograd.ops import (
    all,
    any,
    argmax,
    argmin,
    bernoulli,
    cat,
    clamp,
    diag,
    flatten,
    index_select,
    log_softmax,
    matmul,
    max,
    mean,
    min,
    mm,
    multinomial,
    narrow,
    normal,
    permute,
    reshape,
    softmax,
    square,
    squeeze,
    stack,
    std,
    sum,
    transpose,
    tril,
    triu,
    unsqueeze,
    var,
    where,
)
from .autograd.ops.pieces import (
    chunk,
    flip,
    movedim,
    repeat_interleave,
    roll,
    select,
    split,
    swapaxes,
    tile,
    unbind,
    unflatten,
)
from .autograd.ops.reduction import amax
from .autograd.ops.reductions_more import (
    amin,
    aminmax,
    count_nonzero,
    logsumexp,
    norm,
    std_mean,
    var_mean,
)
from .autograd.ops.registry import functions as _registered
from .autograd.ops.scatter import (
    argwhere,
    gather,
    index_add,
    index_copy,
    index_fill,
    masked_fill,
    masked_select,
    nonzero,
    scatter,
    scatter_add,
    take,
)
from .autograd.ops.tests_and_blends import (
    addcdiv,
    addcmul,
    allclose,
    equal,
    hypot,
    isclose,
    isfinite,
    isinf,
    isnan,
    isneginf,
    isposinf,
    lerp,
    nan_to_num,
)
from .creation import (
    BoolTensor,
    DoubleTensor,
    FloatTensor,
    LongTensor,
    arange,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .device import device, get_default_device, set_default_device
from .dtypes import DType as dtype
from .dtypes import bool_ as bool
from .dtypes import float32, float64, get_default_dtype, int64, set_default_dtype
from .interop import from_dlpack
from .random import Generator, initial_seed, manual_seed
from .serialization import load, save
from .shapes import Size
from .tensor import Tensor
from .threads import get_num_threads, set_num_threads

globals().update(_registered())  # nb.exp, nb.sin, nb.add, nb.eq, nb.logical_and...

moveaxis, swapdims = movedim, swapaxes
float = float32
double = float64
long = int64

__version__ = "0.1.0"


# The other programming models and tools load on first use, so that a plain
# ``import numbanet`` stays quick: ``numbanet.jit.trace``, ``numbanet.keras.Sequential``...
_LAZY_MODULES = frozenset({"jit", "static", "keras", "models", "viz", "distributed"})


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'numbanet' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_LAZY_MODULES})


def clone(x: Tensor) -> Tensor:
    return x.clone()


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def set_printoptions(**kwargs):
    import numpy as np
    np.set_printoptions(**kwargs)
