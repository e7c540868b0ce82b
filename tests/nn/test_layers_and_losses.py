"""Specification of ``numbanet.nn`` layers, losses, ``functional`` and ``init``.

- Every layer and loss has autograd gradients that match central differences
  (``gradcheck`` in float64, eps 1e-6, atol 1e-5, rtol 1e-3), on the CPU and on CUDA
  (a few tiny inputs there: the simulator runs each CUDA thread in Python).
- Every layer and loss matches ``torch.nn`` in value and gradient, for each reduction.
- Linear's default initialisation and ``nn.init`` follow PyTorch's formulas.
- Mistakes (shapes, dtypes, reductions, probabilities) raise errors that name the values.
- The seed lecture's ``nn`` program trains.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import numbanet as nb
import numbanet.nn.functional as F
from numbanet import nn
from numbanet.autograd import gradcheck

DEVICES = ["cpu", "cuda"]
RNG = np.random.default_rng(0)


def leaf(array, device="cpu", requires_grad=True):
    return nb.tensor(np.asarray(array, dtype=np.float64), dtype=nb.float64, device=device,
                     requires_grad=requires_grad)


def away_from_zero(shape, low=0.2, high=2.0):
    """Values with |v| in [low, high] and random signs (keeps relu/abs/leaky kinks away)."""
    return RNG.uniform(low, high, shape) * RNG.choice([-1.0, 1.0], shape)


def check(fn, *inputs):
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)


# ---- gradients: central differences ---------------------------------------------------------
LAYER_CASES = {
    "ReLU": lambda: nn.ReLU(),
    "LeakyReLU": lambda: nn.LeakyReLU(0.2),
    "Sigmoid": lambda: nn.Sigmoid(),
    "Tanh": lambda: nn.Tanh(),
    "Softmax": lambda: nn.Softmax(dim=1),
    "LogSoftmax": lambda: nn.LogSoftmax(dim=-1),
    "Flatten": lambda: nn.Flatten(),
    "Identity": lambda: nn.Identity(),
    "Dropout.eval": lambda: nn.Dropout(0.5).eval(),
}


@pytest.mark.parametrize("name", sorted(LAYER_CASES))
def test_activation_layer_grads_match_central_difference_on_cpu(name):
    layer = LAYER_CASES[name]()
    x = leaf(away_from_zero((2, 3, 2)) if name == "Flatten" else away_from_zero((3, 4)))
    check(layer, x)


@pytest.mark.parametrize("device", DEVICES)
def test_linear_grads_match_central_difference(device):
    x = leaf(RNG.normal(size=(2, 3)), device)
    w = leaf(RNG.normal(size=(2, 3)), device)
    b = leaf(RNG.normal(size=(2,)), device)
    check(F.linear, x, w, b)


@pytest.mark.parametrize("device", DEVICES)
def test_linear_is_one_op_equal_to_its_composition_in_every_shape(device):
    """F.linear runs as a single op; it must equal x @ w.T + b, with gradients (and second
    derivatives) to match, for 1-D, 2-D and 3-D inputs, with and without a bias."""
    for shape in ((3,), (2, 3), (2, 2, 3)):
        x = leaf(RNG.normal(size=shape), device)
        w = leaf(RNG.normal(size=(2, 3)), device)
        b = leaf(RNG.normal(size=(2,)), device)
        assert F.linear(x, w, b).grad_fn.name() == "LinearBackward"
        np.testing.assert_allclose(F.linear(x, w, b).detach().cpu().numpy(),
                                   (x.matmul(w.t()) + b).detach().cpu().numpy(), rtol=1e-12)
        check(F.linear, x, w, b)
        check(lambda x_, w_: F.linear(x_, w_), x, w)
    x, w = leaf(RNG.normal(size=(2, 3)), device), leaf(RNG.normal(size=(2, 3)), device)
    second = []
    for f in (lambda: F.linear(x, w), lambda: x.mm(w.t())):
        gx, = nb.autograd.grad(f().pow(3).sum(), x, create_graph=True)
        second.append(nb.autograd.grad(gx.sum(), w)[0].detach().cpu().numpy())
    np.testing.assert_allclose(second[0], second[1], rtol=1e-12)


def test_linear_module_grads_match_central_difference_for_3d_input():
    layer = nn.Linear(3, 2, dtype=nb.float64)
    w, b = layer.weight, layer.bias

    def fn(x, w_, b_):
        return F.linear(x, w_, b_)
    check(fn, leaf(RNG.normal(size=(2, 2, 3))), w, b)
    check(layer, leaf(RNG.normal(size=(4, 3))))


@pytest.mark.parametrize("device", DEVICES)
def test_leaky_relu_and_log_softmax_grads_match_central_difference(device):
    x = leaf(away_from_zero((2, 3)), device)
    check(lambda t: F.leaky_relu(t, 0.1), x)
    check(lambda t: F.log_softmax(t, 1), x)


def test_dropout_train_grad_matches_central_difference_with_fixed_mask():
    def fn(t):
        nb.manual_seed(3)  # the same mask at every evaluation
        return F.dropout(t, 0.4, training=True)
    check(fn, leaf(RNG.normal(size=(3, 4))))


LOSS_CASES = ["mse", "l1", "cross_entropy", "nll", "bce", "bce_logits"]


def loss_inputs(kind, device="cpu", n=3, c=4):
    """(function, differentiable inputs) for one loss; targets are constants in the closure."""
    if kind in ("cross_entropy", "nll"):
        x = leaf(RNG.normal(size=(n, c)), device)
        target = nb.tensor(RNG.integers(0, c, n), dtype=nb.int64, device=device)
        if kind == "nll":
            return (lambda t, r: F.nll_loss(F.log_softmax(t, 1), target, reduction=r)), x
        return (lambda t, r: F.cross_entropy(t, target, reduction=r)), x
    if kind == "bce":
        x = leaf(RNG.uniform(0.1, 0.9, (n, c)), device)
        y = leaf(RNG.uniform(0, 1, (n, c)), device, requires_grad=False)
        return (lambda t, r: F.binary_cross_entropy(t, y, reduction=r)), x
    x = leaf(away_from_zero((n, c)), device)
    y = leaf(RNG.normal(size=(n, c)) * 0.1 if kind != "bce_logits" else
             RNG.uniform(0, 1, (n, c)), device, requires_grad=False)
    fn = {"mse": F.mse_loss, "l1": F.l1_loss,
          "bce_logits": F.binary_cross_entropy_with_logits}[kind]
    return (lambda t, r: fn(t, y, reduction=r)), x


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kind", LOSS_CASES)
def test_loss_grads_match_central_difference_on_cpu(kind, reduction):
    fn, x = loss_inputs(kind)
    check(lambda t: fn(t, reduction), x)


@pytest.mark.parametrize("kind", ["mse", "cross_entropy", "bce_logits"])
def test_loss_grads_match_central_difference_on_cuda(kind):
    fn, x = loss_inputs(kind, "cuda", n=2, c=2)
    check(lambda t: fn(t, "mean"), x)


def test_mse_target_grad_matches_central_difference():
    x, y = leaf(RNG.normal(size=(2, 3))), leaf(RNG.normal(size=(2, 3)))
    check(F.mse_loss, x, y)
    check(F.binary_cross_entropy_with_logits, leaf(away_from_zero((2, 3))),
          leaf(RNG.uniform(0, 1, (2, 3))))


def test_cross_entropy_with_weight_and_ignore_index_grads_match_central_difference():
    w = leaf([0.5, 2.0, 1.0], requires_grad=False)
    target = nb.tensor([0, 2, -100, 1])
    check(lambda t: F.cross_entropy(t, target, weight=w), leaf(RNG.normal(size=(4, 3))))


# ---- agreement with PyTorch -----------------------------------------------------------------
@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


def compare_with_torch(torch, ours, theirs, *arrays, targets=(), atol=1e-10):
    """Same value and same input gradients from numbanet and torch, float64 on the CPU.
    ``targets`` is an optional (numbanet target, torch target) pair passed last."""
    xs = [leaf(a) for a in arrays]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, ref = ours(*xs, *targets[:1]), theirs(*ts, *targets[1:])
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=atol,
                               rtol=1e-9)
    seed = RNG.normal(size=ref.shape)
    out.backward(nb.tensor(seed, dtype=nb.float64))
    ref.backward(torch.tensor(seed))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=atol, rtol=1e-9)


LAYER_PAIRS = [
    ("ReLU", lambda tn: (nn.ReLU(), tn.ReLU())),
    ("LeakyReLU", lambda tn: (nn.LeakyReLU(0.1), tn.LeakyReLU(0.1))),
    ("Sigmoid", lambda tn: (nn.Sigmoid(), tn.Sigmoid())),
    ("Tanh", lambda tn: (nn.Tanh(), tn.Tanh())),
    ("Softmax", lambda tn: (nn.Softmax(dim=0), tn.Softmax(dim=0))),
    ("LogSoftmax", lambda tn: (nn.LogSoftmax(dim=1), tn.LogSoftmax(dim=1))),
    ("Flatten", lambda tn: (nn.Flatten(), tn.Flatten())),
    ("Identity", lambda tn: (nn.Identity(), tn.Identity())),
]


@pytest.mark.parametrize("name,make", LAYER_PAIRS, ids=[n for n, _ in LAYER_PAIRS])
def test_layer_matches_torch(torch, name, make):
    ours, theirs = make(torch.nn)
    shape = (2, 3, 2) if name == "Flatten" else (3, 4)
    compare_with_torch(torch, ours, theirs, away_from_zero(shape))
    assert repr(ours) == repr(theirs)


def test_linear_matches_torch_with_copied_weights(torch):
    ours = nn.Linear(4, 3, dtype=nb.float64)
    theirs = torch.nn.Linear(4, 3, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.detach().numpy()))
        theirs.bias.copy_(torch.tensor(ours.bias.detach().numpy()))
    x = RNG.normal(size=(5, 4))
    compare_with_torch(torch, ours, theirs, x)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), atol=1e-10)
    assert repr(ours) == repr(theirs) == "Linear(in_features=4, out_features=3, bias=True)"
    assert repr(nn.Linear(4, 3, bias=False)) == repr(torch.nn.Linear(4, 3, bias=False))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", ["MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss"])
def test_elementwise_loss_matches_torch(torch, name, reduction):
    x = RNG.uniform(0.05, 0.95, (3, 4)) if name == "BCELoss" else away_from_zero((3, 4))
    y = RNG.uniform(0, 1, (3, 4))
    ours, theirs = getattr(nn, name)(reduction=reduction), \
        getattr(torch.nn, name)(reduction=reduction)
    compare_with_torch(torch, ours, theirs, x, y)  # gradient w.r.t. input and target


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", ["CrossEntropyLoss", "NLLLoss"])
def test_class_index_loss_matches_torch(torch, name, reduction):
    x = RNG.normal(size=(5, 4)) * 3
    if name == "NLLLoss":
        x = np.log(np.exp(x) / np.exp(x).sum(1, keepdims=True))
    target = RNG.integers(0, 4, 5)
    ours = getattr(nn, name)(reduction=reduction)
    theirs = getattr(torch.nn, name)(reduction=reduction)
    compare_with_torch(torch, ours, theirs, x,
                       targets=(nb.tensor(target), torch.tensor(target)))


def test_cross_entropy_options_match_torch(torch):
    x = RNG.normal(size=(6, 3))
    target = np.array([0, 2, 1, -100, 2, 0])
    w = np.array([0.3, 1.0, 2.5])
    compare_with_torch(
        torch, lambda t: F.cross_entropy(t, nb.tensor(target), weight=leaf(w, requires_grad=False)),
        lambda t: torch.nn.functional.cross_entropy(t, torch.tensor(target),
                                                    weight=torch.tensor(w)), x)
    # (N, C, d) inputs with (N, d) targets; class probabilities as targets.
    x3, t3 = RNG.normal(size=(2, 3, 4)), RNG.integers(0, 3, (2, 4))
    compare_with_torch(torch, lambda t: F.cross_entropy(t, nb.tensor(t3), reduction="none"),
                       lambda t: torch.nn.functional.cross_entropy(t, torch.tensor(t3),
                                                                   reduction="none"), x3)
    probs = RNG.dirichlet(np.ones(3), 6)
    compare_with_torch(torch, lambda t: F.cross_entropy(t, leaf(probs, requires_grad=False)),
                       lambda t: torch.nn.functional.cross_entropy(t, torch.tensor(probs)), x)


def test_cross_entropy_is_stable_for_huge_logits(torch):
    x = np.array([[1000.0, -1000.0, 0.0], [-5e3, 5e3, 1.0]])
    compare_with_torch(torch, lambda t: F.cross_entropy(t, nb.tensor([1, 0])),
                       lambda t: torch.nn.functional.cross_entropy(t, torch.tensor([1, 0])), x,
                       atol=1e-6)
    compare_with_torch(torch, lambda t: F.binary_cross_entropy_with_logits(
        t, leaf(np.ones((2, 3)), requires_grad=False)),
        lambda t: torch.nn.functional.binary_cross_entropy_with_logits(
            t, torch.ones(2, 3, dtype=torch.float64)), x, atol=1e-6)


def test_bce_clamps_log_at_minus_100_like_torch(torch):
    x, y = np.array([0.0, 1.0, 0.5]), np.array([1.0, 0.0, 1.0])
    ours = F.binary_cross_entropy(leaf(x, requires_grad=False), leaf(y, requires_grad=False),
                                  reduction="none")
    ref = torch.nn.functional.binary_cross_entropy(torch.tensor(x), torch.tensor(y),
                                                   reduction="none")
    np.testing.assert_allclose(ours.numpy(), ref.numpy())
    assert ours.numpy()[0] == 100.0


def test_bce_gradients_at_0_and_1_are_pytorchs_to_second_order(torch):
    """PyTorch's formula (x - y) / max(x (1 - x), 1e-12): 0 where x = y = 0 or 1, huge (not
    nan) where x is 0 or 1 and y is not; and its double backward."""
    x = np.array([0, 0, 1, 1, 0.3, 0.7, 1e-30, 0.5])
    y = np.array([0, 0.5, 1, 0.2, 0.3, 0.1, 0, 1])
    xt, yt = leaf(x), leaf(y)
    rx, ry = (torch.tensor(v, requires_grad=True) for v in (x, y))
    for reduction in ("mean", "sum"):
        ours = nb.autograd.grad(F.binary_cross_entropy(xt, yt, reduction=reduction), [xt, yt],
                                create_graph=True)
        ref = torch.autograd.grad(torch.nn.functional.binary_cross_entropy(
            rx, ry, reduction=reduction), [rx, ry], create_graph=True)
        for a, b in zip(ours, ref):  # the target's gradient is +-inf at x = 0 or 1, as there
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-7)
        w = np.arange(8.0)
        ours2 = nb.autograd.grad((ours[0] * leaf(w, requires_grad=False)).sum(), [xt, yt])
        ref2 = torch.autograd.grad((ref[0] * torch.tensor(w)).sum(), [rx, ry])
        for a, b in zip(ours2, ref2):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-7)
    assert ours[0].detach().numpy()[0] == 0.0


def test_cross_entropy_with_every_target_ignored_is_nan_with_a_zero_gradient(torch):
    x = leaf(RNG.normal(size=(3, 4)))
    loss = F.cross_entropy(x, nb.tensor([-100, -100, -100]))
    assert np.isnan(loss.item())  # 0 / 0, as in PyTorch
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((3, 4)))
    w = leaf(np.ones(4), requires_grad=False)
    x.grad = None
    F.cross_entropy(x, nb.tensor([-100, 1, -100]), weight=w).backward()
    rx = torch.tensor(x.detach().numpy(), requires_grad=True)
    torch.nn.functional.cross_entropy(rx, torch.tensor([-100, 1, -100]),
                                      weight=torch.ones(4, dtype=torch.float64)).backward()
    np.testing.assert_allclose(x.grad.numpy(), rx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("call, expected", [
    (lambda: F.linear([1.0], nb.zeros(1, 1)), "linear(): argument 'input' (position 1) must "
                                              "be Tensor, not list"),
    (lambda: nb.index_select(nb.zeros(2), 0, (0,)), "index_select(): argument 'index' "
                                                    "(position 3) must be Tensor, not tuple"),
    (lambda: F.mse_loss(nb.zeros(2), [0.0]), "mse_loss(): argument 'target' (position 2) "
                                             "must be Tensor, not list"),
    (lambda: F.embedding(nb.zeros(1, dtype=nb.int64), np.zeros((2, 2))),
     "embedding(): argument 'weight' (position 2) must be Tensor, not ndarray"),
])
def test_an_argument_that_is_not_a_tensor_gets_one_message_from_ops_and_functional(call,
                                                                                   expected):
    with pytest.raises(TypeError) as err:
        call()
    assert str(err.value) == expected + "; convert it with nb.tensor(...)"


def test_linear_of_zero_features():
    assert F.linear(nb.zeros(0), nb.zeros(0, 0)).shape == (0,)
    x = nb.zeros(2, 0, requires_grad=True)
    w = nb.zeros(3, 0, requires_grad=True)
    out = F.linear(x.reshape(2, 1, 0), w, nb.ones(3))
    np.testing.assert_array_equal(out.detach().numpy(), np.ones((2, 1, 3)))
    out.sum().backward()
    assert x.grad.shape == (2, 0) and w.grad.shape == (3, 0)


@pytest.mark.parametrize("loss", [F.mse_loss, F.l1_loss, F.binary_cross_entropy_with_logits])
def test_the_legacy_reduction_warning_of_a_loss_names_its_caller(loss):
    x = nb.tensor([0.2, 0.7])
    with pytest.warns(DeprecationWarning, match="reduction='sum'") as record:
        loss(x, x, size_average=False)
    assert record[0].filename == __file__


def test_legacy_size_average_false_is_sum_with_deprecation_warning(torch):
    with pytest.warns(DeprecationWarning, match="reduction='sum'"):
        loss_fn = nn.MSELoss(size_average=False)
    assert loss_fn.reduction == "sum"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_fn = torch.nn.MSELoss(size_average=False)
    compare_with_torch(torch, loss_fn, ref_fn, RNG.normal(size=(4, 2)),
                       RNG.normal(size=(4, 2)))
    with pytest.warns(DeprecationWarning):
        assert nn.L1Loss(reduce=False).reduction == "none"
    with pytest.warns(DeprecationWarning):
        assert nn.CrossEntropyLoss(size_average=True).reduction == "mean"


def test_calculate_gain_matches_torch(torch):
    for name in ["linear", "conv2d", "sigmoid", "tanh", "relu", "selu"]:
        assert nn.init.calculate_gain(name) == pytest.approx(
            torch.nn.init.calculate_gain(name))
    for slope in [None, 0.2, math.sqrt(5)]:
        assert nn.init.calculate_gain("leaky_relu", slope) == pytest.approx(
            torch.nn.init.calculate_gain("leaky_relu", slope))
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        nn.init.calculate_gain("swish")


# ---- initialisation -------------------------------------------------------------------------
def test_linear_default_init_shapes_and_bounds():
    layer = nn.Linear(400, 30)
    assert layer.weight.shape == (30, 400) and layer.bias.shape == (30,)
    assert layer.weight.dtype == nb.float32 and layer.weight.requires_grad
    assert layer.weight.is_leaf and layer.weight.grad_fn is None
    bound = 1 / math.sqrt(400)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-bound, bound): spread over the whole interval, variance bound**2 / 3.
    assert np.abs(w).max() > 0.98 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert abs(w.mean()) < 0.05 * bound
    assert [n for n, _ in nn.Linear(3, 2, bias=False).named_parameters()] == ["weight"]


def test_linear_dtype_and_device_arguments():
    layer = nn.Linear(3, 2, dtype=nb.float64, device="cpu")
    assert layer.weight.dtype == nb.float64 and layer.bias.device.type == "cpu"


@pytest.mark.parametrize("device", DEVICES)
def test_init_functions_fill_in_place_on_the_tensors_device(device):
    w = nn.Parameter(nb.empty(4, 6, device=device))
    fan_in, fan_out = 6, 4
    assert nn.init.kaiming_uniform_(w, a=0, nonlinearity="relu") is w
    assert w.device.type == device and w.requires_grad and w.grad_fn is None
    bound = math.sqrt(2) * math.sqrt(3 / fan_in)
    assert np.abs(w.detach().cpu().numpy()).max() <= bound
    nn.init.xavier_uniform_(w, gain=2.0)
    assert np.abs(w.detach().cpu().numpy()).max() <= 2.0 * math.sqrt(6 / (fan_in + fan_out))
    nn.init.constant_(w, 0.5)
    assert (w.detach().cpu().numpy() == 0.5).all()
    nn.init.zeros_(w)
    assert (w.detach().cpu().numpy() == 0).all()
    nn.init.ones_(w)
    assert (w.detach().cpu().numpy() == 1).all()


def test_init_normal_stds_follow_pytorch_formulas():
    w = nb.empty(200, 300)
    cases = [
        (lambda: nn.init.normal_(w, 1.0, 0.5), 1.0, 0.5),
        (lambda: nn.init.xavier_normal_(w), 0.0, math.sqrt(2 / 500)),
        (lambda: nn.init.kaiming_normal_(w, nonlinearity="relu"), 0.0, math.sqrt(2 / 300)),
        (lambda: nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"), 0.0,
         math.sqrt(2 / 200)),
        (lambda: nn.init.kaiming_normal_(w, a=0.3), 0.0,
         math.sqrt(2 / (1 + 0.09)) / math.sqrt(300)),
    ]
    for fill, mean, std in cases:
        values = fill().numpy()
        assert values.mean() == pytest.approx(mean, abs=0.02 * std + 1e-3)
        assert values.std() == pytest.approx(std, rel=0.03)
    nn.init.uniform_(w, -2.0, 3.0)
    assert w.numpy().min() >= -2.0 and w.numpy().max() < 3.0
    assert w.numpy().mean() == pytest.approx(0.5, abs=0.05)


def test_init_fans_use_the_receptive_field_and_refuse_vectors():
    w = nb.empty(4, 3, 5, 5)
    assert nn.init._calculate_fan_in_and_fan_out(w) == (75, 100)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(nb.empty(5))
    with pytest.raises(ValueError, match="fan_in"):
        nn.init.kaiming_uniform_(nb.empty(3, 3), mode="fan_avg")


# ---- dropout --------------------------------------------------------------------------------
def test_dropout_train_zeroes_and_rescales_eval_is_identity():
    drop = nn.Dropout(0.25)
    x = nb.ones(200, 100)
    y = drop(x).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert (y == 0).mean() == pytest.approx(0.25, abs=0.02)
    assert y.mean() == pytest.approx(1.0, abs=0.03)
    drop.eval()
    assert drop(x) is x
    assert (F.dropout(x, 1.0).numpy() == 0).all()
    assert F.dropout(x, 0.0) is x


def test_dropout_is_reproducible_with_manual_seed_and_stays_on_device():
    nb.manual_seed(7)
    a = F.dropout(nb.ones(10, 10)).numpy()
    nb.manual_seed(7)
    b = F.dropout(nb.ones(10, 10)).numpy()
    assert (a == b).all()


@pytest.mark.cuda
def test_dropout_runs_on_cuda():
    y = F.dropout(nb.ones(4, 4, device="cuda"), 0.5)
    assert y.device.type == "cuda"
    assert set(np.unique(y.cpu().numpy())) <= {0.0, 2.0}


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_probability_outside_0_1_is_refused(p):
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(nb.ones(2), p)


# ---- error messages -------------------------------------------------------------------------
def test_linear_input_mismatch_names_layer_and_shapes():
    with pytest.raises(ValueError) as err:
        nn.Linear(4, 3)(nb.randn(10, 5))
    assert str(err.value) == ("Linear(in_features=4, out_features=3, bias=True): expected input "
                              "with last dimension 4, got shape (10, 5)")
    with pytest.raises(ValueError, match=r"\(2, 5\).*\(3, 4\)"):
        F.linear(nb.randn(2, 5), nb.randn(3, 4))


@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss, F.binary_cross_entropy,
                                F.binary_cross_entropy_with_logits])
def test_loss_refuses_target_that_would_broadcast(fn):
    with pytest.raises(ValueError, match=r"target shape \(4,\) differs from input shape "
                                         r"\(4, 1\)"):
        fn(nb.rand(4, 1), nb.rand(4))


@pytest.mark.parametrize("loss", [nn.MSELoss, nn.L1Loss, nn.CrossEntropyLoss, nn.NLLLoss,
                                  nn.BCELoss, nn.BCEWithLogitsLoss])
def test_unknown_reduction_is_refused(loss):
    with pytest.raises(ValueError, match="reduction must be one of"):
        loss(reduction="average")
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(nb.ones(2), nb.ones(2), reduction="avg")


def test_cross_entropy_target_errors_name_dtype_shapes_and_range():
    x = nb.randn(3, 4)
    with pytest.raises(TypeError, match="int64.*float32"):
        F.cross_entropy(x, nb.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"input of shape \(3, 4\).*\(3,\), got \(2,\)"):
        F.cross_entropy(x, nb.tensor([0, 1]))
    with pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        F.cross_entropy(x, nb.tensor([0, 4, 1]))
    with pytest.raises(IndexError, match="target -1 is out of bounds"):
        F.nll_loss(x, nb.tensor([0, -1, 1]))


def test_bce_refuses_values_outside_0_1():
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(nb.tensor([0.5, 1.5]), nb.tensor([1.0, 0.0]))


# ---- the seed lecture's nn program ----------------------------------------------------------
def test_seed_nn_program_loss_falls():
    nb.manual_seed(0)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x = nb.randn(N, D_in)
    y = nb.randn(N, D_out)
    model = nn.Sequential(nn.Linear(D_in, H), nn.ReLU(), nn.Linear(H, D_out))
    with pytest.warns(DeprecationWarning):
        loss_fn = nn.MSELoss(size_average=False)
    learning_rate = 1e-4
    losses = []
    for _ in range(50):
        y_pred = model(x)
        loss = loss_fn(y_pred, y)
        losses.append(loss.item())
        model.zero_grad()
        loss.backward()
        with nb.no_grad():
            for param in model.parameters():
                param -= learning_rate * param.grad
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.5 * losses[0]
    assert all(b < a for a, b in zip(losses, losses[1:]))
