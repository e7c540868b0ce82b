"""nn.init against PyTorch: calculate_gain for every nonlinearity, the fan modes and their
errors, the statistics of the random initialisers on large tensors (trunc_normal_ against
the truncated normal's exact mean and std, also far in a tail), orthogonality, and the
exact eye_ / dirac_ / constant fills."""
from __future__ import annotations

import math

import numpy as np
import pytest

import numbanet as nb
from numbanet import nn

torch = pytest.importorskip("torch")


def host(t):
    return t.detach().cpu().numpy()


@pytest.mark.parametrize("name,param", [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose1d", None), ("conv_transpose2d", None), ("conv_transpose3d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
    ("leaky_relu", 0.2), ("leaky_relu", 3), ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_matches_torch(name, param):
    assert nn.init.calculate_gain(name, param) == \
        pytest.approx(torch.nn.init.calculate_gain(name, param), rel=1e-15)


def test_calculate_gain_errors_as_torch():
    for args in (("swish",), ("leaky_relu", "0.1"), ("leaky_relu", True)):
        with pytest.raises(ValueError) as ours:
            nn.init.calculate_gain(*args)
        with pytest.raises(ValueError) as theirs:
            torch.nn.init.calculate_gain(*args)
        assert str(ours.value).startswith(str(theirs.value))


def test_fans_modes_and_their_errors():
    fan = nn.init._calculate_fan_in_and_fan_out
    assert fan(nb.empty(6, 4, 3, 5)) == torch.nn.init._calculate_fan_in_and_fan_out(
        torch.empty(6, 4, 3, 5)) == (60, 90)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(nb.empty(5))
    with pytest.raises(ValueError) as ours:
        nn.init.kaiming_normal_(nb.empty(3, 4), mode="fan_avg")
    with pytest.raises(ValueError) as theirs:
        torch.nn.init.kaiming_normal_(torch.empty(3, 4), mode="fan_avg")
    assert str(ours.value) == str(theirs.value)
    with pytest.warns(UserWarning, match="zero-element"):
        nn.init.kaiming_uniform_(nb.empty(0, 3))


@pytest.mark.parametrize("fill,kwargs,shape", [
    ("kaiming_uniform_", {"a": 0.3, "mode": "fan_out", "nonlinearity": "leaky_relu"},
     (300, 200, 3)),
    ("kaiming_normal_", {"mode": "fan_in", "nonlinearity": "relu"}, (300, 600)),
    ("xavier_uniform_", {"gain": 2.0}, (400, 500)),
    ("xavier_normal_", {"gain": 0.5}, (400, 500)),
    ("uniform_", {"a": -3.0, "b": 1.0}, (400, 500)),
    ("normal_", {"mean": 2.0, "std": 0.5}, (400, 500)),
    ("trunc_normal_", {"mean": 0.5, "std": 2.0, "a": -1.0, "b": 4.0}, (400, 500)),
])
def test_random_initialisers_have_torchs_statistics(fill, kwargs, shape):
    nb.manual_seed(0)
    torch.manual_seed(0)
    ours = getattr(nn.init, fill)(nb.empty(*shape, dtype=nb.float64), **kwargs)
    theirs = getattr(torch.nn.init, fill)(torch.empty(*shape, dtype=torch.float64), **kwargs)
    x, y = host(ours), theirs.numpy()
    assert abs(x.mean() - y.mean()) < 8 * y.std() / math.sqrt(x.size)
    assert x.std() == pytest.approx(y.std(), rel=0.01)
    if "uniform" in fill or "trunc" in fill:  # bounded: both reach the same bounds
        assert abs(x.min() - y.min()) < 0.01 * y.std()
        assert abs(x.max() - y.max()) < 0.01 * y.std()


def _truncated_moments(a: float, b: float) -> tuple[float, float]:
    """The mean and standard deviation of N(0, 1) conditioned on [a, b]."""
    def pdf(x):
        return 0.0 if math.isinf(x) else math.exp(-x * x / 2) / math.sqrt(2 * math.pi)

    def cdf(x):
        return 0.5 * (1 + math.erf(x / math.sqrt(2)))

    mass = cdf(b) - cdf(a)
    mean = (pdf(a) - pdf(b)) / mass
    xa = 0.0 if math.isinf(a) else a * pdf(a)
    xb = 0.0 if math.isinf(b) else b * pdf(b)
    return mean, math.sqrt(1 + (xa - xb) / mass - mean * mean)


@pytest.mark.parametrize("a,b", [(-2.0, 2.0), (3.0, math.inf), (2.5, 2.7), (-0.05, 0.05),
                                 (-math.inf, -4.0), (0.6, 1.6), (-1.0, 0.2), (5.0, 6.0)])
def test_trunc_normal_is_exact_also_in_tails_and_narrow_intervals(a, b):
    nb.manual_seed(1)
    mean, std = 1.0, 0.5
    t = nn.init.trunc_normal_(nb.empty(200, 500, dtype=nb.float64), mean, std,
                              mean + a * std, mean + b * std)
    x = (host(t) - mean) / std
    m, s = _truncated_moments(a, b)
    assert x.min() >= a and x.max() <= b
    assert abs(x.mean() - m) < 5 * s / math.sqrt(x.size)
    assert x.std() == pytest.approx(s, rel=0.02)
    with pytest.raises(RuntimeError, match="a <= b"):
        nn.init.trunc_normal_(nb.empty(3), a=1.0, b=0.0)


def test_orthogonal_is_orthogonal_for_tall_wide_and_conv_shapes():
    nb.manual_seed(2)
    for shape, gain in (((50, 20), 1.0), ((20, 50), 2.0), ((8, 3, 3, 3), 0.5)):
        w = nn.init.orthogonal_(nb.empty(*shape, dtype=nb.float64), gain=gain)
        flat = host(w).reshape(shape[0], -1)
        small = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
        np.testing.assert_allclose(small, gain ** 2 * np.eye(len(small)), atol=1e-12)
    w32 = nn.init.orthogonal_(nn.Parameter(nb.empty(16, 16)))
    assert w32.dtype is nb.float32 and w32.requires_grad and w32.grad_fn is None
    np.testing.assert_allclose(host(w32) @ host(w32).T, np.eye(16), atol=1e-5)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        nn.init.orthogonal_(nb.empty(4))


def test_sparse_zeros_the_same_count_in_every_column():
    nb.manual_seed(3)
    w = nn.init.sparse_(nb.empty(40, 30, dtype=nb.float64), sparsity=0.3, std=0.02)
    zeros_per_column = (host(w) == 0).sum(axis=0)
    assert (zeros_per_column == math.ceil(0.3 * 40)).all()
    rest = host(w)[host(w) != 0]
    assert rest.std() == pytest.approx(0.02, rel=0.1)
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        nn.init.sparse_(nb.empty(2, 2, 2), 0.1)


def test_eye_dirac_and_constant_fills_are_exact():
    for shape in ((3, 5), (5, 3), (4, 4)):
        ours = nn.init.eye_(nn.Parameter(nb.empty(*shape)))
        assert ours.requires_grad
        np.testing.assert_array_equal(host(ours), torch.nn.init.eye_(torch.empty(*shape)))
    for shape, groups in (((4, 2, 3), 1), ((6, 4, 3, 3), 2), ((4, 4, 1, 3, 3), 1),
                          ((2, 5, 3, 3), 1)):
        ours = nn.init.dirac_(nb.empty(*shape), groups=groups)
        theirs = torch.nn.init.dirac_(torch.empty(*shape), groups=groups)
        np.testing.assert_array_equal(host(ours), theirs.numpy())
    x = nb.randn(1, 2, 7, 7)
    w = nn.init.dirac_(nb.empty(2, 2, 3, 3))
    np.testing.assert_allclose(host(nb.nn.functional.conv2d(x, w, padding=1)), host(x),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="dim 0 must be divisible by groups"):
        nn.init.dirac_(nb.empty(3, 2, 3), groups=2)
    with pytest.raises(ValueError, match="3, 4, or 5 dimensions"):
        nn.init.dirac_(nb.empty(3, 3))
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        nn.init.eye_(nb.empty(3))
    for fill, value in ((nn.init.zeros_, 0.0), (nn.init.ones_, 1.0),
                        (lambda t: nn.init.constant_(t, 0.25), 0.25)):
        p = nn.Parameter(nb.empty(3, 2))
        assert fill(p) is p and (host(p) == value).all() and p.grad_fn is None


INITIALISERS = ["uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
                "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                "kaiming_normal_", "orthogonal_", "sparse_", "calculate_gain"]


@pytest.mark.parametrize("name", INITIALISERS)
def test_signatures_are_torchs(name):
    import inspect

    def params(fn):
        return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]

    assert params(getattr(nn.init, name)) == params(getattr(torch.nn.init, name))


@pytest.mark.parametrize("call", [
    lambda t, g: nn.init.uniform_(t, generator=g), lambda t, g: nn.init.normal_(t, generator=g),
    lambda t, g: nn.init.trunc_normal_(t, generator=g),
    lambda t, g: nn.init.trunc_normal_(t, a=3.0, b=math.inf, generator=g),
    lambda t, g: nn.init.xavier_normal_(t, generator=g),
    lambda t, g: nn.init.kaiming_uniform_(t, generator=g),
    lambda t, g: nn.init.orthogonal_(t, generator=g),
    lambda t, g: nn.init.sparse_(t, 0.5, generator=g)])
def test_a_generator_makes_the_fill_reproducible(call):
    first = host(call(nb.empty(6, 5), nb.Generator().manual_seed(7)))
    nb.manual_seed(123)  # the global stream does not matter
    again = host(call(nb.empty(6, 5), nb.Generator().manual_seed(7)))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, host(call(nb.empty(6, 5), nb.Generator().manual_seed(8))))
