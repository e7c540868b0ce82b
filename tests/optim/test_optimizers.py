"""numbanet.optim follows torch.optim: same parameters after the same gradients, same
learning-rate schedules, a state_dict that resumes training exactly, PyTorch's errors."""
import numpy as np
import pytest

import numbanet as nb
import numbanet.nn as nn
import numbanet.optim as optim

torch = pytest.importorskip("torch")

STEPS = 20
RNG = np.random.default_rng(0)
X = RNG.standard_normal((5, 4))
Y = RNG.standard_normal((5, 3))
W0 = RNG.standard_normal((4, 3))
B0 = RNG.standard_normal(3)


# ---- the same least-squares problem in both libraries ------------------------------------
def nb_params(device="cpu"):
    return [nb.tensor(W0, dtype=nb.float64, device=device, requires_grad=True),
            nb.tensor(B0, dtype=nb.float64, device=device, requires_grad=True)]


def torch_params():
    return [torch.tensor(W0, requires_grad=True), torch.tensor(B0, requires_grad=True)]


def nb_loss(w, b):
    x = nb.tensor(X, dtype=nb.float64, device=w.device)
    y = nb.tensor(Y, dtype=nb.float64, device=w.device)
    return ((x.mm(w) + b - y) ** 2).sum()


def torch_loss(w, b):
    return ((torch.tensor(X).mm(w) + b - torch.tensor(Y)) ** 2).sum()


def train(optimizer, params, loss_fn, steps):
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(*params).backward()
        optimizer.step()


def as_numpy(t):
    return t.detach().cpu().numpy() if isinstance(t, nb.Tensor) else t.detach().numpy()


def groups(params, split_lr):
    """One group per tensor, the second with its own learning rate, when ``split_lr``."""
    if split_lr is None:
        return params
    return [{"params": [params[0]]}, {"params": [params[1]], "lr": split_lr}]


CASES = [
    ("SGD", dict(lr=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.9)),
    ("SGD", dict(lr=0.01, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("SGD", dict(lr=0.01, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.01, maximize=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.05, weight_decay=0.2, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True, eps=1e-4)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6)),
]


@pytest.mark.parametrize("split_lr", [None, 0.003], ids=["one_group", "two_groups"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_parameters_after_20_steps_match_torch(name, kwargs, split_lr):
    ours, theirs = nb_params(), torch_params()
    train(getattr(optim, name)(groups(ours, split_lr), **kwargs), ours, nb_loss, STEPS)
    train(getattr(torch.optim, name)(groups(theirs, split_lr), **kwargs), theirs, torch_loss,
          STEPS)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(as_numpy(a), as_numpy(b), rtol=1e-8, atol=1e-8)


def test_step_updates_the_same_parameter_objects_in_place():
    w, b = params = nb_params()
    optimizer = optim.Adam(params, lr=0.1)
    version = w._vc[0]
    train(optimizer, params, nb_loss, 2)
    assert optimizer.param_groups[0]["params"][0] is w and w.is_leaf and w.requires_grad
    assert w._vc[0] > version and not np.allclose(as_numpy(w), W0)


# ---- learning-rate schedulers -----------------------------------------------------------------
SCHEDULERS = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("StepLR", dict(step_size=1)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001)),
]


@pytest.mark.parametrize("name,kwargs", SCHEDULERS, ids=[n for n, _ in SCHEDULERS])
def test_scheduler_learning_rates_match_torch(name, kwargs):
    ours = optim.SGD(groups(nb_params(), 0.03), lr=0.1)
    theirs = torch.optim.SGD(groups(torch_params(), 0.03), lr=0.1)
    s_ours = getattr(optim.lr_scheduler, name)(ours, **kwargs)
    s_theirs = getattr(torch.optim.lr_scheduler, name)(theirs, **kwargs)
    for epoch in range(35):
        np.testing.assert_allclose(s_ours.get_last_lr(), s_theirs.get_last_lr(), rtol=0,
                                   atol=1e-12, err_msg=f"epoch {epoch}")
        assert [g["lr"] for g in ours.param_groups] == s_ours.get_last_lr()
        assert s_ours.last_epoch == s_theirs.last_epoch == epoch
        ours.step()
        theirs.step()
        s_ours.step()
        s_theirs.step()


def test_scheduler_state_dict_resumes_the_schedule():
    optimizer = optim.SGD(nb_params(), lr=0.1)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)
    for _ in range(4):
        scheduler.step()
    saved = scheduler.state_dict()
    assert "optimizer" not in saved and saved["last_epoch"] == 4
    expected = []
    for _ in range(3):
        scheduler.step()
        expected.append(scheduler.get_last_lr())

    fresh_optimizer = optim.SGD(nb_params(), lr=0.1)
    fresh_optimizer.load_state_dict(optimizer.state_dict())
    fresh_optimizer.param_groups[0]["lr"] = saved["_last_lr"][0]
    fresh = optim.lr_scheduler.CosineAnnealingLR(fresh_optimizer, T_max=10)
    fresh.load_state_dict(saved)
    got = []
    for _ in range(3):
        fresh.step()
        got.append(fresh.get_last_lr())
    assert got == expected


# ---- state_dict -------------------------------------------------------------------------------
RESUMABLE = [("SGD", dict(lr=0.01, momentum=0.9, nesterov=True)),
             ("Adam", dict(lr=0.05, amsgrad=True)),
             ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
             ("Adagrad", dict(lr=0.1, lr_decay=0.01))]


@pytest.mark.parametrize("name,kwargs", RESUMABLE, ids=[n for n, _ in RESUMABLE])
def test_state_dict_round_trip_continues_like_an_uninterrupted_run(name, kwargs):
    straight = nb_params()
    train(getattr(optim, name)(groups(straight, 0.002), **kwargs), straight, nb_loss, STEPS)

    first = nb_params()
    optimizer = getattr(optim, name)(groups(first, 0.002), **kwargs)
    train(optimizer, first, nb_loss, STEPS // 2)
    saved = optimizer.state_dict()
    resumed = [nb.tensor(as_numpy(p), dtype=nb.float64, requires_grad=True) for p in first]
    train(optimizer, first, nb_loss, 3)  # keeps training: the snapshot must not change
    fresh = getattr(optim, name)(groups(resumed, 0.002), **kwargs)
    fresh.load_state_dict(saved)
    train(fresh, resumed, nb_loss, STEPS - STEPS // 2)
    for a, b in zip(resumed, straight):
        np.testing.assert_array_equal(as_numpy(a), as_numpy(b))


def test_state_dict_has_pytorchs_layout():
    params = nb_params()
    optimizer = optim.Adam(groups(params, 0.01), lr=0.1)
    train(optimizer, params, nb_loss, 2)
    ours = optimizer.state_dict()
    theirs_params = torch_params()
    theirs_opt = torch.optim.Adam(groups(theirs_params, 0.01), lr=0.1)
    train(theirs_opt, theirs_params, torch_loss, 2)
    theirs = theirs_opt.state_dict()
    assert set(ours) == {"state", "param_groups"}
    assert [g["params"] for g in ours["param_groups"]] == [[0], [1]]
    assert ours["param_groups"][1]["lr"] == 0.01
    assert set(ours["state"]) == set(theirs["state"]) == {0, 1}
    assert set(ours["state"][0]) == set(theirs["state"][0])
    assert isinstance(ours["state"][0]["exp_avg"], nb.Tensor)
    np.testing.assert_allclose(as_numpy(ours["state"][1]["exp_avg_sq"]),
                               theirs["state"][1]["exp_avg_sq"].numpy(), rtol=1e-10)


def test_load_state_dict_moves_state_to_the_parameters_dtype():
    params = nb_params()
    optimizer = optim.SGD(params, lr=0.1, momentum=0.9)
    train(optimizer, params, nb_loss, 1)
    single = [nb.tensor(W0, dtype=nb.float32, requires_grad=True),
              nb.tensor(B0, dtype=nb.float32, requires_grad=True)]
    fresh = optim.SGD(single, lr=0.5, momentum=0.9)
    fresh.load_state_dict(optimizer.state_dict())
    assert fresh.state[single[0]]["momentum_buffer"].dtype is nb.float32
    assert fresh.param_groups[0]["lr"] == 0.1 and fresh.param_groups[0]["params"][0] is single[0]


def test_load_state_dict_rejects_a_different_group_structure():
    params = nb_params()
    saved = optim.SGD(groups(params, 0.1), lr=0.1).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD(nb_params(), lr=0.1).load_state_dict(saved)
    a, b = nb_params()
    other = optim.SGD([{"params": [a, b]}, {"params": [nb.zeros(2, requires_grad=True)]}], lr=1)
    with pytest.raises(ValueError, match="doesn't match the size"):
        other.load_state_dict(saved)


# ---- zero_grad, closure, groups ------------------------------------------------------------------
def test_zero_grad_sets_none_by_default_and_zeros_on_request():
    params = nb_params()
    optimizer = optim.SGD(params, lr=0.1)
    nb_loss(*params).backward()
    optimizer.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not as_numpy(p.grad).any() for p in params)
    nb_loss(*params).backward()
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)


def test_step_runs_the_closure_with_grad_enabled_and_returns_its_loss():
    params = nb_params()
    optimizer = optim.SGD(params, lr=0.01)

    def closure():
        optimizer.zero_grad()
        loss = nb_loss(*params)
        loss.backward()
        return loss

    with nb.no_grad():
        loss = optimizer.step(closure)
    assert isinstance(loss, nb.Tensor) and params[0].grad is not None
    assert float(nb_loss(*params).detach()) < float(loss.detach())


def test_add_param_group_fills_in_the_defaults():
    w, b = nb_params()
    optimizer = optim.Adam([w], lr=0.1, betas=(0.8, 0.9))
    optimizer.add_param_group({"params": b, "lr": 0.5})
    group = optimizer.param_groups[1]
    assert group["params"][0] is b
    assert group["lr"] == 0.5 and group["betas"] == (0.8, 0.9)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optimizer.add_param_group({"params": [w]})


def test_parameters_without_grad_are_skipped():
    w, b = nb_params()
    optimizer = optim.Adam([w, b], lr=0.1)
    (w.sum() * 2).backward()
    optimizer.step()
    np.testing.assert_array_equal(as_numpy(b), B0)
    assert b not in optimizer.state or not optimizer.state[b]


# ---- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("make,match", [
    (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda p: optim.SGD([p[0], p[0]], lr=0.1), "appears twice"),
    (lambda p: optim.SGD([{"params": [p[0]]}, {"params": [p[0]]}], lr=0.1),
     "more than one parameter group"),
    (lambda p: optim.SGD([p[0] * 2], lr=0.1), "non-leaf"),
    (lambda p: optim.SGD([nb.zeros(3)], lr=0.1), "does not require grad"),
    (lambda p: optim.SGD(p, lr=-0.1), "Invalid learning rate"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-1), "Invalid momentum"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     "Nesterov momentum requires"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "Invalid beta parameter at index 0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
    (lambda p: optim.Adam(p, eps=-1), "Invalid epsilon"),
    (lambda p: optim.AdamW(p, weight_decay=-1), "Invalid weight_decay"),
    (lambda p: optim.RMSprop(p, alpha=-0.5), "Invalid alpha"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "Invalid lr_decay"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1),
     "Invalid initial_accumulator_value"),
    (lambda p: optim.lr_scheduler.StepLR(optim.SGD(p, lr=0.1), step_size=0), "step_size"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_invalid_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make(nb_params())


def test_a_single_tensor_instead_of_a_list_is_a_type_error():
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(nb_params()[0], lr=0.1)


def test_torch_raises_the_same_value_errors():
    p = torch_params()
    for make in (lambda: torch.optim.SGD([], lr=0.1),
                 lambda: torch.optim.SGD(p, lr=0.1, nesterov=True),
                 lambda: torch.optim.Adam(p, betas=(1.0, 0.999)),
                 lambda: torch.optim.RMSprop(p, alpha=-0.5)):
        with pytest.raises(ValueError):
            make()


# ---- CUDA --------------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("name,kwargs", [("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
                                         ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True))])
def test_cuda_updates_match_cpu(name, kwargs):
    on_cpu, on_cuda = nb_params("cpu"), nb_params("cuda")
    train(getattr(optim, name)(on_cpu, **kwargs), on_cpu, nb_loss, 3)
    optimizer = getattr(optim, name)(on_cuda, **kwargs)
    train(optimizer, on_cuda, nb_loss, 3)
    for p in on_cuda:
        assert p.device.type == "cuda"
        assert all(v.device.type == "cuda" for v in optimizer.state[p].values()
                   if isinstance(v, nb.Tensor))
    for a, b in zip(on_cuda, on_cpu):
        np.testing.assert_allclose(as_numpy(a), as_numpy(b), rtol=1e-10, atol=1e-12)


# ---- the seed lecture's "optim" program ----------------------------------------------------------
class TwoLayerNet(nn.Module):
    """Linear-ReLU-Linear from Parameters, for when nn.Linear is not available."""

    def __init__(self, D_in, H, D_out):
        super().__init__()
        self.w1 = nn.Parameter(nb.randn(D_in, H) * (1 / D_in ** 0.5))
        self.b1 = nn.Parameter(nb.zeros(H))
        self.w2 = nn.Parameter(nb.randn(H, D_out) * (1 / H ** 0.5))
        self.b2 = nn.Parameter(nb.zeros(D_out))

    def forward(self, x):
        return (x.mm(self.w1) + self.b1).relu().mm(self.w2) + self.b2


def test_seed_optim_program_loss_falls():
    nb.manual_seed(0)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x, y = nb.randn(N, D_in), nb.randn(N, D_out)
    if hasattr(nn, "Linear") and hasattr(nn, "ReLU"):
        model = nn.Sequential(nn.Linear(D_in, H), nn.ReLU(), nn.Linear(H, D_out))
    else:
        model = TwoLayerNet(D_in, H, D_out)
    optimizer = optim.Adam(model.parameters(), lr=1e-4)
    losses = []
    for _t in range(500):
        loss = ((model(x) - y) ** 2).sum()
        losses.append(float(loss.detach()))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert losses[-1] < 0.1 * losses[0]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_the_fused_adam_kernel_matches_the_op_by_op_update(device, weight_decay, monkeypatch):
    """Adam's plain case runs as one kernel per parameter; it must agree with the same
    update written with tensor ops (which the torch conformance tests pin down)."""
    import numbanet.optim.adam as adam_module

    def run(fused: bool):
        nb.manual_seed(3)
        p = nb.nn.Parameter(nb.randn(4, 3, dtype=nb.float64, device=device))
        opt = nb.optim.Adam([p], lr=0.05, weight_decay=weight_decay)
        calls = []
        real = adam_module.adam_

        def adam_(params, *args, **kwargs):  # the fused op, or none of its parameters
            calls.append(len(params))
            return real(params, *args, **kwargs) if fused else list(range(len(params)))
        monkeypatch.setattr(adam_module, "adam_", adam_)
        for _ in range(5):
            opt.zero_grad()
            ((p * p).sum() + p.sum()).backward()
            opt.step()
        assert calls == [1] * 5, "the fused op ran at every step"
        return p.detach().cpu().numpy()

    np.testing.assert_allclose(run(True), run(False), rtol=1e-12, atol=1e-14)


def test_an_optimizer_state_dict_survives_nb_save_and_load(tmp_path):
    """Model and optimizer checkpoints through the file format, then training resumes."""
    def make():
        nb.manual_seed(11)
        model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)).double()
        return model, optim.Adam(model.parameters(), lr=0.01)

    x = nb.randn(8, 3, dtype=nb.float64)

    def train(model, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            model(x).pow(2).sum().backward()
            opt.step()

    model, opt = make()
    train(model, opt, 6)
    expected = [p.detach().numpy().copy() for p in model.parameters()]

    model, opt = make()
    train(model, opt, 3)
    nb.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "ckpt")
    model, opt = make()
    checkpoint = nb.load(tmp_path / "ckpt")
    model.load_state_dict(checkpoint["model"])
    opt.load_state_dict(checkpoint["optimizer"])
    train(model, opt, 3)
    for got, want in zip(model.parameters(), expected):
        np.testing.assert_allclose(got.detach().numpy(), want, rtol=1e-12, atol=1e-14)
