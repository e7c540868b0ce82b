"""Adadelta, Adamax, ASGD, NAdam, RAdam and LBFGS follow torch.optim: the same parameter
trajectories in float64 for the same gradients, parameter groups added at any time (for
every optimizer), state dicts that resume exactly, PyTorch's errors."""
import inspect

import numpy as np
import pytest

import numbanet as nb
import numbanet.optim as optim

torch = pytest.importorskip("torch")

STEPS = 15
RNG = np.random.default_rng(1)
X = RNG.standard_normal((6, 4))
Y = RNG.standard_normal((6, 3))
W0 = RNG.standard_normal((4, 3))
B0 = RNG.standard_normal(3)


@pytest.fixture(autouse=True)
def torch_float64_scalars():
    """PyTorch keeps some scalar state (ASGD's eta and mu, NAdam's mu_product) in tensors
    of its default dtype; numbanet keeps Python floats. Compare in float64."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


# ---- the same smooth, non-quadratic problem in both libraries -----------------------------
def nb_params():
    return [nb.tensor(W0, dtype=nb.float64, requires_grad=True),
            nb.tensor(B0, dtype=nb.float64, requires_grad=True)]


def torch_params():
    return [torch.tensor(W0, requires_grad=True), torch.tensor(B0, requires_grad=True)]


def nb_loss(w, b):
    x, y = nb.tensor(X, dtype=nb.float64), nb.tensor(Y, dtype=nb.float64)
    return (((x.mm(w) + b).tanh() - y) ** 2).sum() + 0.05 * (w ** 4).sum()


def torch_loss(w, b):
    x, y = torch.tensor(X), torch.tensor(Y)
    return (((x.mm(w) + b).tanh() - y) ** 2).sum() + 0.05 * (w ** 4).sum()


def train(optimizer, params, loss_fn, steps):
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(*params).backward()
        optimizer.step()


def as_numpy(t):
    return t.detach().numpy()


def assert_same(ours, theirs, rtol=1e-10):
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(as_numpy(a), as_numpy(b), rtol=rtol, atol=1e-12)


def groups(params, split_lr):
    if split_lr is None:
        return params
    return [{"params": [params[0]]}, {"params": [params[1]], "lr": split_lr}]


CASES = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.5, rho=1.0, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)),
    ("Adamax", dict(lr=0.05, maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=4, weight_decay=0.1)),
    ("ASGD", dict(lr=0.02, t0=0, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.05, betas=(0.8, 0.99), momentum_decay=0.1, weight_decay=0.1)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.05, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.05, betas=(0.5, 0.8), weight_decay=0.1)),  # rectified from step 6
    ("RAdam", dict(lr=0.05, betas=(0.5, 0.8), weight_decay=0.2, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.05, betas=(0.5, 0.8), eps=1e-4, maximize=True)),
]


@pytest.mark.parametrize("split_lr", [None, 0.003], ids=["one_group", "two_groups"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_trajectory_matches_torch(name, kwargs, split_lr):
    ours, theirs = nb_params(), torch_params()
    a = getattr(optim, name)(groups(ours, split_lr), **kwargs)
    b = getattr(torch.optim, name)(groups(theirs, split_lr), **kwargs)
    sign = -1 if kwargs.get("maximize") else 1  # maximize the negated loss: it stays bounded
    for _ in range(STEPS):
        train(a, ours, lambda w, b: sign * nb_loss(w, b), 1)
        train(b, theirs, lambda w, b: sign * torch_loss(w, b), 1)
        assert_same(ours, theirs)
    if name == "ASGD":  # the averaged parameters too
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(as_numpy(a.state[p]["ax"]), b.state[q]["ax"].numpy(),
                                       rtol=1e-10, atol=1e-12)


ALL_NAMES = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "ASGD",
             "NAdam", "RAdam", "LBFGS"]


def test_defaults_match_torch():
    for name in ALL_NAMES:
        ours = getattr(optim, name)(nb_params()).defaults
        theirs = getattr(torch.optim, name)(torch_params()).defaults
        for key, value in ours.items():
            assert theirs[key] == value, (name, key)
        torch_only = {"capturable", "differentiable", "foreach", "fused"}
        assert set(theirs) - set(ours) <= torch_only, name


@pytest.mark.parametrize("name", ALL_NAMES)
def test_signature_is_torchs(name):
    """The same parameters, in the same order, of the same kinds, with the same defaults
    (less PyTorch's capturable, differentiable and fused, which are about its kernels)."""
    def parameters(cls):
        return [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()
                if p.name not in ("capturable", "differentiable", "fused")]
    assert parameters(getattr(optim, name)) == parameters(getattr(torch.optim, name))


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_with_decoupled_weight_decay_is_adamw(amsgrad):
    kwargs = dict(lr=0.05, weight_decay=0.2, amsgrad=amsgrad)
    ours, theirs, adamw = nb_params(), torch_params(), nb_params()
    a = optim.Adam(ours, decoupled_weight_decay=True, **kwargs)
    b = torch.optim.Adam(theirs, decoupled_weight_decay=True, **kwargs)
    c = optim.AdamW(adamw, **kwargs)
    for _ in range(10):
        for opt, params, loss in ((a, ours, nb_loss), (b, theirs, torch_loss),
                                  (c, adamw, nb_loss)):
            train(opt, params, loss, 1)
        assert_same(ours, theirs)
    for x, y in zip(ours, adamw):
        np.testing.assert_array_equal(as_numpy(x), as_numpy(y))
    saved = a.state_dict()
    saved["param_groups"][0]["decoupled_weight_decay"] = False
    loaded = optim.AdamW(nb_params())
    loaded.load_state_dict(saved)  # AdamW's decay stays decoupled, as in PyTorch
    assert loaded.param_groups[0]["decoupled_weight_decay"] is True


# ---- parameter groups, for every optimizer ---------------------------------------------------
ALL = [("SGD", dict(lr=0.01, momentum=0.9, nesterov=True)), ("SGD", dict(lr=0.01)),
       ("Adam", dict(lr=0.05)), ("Adam", dict(lr=0.05, amsgrad=True)),
       ("AdamW", dict(lr=0.05)), ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
       ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.2)), ("Adadelta", dict()),
       ("Adamax", dict(lr=0.05)), ("ASGD", dict(lr=0.05, t0=2)), ("NAdam", dict(lr=0.05)),
       ("RAdam", dict(lr=0.05, betas=(0.5, 0.8)))]


@pytest.mark.parametrize("name,kwargs", ALL, ids=[n for n, _ in ALL])
def test_add_param_group_during_training_matches_torch(name, kwargs):
    (w, b), (tw, tb) = nb_params(), torch_params()
    ours = getattr(optim, name)([w], **kwargs)
    theirs = getattr(torch.optim, name)([tw], **kwargs)
    for step in range(8):
        if step == 3:  # a frozen layer is unfrozen, with its own options
            ours.add_param_group({"params": b, "lr": 0.02, "weight_decay": 0.1})
            theirs.add_param_group({"params": tb, "lr": 0.02, "weight_decay": 0.1})
        train(ours, (w, b), nb_loss, 1)
        train(theirs, (tw, tb), torch_loss, 1)
        assert_same((w, b), (tw, tb))
    assert len(ours.param_groups) == 2
    assert ours.param_groups[1]["lr"] == 0.02
    for key, value in ours.param_groups[1].items():
        if key != "params":
            assert theirs.param_groups[1][key] == value, key


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "ASGD", "NAdam", "RAdam"])
def test_add_param_group_refuses_what_torch_refuses(name):
    w, b = nb_params()
    optimizer = getattr(optim, name)([w])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optimizer.add_param_group({"params": [w]})
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optimizer.add_param_group({"params": [b], "lr": -1.0})
    assert len(optimizer.param_groups) == 1


# ---- state_dict ---------------------------------------------------------------------------
RESUMABLE = [("Adadelta", dict(weight_decay=0.1)), ("Adamax", dict(lr=0.05)),
             ("ASGD", dict(lr=0.05, t0=3)), ("NAdam", dict(lr=0.05, momentum_decay=0.1)),
             ("RAdam", dict(lr=0.05, betas=(0.5, 0.8)))]


@pytest.mark.parametrize("name,kwargs", RESUMABLE, ids=[n for n, _ in RESUMABLE])
def test_state_dict_round_trip_continues_like_an_uninterrupted_run(name, kwargs):
    straight = nb_params()
    train(getattr(optim, name)(groups(straight, 0.002), **kwargs), straight, nb_loss, 12)

    first = nb_params()
    optimizer = getattr(optim, name)(groups(first, 0.002), **kwargs)
    train(optimizer, first, nb_loss, 6)
    saved = optimizer.state_dict()
    resumed = [nb.tensor(as_numpy(p), dtype=nb.float64, requires_grad=True) for p in first]
    train(optimizer, first, nb_loss, 2)  # keeps training: the snapshot must not change
    fresh = getattr(optim, name)(groups(resumed, 0.002), **kwargs)
    fresh.load_state_dict(saved)
    train(fresh, resumed, nb_loss, 6)
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(as_numpy(a), as_numpy(b))


@pytest.mark.parametrize("name,kwargs", RESUMABLE, ids=[n for n, _ in RESUMABLE])
def test_state_dict_has_torchs_keys(name, kwargs):
    ours_p, theirs_p = nb_params(), torch_params()
    ours = getattr(optim, name)(groups(ours_p, 0.002), **kwargs)
    theirs = getattr(torch.optim, name)(groups(theirs_p, 0.002), **kwargs)
    train(ours, ours_p, nb_loss, 2)
    train(theirs, theirs_p, torch_loss, 2)
    a, b = ours.state_dict(), theirs.state_dict()
    assert set(a["state"]) == set(b["state"]) == {0, 1}
    assert set(a["state"][0]) == set(b["state"][0])
    for key, value in b["state"][1].items():
        mine = a["state"][1][key]
        mine = as_numpy(mine) if isinstance(mine, nb.Tensor) else mine
        np.testing.assert_allclose(mine, value.numpy(), rtol=1e-10, err_msg=key)
    assert [g["params"] for g in a["param_groups"]] == [[0], [1]]


def test_load_state_dict_refuses_a_state_of_another_shape():
    params = nb_params()
    optimizer = optim.Adamax(params)
    train(optimizer, params, nb_loss, 1)
    saved = optimizer.state_dict()
    saved["state"][0]["exp_inf"] = nb.zeros(2, dtype=nb.float64)
    with pytest.raises(ValueError, match="exp_inf"):
        optim.Adamax(nb_params()).load_state_dict(saved)


# ---- errors ------------------------------------------------------------------------------
ERRORS = [("Adadelta", dict(lr=-0.1)), ("Adadelta", dict(rho=1.5)), ("Adadelta", dict(rho=-0.1)),
          ("Adadelta", dict(eps=-1.0)), ("Adadelta", dict(weight_decay=-1.0)),
          ("Adamax", dict(lr=-0.1)), ("Adamax", dict(betas=(1.0, 0.9))),
          ("Adamax", dict(betas=(0.9, -0.1))), ("Adamax", dict(eps=-1e-8)),
          ("ASGD", dict(lr=-0.1)), ("ASGD", dict(weight_decay=-0.1)),
          ("NAdam", dict(lr=-0.1)), ("NAdam", dict(betas=(0.9, 1.0))),
          ("NAdam", dict(momentum_decay=-0.1)), ("NAdam", dict(weight_decay=-0.1)),
          ("RAdam", dict(lr=-0.1)), ("RAdam", dict(betas=(-0.1, 0.9))),
          ("RAdam", dict(eps=-0.1)), ("LBFGS", dict(lr=-1.0))]


@pytest.mark.parametrize("name,kwargs", ERRORS,
                         ids=[f"{n}-{next(iter(k))}-{i}" for i, (n, k) in enumerate(ERRORS)])
def test_invalid_options_raise_torchs_error(name, kwargs):
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)(torch_params(), **kwargs)
    with pytest.raises(ValueError) as ours:
        getattr(optim, name)(nb_params(), **kwargs)
    assert str(ours.value).startswith(str(theirs.value))


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta",
                                  "Adamax", "ASGD", "NAdam", "RAdam"])
def test_options_are_checked_in_torchs_order(name):
    """With every option wrong, the first error is PyTorch's first."""
    bad = dict(lr=-1.0, eps=-1.0, betas=(2.0, 2.0), weight_decay=-1.0, momentum=-1.0,
               alpha=-1.0, rho=-1.0, lr_decay=-1.0, initial_accumulator_value=-1.0,
               momentum_decay=-1.0)
    accepted = getattr(optim, name)(nb_params()).defaults
    bad = {k: v for k, v in bad.items() if k in accepted}
    checked = 0
    while bad:
        try:
            getattr(torch.optim, name)(torch_params(), **bad)
        except ValueError as error:
            with pytest.raises(ValueError) as ours:
                getattr(optim, name)(nb_params(), **bad)
            assert str(ours.value).startswith(str(error)), bad
            checked += 1
        else:  # what is left PyTorch does not check (ASGD's alpha): neither does numbanet
            getattr(optim, name)(nb_params(), **bad)
        bad.pop(next(iter(bad)))
    assert checked >= 2


# ---- LBFGS ------------------------------------------------------------------------------
def closure_for(optimizer, params, loss_fn):
    def closure():
        optimizer.zero_grad()
        loss = loss_fn(*params)
        loss.backward()
        return loss
    return closure


LBFGS_CASES = [dict(), dict(lr=0.5, max_iter=4), dict(history_size=2, max_iter=6),
               dict(line_search_fn="strong_wolfe"),
               dict(line_search_fn="strong_wolfe", history_size=3, max_iter=5, max_eval=7),
               dict(lr=0.1, tolerance_change=1e-5, max_iter=8)]


@pytest.mark.parametrize("kwargs", LBFGS_CASES, ids=[str(i) for i in range(len(LBFGS_CASES))])
def test_lbfgs_matches_torch(kwargs):
    ours_p, theirs_p = nb_params(), torch_params()
    ours, theirs = optim.LBFGS(ours_p, **kwargs), torch.optim.LBFGS(theirs_p, **kwargs)
    for _ in range(3):
        loss_a = ours.step(closure_for(ours, ours_p, nb_loss))
        loss_b = theirs.step(closure_for(theirs, theirs_p, torch_loss))
        assert_same(ours_p, theirs_p, rtol=1e-9)
        np.testing.assert_allclose(loss_a.item(), loss_b.item(), rtol=1e-10)
        a, b = ours.state[ours_p[0]], theirs.state[theirs_p[0]]
        assert (a["n_iter"], a["func_evals"]) == (b["n_iter"], b["func_evals"])
        assert len(a["old_dirs"]) == len(b["old_dirs"])


def test_lbfgs_state_dict_round_trip():
    straight = nb_params()
    optimizer = optim.LBFGS(straight, max_iter=3, history_size=4)
    for _ in range(4):
        optimizer.step(closure_for(optimizer, straight, nb_loss))

    first = nb_params()
    optimizer = optim.LBFGS(first, max_iter=3, history_size=4)
    for _ in range(2):
        optimizer.step(closure_for(optimizer, first, nb_loss))
    saved = optimizer.state_dict()
    resumed = [nb.tensor(as_numpy(p), dtype=nb.float64, requires_grad=True) for p in first]
    optimizer.step(closure_for(optimizer, first, nb_loss))  # the snapshot must not change
    fresh = optim.LBFGS(resumed, max_iter=3, history_size=4)
    fresh.load_state_dict(saved)
    for _ in range(2):
        fresh.step(closure_for(fresh, resumed, nb_loss))
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(as_numpy(a), as_numpy(b))


def test_lbfgs_needs_a_closure_and_one_group():
    w, b = nb_params()
    optimizer = optim.LBFGS([w])
    with pytest.raises(RuntimeError, match="closure"):
        optimizer.step()
    with pytest.raises(ValueError, match="parameter groups"):
        optimizer.add_param_group({"params": [b]})
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [w]}, {"params": [b]}])
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        bad = optim.LBFGS([w], line_search_fn="backtracking")
        bad.step(closure_for(bad, (w, b), nb_loss))


def test_lbfgs_stops_at_once_at_an_optimum():
    w = nb.tensor(np.zeros(3), dtype=nb.float64, requires_grad=True)
    optimizer = optim.LBFGS([w])
    calls = []

    def closure():
        calls.append(1)
        optimizer.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss
    assert optimizer.step(closure).item() == 0
    assert len(calls) == 1 and optimizer.state[w]["n_iter"] == 0


# ---- CUDA (a GPU or the simulator) ----------------------------------------------------------
def cuda_params():
    return [nb.tensor(W0, dtype=nb.float64, device="cuda", requires_grad=True),
            nb.tensor(B0, dtype=nb.float64, device="cuda", requires_grad=True)]


def cuda_loss(w, b):
    x = nb.tensor(X, dtype=nb.float64, device="cuda")
    y = nb.tensor(Y, dtype=nb.float64, device="cuda")
    return (((x.mm(w) + b).tanh() - y) ** 2).sum() + 0.05 * (w ** 4).sum()


@pytest.mark.cuda
@pytest.mark.parametrize("name,kwargs", [
    ("Adadelta", dict(weight_decay=0.1)), ("Adamax", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, t0=1)), ("NAdam", dict(lr=0.05, weight_decay=0.1)),
    ("RAdam", dict(lr=0.05, betas=(0.5, 0.8), decoupled_weight_decay=True, weight_decay=0.1)),
    ("LBFGS", dict(max_iter=3, line_search_fn="strong_wolfe"))])
def test_cuda_updates_match_cpu(name, kwargs):
    on_cpu, on_cuda = nb_params(), cuda_params()
    ours_cpu = getattr(optim, name)(on_cpu, **kwargs)
    ours_cuda = getattr(optim, name)(on_cuda, **kwargs)
    for _ in range(7 if name == "RAdam" else 3):  # RAdam rectifies from its 6th step
        if name == "LBFGS":
            ours_cpu.step(closure_for(ours_cpu, on_cpu, nb_loss))
            ours_cuda.step(closure_for(ours_cuda, on_cuda, cuda_loss))
        else:
            train(ours_cpu, on_cpu, nb_loss, 1)
            train(ours_cuda, on_cuda, cuda_loss, 1)
    for p in on_cuda:
        assert p.device.type == "cuda"
    for values in ours_cuda.state.values():
        assert all(v.device.type == "cuda" for v in values.values() if isinstance(v, nb.Tensor))
    for a, b in zip(on_cuda, on_cpu):
        np.testing.assert_allclose(a.detach().cpu().numpy(), as_numpy(b), rtol=1e-9,
                                   atol=1e-12)
