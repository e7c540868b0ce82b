"""``amin aminmax logsumexp norm linalg.norm linalg.vector_norm count_nonzero var_mean
std_mean`` (and ``amax`` under its PyTorch name) against PyTorch, with gradients against
central differences on both devices."""
from __future__ import annotations

import math

import numpy as np
import pytest

import numbanet as nb

torch = pytest.importorskip("torch")

A = np.random.default_rng(1).standard_normal((3, 4, 2))
CASES = {
    "amax": lambda m, x: (m.amax(x, 1), x.amax(), x.amax((0, 2), keepdim=True)),
    "amin": lambda m, x: (m.amin(x, -1), x.amin(), x.amin(0, keepdim=True)),
    "aminmax": lambda m, x: tuple(m.aminmax(x, dim=1)) + tuple(x.aminmax()),
    "logsumexp": lambda m, x: (m.logsumexp(x, 1), x.logsumexp((0, 2), keepdim=True)),
    "norm": lambda m, x: (m.norm(x), x.norm(1, dim=1), x.norm(p=3, dim=(0, 2)),
                          x.norm(math.inf, dim=0), m.norm(x, dim=2, keepdim=True)),
    "linalg": lambda m, x: (m.linalg.norm(x), m.linalg.vector_norm(x, 0.5, dim=1),
                            m.linalg.vector_norm(x, -math.inf), m.linalg.norm(x[0, :, 0], 1)),
    "var_mean": lambda m, x: m.var_mean(x, 1) + m.var_mean(x, (0, 2), correction=0),
    "std_mean": lambda m, x: m.std_mean(x, 0) + m.std_mean(x, dim=2, keepdim=True),
}


def _same(o, t):
    assert tuple(o.shape) == tuple(t.shape)
    np.testing.assert_allclose(o.detach().cpu().numpy(), t.detach().numpy(), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    for o, t in zip(CASES[name](nb, nb.tensor(A)), CASES[name](torch, torch.tensor(A))):
        _same(o, t)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients(name, device):
    x = nb.tensor(A, device=device, requires_grad=True)
    assert nb.autograd.gradcheck(lambda t: nb.cat([p.reshape(-1) for p in CASES[name](nb, t)]),
                                 (x,))


def test_count_nonzero_and_special_values_as_torch():
    v = [[0.0, 1.0, -2.0], [0.0, 0.0, 3.0]]
    assert nb.count_nonzero(nb.tensor(v)).item() == torch.count_nonzero(torch.tensor(v)).item()
    assert nb.count_nonzero(nb.tensor(v), dim=0).tolist() == \
        torch.count_nonzero(torch.tensor(v), dim=0).tolist()
    for row in ([-math.inf, -math.inf], [math.inf, 1.0], [1000.0, 1000.0]):
        assert nb.logsumexp(nb.tensor(row), 0).item() == \
            pytest.approx(torch.logsumexp(torch.tensor(row), 0).item())
    with pytest.raises(RuntimeError, match="floating point"):
        nb.linalg.vector_norm(nb.tensor([1, 2]))
