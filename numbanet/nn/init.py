"""``numbanet.nn.init``: fill a weight tensor in place, with PyTorch's formulas.

Each function draws on the tensor's own device (``nb.rand``/``nb.randn``), copies the
values in under ``no_grad`` (so it works on a Parameter that requires grad) and returns
the tensor (``orthogonal_``'s QR decomposition and the fixed patterns of ``dirac_`` are
computed on the host and copied in)::

    w = nn.Parameter(nb.empty(100, 1000))
    nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu")   # std sqrt(2/1000)
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ..autograd import no_grad
from ..autograd.ops.shape import cat
from ..creation import eye, rand, randn, tensor, zeros
from ..tensor import Tensor

_LINEAR_GAINS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                 "conv_transpose2d", "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity: 1 for linear/conv/sigmoid, 5/3 for tanh,
    sqrt(2) for relu, sqrt(2 / (1 + slope**2)) for leaky_relu (slope ``param``, default
    0.01), 3/4 for selu."""
    if nonlinearity in _LINEAR_GAINS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity} (expected one of "
                     f"{', '.join(_LINEAR_GAINS)}, tanh, relu, leaky_relu, selu)")


def _fill_from(tensor: Tensor, values: Tensor) -> Tensor:
    with no_grad():
        tensor.copy_(values)
    return tensor


def _floating(tensor: Tensor, fn: str):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: expected a Tensor, got {type(tensor).__name__}")
    if not tensor.dtype.is_floating_point:
        raise TypeError(f"{fn}: can only fill floating point tensors, got {tensor.dtype.name}")
    return tensor.dtype


def _number(value, fn: str, name: str, position: int) -> float:
    """PyTorch's TypeError for a bound or a value that is not a real number."""
    if isinstance(value, Tensor) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be float, not "
                        f"{type(value).__name__}")
    return float(value)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with values drawn from U(a, b)."""
    dtype = _floating(tensor, "uniform_")
    a, b = _number(a, "uniform_", "from", 1), _number(b, "uniform_", "to", 2)
    for name, bound in (("from", a), ("to", b)):
        if not math.isfinite(bound):
            raise RuntimeError(f"uniform_: {name} is out of bounds for float: {bound}; the "
                               "bounds must be finite numbers")
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={a} > to={b}; give the smaller bound first")
    return _fill_from(tensor, rand(tensor.shape, generator=generator, dtype=dtype,
                                    device=tensor.device)
                      * (b - a) + a)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with values drawn from N(mean, std**2)."""
    dtype = _floating(tensor, "normal_")
    mean, std = _number(mean, "normal_", "mean", 1), _number(std, "normal_", "std", 2)
    if not std >= 0.0:  # NaN too
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    return _fill_from(tensor, randn(tensor.shape, generator=generator, dtype=dtype,
                                     device=tensor.device)
                      * std + mean)


def constant_(tensor: Tensor, val: float) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"constant_: expected a Tensor, got {type(tensor).__name__}")
    _number(val, "constant_", "val", 2)
    with no_grad():
        tensor.fill_(val)
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """fan_in = size(1) * receptive field, fan_out = size(0) * receptive field, for a
    weight shaped (out, in, *kernel)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"fan in and fan out: expected a Tensor, got {type(tensor).__name__}")
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (got shape {tuple(tensor.shape)})")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def default_layer_init_(weight: Tensor, bias: Tensor | None) -> None:
    """PyTorch's default for Linear and Conv layers: kaiming_uniform(a=sqrt(5)) for the
    weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot normal: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if 0 in tuple(tensor.shape):
        return 0.0
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He uniform: U(-bound, bound) with bound = gain * sqrt(3 / fan), gain from
    ``calculate_gain(nonlinearity, a)``. ``nn.Linear`` uses it with a = sqrt(5), which
    gives bound = 1 / sqrt(in_features)."""
    _floating(tensor, "kaiming_uniform_")
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He normal: N(0, std**2) with std = gain / sqrt(fan)."""
    _floating(tensor, "kaiming_normal_")
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def _norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _truncated_standard_normal(n: int, lo: float, hi: float, dtype, device,
                               generator) -> Tensor:
    """``n`` draws of N(0, 1) conditioned on [lo, hi], by exact rejection sampling: from
    N(0, 1) itself when [lo, hi] holds a fair share of the mass; otherwise (a tail, or a
    narrow interval) from a shifted exponential (Robert, 1995) or a uniform proposal, so
    that any interval is sampled in a few rounds."""
    mass = _norm_cdf(hi) - _norm_cdf(lo)
    sign = 1.0
    if mass < 0.3 and hi <= 0:  # sample the mirrored interval on the positive side
        lo, hi, sign = -hi, -lo, -1.0
    rate = 0.3  # a first guess of the share of proposals accepted (refined as they come)

    def uniform(m):
        return rand(m, generator=generator, dtype=dtype, device=device)

    if mass >= 0.3:
        rate = mass

        def propose(m):
            z = randn(m, generator=generator, dtype=dtype, device=device)
            return z, (z >= lo) & (z <= hi)
    elif lo > 0 and (hi - lo) * (hi + lo) >= 2:  # a long tail: exponential proposal
        lam = (lo + math.sqrt(lo * lo + 4.0)) / 2

        def propose(m):
            z = lo - (1.0 - uniform(m)).log() / lam
            keep = uniform(m) <= (-((z - lam) ** 2) / 2).exp()
            return z, keep & (z <= hi)
    else:  # a short interval: uniform proposal, accepted with the density's ratio
        top = max(lo, 0.0)  # the point of [lo, hi] nearest 0, where the density peaks

        def propose(m):
            z = uniform(m) * (hi - lo) + lo
            keep = uniform(m) <= ((top * top - z * z) / 2).exp()
            return z, keep
    found, have = [], 0
    while have < n:
        m = int((n - have) / rate * 1.1) + 16
        z, keep = propose(m)
        z = z[keep]
        found.append(z)
        have += z.numel()
        rate = max(z.numel() / m, 0.05)
    out = (cat(found) if len(found) > 1 else found[0])[:n]
    return out * sign if sign < 0 else out


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None) -> Tensor:
    """Fill with values drawn from N(mean, std**2) truncated to [a, b] (exactly, by
    rejection sampling, also far in a tail)."""
    dtype = _floating(tensor, "trunc_normal_")
    mean, std = _number(mean, "trunc_normal_", "mean", 1), _number(std, "trunc_normal_",
                                                                     "std", 2)
    a, b = _number(a, "trunc_normal_", "a", 3), _number(b, "trunc_normal_", "b", 4)
    if not std > 0.0:
        raise RuntimeError(f"trunc_normal_ expects std > 0.0, but found std {std}")
    if math.isnan(a) or math.isnan(b) or a > b:
        raise RuntimeError(f"trunc_normal_ expects a <= b, but found a={a} and b={b}; give "
                           "the lower bound first")
    n = tensor.numel()
    if n == 0:
        return tensor
    z = _truncated_standard_normal(n, (a - mean) / std, (b - mean) / std, dtype,
                                   tensor.device, generator)
    return _fill_from(tensor, (z * std + mean).clamp(a, b).reshape(tensor.shape))


def _host_to(values: np.ndarray, like: Tensor) -> Tensor:
    return tensor(values, dtype=like.dtype, device=like.device)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Fill with a (semi-)orthogonal matrix times ``gain``: the Q of the QR decomposition of
    a Gaussian matrix, its columns' signs fixed so that it is uniformly distributed
    (Saxe et al., 2013). Dimensions after the first are flattened. The Gaussian matrix is
    drawn from numbanet's generator; the decomposition runs on the host (NumPy's QR), once,
    and the result is copied to the tensor's device."""
    _floating(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = randn(rows, cols, generator=generator, dtype="float64").numpy()
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill_from(tensor, _host_to(q * gain, tensor).reshape(tensor.shape))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01,
            generator=None) -> Tensor:
    """Fill a 2-D tensor from N(0, std**2) and set ``ceil(sparsity * rows)`` randomly
    chosen entries of every column to zero (Martens, 2010). The rows to zero come from
    ranking uniform draws of numbanet's generator in each column (on the host)."""
    _floating(tensor, "sparse_")
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    normal_(tensor, 0.0, std, generator)
    # each column's rows in a random order; its first num_zeros rows become zeros
    draws = rand(rows, cols, generator=generator, dtype="float64").numpy()
    order = draws.argsort(axis=0).argsort(axis=0)
    keep = _host_to((order >= num_zeros).astype(np.float64), tensor)
    with no_grad():
        tensor.mul_(keep)
    return tensor


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal, as many as fit)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"eye_: expected a Tensor, got {type(tensor).__name__}")
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill_from(tensor, eye(*tensor.shape, dtype=tensor.dtype, device=tensor.device))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3, 4 or 5-D convolution weight with the Dirac delta: the convolution keeps its
    input channels as they are (in each of ``groups`` groups of output channels)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"dirac_: expected a Tensor, got {type(tensor).__name__}")
    if tensor.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tuple(tensor.shape)
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    per_group = sizes[0] // groups
    values = np.zeros(sizes)
    centre = tuple(s // 2 for s in sizes[2:])
    for g in range(groups):
        for d in range(min(per_group, sizes[1])):
            values[(g * per_group + d, d) + centre] = 1
    return _fill_from(tensor, _host_to(values, tensor) if tensor.numel() else
                      zeros(sizes, dtype=tensor.dtype, device=tensor.device))


__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_",
           "ones_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "orthogonal_", "sparse_"]
