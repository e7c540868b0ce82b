"""nn.Module, Parameter and the containers: registration, traversal, state dicts (in memory
and through nb.save / nb.load), modes, devices, printing; the seed's "Modules" program."""
from __future__ import annotations

import os

import numpy as np
import pytest

import numbanet as nb
from numbanet import nn


def host(t):
    return t.detach().cpu().numpy()


class Affine(nn.Module):
    """A layer written only with Module and Parameter (no nn layers)."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(nb.randn(n_out, n_in, dtype=nb.float64) * 0.1)
        self.bias = nn.Parameter(nb.zeros(n_out, dtype=nb.float64))

    def forward(self, x):
        return x.mm(self.weight.t()) + self.bias


class TwoLayerNet(nn.Module):
    """The seed lecture's "Modules" program."""

    def __init__(self, d_in, hidden, d_out):
        super().__init__()
        self.linear1 = Affine(d_in, hidden)
        self.linear2 = Affine(hidden, d_out)
        self.register_buffer("steps", nb.zeros((), dtype=nb.int64))

    def forward(self, x):
        return self.linear2(self.linear1(x).clamp(min=0))


def test_parameters_submodules_and_buffers_are_registered_by_name():
    net = TwoLayerNet(4, 3, 2)
    assert [n for n, _ in net.named_parameters()] == [
        "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias"]
    assert [n for n, _ in net.named_buffers()] == ["steps"]
    assert [n for n, _ in net.named_children()] == ["linear1", "linear2"]
    assert [type(m).__name__ for m in net.modules()] == ["TwoLayerNet", "Affine", "Affine"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    # PyTorch's order: a module's own parameters and buffers, then its children's
    assert list(net.state_dict()) == ["steps", "linear1.weight", "linear1.bias",
                                      "linear2.weight", "linear2.bias"]


def test_a_shared_parameter_is_listed_once():
    net = nn.Module()
    net.a = Affine(2, 2)
    net.b = net.a
    assert len(list(net.parameters())) == 2


def test_unknown_attributes_and_bad_assignments_are_clear_errors():
    net = TwoLayerNet(4, 3, 2)
    with pytest.raises(AttributeError, match="'TwoLayerNet' object has no attribute 'nope'"):
        net.nope  # noqa: B018 (the attribute read is the test)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        net.linear1.weight = nb.zeros(3, 4)

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(nb.zeros(1))  # before super().__init__()

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Early()
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(nb.zeros(1))


def test_deleting_and_reassigning_attributes_updates_the_registry():
    net = TwoLayerNet(4, 3, 2)
    del net.linear2
    assert [n for n, _ in net.named_children()] == ["linear1"]
    net.linear1 = None
    assert list(net.children()) == []
    net.extra = nn.Parameter(nb.ones(2))
    assert [n for n, _ in net.named_parameters()] == ["extra"]


def test_state_dict_round_trips_and_strict_errors_name_the_keys():
    nb.manual_seed(0)
    a, b = TwoLayerNet(4, 3, 2), TwoLayerNet(4, 3, 2)
    b.load_state_dict(a.state_dict())
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(host(p), host(q), err_msg=n)
    sd = a.state_dict()
    sd.pop("linear2.bias")
    sd["linear9.weight"] = nb.zeros(1)
    sd["linear1.weight"] = nb.zeros(5, 5)
    with pytest.raises(RuntimeError) as info:
        b.load_state_dict(sd)
    text = str(info.value)
    assert 'Missing key(s) in state_dict: "linear2.bias"' in text
    assert 'Unexpected key(s) in state_dict: "linear9.weight"' in text
    assert "size mismatch for linear1.weight" in text and "(5, 5)" in text
    sd.pop("linear1.weight")
    result = b.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["linear1.weight", "linear2.bias"]
    assert result.unexpected_keys == ["linear9.weight"]


def test_load_state_dict_writes_into_the_same_parameter_objects():
    net = TwoLayerNet(4, 3, 2)
    before = list(net.parameters())
    net.load_state_dict({k: v * 0 for k, v in net.state_dict().items()})
    assert all(p is q for p, q in zip(before, net.parameters()))
    assert all(not host(p).any() for p in net.parameters())


def test_state_dicts_survive_save_and_load(tmp_path):
    nb.manual_seed(1)
    net = TwoLayerNet(4, 3, 2)
    path = tmp_path / "net.nbt"
    nb.save(net.state_dict(), path)
    other = TwoLayerNet(4, 3, 2)
    other.load_state_dict(nb.load(path))
    x = nb.randn(5, 4, dtype=nb.float64)
    np.testing.assert_array_equal(host(other(x)), host(net(x)))
    assert sorted(os.listdir(tmp_path)) == ["net.nbt"]  # written atomically, nothing left over
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(Exception) as info:
        nb.load(path)
    assert "net.nbt" in str(info.value)


def test_train_eval_and_zero_grad():
    net = TwoLayerNet(4, 3, 2)
    assert net.training and net.linear1.training
    assert net.eval() is net and not net.linear2.training
    net.train()
    assert net.linear2.training
    net(nb.randn(2, 4, dtype=nb.float64)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(not host(p.grad).any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_to_and_dtype_changes_keep_the_parameter_objects():
    net = TwoLayerNet(4, 3, 2)
    params = list(net.parameters())
    assert net.float() is net
    assert all(p.dtype is nb.float32 for p in net.parameters())
    assert net.steps.dtype is nb.int64  # only floating point state changes dtype
    assert all(p is q for p, q in zip(params, net.parameters()))
    net.double()
    assert all(p.dtype is nb.float64 for p in net.parameters())


@pytest.mark.cuda
def test_a_module_moves_to_cuda_and_back_and_trains_there():
    nb.manual_seed(2)
    net = TwoLayerNet(3, 2, 1)
    params = list(net.parameters())
    x = nb.randn(4, 3, dtype=nb.float64)
    expected = host(net(x))
    net.cuda()
    assert all(p.device.type == "cuda" for p in net.parameters())
    assert all(p is q for p, q in zip(params, net.parameters()))
    out = net(x.cuda())
    np.testing.assert_allclose(host(out), expected, rtol=1e-12)
    out.sum().backward()
    assert all(p.grad.device.type == "cuda" for p in net.parameters())
    net.to("cpu")
    assert all(p.device.type == "cpu" for p in net.parameters())


def test_apply_visits_children_first():
    seen = []
    TwoLayerNet(4, 3, 2).apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Affine", "Affine", "TwoLayerNet"]


def test_repr_is_a_tree():
    text = repr(nn.Sequential(TwoLayerNet(4, 3, 2), nn.Module()))
    assert text.splitlines() == [
        "Sequential(",
        "  (0): TwoLayerNet(",
        "    (linear1): Affine()",
        "    (linear2): Affine()",
        "  )",
        "  (1): Module()",
        ")"]


def test_containers_behave_like_pytorch():
    a, b, c = Affine(2, 3), Affine(3, 1), Affine(1, 1)
    seq = nn.Sequential(a, b)
    x = nb.randn(5, 2, dtype=nb.float64)
    np.testing.assert_array_equal(host(seq(x)), host(b(a(x))))
    assert seq[0] is a and seq[-1] is b and len(seq) == 2 and list(seq) == [a, b]
    assert isinstance(seq[1:], nn.Sequential) and seq[1:][0] is b
    seq.append(c)
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"]
    from collections import OrderedDict
    named = nn.Sequential(OrderedDict([("first", a), ("second", b)]))
    assert [n for n, _ in named.named_parameters()] == [
        "first.weight", "first.bias", "second.weight", "second.bias"]
    layers = nn.ModuleList([a, b])
    layers.append(c)
    layers.insert(0, Affine(1, 1))
    assert len(layers) == 4 and layers[1] is a and layers[-1] is c
    holder = nn.Module()
    holder.layers = layers
    assert len(list(holder.parameters())) == 8
    table = nn.ModuleDict({"enc": a, "dec": b})
    assert "enc" in table and list(table.keys()) == ["enc", "dec"] and table["dec"] is b
    with pytest.raises(TypeError, match="nn.Modules"):
        nn.Sequential(a, "relu")
    with pytest.raises(IndexError, match="out of range"):
        seq[7]


def test_parameter_is_a_leaf_tensor_that_shares_memory():
    t = nb.zeros(3)
    p = nn.Parameter(t)
    assert p.requires_grad and p.grad_fn is None
    with nb.no_grad():
        p += 1
    np.testing.assert_array_equal(host(t), [1, 1, 1])
    assert repr(p).startswith("Parameter containing:")
    assert not nn.Parameter(nb.zeros(2), requires_grad=False).requires_grad
    with pytest.raises(TypeError, match="Tensor"):
        nn.Parameter([1.0, 2.0])


def test_the_seed_modules_program_learns():
    """The lecture's TwoLayerNet, trained with a hand-written SGD step."""
    nb.manual_seed(0)
    n, d_in, hidden, d_out = 16, 20, 10, 3
    x, y = nb.randn(n, d_in, dtype=nb.float64), nb.randn(n, d_out, dtype=nb.float64)
    model = TwoLayerNet(d_in, hidden, d_out)
    losses = []
    for _ in range(100):
        loss = (model(x) - y).pow(2).sum()
        losses.append(loss.item())
        model.zero_grad()
        loss.backward()
        with nb.no_grad():
            for param in model.parameters():
                param -= 1e-3 * param.grad
    assert losses[-1] < 0.5 * losses[0]
