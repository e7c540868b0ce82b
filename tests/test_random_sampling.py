"""``Generator`` and the sampling functions (``normal``, ``bernoulli``, ``multinomial``, the
in-place ``uniform_``, ``normal_``, ``bernoulli_``, ``exponential_``, ``random_``): the same
seed gives the same numbers, the statistics are right, and the errors are PyTorch's."""
from __future__ import annotations

import numpy as np
import pytest

import numbanet as nb

N = 200_000


def test_a_generator_repeats_for_its_seed_whatever_else_is_drawn():
    a = nb.rand(5, generator=nb.Generator().manual_seed(7))
    nb.rand(100)  # the global stream moves; the generator's does not care
    b = nb.rand(5, generator=nb.Generator().manual_seed(7))
    assert a.tolist() == b.tolist()
    g = nb.Generator().manual_seed(1)
    assert g.initial_seed() == 1
    state = g.get_state()
    first = [nb.randn(4, generator=g).tolist(), nb.randint(0, 9, (4,), generator=g).tolist()]
    g.set_state(state)
    again = [nb.randn(4, generator=g).tolist(), nb.randint(0, 9, (4,), generator=g).tolist()]
    assert first == again
    with pytest.raises(TypeError, match="long"):
        g.manual_seed(1.5)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_in_place_initialisers_have_the_right_statistics(device):
    n = N if device == "cpu" else 1_000  # the CUDA simulator runs each element in Python
    x = nb.empty(n, dtype=nb.float64, device=device)
    x.uniform_(-2.0, 4.0)
    v = x.cpu().numpy()
    tol = 5 / np.sqrt(n)  # five standard errors of a mean of unit spread
    assert v.min() >= -2.0 and v.max() < 4.0 and abs(v.mean() - 1.0) < 2 * tol
    x.normal_(3.0, 0.5)
    v = x.cpu().numpy()
    assert abs(v.mean() - 3.0) < tol and abs(v.std() - 0.5) < tol
    x.exponential_(2.0)
    v = x.cpu().numpy()
    assert v.min() >= 0 and abs(v.mean() - 0.5) < tol
    x.bernoulli_(0.3)
    v = x.cpu().numpy()
    assert set(np.unique(v)) <= {0.0, 1.0} and abs(v.mean() - 0.3) < tol
    x.random_(3, 8)
    v = x.cpu().numpy()
    assert set(np.unique(v)) == {3.0, 4.0, 5.0, 6.0, 7.0}
    assert x.uniform_() is x


def test_random_with_one_bound_and_the_dtype_s_range():
    x = nb.empty(1000, dtype=nb.int64).random_(5)
    assert set(np.unique(x.numpy())) == set(range(5))
    f = nb.empty(1000).random_()
    assert f.numpy().min() >= 0 and f.numpy().max() < 2 ** 24


def test_normal_broadcasts_tensor_parameters():
    mean = nb.tensor([0.0, 10.0, -5.0], dtype=nb.float64)
    std = nb.tensor([[1.0], [0.1]], dtype=nb.float64)
    out = nb.normal(mean, std)
    assert out.shape == (2, 3) and out.dtype == nb.float64
    samples = nb.normal(mean.expand(N // 3, 3), 2.0).numpy()
    np.testing.assert_allclose(samples.mean(0), [0.0, 10.0, -5.0], atol=0.05)
    assert nb.normal(1.0, 2.0, size=(4, 2)).shape == (4, 2)
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        nb.normal(nb.zeros(2), -1.0)
    assert not nb.normal(mean.requires_grad_(), 1.0).requires_grad


def test_bernoulli_and_multinomial():
    p = nb.tensor([0.0, 0.25, 1.0]).expand(N // 3, 3)
    draws = nb.bernoulli(p).numpy()
    np.testing.assert_allclose(draws.mean(0), [0.0, 0.25, 1.0], atol=0.01)
    with pytest.raises(RuntimeError, match=r"\[0, 1\]"):
        nb.bernoulli(nb.tensor([1.5]))
    w = nb.tensor([1.0, 3.0, 0.0, 4.0])
    picks = nb.multinomial(w, 80_000, replacement=True).numpy()
    np.testing.assert_allclose(np.bincount(picks, minlength=4) / 80_000,
                               [0.125, 0.375, 0.0, 0.5], atol=0.01)
    rows = nb.multinomial(nb.ones(5, 6), 6)  # without replacement: each a permutation
    assert rows.dtype == nb.int64 and rows.shape == (5, 6)
    assert all(sorted(r) == list(range(6)) for r in rows.tolist())
    with pytest.raises(RuntimeError, match="without replacement"):
        nb.multinomial(nb.ones(3), 4)
    with pytest.raises(RuntimeError, match="element < 0"):
        nb.multinomial(nb.tensor([1.0, -1.0]), 1)
    g1, g2 = nb.Generator().manual_seed(4), nb.Generator().manual_seed(4)
    assert nb.multinomial(w, 5, True, generator=g1).tolist() == \
        nb.multinomial(w, 5, True, generator=g2).tolist()


def test_manual_seed_repeats_the_sampling_functions():
    out = []
    for _ in range(2):
        nb.manual_seed(11)
        x = nb.empty(6)
        out.append([x.normal_().tolist(), nb.bernoulli(nb.full((4,), 0.5)).tolist(),
                    nb.multinomial(nb.ones(10), 3).tolist()])
    assert out[0] == out[1]
