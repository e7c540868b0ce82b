"""``isnan isinf isposinf isneginf isfinite nan_to_num isclose allclose equal lerp addcmul
addcdiv hypot`` (and the in-place blends) against PyTorch in every form, with gradients
against central differences."""
from __future__ import annotations

import numpy as np
import pytest

import numbanet as nb

torch = pytest.importorskip("torch")

SPECIAL = [0.0, -1.5, np.inf, -np.inf, np.nan, 2.0, 1e-9]


def _same(ours, theirs):
    if isinstance(theirs, bool):
        assert ours is theirs
        return
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.detach().cpu().numpy().astype(np.float64),
                               theirs.detach().numpy().astype(np.float64), equal_nan=True,
                               rtol=1e-12)


@pytest.mark.parametrize("name", ["isnan", "isinf", "isposinf", "isneginf", "isfinite"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_value_tests_match_torch(name, dtype):
    values = SPECIAL if dtype.startswith("float") else [0, 3, -2, 1]
    x = nb.tensor(values, dtype=getattr(nb, dtype))
    tx = torch.tensor(values, dtype=getattr(torch, dtype))
    _same(getattr(nb, name)(x), getattr(torch, name)(tx))
    _same(getattr(x, name)(), getattr(tx, name)())


def test_nan_to_num_matches_torch():
    for dtype in ("float32", "float64"):
        x = nb.tensor(SPECIAL, dtype=getattr(nb, dtype))
        tx = torch.tensor(SPECIAL, dtype=getattr(torch, dtype))
        _same(nb.nan_to_num(x), torch.nan_to_num(tx))
        _same(x.nan_to_num(nan=1.0, posinf=9.0, neginf=-9.0),
              tx.nan_to_num(nan=1.0, posinf=9.0, neginf=-9.0))


def test_isclose_allclose_equal_match_torch():
    a = [1.0, np.inf, np.nan, 1e-10, 100.0, -np.inf]
    b = [1.0 + 1e-6, np.inf, np.nan, 0.0, 100.001, np.inf]
    x, y = nb.tensor(a, dtype=nb.float64), nb.tensor(b, dtype=nb.float64)
    tx, ty = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    for kwargs in ({}, {"equal_nan": True}, {"rtol": 1e-3, "atol": 0.0}):
        _same(nb.isclose(x, y, **kwargs), torch.isclose(tx, ty, **kwargs))
        _same(x.isclose(y, **kwargs), tx.isclose(ty, **kwargs))
        assert nb.allclose(x[:2], y[:2], **kwargs) == torch.allclose(tx[:2], ty[:2], **kwargs)
    _same(nb.isclose(nb.tensor([1, 2]), nb.tensor([1, 3])),
          torch.isclose(torch.tensor([1, 2]), torch.tensor([1, 3])))
    assert nb.equal(x[:2], x[:2]) and not nb.equal(x, y) and not nb.equal(x, x[:3])
    assert nb.equal(nb.ones(2), nb.ones(2)) == torch.equal(torch.ones(2), torch.ones(2))
    with pytest.raises(RuntimeError, match="did not match"):
        nb.isclose(x, nb.ones(6))


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_blends_match_torch_with_gradients(device):
    rng = np.random.default_rng(3)
    a, b, c = (rng.standard_normal((2, 3)) for _ in range(3))
    c = np.abs(c) + 0.5
    cases = [
        (lambda m, x, y, z: m.lerp(x, y, 0.3), "lerp"),
        (lambda m, x, y, z: x.lerp(y, z * 0.1), "lerp tensor weight"),
        (lambda m, x, y, z: m.addcmul(x, y, z, value=0.5), "addcmul"),
        (lambda m, x, y, z: x.addcdiv(y, z, value=-2), "addcdiv"),
        (lambda m, x, y, z: m.hypot(x, y), "hypot"),
    ]
    for fn, what in cases:
        ours = fn(nb, *(nb.tensor(v, device=device) for v in (a, b, c)))
        theirs = fn(torch, *(torch.tensor(v) for v in (a, b, c)))
        _same(ours, theirs)
        args = tuple(nb.tensor(v, device=device, requires_grad=True) for v in (a, b, c))
        assert nb.autograd.gradcheck(lambda x, y, z, fn=fn: fn(nb, x, y, z), args), what


def test_in_place_blends_match_torch():
    a, b, c = [1.0, 2.0], [3.0, -1.0], [2.0, 4.0]
    for fn in (lambda x, y, z: x.lerp_(y, 0.25), lambda x, y, z: x.addcmul_(y, z, value=2),
               lambda x, y, z: x.addcdiv_(y, z)):
        x = nb.tensor(a)
        tx = torch.tensor(a)
        assert fn(x, nb.tensor(b), nb.tensor(c)) is x
        fn(tx, torch.tensor(b), torch.tensor(c))
        _same(x, tx)
    with pytest.raises(RuntimeError, match="Integer division"):
        nb.addcdiv(nb.ones(2), nb.tensor([1, 2]), nb.tensor([1, 2]))
