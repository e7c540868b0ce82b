"""``split chunk unbind select repeat tile repeat_interleave flip roll movedim swapaxes
unflatten mT``: values and shapes against PyTorch in every form (function and method), and
gradients against central differences, on both devices."""
from __future__ import annotations

import numpy as np
import pytest

import numbanet as nb

torch = pytest.importorskip("torch")

A = np.random.default_rng(0).standard_normal((2, 3, 4))

CASES = {
    "split": lambda lib, x: x.split(2, 2) + lib.split(x, [1, 2], 1) + x.split(4, -1),
    "chunk": lambda lib, x: x.chunk(3, 2) + lib.chunk(x, 2, 1) + x.chunk(5, 0),
    "unbind": lambda lib, x: x.unbind(1) + lib.unbind(x, -1),
    "select": lambda lib, x: (x.select(1, -1), lib.select(x, 2, 0)),
    "repeat": lambda lib, x: (x.repeat(2, 1, 1, 2), x.repeat((1, 2, 1))),
    "tile": lambda lib, x: (x.tile((2,)), lib.tile(x, (2, 1, 1, 3))),
    "repeat_interleave": lambda lib, x: (
        lib.repeat_interleave(x, 2, dim=1), x.repeat_interleave(3),
        x.repeat_interleave(lib.tensor([1, 0, 2]), dim=1)),
    "flip": lambda lib, x: (x.flip(0, 2), lib.flip(x, (1,)), x.flip(-1)),
    "roll": lambda lib, x: (lib.roll(x, 1, 2), lib.roll(x, (1, -1), (0, 2)), x.roll(5),
                            x.roll(-7, 1)),
    "movedim": lambda lib, x: (lib.movedim(x, 0, -1), x.movedim((0, 1), (2, 0)),
                               lib.moveaxis(x, 2, 0)),
    "swapaxes": lambda lib, x: (x.swapaxes(0, 2), lib.swapdims(x, 1, 2), x.swapdims(0, -1)),
    "unflatten": lambda lib, x: (x.unflatten(2, (2, -1)), lib.unflatten(x, 1, (3, 1))),
    "mT": lambda lib, x: (x.mT, x.mH),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    ours = CASES[name](nb, nb.tensor(A))
    theirs = CASES[name](torch, torch.tensor(A))
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        assert tuple(o.shape) == tuple(t.shape)
        np.testing.assert_array_equal(o.numpy(), t.numpy())


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_central_differences(name, device):
    def f(x):
        return nb.cat([p.reshape(-1) for p in CASES[name](nb, x)])
    # the CUDA simulator runs every element in Python: a smaller input there
    x = nb.tensor(A if device == "cpu" else A[:, :, :2], device=device, requires_grad=True)
    assert nb.autograd.gradcheck(f, (x,))


def test_views_share_memory_where_torch_gives_views():
    x = nb.zeros(4, 6)
    x.split(3, 1)[1][0, 0] = 1.0
    x.unbind(0)[2][5] = 2.0
    x.chunk(2)[1][0, 1] = 3.0
    x.mT[0, 3] = 4.0
    assert x[0, 3].item() == 1.0 and x[2, 5].item() == 2.0 and x[2, 1].item() == 3.0
    assert x[3, 0].item() == 4.0


def test_errors_as_torch():
    x = nb.ones(2, 3)
    with pytest.raises(RuntimeError, match="sum exactly to 3"):
        x.split([1, 1], 1)
    with pytest.raises(RuntimeError, match="greater than 0"):
        x.chunk(0)
    with pytest.raises(RuntimeError, match="can not be smaller"):
        x.repeat(2)
    with pytest.raises(RuntimeError, match="multiple times"):
        x.flip(0, 0)
    with pytest.raises(RuntimeError, match="don't multiply up"):
        x.unflatten(1, (2, 2))
    with pytest.raises(RuntimeError, match="align"):
        x.roll((1, 2), 0)
    with pytest.raises(RuntimeError, match="matrices"):
        nb.ones(3).mT  # noqa: B018
    with pytest.raises(IndexError, match="out of range"):
        x.select(0, 2)
