"""The learning-rate schedulers follow torch.optim.lr_scheduler: the same rates (and
cycled momenta) epoch after epoch, state dicts that resume the schedule exactly, no
warning in normal use, PyTorch's errors."""
import inspect
import warnings

import numpy as np
import pytest

import numbanet as nb
import numbanet.optim as optim

torch = pytest.importorskip("torch")

L, TL = optim.lr_scheduler, torch.optim.lr_scheduler
EPOCHS = 30


class Halving:
    """A callable object: its attributes are saved by the scheduler's state_dict."""

    def __init__(self):
        self.base = 0.5

    def __call__(self, epoch):
        return self.base ** (epoch // 4)


def optimizers(name="SGD", **kwargs):
    """The same optimizer in both libraries, with two groups of different rates."""
    kwargs = kwargs or dict(lr=0.1, momentum=0.9)
    ours = [nb.zeros(3, dtype=nb.float64, requires_grad=True) for _ in range(2)]
    theirs = [torch.zeros(3, requires_grad=True) for _ in range(2)]
    return (getattr(optim, name)([{"params": [ours[0]]}, {"params": [ours[1]], "lr": 0.03}],
                                 **kwargs),
            getattr(torch.optim, name)([{"params": [theirs[0]]},
                                        {"params": [theirs[1]], "lr": 0.03}], **kwargs))


# (name, how to make it from a scheduler module and an optimizer, the optimizer)
CASES = [
    ("MultiStepLR", lambda m, o: m.MultiStepLR(o, milestones=[3, 7, 7, 12], gamma=0.5), {}),
    ("LambdaLR", lambda m, o: m.LambdaLR(o, lr_lambda=lambda e: 0.9 ** e + 0.01 * e), {}),
    ("LambdaLR-per-group", lambda m, o: m.LambdaLR(o, [lambda e: 1 / (e + 1), Halving()]), {}),
    ("MultiplicativeLR", lambda m, o: m.MultiplicativeLR(o, lambda e: 0.95 if e % 3 else 0.8),
     {}),
    ("LinearLR", lambda m, o: m.LinearLR(o), {}),
    ("LinearLR-decay", lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.05,
                                               total_iters=17), {}),
    ("ConstantLR", lambda m, o: m.ConstantLR(o), {}),
    ("ConstantLR-long", lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=11), {}),
    ("PolynomialLR", lambda m, o: m.PolynomialLR(o), {}),
    ("PolynomialLR-squared", lambda m, o: m.PolynomialLR(o, total_iters=20, power=2.0), {}),
    ("SequentialLR", lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.ExponentialLR(o, gamma=0.9)],
        milestones=[5]), {}),
    ("SequentialLR-three", lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.5, total_iters=3), m.CosineAnnealingLR(o, T_max=8),
            m.StepLR(o, step_size=4, gamma=0.3)], milestones=[4, 15]), {}),
    ("ChainedScheduler", lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, factor=0.2, total_iters=4), m.ExponentialLR(o, gamma=0.93)]), {}),
    ("ChainedScheduler-optimizer", lambda m, o: m.ChainedScheduler(
        [m.LinearLR(o, total_iters=6), m.MultiStepLR(o, milestones=[9, 20])], optimizer=o),
     {}),
    ("OneCycleLR", lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=EPOCHS), {}),
    ("OneCycleLR-linear-three-phase", lambda m, o: m.OneCycleLR(
        o, max_lr=[0.5, 0.2], epochs=5, steps_per_epoch=6, pct_start=0.25,
        anneal_strategy="linear", three_phase=True, div_factor=10.0), {}),
    ("OneCycleLR-Adam", lambda m, o: m.OneCycleLR(o, max_lr=0.01, total_steps=EPOCHS),
     dict(name="Adam", lr=1e-3)),
    ("OneCycleLR-no-momentum", lambda m, o: m.OneCycleLR(o, max_lr=0.3, total_steps=31,
                                                         cycle_momentum=False),
     dict(name="Adagrad", lr=0.1)),
    ("CyclicLR", lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4), {}),
    ("CyclicLR-triangular2", lambda m, o: m.CyclicLR(
        o, base_lr=[0.01, 0.02], max_lr=[0.1, 0.05], step_size_up=3, step_size_down=5,
        mode="triangular2"), {}),
    ("CyclicLR-exp_range", lambda m, o: m.CyclicLR(
        o, base_lr=0.001, max_lr=0.1, step_size_up=5, mode="exp_range", gamma=0.95,
        base_momentum=0.7, max_momentum=0.95), {}),
    ("CyclicLR-scale_fn", lambda m, o: m.CyclicLR(
        o, base_lr=0.001, max_lr=0.1, step_size_up=3, scale_fn=lambda x: 1 / (1 + x),
        scale_mode="iterations"), {}),
    ("CyclicLR-Adam", lambda m, o: m.CyclicLR(o, base_lr=1e-4, max_lr=1e-2, step_size_up=6),
     dict(name="Adam", lr=1e-3)),
    ("CosineAnnealingWarmRestarts", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=7), {}),
    ("CosineAnnealingWarmRestarts-mult", lambda m, o: m.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=0.001), {}),
    ("StepLR", lambda m, o: m.StepLR(o, step_size=4, gamma=0.5), {}),
    ("ExponentialLR", lambda m, o: m.ExponentialLR(o, gamma=0.9), {}),
    ("CosineAnnealingLR", lambda m, o: m.CosineAnnealingLR(o, T_max=9, eta_min=0.002), {}),
]
IDS = [c[0] for c in CASES]


def momenta(optimizer):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in optimizer.param_groups
            if "betas" in g or "momentum" in g]


def torch_sequence(make, opt, epochs=EPOCHS):
    """The rates, last_epoch and momenta PyTorch's scheduler gives, epoch by epoch."""
    theirs = optimizers(**opt)[1] if opt else optimizers()[1]
    scheduler = make(TL, theirs)
    seen = []
    for _ in range(epochs):
        seen.append((scheduler.get_last_lr(), getattr(scheduler, "last_epoch", None),
                     momenta(theirs)))
        theirs.step()
        scheduler.step()
    return seen


def assert_epoch(ours_opt, scheduler, expected, epoch):
    lrs, last_epoch, moms = expected
    np.testing.assert_allclose(scheduler.get_last_lr(), lrs, rtol=1e-12, atol=0,
                               err_msg=f"epoch {epoch}")
    assert [g["lr"] for g in ours_opt.param_groups] == scheduler.get_last_lr()
    assert getattr(scheduler, "last_epoch", None) == last_epoch, epoch
    np.testing.assert_allclose(momenta(ours_opt), moms, rtol=1e-12, err_msg=f"epoch {epoch}")


@pytest.mark.parametrize("name,make,opt", CASES, ids=IDS)
def test_rates_match_torch_without_warnings(name, make, opt):
    expected = torch_sequence(make, opt)
    ours_opt = optimizers(**opt)[0] if opt else optimizers()[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scheduler = make(L, ours_opt)
        for epoch in range(EPOCHS):
            assert_epoch(ours_opt, scheduler, expected[epoch], epoch)
            ours_opt.step()
            scheduler.step()


@pytest.mark.parametrize("name,make,opt", CASES, ids=IDS)
def test_state_dict_round_trip_resumes_the_schedule(name, make, opt):
    expected = torch_sequence(make, opt)
    first_opt = optimizers(**opt)[0] if opt else optimizers()[0]
    first = make(L, first_opt)
    for _ in range(12):
        first_opt.step()
        first.step()
    saved_opt, saved = first_opt.state_dict(), first.state_dict()
    assert "optimizer" not in saved
    for _ in range(3):  # the original goes on: the saved dicts must not change with it
        first_opt.step()
        first.step()

    resumed_opt = optimizers(**opt)[0] if opt else optimizers()[0]
    resumed = make(L, resumed_opt)
    resumed_opt.load_state_dict(saved_opt)
    resumed.load_state_dict(saved)
    for epoch in range(12, EPOCHS):
        assert_epoch(resumed_opt, resumed, expected[epoch], epoch)
        resumed_opt.step()
        resumed.step()


@pytest.mark.parametrize("name,make,opt", CASES, ids=IDS)
def test_a_state_dict_saved_by_torch_resumes_the_schedule(name, make, opt):
    """Scheduler state dicts hold plain Python values: PyTorch's load here."""
    expected = torch_sequence(make, opt)
    theirs_opt = optimizers(**opt)[1] if opt else optimizers()[1]
    theirs = make(TL, theirs_opt)
    for _ in range(12):
        theirs_opt.step()
        theirs.step()
    ours_opt = optimizers(**opt)[0] if opt else optimizers()[0]
    ours = make(L, ours_opt)
    for mine, group in zip(ours_opt.param_groups, theirs_opt.param_groups):
        mine.update({k: v for k, v in group.items() if k in mine and k != "params"})
    ours.load_state_dict(theirs.state_dict())
    for epoch in range(12, EPOCHS):
        assert_epoch(ours_opt, ours, expected[epoch], epoch)
        ours_opt.step()
        ours.step()


def test_every_scheduler_of_torch_exists_with_its_signature():
    assert set(TL.__all__) <= set(L.__all__)
    for name in TL.__all__:
        ours, theirs = (inspect.signature(getattr(m, name)).parameters.values() for m in (L, TL))
        assert [(p.name, p.kind, p.default) for p in ours] == \
            [(p.name, p.kind, p.default) for p in theirs], name


def test_lambda_state_dict_saves_a_callable_objects_attributes_not_functions():
    opt = optimizers()[0]
    halving = Halving()
    scheduler = L.LambdaLR(opt, [lambda e: 1.0, halving])
    halving.base = 0.25
    saved = scheduler.state_dict()
    assert saved["lr_lambdas"] == [None, {"base": 0.25}]
    other = Halving()
    fresh = L.LambdaLR(optimizers()[0], [lambda e: 1.0, other])
    fresh.load_state_dict(saved)
    assert other.base == 0.25 and callable(fresh.lr_lambdas[0])


# ---- ReduceLROnPlateau -------------------------------------------------------------------
METRICS = [1.0, 0.9, 0.9, 0.95, 0.91, 0.92, 0.9, 0.93, 0.5, 0.5, 0.5, 0.5, 0.5, 0.49999,
           0.51, 0.52, 0.4, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.45, 0.3, 0.3, 0.3]
PLATEAU = [dict(patience=2), dict(patience=1, factor=0.5, cooldown=2),
           dict(mode="max", patience=1, factor=0.3), dict(threshold=0.05, patience=0),
           dict(threshold_mode="abs", threshold=0.02, patience=1, min_lr=[0.02, 0.001]),
           dict(patience=0, factor=0.5, min_lr=0.009, eps=1e-3)]


@pytest.mark.parametrize("kwargs", PLATEAU, ids=[str(i) for i in range(len(PLATEAU))])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    ours_opt, theirs_opt = optimizers()
    ours, theirs = L.ReduceLROnPlateau(ours_opt, **kwargs), TL.ReduceLROnPlateau(theirs_opt,
                                                                                  **kwargs)
    metrics = METRICS if kwargs.get("mode") != "max" else [-m for m in METRICS]
    saved = None
    for i, metric in enumerate(metrics):
        ours_opt.step()
        theirs_opt.step()
        # a 0-d tensor is taken as well as a float
        ours.step(nb.tensor(metric, dtype=nb.float64) if i % 2 else metric)
        theirs.step(metric)
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
        assert (ours.last_epoch, ours.num_bad_epochs, ours.cooldown_counter) == \
            (theirs.last_epoch, theirs.num_bad_epochs, theirs.cooldown_counter)
        if i == 10:
            saved, saved_opt = ours.state_dict(), ours_opt.state_dict()
    # resume from epoch 10 in a fresh pair, and follow the same path
    fresh_opt = optimizers()[0]
    fresh = L.ReduceLROnPlateau(fresh_opt, **kwargs)
    fresh_opt.load_state_dict(saved_opt)
    fresh.load_state_dict(saved)
    for metric in metrics[11:]:
        fresh.step(metric)
    assert fresh.get_last_lr() == ours.get_last_lr() and fresh.best == ours.best


def test_reduce_lr_on_plateau_refuses_a_group_added_without_its_min_lr():
    opt = optimizers()[0]
    scheduler = L.ReduceLROnPlateau(opt, patience=0, min_lr=[0.0, 0.0])
    opt.add_param_group({"params": [nb.zeros(1, requires_grad=True)]})
    scheduler.step(1.0)
    with pytest.raises(RuntimeError, match="number of param groups"):
        scheduler.step(2.0)


# ---- step(epoch) ----------------------------------------------------------------------------
JUMPS = [lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
         lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5]),
         lambda m, o: m.LinearLR(o, start_factor=0.2, total_iters=6),
         lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4),
         lambda m, o: m.PolynomialLR(o, total_iters=8, power=1.5),
         lambda m, o: m.ExponentialLR(o, gamma=0.8),
         lambda m, o: m.CosineAnnealingLR(o, T_max=10),
         lambda m, o: m.LambdaLR(o, lambda e: 1 / (1 + e))]


@pytest.mark.parametrize("make", JUMPS, ids=[str(i) for i in range(len(JUMPS))])
def test_step_with_an_epoch_warns_and_jumps_there_as_torch(make):
    ours_opt, theirs_opt = optimizers()
    ours, theirs = make(L, ours_opt), make(TL, theirs_opt)
    for epoch in (3, 7, 5, 12):
        ours_opt.step()
        theirs_opt.step()
        with pytest.warns(UserWarning, match="epoch parameter"):
            ours.step(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs.step(epoch)
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
        assert ours.last_epoch == theirs.last_epoch == epoch


def test_warm_restarts_take_fractional_epochs_as_torch():
    for T_mult in (1, 2, 3):
        ours_opt, theirs_opt = optimizers()
        ours = L.CosineAnnealingWarmRestarts(ours_opt, T_0=2, T_mult=T_mult, eta_min=0.01)
        theirs = TL.CosineAnnealingWarmRestarts(theirs_opt, T_0=2, T_mult=T_mult, eta_min=0.01)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for epoch in np.arange(0, 20, 0.3):
                ours_opt.step()
                theirs_opt.step()
                ours.step(float(epoch))
                theirs.step(float(epoch))
                np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(),
                                           rtol=1e-12)
                assert (ours.last_epoch, ours.T_i) == (theirs.last_epoch, theirs.T_i)
                assert ours.T_cur == pytest.approx(theirs.T_cur, rel=1e-12)
        with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
            ours.step(-1)


def test_one_cycle_refuses_to_step_past_its_total():
    opt = optimizers()[0]
    scheduler = L.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        scheduler.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of "
                                         "total steps is 3"):
        scheduler.step()


@pytest.mark.parametrize("make", [
    lambda: L.LambdaLR(None, lambda e: 1.0), lambda: L.CyclicLR("sgd", 0.01, 0.1),
    lambda: L.OneCycleLR(None, 0.1, total_steps=3), lambda: L.ReduceLROnPlateau(None),
    lambda: L.MultiStepLR([], milestones=[1])])
def test_a_scheduler_of_something_that_is_not_an_optimizer_is_a_type_error(make):
    with pytest.raises(TypeError, match="is not an Optimizer"):
        make()


def test_resuming_with_last_epoch_needs_initial_lr():
    ours_opt = optimizers()[0]
    with pytest.raises(KeyError, match="initial_lr"):
        L.MultiStepLR(ours_opt, milestones=[2], last_epoch=4)
    assert ours_opt.param_groups[0]["lr"] == 0.1


# ---- errors -----------------------------------------------------------------------------
ERRORS = [
    lambda m, o: m.ConstantLR(o, factor=1.5),
    lambda m, o: m.ConstantLR(o, factor=-0.1),
    lambda m, o: m.LinearLR(o, start_factor=0),
    lambda m, o: m.LinearLR(o, end_factor=1.5),
    lambda m, o: m.LambdaLR(o, [lambda e: 1.0]),
    lambda m, o: m.MultiplicativeLR(o, 0.9),
    lambda m, o: m.MultiplicativeLR(o, [lambda e: 1.0] * 3),
    lambda m, o: m.SequentialLR(o, [], milestones=[]),
    lambda m, o: m.SequentialLR(o, [m.ExponentialLR(o, 0.9), m.ExponentialLR(o, 0.8)],
                                milestones=[]),
    lambda m, o: m.SequentialLR(o, [m.ExponentialLR(o, 0.9), m.ReduceLROnPlateau(o)],
                                milestones=[3]),
    lambda m, o: m.ChainedScheduler([]),
    lambda m, o: m.ChainedScheduler([m.ExponentialLR(o, 0.9), m.ReduceLROnPlateau(o)]),
    lambda m, o: m.ChainedScheduler([m.ExponentialLR(o, 0.9), object()]),
    lambda m, o: m.ReduceLROnPlateau(o, factor=1.0),
    lambda m, o: m.ReduceLROnPlateau(o, mode="lowest"),
    lambda m, o: m.ReduceLROnPlateau(o, threshold_mode="relative"),
    lambda m, o: m.ReduceLROnPlateau(o, min_lr=[0.1]),
    lambda m, o: m.ReduceLROnPlateau(None),
    lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, mode="sawtooth"),
    lambda m, o: m.CyclicLR(o, base_lr=[0.01], max_lr=0.1),
    lambda m, o: m.OneCycleLR(o, max_lr=0.1),
    lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=0),
    lambda m, o: m.OneCycleLR(o, max_lr=0.1, epochs=0, steps_per_epoch=3),
    lambda m, o: m.OneCycleLR(o, max_lr=0.1, epochs=2, steps_per_epoch=1.5),
    lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=1.5),
    lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=1),
    lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="exp"),
    lambda m, o: m.OneCycleLR(o, max_lr=[0.1], total_steps=10),
    lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=0),
    lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2.0),
    lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0),
    lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, eta_min="0"),
]


@pytest.mark.parametrize("make", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_invalid_arguments_raise_torchs_error(make):
    ours_opt, theirs_opt = optimizers()
    with pytest.raises(Exception) as theirs:
        make(TL, theirs_opt)
    with pytest.raises(type(theirs.value)) as ours:
        make(L, ours_opt)
    assert str(ours.value).startswith(str(theirs.value).split(" got scheduler")[0])


@pytest.mark.parametrize("make", [
    lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1),
    lambda m, o: m.OneCycleLR(o, max_lr=0.1, total_steps=10)])
def test_cycling_momentum_needs_an_optimizer_with_one(make):
    theirs = torch.optim.Adagrad([torch.zeros(1, requires_grad=True)], lr=0.1)
    ours = optim.Adagrad([nb.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError) as expected:
        make(TL, theirs)
    with pytest.raises(ValueError, match="optimizer must support momentum"):
        make(L, ours)
    assert "optimizer must support momentum" in str(expected.value)
    assert ours.param_groups[0]["lr"] == 0.1 and "initial_lr" not in ours.param_groups[0]
