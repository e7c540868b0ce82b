"""``gather scatter scatter_add index_add index_copy index_fill masked_fill masked_select
take nonzero argwhere where(cond)`` and the in-place forms, against PyTorch, with gradients
against central differences on both devices."""
from __future__ import annotations

import numpy as np
import pytest

import numbanet as nb

torch = pytest.importorskip("torch")

A = np.random.default_rng(0).standard_normal((3, 4))
IDX = np.array([[0, 2, 1, 0], [2, 2, 0, 1]])
PERM = np.array([[1, 3], [0, 2], [3, 1]])  # no place twice in a row: scatter writes are defined

CASES = {
    "gather": lambda m, x: (m.gather(x, 0, m.tensor(IDX)), x.gather(1, m.tensor(IDX)[:, :3]),
                            x.gather(-1, m.tensor(PERM))),
    "scatter": lambda m, x: (x.scatter(0, m.tensor(IDX), 5.0),
                             m.scatter(x, 1, m.tensor(PERM), x[:, :2] * 3),
                             x.scatter(0, m.tensor(IDX), x, reduce="add")),
    "scatter_add": lambda m, x: (m.scatter_add(x * 0, 0, m.tensor(IDX), x),
                                 x.scatter_add(1, m.tensor(PERM), x)),
    "index_add": lambda m, x: (x.index_add(0, m.tensor([0, 0]), x[:2]),
                               m.index_add(x, 1, m.tensor([3, 1]), x[:, :2], alpha=2.5)),
    "index_copy": lambda m, x: (x.index_copy(1, m.tensor([3, 0]), x[:, :2] * 2),),
    "index_fill": lambda m, x: (x.index_fill(1, m.tensor([1, 2]), -1.0),
                                m.index_fill(x, 0, m.tensor([2]), 4.0)),
    "masked_fill": lambda m, x: (x.masked_fill(x > 0, 0.5), m.masked_fill(x, x[0] < 0, -2.0)),
    "masked_select": lambda m, x: (m.masked_select(x, x < 0), x.masked_select(x[1] > 0)),
    "take": lambda m, x: (m.take(x, m.tensor([[0, 11], [5, 3]])), x.take(m.tensor([2]))),
}


def _same(o, t):
    assert tuple(o.shape) == tuple(t.shape)
    assert str(o.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(o.detach().cpu().numpy(), t.detach().numpy(), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    for o, t in zip(CASES[name](nb, nb.tensor(A)), CASES[name](torch, torch.tensor(A))):
        _same(o, t)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients(name, device):
    x = nb.tensor(A, device=device, requires_grad=True)
    if device == "cuda":
        nb.set_default_device("cuda")  # the index tensors the cases make go there too
    try:
        assert nb.autograd.gradcheck(
            lambda t: nb.cat([p.reshape(-1) for p in CASES[name](nb, t)]), (x,))
    finally:
        nb.set_default_device(None)


def test_nonzero_argwhere_and_where_with_the_condition_alone():
    for v in (A > 0, A[0] > 0, np.zeros((2, 3)) > 0):
        o, t = nb.tensor(v), torch.tensor(v)
        _same(nb.nonzero(o), torch.nonzero(t))
        _same(o.nonzero(), t.nonzero())
        _same(nb.argwhere(o), torch.argwhere(t))
        for a, b in zip(nb.where(o), torch.where(t)):
            _same(a, b)
        for a, b in zip(nb.nonzero(o, as_tuple=True), torch.nonzero(t, as_tuple=True)):
            _same(a, b)
    assert nb.nonzero(nb.tensor(3.0)).shape == torch.nonzero(torch.tensor(3.0)).shape


def test_in_place_forms_match_torch_and_record_gradients():
    for fn in (lambda m, x: x.masked_fill_(x > 0, 0.0),
               lambda m, x: x.scatter_(1, m.tensor(PERM), 2.0),
               lambda m, x: x.scatter_add_(0, m.tensor(IDX), x.detach() * 0 + 1),
               lambda m, x: x.index_add_(0, m.tensor([1]), x[:1].clone()),
               lambda m, x: x.index_fill_(1, m.tensor([0]), 9.0),
               lambda m, x: x.index_copy_(0, m.tensor([2]), x[:1] + 1)):
        o, t = nb.tensor(A), torch.tensor(A)
        assert fn(nb, o) is o
        fn(torch, t)
        _same(o, t)
    w = nb.tensor(A, requires_grad=True)
    y = w * 1
    y.masked_fill_(w > 0, 0.0)
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), (A <= 0).astype(float))


def test_errors_as_torch():
    x = nb.ones(2, 3)
    with pytest.raises(RuntimeError, match="int64 for index"):
        x.gather(0, nb.tensor([[0.0]]))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.gather(0, nb.tensor([0]))
    with pytest.raises(RuntimeError, match="Size does not match"):
        x.gather(0, nb.tensor([[0, 0, 0, 0]]))
    with pytest.raises(IndexError):
        x.gather(1, nb.tensor([[5]]))
    with pytest.raises(RuntimeError, match="boolean masks"):
        x.masked_fill(nb.ones(2, 3), 1.0)
    with pytest.raises(IndexError, match="vector"):
        x.index_fill(0, nb.tensor([[0]]), 1.0)


def test_an_in_place_scatter_records_a_source_that_requires_grad():
    src = nb.tensor([[1.0, 2.0]], requires_grad=True)
    x = nb.zeros(2, 3)  # does not require grad itself
    x.scatter_(1, nb.tensor([[2, 0]]), src)
    assert x.requires_grad
    (x * nb.tensor([[5.0, 6.0, 7.0], [1.0, 1.0, 1.0]])).sum().backward()
    assert src.grad.tolist() == [[7.0, 5.0]]
