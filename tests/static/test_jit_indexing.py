"""``numbanet.jit.trace`` of code that indexes with tensors: embeddings, ``x[idx] = v``,
several index tensors. A traced graph has no index values while it is recorded, so the
bounds checks that eager mode makes on the host before a kernel runs must happen when the
graph runs: the same results as eager mode for good indices, an IndexError for bad ones.

The graph device says so with ``GraphBackend.symbolic``; the op layer
(``autograd/ops/indexing.py``) then records the checks in the graph instead of reading index
values on the host."""
from __future__ import annotations

import numpy as np
import pytest

import numbanet as nb
import numbanet.jit as jit
from numbanet import nn
from numbanet.graph import Recorder


class EmbeddingBag(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)

    def forward(self, idx):
        return self.emb(idx).sum(1)


class ZeroRows(nn.Module):
    def forward(self, x, idx):
        y = x * 1.0
        y[idx] = 0.0
        return y


class SetRows(nn.Module):
    def forward(self, x, idx, v):
        y = x * 1.0
        y[idx] = v
        return y


class PickEntries(nn.Module):
    def forward(self, x, i, j):
        return x[i, j]


def test_the_graph_device_says_its_arrays_hold_no_host_values():
    rec = Recorder()
    assert rec.device.backend.symbolic is True
    assert getattr(nb.device("cpu").backend, "symbolic", False) is False


def test_a_traced_row_pick_checks_its_indices_when_it_runs():
    # x[idx] with one 1-D index takes the gather path, whose kernel checks every index
    x = nb.randn(5, 3)
    graph = jit.trace(lambda a, i: a[i] * 2.0, (x, nb.tensor([0, 3, 2])))
    for idx in ([4, 1, 1], [-1, 0, -5]):
        i = nb.tensor(idx)
        np.testing.assert_allclose(graph(x, i).numpy(), (x[i] * 2.0).numpy(), rtol=1e-6)
    with pytest.raises(IndexError):
        graph(x, nb.tensor([0, 5, 1]))


def test_a_traced_embedding_matches_eager_mode_and_refuses_bad_indices_when_it_runs():
    nb.manual_seed(0)
    model = EmbeddingBag()
    idx = nb.tensor(np.array([[1, 2, 3], [4, 5, 9]]))
    graph = jit.trace(model, idx)
    other = nb.tensor(np.array([[0, 0, 7], [9, 8, 1]]))
    np.testing.assert_allclose(graph(other).numpy(), model(other).detach().numpy(),
                               rtol=1e-6)
    for bad in ([[0, 10, 1], [1, 1, 1]], [[0, -1, 1], [1, 1, 1]]):
        with pytest.raises(IndexError):
            graph(nb.tensor(np.array(bad)))


@pytest.mark.parametrize("module, value", [(ZeroRows(), None), (SetRows(), "tensor")])
def test_traced_item_assignment_with_an_index_tensor_matches_eager_mode(module, value):
    x = nb.randn(5, 3)
    extra = (nb.ones(2, 3),) if value else ()
    graph = jit.trace(module, (x, nb.tensor([0, 3])) + extra)
    for idx in ([1, 4], [-1, 2]):
        args = (x, nb.tensor(idx)) + extra
        np.testing.assert_allclose(graph(*args).numpy(), module(*args).numpy())
    with pytest.raises(IndexError):
        graph(x, nb.tensor([0, 5]), *extra)


def test_traced_indexing_with_two_index_tensors_wraps_and_checks_each_when_it_runs():
    x = nb.randn(4, 6)
    model = PickEntries()
    graph = jit.trace(model, (x, nb.tensor([0, 1]), nb.tensor([2, 3])))
    for i, j in (([3, 0], [5, 0]), ([-1, -4], [-6, 2])):
        args = (x, nb.tensor(i), nb.tensor(j))
        np.testing.assert_allclose(graph(*args).numpy(), model(*args).numpy())
    # (0, 6) would land on row 1 of the flattened (4, 6) if the column were not checked
    for i, j in (([0, 1], [6, 0]), ([4, 0], [0, 0]), ([0, -5], [0, 0])):
        with pytest.raises(IndexError):
            graph(x, nb.tensor(i), nb.tensor(j))


@pytest.mark.parametrize("device", ["cuda"])
def test_a_traced_embedding_refuses_bad_indices_on_cuda_when_it_runs(device):
    nb.manual_seed(0)
    model = EmbeddingBag().to(device)
    idx = nb.tensor(np.array([[1, 2, 3], [4, 5, 9]])).to(device)
    graph = jit.trace(model, idx)
    np.testing.assert_allclose(graph(idx).cpu().numpy(), model(idx).detach().cpu().numpy(),
                               rtol=1e-6)
    with pytest.raises(IndexError):
        graph(nb.tensor(np.array([[0, 10, 1], [1, 1, 1]])).to(device))
