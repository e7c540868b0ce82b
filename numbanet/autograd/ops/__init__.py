"""The differentiable ops of numbanet, one ``Function`` each, and their functional forms.

The elementwise ops are declared in the registry (``registry.UNARY`` and ``registry.BINARY``):
their functions are exported here and their Tensor methods attached from it."""
import sys as _sys

from ... import tensor as _tensor
from .elementwise import (
    clamp,
    invert,
    logical_not,
    sign,
    square,
    square_,
    where,
)
from .indexing import getitem, index_select, narrow
from .inplace import add_into, copy_, fill_, inplace, inplace_unary, setitem, zeros_on
from .linalg import matmul, mm
from .matrices import diag, tril, triu
from .pieces import (
    chunk,
    flip,
    movedim,
    mT,
    repeat,
    repeat_interleave,
    roll,
    select,
    split,
    swapaxes,
    tile,
    unbind,
    unflatten,
)
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
    std,
    sum,
    sum_to_shape,
    var,
)
from .reductions_more import (
    amin,
    aminmax,
    count_nonzero,
    logsumexp,
    norm,
    std_mean,
    var_mean,
    vector_norm,
)
from .registry import attach_binary_methods as _attach_binary_methods
from .registry import attach_methods as _attach_methods
from .registry import functions as _functions
from .sampling import (
    bernoulli,
    bernoulli_,
    exponential_,
    multinomial,
    normal,
    normal_,
    random_,
    uniform_,
)
from .scatter import (
    argwhere,
    gather,
    index_add,
    index_add_,
    index_copy,
    index_copy_,
    index_fill,
    index_fill_,
    masked_fill,
    masked_fill_,
    masked_select,
    nonzero,
    scatter,
    scatter_,
    scatter_add,
    scatter_add_,
    take,
)
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
from .tests_and_blends import (
    addcdiv,
    addcdiv_,
    addcmul,
    addcmul_,
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
    lerp_,
    nan_to_num,
)

globals().update(_functions())  # exp, relu, sin, add, mul, eq, logical_and...
_attach_methods()
_attach_binary_methods()
# Tensor methods that are the op's function itself: x.sum(1) is sum(x, 1)
_METHODS = {fn.__name__: fn for fn in (
    clamp, softmax, log_softmax, sum, mean, var, std, max, min, argmax, argmin, any, all, t,
    transpose, flatten, squeeze, unsqueeze, clone, contiguous, index_select, narrow, tril,
    triu, diag, bernoulli, multinomial, uniform_, normal_, bernoulli_, exponential_,
    random_, chunk, flip, movedim, repeat, repeat_interleave, roll, select, split, swapaxes, tile,
    unbind, unflatten, square, square_, addcdiv, addcdiv_, addcmul, addcmul_, allclose,
    equal, hypot, isclose, isfinite, isinf, isnan, isneginf, isposinf, lerp, lerp_,
    nan_to_num, amax, amin, aminmax, count_nonzero, logsumexp, norm, argwhere, gather,
    index_add, index_add_, index_copy, index_copy_, index_fill, index_fill_, masked_fill,
    masked_fill_, masked_select, nonzero, scatter, scatter_, scatter_add, scatter_add_, take)}
_ALIASES = {"clip": clamp, "moveaxis": movedim, "swapdims": swapaxes}
for _name, _fn in {**_METHODS, **_ALIASES}.items():
    setattr(_tensor.Tensor, _name, _fn)
_tensor.Tensor.mT = _tensor.Tensor.mH = property(mT)  # type: ignore[attr-defined]
moveaxis, swapdims = movedim, swapaxes
_tensor._ops = _sys.modules[__name__]  # Tensor's methods call the ops through it

__all__ = [name for name in dir() if not name.startswith("_")]
