"""Module's PyTorch API beyond registration: forward and backward hooks with their
handles, traversal options, non-persistent buffers, load_state_dict's result and errors,
dtype moves, deepcopy and in-process pickling, and the containers (ModuleList,
ModuleDict, Sequential, ParameterList, ParameterDict), against PyTorch where it runs."""
from __future__ import annotations

import copy
import math
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import numbanet as nb
from numbanet import nn

torch = pytest.importorskip("torch")


def host(t):
    return t.detach().cpu().numpy()


def twin_linears(n_in=3, n_out=2, seed=0):
    """An nn.Linear in numbanet and in torch with the same float64 weights."""
    rng = np.random.default_rng(seed)
    w, b = rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)
    ours = nn.Linear(n_in, n_out).double()
    theirs = torch.nn.Linear(n_in, n_out).double()
    with nb.no_grad():
        ours.weight.copy_(nb.tensor(w))
        ours.bias.copy_(nb.tensor(b))
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w))
        theirs.bias.copy_(torch.tensor(b))
    return ours, theirs


# ---- forward hooks ----------------------------------------------------------------------------
def test_forward_hooks_run_in_order_and_can_replace_inputs_and_outputs():
    for lib, mod in ((nb, nn), (torch, torch.nn)):
        log = []
        m = mod.Identity()
        m.register_forward_pre_hook(lambda mod_, args, log=log: log.append(("pre", len(args))))
        m.register_forward_pre_hook(lambda mod_, args: (args[0] * 2,))
        m.register_forward_pre_hook(lambda mod_, args, log=log: log.append("first"), prepend=True)
        m.register_forward_hook(
            lambda mod_, args, out, log=log: log.append(("post", float(out.sum()))))
        h = m.register_forward_hook(lambda mod_, args, out: out + 1)
        x = lib.ones(2, dtype=lib.float64)
        out = m(x)
        assert float(out.sum()) == 6.0
        assert log == ["first", ("pre", 1), ("post", 4.0)]
        h.remove()
        assert float(m(x).sum()) == 4.0
        h.remove()  # removing twice is harmless


def test_forward_hooks_with_kwargs_and_a_single_returned_input():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    seen = []
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}),
                                with_kwargs=True)
    m.register_forward_hook(lambda mod, args, kwargs, out: seen.append(dict(kwargs)),
                            with_kwargs=True)
    assert host(m(nb.ones(2))).tolist() == [3.0, 3.0]
    assert seen == [{"factor": 3.0}]
    m2 = Scale()
    m2.register_forward_pre_hook(lambda mod, args: args[0] + 1)  # not a tuple: one input
    assert host(m2(nb.ones(2))).tolist() == [2.0, 2.0]
    bad = Scale()
    bad.register_forward_pre_hook(lambda mod, args, kwargs: 5, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"forward pre-hook must return None or a tuple of "
                                           r"\(new_args, new_kwargs\), but got 5"):
        bad(nb.ones(2))
    with pytest.raises(TypeError, match="callable"):
        m.register_forward_hook(3)


def test_handles_work_as_context_managers_and_always_call_hooks_see_errors():
    m = nn.Identity()
    calls = []
    with m.register_forward_hook(lambda mod, args, out: calls.append(1)) as handle:
        m(nb.ones(1))
    m(nb.ones(1))
    assert calls == [1] and isinstance(handle.id, int)

    class Broken(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    b = Broken()
    b.register_forward_hook(lambda mod, args, out: calls.append(("always", out)),
                            always_call=True)
    b.register_forward_hook(lambda mod, args, out: calls.append("normal"))
    with pytest.raises(ValueError, match="boom"):
        b(nb.ones(1))
    assert calls[-1] == ("always", None) and "normal" not in calls


# ---- full backward hooks ----------------------------------------------------------------------
def _hooked_run(lib, m, x, upstream):
    log = []
    m.register_full_backward_pre_hook(lambda mod, go: log.append(("pre", go)))
    m.register_full_backward_hook(lambda mod, gi, go: log.append(("full", gi, go)))
    y = m(x)
    (y * upstream).sum().backward()
    return log


def test_full_backward_hook_gets_grad_input_and_grad_output_as_torch_on_linear():
    ours, theirs = twin_linears(3, 2)
    xs = np.random.default_rng(1).standard_normal((4, 3))
    up = np.random.default_rng(2).standard_normal((4, 2))
    a = _hooked_run(nb, ours, nb.tensor(xs, requires_grad=True), nb.tensor(up))
    b = _hooked_run(torch, theirs, torch.tensor(xs, requires_grad=True), torch.tensor(up))
    assert [e[0] for e in a] == [e[0] for e in b] == ["pre", "full"]
    np.testing.assert_allclose(host(a[0][1][0]), b[0][1][0].numpy(), rtol=1e-12)
    (_, gi_a, go_a), (_, gi_b, go_b) = a[1], b[1]
    assert len(gi_a) == len(gi_b) == 1 and len(go_a) == len(go_b) == 1
    np.testing.assert_allclose(host(gi_a[0]), gi_b[0].numpy(), rtol=1e-12)
    np.testing.assert_allclose(host(go_a[0]), go_b[0].numpy(), rtol=1e-12)


def test_full_backward_hook_when_the_input_needs_no_grad_and_when_it_replaces_grads():
    ours, theirs = twin_linears(3, 2)
    xs = np.ones((2, 3))
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        a = _hooked_run(nb, ours, nb.tensor(xs), nb.ones(2, 2, dtype=nb.float64))
    with pytest.warns(UserWarning, match="no inputs require gradients"):
        b = _hooked_run(torch, theirs, torch.tensor(xs), torch.ones(2, 2, dtype=torch.float64))
    assert a[1][1] == b[1][1] == (None,)
    np.testing.assert_allclose(host(a[1][2][0]), b[1][2][0].numpy())
    assert ours.weight.grad is not None  # the parameters still get their gradients

    for lib, m in ((nb, twin_linears()[0]), (torch, twin_linears()[1])):
        m.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 0 + 7,))
        x = lib.ones(2, 3, dtype=lib.float64, requires_grad=True)
        m(x).sum().backward()
        assert host(x.grad).tolist() == [[7.0] * 3] * 2  # host() reads torch tensors too

    m = twin_linears()[0]
    m.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="Backward hook returned an invalid number of "
                                           "grad_input, got 2, but expected 1"):
        m(nb.ones(2, 3, dtype=nb.float64, requires_grad=True)).sum().backward()
    m = twin_linears()[0]
    m.register_full_backward_hook(lambda mod, gi, go: (nb.ones(2, 3),))
    with pytest.raises(RuntimeError, match="no input requires gradient"), \
            pytest.warns(UserWarning):
        m(nb.ones(2, 3, dtype=nb.float64)).sum().backward()


def test_backward_hooks_with_several_and_non_tensor_inputs():
    class Mix(nn.Module):
        def forward(self, a, scale, b):
            return a * scale + b * b, a - b

    seen = []
    m = Mix()
    m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go)))
    a = nb.tensor([1.0, 2.0], dtype=nb.float64, requires_grad=True)
    b = nb.tensor([3.0, 4.0], dtype=nb.float64, requires_grad=True)
    u, v = m(a, 2.0, b)
    (u.sum() + 3 * v.sum()).backward()
    gi, go = seen[0]
    assert len(gi) == 3 and gi[1] is None and len(go) == 2
    assert host(gi[0]).tolist() == [5.0, 5.0] and host(gi[2]).tolist() == [3.0, 5.0]
    assert host(go[1]).tolist() == [3.0, 3.0]
    # no hook: the plain path gives the same gradients
    a2 = nb.tensor([1.0, 2.0], dtype=nb.float64, requires_grad=True)
    b2 = nb.tensor([3.0, 4.0], dtype=nb.float64, requires_grad=True)
    u, v = Mix()(a2, 2.0, b2)
    (u.sum() + 3 * v.sum()).backward()
    assert host(a2.grad).tolist() == host(a.grad).tolist()
    with nb.no_grad():  # nothing is recorded, nothing breaks
        m(a, 2.0, b)


# ---- traversal, buffers, state ----------------------------------------------------------------
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.register_buffer("mean", nb.zeros(2))
        self.register_buffer("cache", nb.ones(2), persistent=False)
        self.shared = self.fc


def test_named_modules_buffers_and_non_persistent_state_match_torch():
    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)
            self.register_buffer("mean", torch.zeros(2))
            self.register_buffer("cache", torch.ones(2), persistent=False)
            self.shared = self.fc

    ours, theirs = Net(), TNet()
    for kw in ({}, {"prefix": "top"}, {"remove_duplicate": False}):
        assert [n for n, _ in ours.named_modules(**kw)] == \
            [n for n, _ in theirs.named_modules(**kw)]
    memo = {ours.fc}
    assert [n for n, _ in ours.named_modules(memo=memo)] == [""]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert list(ours.state_dict()) == list(theirs.state_dict()) == \
        ["mean", "fc.weight", "fc.bias", "shared.weight", "shared.bias"]
    assert ours.requires_grad_(False) is ours
    assert not any(p.requires_grad for p in ours.parameters())


def test_load_state_dict_returns_missing_and_unexpected_keys_with_torch_errors():
    ours, theirs = Net(), torch.nn.Linear(2, 2)
    sd = OrderedDict((k, v) for k, v in ours.state_dict().items() if k != "mean")
    sd["extra"] = nb.zeros(1)
    result = ours.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["mean"] and result.unexpected_keys == ["extra"]
    missing, unexpected = result
    assert (missing, unexpected) == (["mean"], ["extra"])
    assert repr(ours.load_state_dict(ours.state_dict())) == "<All keys matched successfully>"
    with pytest.raises(RuntimeError) as ours_err:
        ours.load_state_dict(sd)
    assert str(ours_err.value) == (
        'Error(s) in loading state_dict for Net:\n\tMissing key(s) in state_dict: "mean". '
        '\n\tUnexpected key(s) in state_dict: "extra". ')
    tsd = {"weight": torch.zeros(2, 2), "extra": torch.zeros(1)}
    with pytest.raises(RuntimeError) as torch_err:
        theirs.load_state_dict(tsd)
    assert str(torch_err.value) == (
        'Error(s) in loading state_dict for Linear:\n\tMissing key(s) in state_dict: "bias". '
        '\n\tUnexpected key(s) in state_dict: "extra". ')
    w = nb.full((2, 2), 3.0)
    result = ours.load_state_dict({"mean": nb.zeros(2), "fc.weight": w, "fc.bias": nb.zeros(2)},
                                  strict=False, assign=True)
    assert result.missing_keys == ["shared.weight", "shared.bias"]
    assert ours.fc.weight.requires_grad and host(ours.fc.weight).tolist() == [[3.0] * 2] * 2


def test_dtype_moves_zero_grad_and_extra_repr():
    net = Net()
    assert net.to(nb.float64).fc.weight.dtype is nb.float64
    with pytest.raises(TypeError, match="only accepts floating point"):
        net.to(nb.int64)
    if not hasattr(nb, "float16"):
        with pytest.raises(TypeError, match="no float16 dtype"):
            net.half()
    else:
        assert net.half().fc.weight.dtype is nb.float16
    net = Net()
    net.fc(nb.ones(1, 2)).sum().backward()
    net.zero_grad()  # set_to_none=True by default, as in PyTorch 2
    assert net.fc.weight.grad is None
    assert repr(nn.Linear(2, 3)) == repr(torch.nn.Linear(2, 3)) == \
        "Linear(in_features=2, out_features=3, bias=True)"


def test_deepcopy_and_pickle_copy_the_tree_once():
    net = Net()
    net.fc(nb.ones(1, 2)).sum().backward()
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert clone is not net and clone.fc is clone.shared
        assert clone.fc.weight is not net.fc.weight
        assert isinstance(clone.fc.weight, nn.Parameter) and clone.fc.weight.requires_grad
        np.testing.assert_array_equal(host(clone.fc.weight), host(net.fc.weight))
        assert list(clone.state_dict()) == list(net.state_dict())
        assert [n for n, _ in clone.named_buffers()] == ["mean", "cache"]
        with nb.no_grad():
            clone.fc.weight.fill_(0.0)
        assert host(net.fc.weight).any()
    p = nn.Parameter(nb.randn(3, dtype=nb.float64))
    q = pickle.loads(pickle.dumps(p))
    assert type(q) is nn.Parameter and q.dtype is nb.float64
    np.testing.assert_array_equal(host(q), host(p))
    frozen = nn.Parameter(nb.ones(2), requires_grad=False)
    assert not copy.deepcopy(frozen).requires_grad
    hooked = nn.Linear(2, 2)
    hooked.register_forward_hook(lambda m, a, o: o * 0)
    assert not host(copy.deepcopy(hooked)(nb.ones(1, 2))).any()


# ---- containers -------------------------------------------------------------------------------
def test_module_list_matches_torch():
    def build(mod):
        a, b, c = mod.Identity(), mod.ReLU(), mod.Tanh()
        layers = mod.ModuleList([a, b])
        layers.append(c)
        layers.insert(1, mod.Sigmoid())
        layers.extend([mod.Identity()])
        layers += [mod.ReLU()]
        return layers

    ours, theirs = build(nn), build(torch.nn)
    names = [type(m).__name__ for m in ours]
    assert names == [type(m).__name__ for m in theirs] == \
        ["Identity", "Sigmoid", "ReLU", "Tanh", "Identity", "ReLU"]
    assert [type(m).__name__ for m in ours[1:4]] == names[1:4]
    assert isinstance(ours[::2], nn.ModuleList)
    both = ours + nn.ModuleList([nn.Tanh()])
    assert len(both) == 7 and [n for n, _ in both.named_children()][-1] == "6"
    assert type(ours.pop(0)).__name__ == type(theirs.pop(0)).__name__
    del ours[0]
    del theirs[0]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert repr(nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh()])) == \
        repr(torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.ReLU(), torch.nn.Tanh()]))
    with pytest.raises(IndexError, match="out of range"):
        ours[10]
    with pytest.raises(TypeError, match="iterable"):
        ours.extend(3)


def test_module_dict_and_sequential_match_torch():
    ours = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Tanh()})
    theirs = torch.nn.ModuleDict({"b": torch.nn.ReLU(), "a": torch.nn.Tanh()})
    assert list(ours.keys()) == list(theirs.keys()) == ["b", "a"]
    ours.update([("c", nn.Identity())])
    assert list(ours) == ["b", "a", "c"] and type(ours.pop("a")).__name__ == "Tanh"
    assert [k for k, _ in ours.items()] == ["b", "c"] and len(list(ours.values())) == 2
    with pytest.raises(ValueError, match="has length 1; 2 is required"):
        ours.update([("x",)])
    ours.clear()
    assert len(ours) == 0
    seq = nn.Sequential(nn.ReLU(), nn.Tanh())
    tseq = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Tanh())
    seq.insert(-1, nn.Identity())
    tseq.insert(-1, torch.nn.Identity())
    assert [type(m).__name__ for m in seq] == [type(m).__name__ for m in tseq]
    del seq[0]
    del tseq[0]
    assert [n for n, _ in seq.named_children()] == [n for n, _ in tseq.named_children()]
    assert len(seq + nn.Sequential(nn.ReLU())) == 3


def test_parameter_list_and_dict_match_torch():
    for lib, mod in ((nb, nn), (torch, torch.nn)):
        plist = mod.ParameterList([mod.Parameter(lib.ones(2)), lib.zeros(3)])
        plist.append(lib.ones(1))
        assert len(plist) == 3 and all(isinstance(p, mod.Parameter) for p in plist)
        assert [n for n, _ in plist.named_parameters()] == ["0", "1", "2"]
        assert len(plist[1:]) == 2 and isinstance(plist[1:], mod.ParameterList)
        holder = mod.Module()
        holder.params = plist
        assert [n for n, _ in holder.named_parameters()] == ["params.0", "params.1",
                                                            "params.2"]
        pdict = mod.ParameterDict({"w": lib.ones(2), "a": lib.zeros(1)})
        assert list(pdict) == ["a", "w"]  # update from a plain dict sorts, as in PyTorch
        pdict["z"] = mod.Parameter(lib.ones(1))
        assert list(pdict.keys()) == ["a", "w", "z"] and isinstance(pdict["w"], mod.Parameter)
        assert pdict.pop("a").shape == (1,) and "a" not in pdict and len(pdict) == 2
        assert [n for n, _ in pdict.named_parameters()] == ["w", "z"]
        assert pdict.get("missing") is None
        with pytest.raises(RuntimeError, match="ParameterList should not be called"):
            plist()
        with pytest.raises(TypeError, match="not a string"):
            pdict[0]
    ours = nn.ParameterList([nn.Parameter(nb.ones(2, 3))])
    assert repr(ours) == "ParameterList(  (0): Parameter containing: [numbanet.float32 of " \
        "size 2x3])"


def test_registration_errors_match_torch():
    def errors(lib, mod):
        m = mod.Linear(2, 2)
        calls = (lambda: m.register_buffer("a.b", None), lambda: m.register_buffer("", None),
                 lambda: m.register_buffer("weight", lib.ones(1)),
                 lambda: m.register_buffer(3, None), lambda: m.add_module("q", 3),
                 lambda: m.add_module("a.b", None), lambda: m.register_parameter("", None))
        out = []
        for call in calls:
            with pytest.raises((KeyError, TypeError)) as info:
                call()
            out.append((type(info.value), str(info.value)))
        return out

    assert errors(nb, nn) == errors(torch, torch.nn)
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign 'list' object to buffer 'x'"):
        m.register_buffer("x", [1])
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'p'"):
        m.register_parameter("p", _non_leaf_param(nn.Parameter(nb.ones(1))))
    m.register_buffer("b", nb.ones(1))
    m.register_buffer("b", nb.zeros(1))  # a buffer may be registered again
    assert host(m.b).tolist() == [0.0]
    shallow = copy.copy(m)
    assert shallow is not m and shallow.weight is m.weight and shallow.b is m.b


def _non_leaf_param(w):
    """A Parameter object that has a grad_fn (as a subclass-preserving op could make)."""
    out = w * 2
    out.__class__ = nn.Parameter
    return out


def test_get_submodule_parameter_and_buffer_as_torch():
    for mod in (nn, torch.nn):
        net = mod.Sequential(mod.Linear(2, 2), mod.BatchNorm1d(2))
        assert net.get_submodule("1") is net[1] and net.get_submodule("") is net
        assert net.get_parameter("0.weight") is net[0].weight
        assert net.get_buffer("1.running_mean") is net[1].running_mean
        for method, target, message in (
                ("get_submodule", "5", "has no attribute `5`"),
                ("get_parameter", "1.running_mean", "`running_mean` is not an nn.Parameter"),
                ("get_buffer", "0.weight", "`weight` is not a buffer")):
            with pytest.raises(AttributeError, match=message):
                getattr(net, method)(target)


def _container_story(lib, mod):
    """The same container operations in numbanet and torch; what each step leaves."""
    out = []
    d = mod.ParameterDict({"b": lib.ones(1), "a": lib.ones(2)})
    out.append(list(d))
    out += [d.popitem()[0], list(d)]
    d.setdefault("c", lib.ones(3))
    out.append(list(d))
    e = d.fromkeys(["x", "y"])
    out.append((list(e), e["x"]))
    f = d | mod.ParameterDict({"z": lib.ones(1)})
    g = d.copy()
    out += [list(f), list(g), g["a"] is d["a"], list(reversed(f))]
    d.clear()
    out.append(len(d))
    layers = mod.ModuleList([mod.ReLU(), mod.Tanh(), mod.Sigmoid()])
    layers.insert(1, mod.Identity())
    out.append([type(m).__name__ for m in layers])
    del layers[1:3]
    out += [[type(m).__name__ for m in layers], [n for n, _ in layers.named_children()]]
    seq = mod.Sequential(mod.ReLU(), mod.Tanh(), mod.Sigmoid())
    seq[1] = mod.Identity()
    out += [[type(m).__name__ for m in seq], type(seq.pop(0)).__name__,
            [n for n, _ in seq.named_children()]]
    del seq[:1]
    out.append([n for n, _ in seq.named_children()])
    plist = mod.ParameterList([lib.ones(1), lib.ones(2)])
    plist += [lib.ones(3)]
    plist[0] = lib.zeros(5)
    out += [len(plist), tuple(plist[0].shape), tuple(plist[-1].shape)]
    return out


def test_container_operations_leave_what_torch_leaves():
    assert _container_story(nb, nn) == _container_story(torch, torch.nn)


@pytest.mark.cuda
def test_hooks_copies_and_clipping_on_cuda():
    nb.manual_seed(4)
    net = nn.Linear(3, 2).double()
    seen = []
    handle = net.register_full_backward_hook(lambda m, gi, go: seen.append((gi[0], go[0])))
    x = nb.randn(2, 3, dtype=nb.float64)
    expected = host(net(x))
    net.cuda()
    xc = x.cuda().requires_grad_(True)
    net(xc).sum().backward()
    gi, go = seen[-1]
    assert gi.device.type == "cuda" and host(go).tolist() == [[1.0, 1.0]] * 2
    np.testing.assert_allclose(host(gi), host(xc.grad))
    handle.remove()  # a lambda does not pickle (in torch neither)
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert clone.weight.device.type == "cuda"
        np.testing.assert_allclose(host(clone(x.cuda())), expected, rtol=1e-12)
    total = nn.utils.clip_grad_norm_(net.parameters(), 0.1)
    assert total.device.type == "cuda"
    norm = math.sqrt(sum(float((p.grad * p.grad).sum()) for p in net.parameters()))
    assert norm == pytest.approx(0.1, rel=1e-4)


@pytest.mark.parametrize("name", [
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_buffer", "register_parameter", "add_module",
    "named_modules", "named_buffers", "named_parameters", "modules", "load_state_dict",
    "zero_grad", "requires_grad_", "apply", "get_submodule", "get_parameter", "get_buffer",
    "train", "half", "bfloat16", "extra_repr"])
def test_module_method_signatures_are_torchs(name):
    import inspect

    def params(fn):
        return [(p.name, p.default, p.kind) for p in inspect.signature(fn).parameters.values()]

    assert params(getattr(nn.Module, name)) == params(getattr(torch.nn.Module, name))
