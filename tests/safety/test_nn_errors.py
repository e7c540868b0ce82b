"""nn and optim refuse hostile input clearly and never give a silent wrong result.

Each test states a property of ``numbanet.nn`` / ``numbanet.optim`` (issue 19, classes 6, 7
and 9): tensors on two devices meeting in one layer, values a loss cannot take, options
accepted but ignored, and the errors for wrong argument types and values, with PyTorch's
exception types (checked against torch where it is installed).
"""
import inspect
import math

import numpy as np
import pytest

import numbanet as nb
import numbanet.nn as nn
import numbanet.nn.functional as F
import numbanet.optim as optim


def cuda(*shape):
    return nb.randn(shape, device="cuda")


def _names_both_devices(message: str, op: str):
    assert "cuda" in message and "cpu" in message, message
    assert op in message, message


# ---- class 6: two devices in one layer ---------------------------------------------------------
MIXED_DEVICE_CALLS = {
    "linear weight": ("linear", lambda: F.linear(cuda(2, 3), nb.randn(4, 3))),
    "linear bias": ("linear", lambda: F.linear(cuda(2, 3), cuda(4, 3), nb.randn(4))),
    "conv2d weight": ("conv2d", lambda: F.conv2d(cuda(1, 1, 3, 3), nb.randn(1, 1, 2, 2))),
    "conv2d bias": ("conv2d", lambda: F.conv2d(cuda(1, 1, 3, 3), cuda(1, 1, 2, 2), nb.randn(1))),
    "batch_norm weight": ("batch_norm", lambda: F.batch_norm(
        cuda(2, 3), cuda(3), cuda(3).abs(), weight=nb.ones(3))),
    "batch_norm bias": ("batch_norm", lambda: F.batch_norm(
        cuda(2, 3), None, None, bias=nb.ones(3), training=True)),
    "batch_norm running stats (eval)": ("batch_norm", lambda: F.batch_norm(
        cuda(2, 3), nb.zeros(3), nb.ones(3))),
    "batch_norm running stats (training)": ("batch_norm", lambda: F.batch_norm(
        cuda(2, 3), nb.zeros(3), nb.ones(3), training=True)),
    "embedding": ("embedding", lambda: F.embedding(nb.tensor([1, 2], device="cuda"),
                                                    nb.randn(4, 3))),
    "cross_entropy target": ("cross_entropy", lambda: F.cross_entropy(
        cuda(2, 3), nb.tensor([0, 1]))),
    "cross_entropy weight": ("cross_entropy", lambda: F.cross_entropy(
        nb.randn(2, 3), nb.tensor([0, 1]), weight=cuda(3).abs())),
    "cross_entropy probabilities": ("cross_entropy", lambda: F.cross_entropy(
        cuda(2, 3), nb.rand(2, 3))),
    "nll_loss weight": ("nll_loss", lambda: F.nll_loss(
        nb.randn(2, 3), nb.tensor([0, 1]), weight=cuda(3).abs())),
    "mse_loss": ("mse_loss", lambda: F.mse_loss(cuda(2, 3), nb.randn(2, 3))),
    "l1_loss": ("l1_loss", lambda: F.l1_loss(cuda(2, 3), nb.randn(2, 3))),
    "binary_cross_entropy": ("binary_cross_entropy", lambda: F.binary_cross_entropy(
        nb.rand(2, 3, device="cuda"), nb.rand(2, 3))),
    "binary_cross_entropy weight": ("binary_cross_entropy", lambda: F.binary_cross_entropy(
        nb.rand(2, 3), nb.rand(2, 3), weight=nb.rand(2, 3, device="cuda"))),
    "binary_cross_entropy_with_logits": (
        "binary_cross_entropy_with_logits",
        lambda: F.binary_cross_entropy_with_logits(cuda(2, 3), nb.rand(2, 3))),
    "RNN h0": ("RNN", lambda: nn.RNN(3, 2)(nb.randn(2, 1, 3), cuda(1, 1, 2))),
    "LSTM c0": ("LSTM", lambda: nn.LSTM(3, 2)(nb.randn(2, 1, 3),
                                             (nb.randn(1, 1, 2), cuda(1, 1, 2)))),
    "LSTM input": ("LSTM", lambda: nn.LSTM(3, 2)(cuda(2, 1, 3))),
    "Linear input": ("linear", lambda: nn.Linear(3, 2)(cuda(2, 3))),
    "BatchNorm1d input": ("batch_norm", lambda: nn.BatchNorm1d(3)(cuda(2, 3))),
    "Embedding input": ("embedding", lambda: nn.Embedding(4, 2)(nb.tensor([1], device="cuda"))),
    "CrossEntropyLoss weight": ("cross_entropy", lambda: nn.CrossEntropyLoss(
        weight=nb.ones(3))(cuda(2, 3), nb.tensor([0, 1], device="cuda"))),
}


@pytest.mark.cuda
@pytest.mark.parametrize("case", sorted(MIXED_DEVICE_CALLS))
def test_tensors_on_two_devices_raise_one_runtime_error_naming_both_and_the_op(case):
    op, call = MIXED_DEVICE_CALLS[case]
    with pytest.raises(RuntimeError) as info:
        call()
    _names_both_devices(str(info.value), op)


@pytest.mark.cuda
def test_batch_norm_on_another_device_leaves_the_running_statistics_untouched():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(RuntimeError):
        bn(cuda(4, 3))
    assert bn.running_mean.tolist() == [0.0, 0.0, 0.0]
    assert bn.running_var.tolist() == [1.0, 1.0, 1.0]
    assert int(bn.num_batches_tracked) == 0


def _train_one_step(model, opt, device):
    opt.zero_grad()
    model(nb.randn(2, 3, device=device)).sum().backward()
    opt.step()


@pytest.mark.cuda
def test_optimizer_state_left_on_the_cpu_after_model_cuda_is_an_error_naming_both_devices():
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    _train_one_step(model, opt, "cpu")
    model.cuda()
    with pytest.raises(RuntimeError) as info:
        _train_one_step(model, opt, "cuda")
    _names_both_devices(str(info.value), "SGD")
    assert "momentum_buffer" in str(info.value)


@pytest.mark.cuda
@pytest.mark.parametrize("make", [lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                                  lambda p: optim.Adam(p, lr=0.1),
                                  lambda p: optim.RMSprop(p, lr=0.1, momentum=0.5),
                                  lambda p: optim.Adagrad(p, lr=0.1)],
                         ids=["SGD", "Adam", "RMSprop", "Adagrad"])
def test_load_state_dict_moves_saved_state_to_each_parameters_device(make):
    model = nn.Linear(3, 2)
    opt = make(model.parameters())
    _train_one_step(model, opt, "cpu")
    saved = opt.state_dict()
    model.cuda()
    fresh = make(model.parameters())
    fresh.load_state_dict(saved)
    for p in model.parameters():
        for value in fresh.state[p].values():
            if isinstance(value, nb.Tensor) and value.ndim:
                assert value.device == p.device
    _train_one_step(model, fresh, "cuda")


# ---- class 7: silent wrong results --------------------------------------------------------------
@pytest.mark.parametrize("values", [[float("nan"), 0.5], [1.5, 0.5], [-0.25, 0.5],
                                    [float("inf"), 0.5]])
def test_binary_cross_entropy_refuses_input_outside_0_1_with_pytorchs_runtime_error(values):
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(nb.tensor(values), nb.tensor([0.5, 0.5]))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        nn.BCELoss()(nb.tensor(values), nb.tensor([0.5, 0.5]))


@pytest.mark.parametrize("values", [[float("nan"), 0.5], [2.0, 0.5], [-1.0, 0.5]])
def test_binary_cross_entropy_refuses_target_outside_0_1_as_pytorch_does(values):
    with pytest.raises(RuntimeError, match="all elements of target should be between 0 and 1"):
        F.binary_cross_entropy(nb.tensor([0.5, 0.5]), nb.tensor(values))


@pytest.mark.parametrize("shape", [(2, 3, 1), (1, 2, 3), (3, 2)])
@pytest.mark.parametrize("fn", [F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_a_bce_weight_that_would_grow_the_loss_is_refused(fn, shape):
    with pytest.raises(ValueError, match=r"weight") as info:
        fn(nb.rand(2, 3), nb.rand(2, 3), weight=nb.rand(shape))
    assert str(shape) in str(info.value)


@pytest.mark.parametrize("shape", [(3,), (2, 1), (2, 3)])
def test_a_bce_weight_that_broadcasts_to_the_input_matches_pytorch(shape):
    torch = pytest.importorskip("torch")
    x, y, w = np.random.rand(2, 3), np.random.rand(2, 3), np.random.rand(*shape)
    ours = F.binary_cross_entropy(nb.tensor(x), nb.tensor(y), weight=nb.tensor(w),
                                  reduction="none")
    theirs = torch.nn.functional.binary_cross_entropy(
        torch.tensor(x), torch.tensor(y), weight=torch.tensor(w), reduction="none")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_binary_cross_entropy_range_errors_have_torchs_types():
    torch = pytest.importorskip("torch")
    for x, y in (([float("nan")], [0.5]), ([0.5], [2.0])):
        with pytest.raises(RuntimeError):
            torch.nn.functional.binary_cross_entropy(torch.tensor(x), torch.tensor(y))
        with pytest.raises(RuntimeError):
            F.binary_cross_entropy(nb.tensor(x), nb.tensor(y))


@pytest.mark.parametrize("padding_idx", [10, 11, -11, 100])
def test_padding_idx_outside_the_table_is_refused_with_pytorchs_assertion(padding_idx):
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(10, 3, padding_idx=padding_idx)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        F.embedding(nb.tensor([1]), nb.randn(10, 3), padding_idx=padding_idx)


@pytest.mark.parametrize("padding_idx", [2.0, True, "1"])
def test_padding_idx_that_is_not_an_int_is_a_type_error(padding_idx):
    with pytest.raises(TypeError, match="padding_idx"):
        nn.Embedding(10, 3, padding_idx=padding_idx)
    with pytest.raises(TypeError, match="padding_idx"):
        F.embedding(nb.tensor([1]), nb.randn(10, 3), padding_idx=padding_idx)


def test_negative_padding_idx_inside_the_table_counts_from_the_end():
    w = nb.randn(10, 3, requires_grad=True)
    F.embedding(nb.tensor([9, 1]), w, padding_idx=-1).sum().backward()
    assert w.grad[9].tolist() == [0.0, 0.0, 0.0]
    assert w.grad[1].tolist() == [1.0, 1.0, 1.0]


INPLACE = {
    "F.relu": lambda x: F.relu(x, inplace=True),
    "nn.ReLU": lambda x: nn.ReLU(inplace=True)(x),
    "F.leaky_relu": lambda x: F.leaky_relu(x, 0.1, inplace=True),
    "nn.LeakyReLU": lambda x: nn.LeakyReLU(0.1, inplace=True)(x),
    "F.dropout": lambda x: F.dropout(x, 0.5, training=True, inplace=True),
    "nn.Dropout": lambda x: nn.Dropout(0.5, inplace=True)(x),
}
OUT_OF_PLACE = {
    "F.relu": lambda x: x.clamp(min=0),
    "F.leaky_relu": lambda x: nb.where(x > 0, x, x * 0.1),
}


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)])
@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_true_changes_the_input_and_returns_it(name, device):
    x = nb.tensor([-2.0, -0.5, 0.0, 1.5, 3.0, -1.0, 2.0, 4.0], device=device)
    before = x.tolist()
    out = INPLACE[name](x)
    assert out is x
    if name.endswith("ropout"):  # each element is dropped (0) or kept and scaled by 1/(1-p)
        assert all(v == 0 or v == 2 * b for v, b in zip(x.tolist(), before))
    else:
        key = "F." + name.split(".")[1].lower().replace("leakyrelu", "leaky_relu")
        assert x.tolist() == OUT_OF_PLACE[key](nb.tensor(before)).tolist()


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_true_on_a_leaf_that_requires_grad_is_refused(name):
    x = nb.randn(4, requires_grad=True)
    before = x.tolist()
    with pytest.raises(RuntimeError, match="leaf"):
        INPLACE[name](x)
    assert x.tolist() == before


@pytest.mark.parametrize("name", ["F.relu", "nn.ReLU", "F.leaky_relu", "nn.LeakyReLU"])
def test_gradient_through_an_inplace_activation_matches_pytorch(name):
    torch = pytest.importorskip("torch")
    data = np.array([-2.0, -0.5, 1.5, 3.0])
    ours = nb.tensor(data, requires_grad=True)
    theirs = torch.tensor(data, requires_grad=True)
    y = ours * 3
    INPLACE[name](y)
    (y * y).sum().backward()
    ty = theirs * 3
    if "eaky" in name:
        torch.nn.functional.leaky_relu(ty, 0.1, inplace=True)
    else:
        torch.nn.functional.relu(ty, inplace=True)
    (ty * ty).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())


def test_inplace_dropout_gradient_is_the_kept_mask_scaled():
    x = nb.randn(200, requires_grad=True)
    y = x * 1
    F.dropout(y, 0.5, training=True, inplace=True)
    y.sum().backward()
    kept = (y != 0).to(nb.float32)
    np.testing.assert_allclose(x.grad.numpy(), (kept * 2).numpy())


# ---- class 9: arguments that are not tensors ---------------------------------------------------
def _t(*shape):
    return nb.rand(shape)


NOT_A_TENSOR = {
    "linear input": ("linear", "input", lambda: F.linear([[1.0, 2.0, 3.0]], _t(2, 3))),
    "linear weight": ("linear", "weight", lambda: F.linear(_t(1, 3), [[1.0, 2.0, 3.0]])),
    "linear bias": ("linear", "bias", lambda: F.linear(_t(1, 3), _t(2, 3), [1.0, 2.0])),
    "Linear module": ("linear", "input", lambda: nn.Linear(3, 2)([[1.0, 2.0, 3.0]])),
    "relu": ("relu", "input", lambda: F.relu([1.0, -1.0])),
    "ReLU module": ("relu", "input", lambda: nn.ReLU()([1.0, -1.0])),
    "leaky_relu": ("leaky_relu", "input", lambda: F.leaky_relu(np.ones(2))),
    "sigmoid": ("sigmoid", "input", lambda: F.sigmoid([1.0])),
    "tanh": ("tanh", "input", lambda: F.tanh([1.0])),
    "softmax": ("softmax", "input", lambda: F.softmax([1.0, 2.0], 0)),
    "Softmax module": ("softmax", "input", lambda: nn.Softmax()([1.0, 2.0])),
    "log_softmax": ("log_softmax", "input", lambda: F.log_softmax([1.0, 2.0], 0)),
    "dropout": ("dropout", "input", lambda: F.dropout([1.0, 2.0])),
    "flatten": ("flatten", "input", lambda: F.flatten([[1.0]])),
    "mse_loss input": ("mse_loss", "input", lambda: F.mse_loss([1.0], _t(1))),
    "mse_loss target": ("mse_loss", "target", lambda: F.mse_loss(_t(1), [1.0])),
    "MSELoss module": ("mse_loss", "input", lambda: nn.MSELoss()([1.0], [1.0])),
    "l1_loss": ("l1_loss", "input", lambda: F.l1_loss([1.0], _t(1))),
    "nll_loss": ("nll_loss", "input", lambda: F.nll_loss([[1.0, 2.0]], nb.tensor([0]))),
    "nll_loss weight": ("nll_loss", "weight", lambda: F.nll_loss(
        _t(1, 2), nb.tensor([0]), weight=[1.0, 1.0])),
    "cross_entropy input": ("cross_entropy", "input", lambda: F.cross_entropy(
        [[1.0, 2.0]], nb.tensor([0]))),
    "cross_entropy target": ("cross_entropy", "target", lambda: F.cross_entropy(
        _t(1, 2), [0])),
    "binary_cross_entropy": ("binary_cross_entropy", "input", lambda: F.binary_cross_entropy(
        [0.5], _t(1))),
    "binary_cross_entropy weight": ("binary_cross_entropy", "weight",
                                    lambda: F.binary_cross_entropy(_t(1), _t(1), weight=[2.0])),
    "binary_cross_entropy_with_logits": (
        "binary_cross_entropy_with_logits", "target",
        lambda: F.binary_cross_entropy_with_logits(_t(1), np.ones(1))),
    "conv2d input": ("conv2d", "input", lambda: F.conv2d([[[[1.0]]]], _t(1, 1, 1, 1))),
    "conv2d weight": ("conv2d", "weight", lambda: F.conv2d(_t(1, 1, 1, 1), [[[[1.0]]]])),
    "Conv2d module": ("Conv2d", "input", lambda: nn.Conv2d(1, 1, 1)([[[[1.0]]]])),
    "max_pool2d": ("max_pool2d", "input", lambda: F.max_pool2d([[[1.0]]], 1)),
    "avg_pool2d": ("avg_pool2d", "input", lambda: F.avg_pool2d([[[1.0]]], 1)),
    "batch_norm": ("batch_norm", "input", lambda: F.batch_norm(
        [[1.0, 2.0]], None, None, training=True)),
    "batch_norm weight": ("batch_norm", "weight", lambda: F.batch_norm(
        _t(2, 2), None, None, weight=[1.0, 1.0], training=True)),
    "BatchNorm1d module": ("BatchNorm1d", "input", lambda: nn.BatchNorm1d(2)([[1.0, 2.0]])),
    "embedding": ("embedding", "input", lambda: F.embedding([1], _t(3, 2))),
    "Embedding module": ("embedding", "input", lambda: nn.Embedding(3, 2)([1])),
    "RNN module": ("RNN", "input", lambda: nn.RNN(1, 1)([[[1.0]]])),
    "LSTM module": ("LSTM", "input", lambda: nn.LSTM(1, 1)([[[1.0]]])),
    "LSTM h0": ("LSTM", "h_0", lambda: nn.LSTM(1, 1)(_t(1, 1, 1), ([[[0.0]]], _t(1, 1, 1)))),
    "Embedding.from_pretrained": ("from_pretrained", "embeddings",
                                  lambda: nn.Embedding.from_pretrained([[1.0, 2.0]])),
    "Embedding _weight": ("Embedding", "_weight",
                          lambda: nn.Embedding(1, 2, _weight=[[1.0, 2.0]])),
}


@pytest.mark.parametrize("case", sorted(NOT_A_TENSOR))
def test_an_argument_that_is_not_a_tensor_is_a_type_error_naming_op_argument_and_type(case):
    op, argument, call = NOT_A_TENSOR[case]
    with pytest.raises(TypeError) as info:
        call()
    message = str(info.value)
    assert op in message and f"'{argument}'" in message and "must be Tensor" in message, message


def test_linear_names_a_bias_of_the_wrong_shape_whatever_the_dtypes():
    with pytest.raises(ValueError, match=r"bias of shape \(2, 3\)"):
        F.linear(nb.randn(2, 3), nb.randn(2, 3), nb.ones(2, 3, dtype=nb.int64))


def test_a_model_with_inplace_activations_has_the_gradients_of_the_out_of_place_one():
    def gradients(inplace):
        nb.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2),
                              nn.ReLU(inplace=inplace), nn.Flatten(), nn.Linear(32, 5),
                              nn.LeakyReLU(0.2, inplace=inplace), nn.Linear(5, 3))
        model(nb.randn(2, 1, 4, 4)).sum().backward()
        return [p.grad.numpy() for p in model.parameters()]
    for ours, reference in zip(gradients(True), gradients(False)):
        np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(F.__all__))
def test_every_functional_refuses_a_list_as_its_first_argument(name):
    """Each public function of nn.functional, called with a list where its first tensor goes
    (its other required arguments valid), is PyTorch's TypeError: none reaches an op."""
    fn = getattr(F, name)
    params = list(inspect.signature(fn).parameters.values())
    rest = [nb.rand(1, 1) if "Tensor" in str(p.annotation) else 1 for p in params[1:]
            if p.default is inspect.Parameter.empty]
    with pytest.raises(TypeError, match=rf"argument '{params[0].name}' \(position 1\) must be "
                                        "Tensor, not list"):
        fn([[1.0]], *rest)


LAYERS = {  # every layer of nn, made with small valid arguments
    "Linear": lambda: nn.Linear(1, 1), "ReLU": nn.ReLU, "LeakyReLU": nn.LeakyReLU,
    "Sigmoid": nn.Sigmoid, "Tanh": nn.Tanh, "Softmax": lambda: nn.Softmax(dim=0),
    "LogSoftmax": lambda: nn.LogSoftmax(dim=0), "Dropout": nn.Dropout, "Flatten": nn.Flatten,
    "Conv2d": lambda: nn.Conv2d(1, 1, 1), "MaxPool2d": lambda: nn.MaxPool2d(1),
    "AvgPool2d": lambda: nn.AvgPool2d(1), "BatchNorm1d": lambda: nn.BatchNorm1d(1),
    "BatchNorm2d": lambda: nn.BatchNorm2d(1), "Embedding": lambda: nn.Embedding(2, 1),
    "RNN": lambda: nn.RNN(1, 1), "LSTM": lambda: nn.LSTM(1, 1),
    "Sequential": lambda: nn.Sequential(nn.Linear(1, 1)),
}
LOSSES = ["MSELoss", "L1Loss", "NLLLoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss"]
NOT_LAYERS = {"Module", "ModuleDict", "ModuleList", "Parameter", "Identity", "ParameterList",
              "ParameterDict"}


def test_the_layer_tables_list_every_module_of_nn():
    modules = {n for n in nn.__all__ if isinstance(getattr(nn, n), type)
               and issubclass(getattr(nn, n), nn.Module)}
    assert modules - NOT_LAYERS == set(LAYERS) | set(LOSSES)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_layer_refuses_a_list_with_pytorchs_type_error(name):
    with pytest.raises(TypeError, match=r"argument '\w+' \(position \d\) must be Tensor, not list"):
        LAYERS[name]()([[1.0]])


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("position", [0, 1])
def test_every_loss_refuses_a_list_as_input_or_target(name, position):
    args = [nb.rand(1, 1), nb.rand(1, 1)]
    args[position] = [[0.5]]
    argument = ("input", "target")[position]
    with pytest.raises(TypeError, match=rf"argument '{argument}' .* must be Tensor, not list"):
        getattr(nn, name)()(*args)


def test_the_not_a_tensor_message_has_pytorchs_wording_for_linear():
    with pytest.raises(TypeError, match=r"linear\(\): argument 'input' \(position 1\) must be "
                                        r"Tensor, not list"):
        nn.Linear(3, 2)([[1.0, 2.0, 3.0]])


@pytest.mark.parametrize("make", [
    lambda: nn.Dropout("0.5"), lambda: F.dropout(nb.ones(2), "0.5"), lambda: nn.Dropout(None),
    lambda: nn.RNN(2, 2, num_layers=2, dropout="x"), lambda: nn.BatchNorm1d(2, momentum="x"),
    lambda: nn.BatchNorm1d(2, eps="x")],
    ids=["Dropout str", "F.dropout str", "Dropout None", "RNN dropout str", "BatchNorm momentum",
         "BatchNorm eps"])
def test_a_layer_option_that_is_not_a_number_is_a_type_error_when_the_layer_is_made(make):
    with pytest.raises(TypeError, match="must be a number"):
        make()


# ---- class 9: empty batches and empty sequences -----------------------------------------------
EMPTY_LOSSES = {  # name: (call(F, input, target, weight, reduction), target kind)
    "cross_entropy": (lambda F_, x, t, w, r: F_.cross_entropy(x, t, reduction=r), "index"),
    "cross_entropy weight": (
        lambda F_, x, t, w, r: F_.cross_entropy(x, t, weight=w, reduction=r), "index"),
    "cross_entropy probabilities": (
        lambda F_, x, t, w, r: F_.cross_entropy(x, t, reduction=r), "prob"),
    "nll_loss": (lambda F_, x, t, w, r: F_.nll_loss(x, t, reduction=r), "index"),
    "nll_loss weight": (lambda F_, x, t, w, r: F_.nll_loss(x, t, weight=w, reduction=r),
                        "index"),
    "mse_loss": (lambda F_, x, t, w, r: F_.mse_loss(x, t, reduction=r), "prob"),
    "l1_loss": (lambda F_, x, t, w, r: F_.l1_loss(x, t, reduction=r), "prob"),
    "binary_cross_entropy": (
        lambda F_, x, t, w, r: F_.binary_cross_entropy(x, t, reduction=r), "prob"),
    "binary_cross_entropy_with_logits": (
        lambda F_, x, t, w, r: F_.binary_cross_entropy_with_logits(x, t, reduction=r), "prob"),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(EMPTY_LOSSES))
def test_losses_on_an_empty_batch_match_pytorch(name, reduction):
    torch = pytest.importorskip("torch")
    call, target_kind = EMPTY_LOSSES[name]
    results = []
    for lib, F_ in ((nb, F), (torch, torch.nn.functional)):
        x = lib.zeros(0, 3)
        t = lib.zeros(0, dtype=lib.int64) if target_kind == "index" else lib.zeros(0, 3)
        out = call(F_, x, t, lib.ones(3), reduction)
        results.append((tuple(out.shape), np.asarray(out.detach().numpy())))
    (ours_shape, ours), (their_shape, theirs) = results
    assert ours_shape == their_shape
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("call", [
    lambda: F.conv2d(nb.zeros(1, 1, 0, 1), nb.zeros(1, 1, 1, 1)),
    lambda: F.conv2d(nb.zeros(2, 0, 0), nb.zeros(1, 2, 1, 1), padding=1),
    lambda: F.max_pool2d(nb.zeros(1, 1, 0, 0), 2, None, 1),
    lambda: F.max_pool2d(nb.zeros(1, 0, 2, 2), 1),
    lambda: F.avg_pool2d(nb.zeros(1, 1, 2, 0), 1),
], ids=["conv 0 high", "conv unbatched 0x0 padded", "max_pool 0x0 padded",
        "max_pool 0 channels", "avg_pool 0 wide"])
def test_images_with_an_empty_non_batch_dim_are_pytorchs_runtime_error(call):
    """Padding would otherwise make windows of nothing but padding (a max of -inf)."""
    with pytest.raises(RuntimeError, match="Only zero batch|optional 0 dim batch size"):
        call()


def test_images_with_an_empty_batch_give_an_empty_result():
    assert F.conv2d(nb.zeros(0, 1, 3, 3), nb.zeros(2, 1, 3, 3), padding=1).shape == (0, 2, 3, 3)
    assert F.max_pool2d(nb.zeros(0, 1, 4, 4), 2).shape == (0, 1, 2, 2)
    assert F.avg_pool2d(nb.zeros(0, 1, 4, 4), 2).shape == (0, 1, 2, 2)


@pytest.mark.parametrize("make", [lambda: nn.RNN(3, 2), lambda: nn.LSTM(3, 2),
                                  lambda: nn.LSTM(3, 2, batch_first=True)],
                         ids=["RNN", "LSTM", "LSTM batch_first"])
@pytest.mark.parametrize("unbatched", [False, True])
def test_a_sequence_of_length_zero_is_pytorchs_runtime_error(make, unbatched):
    layer = make()
    if unbatched:
        x = nb.randn(0, 3)
    else:
        x = nb.randn(1, 0, 3) if layer.batch_first else nb.randn(0, 1, 3)
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0 in RNN"):
        layer(x)


def test_rnn_on_an_empty_batch_returns_empty_outputs_as_pytorch():
    out, h = nn.RNN(3, 2)(nb.randn(2, 0, 3))
    assert tuple(out.shape) == (2, 0, 2) and tuple(h.shape) == (1, 0, 2)


# ---- class 9: optimizer options -----------------------------------------------------------------
def _params():
    return [nn.Parameter(nb.randn(2))]


OPTIONS = {
    "SGD": (optim.SGD, {"lr": 0.1}, ["lr", "momentum", "weight_decay"]),
    "Adam": (optim.Adam, {}, ["lr", "eps", "weight_decay"]),
    "AdamW": (optim.AdamW, {}, ["lr", "eps", "weight_decay"]),
    "RMSprop": (optim.RMSprop, {}, ["lr", "alpha", "eps", "weight_decay", "momentum"]),
    "Adagrad": (optim.Adagrad, {}, ["lr", "lr_decay", "weight_decay",
                                    "initial_accumulator_value", "eps"]),
}
CASES = [(name, option) for name, (_, _, options) in OPTIONS.items() for option in options]


@pytest.mark.parametrize("name,option", CASES)
@pytest.mark.parametrize("bad", ["0.1", None, [0.1], nb.tensor([0.1, 0.2])],
                         ids=["str", "None", "list", "tensor"])
def test_an_option_that_is_not_a_number_is_a_type_error_naming_it(name, option, bad):
    cls, base, _ = OPTIONS[name]
    with pytest.raises(TypeError, match=option):
        cls(_params(), **{**base, option: bad})


@pytest.mark.parametrize("name,option", CASES)
@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_an_option_out_of_range_is_a_value_error_with_pytorchs_words(name, option, bad):
    cls, base, _ = OPTIONS[name]
    words = {"lr": "Invalid learning rate", "eps": "Invalid epsilon value"}.get(
        option, f"Invalid {option} value")
    with pytest.raises(ValueError, match=words):
        cls(_params(), **{**base, option: bad})


def test_negative_learning_rate_message_is_pytorchs():
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -0\.1"):
        optim.SGD(_params(), lr=-0.1)


@pytest.mark.parametrize("betas,error", [((1.0, 0.9), ValueError), ((0.9, 1.0), ValueError),
                                         ((-0.1, 0.9), ValueError), ((float("nan"), 0.9),
                                                                     ValueError),
                                         (("0.9", 0.9), TypeError), (0.9, TypeError),
                                         ("ab", TypeError), ((0.9,), ValueError)])
@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_adam_betas_must_be_two_numbers_in_0_1(cls, betas, error):
    with pytest.raises(error, match="beta"):
        cls(_params(), betas=betas)


def test_option_types_match_pytorch():
    torch = pytest.importorskip("torch")
    for kwargs, error in (({"lr": "0.1"}, TypeError), ({"lr": -0.1}, ValueError),
                          ({"lr": 0.1, "momentum": -1}, ValueError)):
        with pytest.raises(error):
            torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], **kwargs)
        with pytest.raises(error):
            optim.SGD(_params(), **kwargs)


@pytest.mark.parametrize("group", [{"lr": "0.1"}, {"lr": -1.0}, {"momentum": -0.5}])
def test_a_parameter_group_option_is_checked_like_the_default(group):
    opt = optim.SGD(_params(), lr=0.1)
    error = TypeError if isinstance(next(iter(group.values())), str) else ValueError
    with pytest.raises(error):
        opt.add_param_group({"params": _params(), **group})
    with pytest.raises(error):
        optim.SGD([{"params": _params(), **group}], lr=0.1)


def test_a_loaded_state_dict_with_a_bad_option_is_refused_and_changes_nothing():
    opt = optim.SGD(_params(), lr=0.1, momentum=0.9)
    saved = opt.state_dict()
    saved["param_groups"][0]["lr"] = "fast"
    with pytest.raises(TypeError, match="lr"):
        opt.load_state_dict(saved)
    assert opt.param_groups[0]["lr"] == 0.1


# ---- class 9: state dicts that are not dicts ----------------------------------------------------
@pytest.mark.parametrize("bad", [None, [1, 2], "weights.pt", 3])
def test_module_load_state_dict_of_a_non_mapping_is_pytorchs_type_error(bad):
    with pytest.raises(TypeError, match=r"Expected state_dict to be dict-like, got <class "):
        nn.Linear(2, 2).load_state_dict(bad)


@pytest.mark.parametrize("bad", [None, [1, 2], "opt.pt"])
def test_optimizer_load_state_dict_of_a_non_mapping_is_a_type_error(bad):
    with pytest.raises(TypeError, match=r"Expected state_dict to be dict-like, got <class "):
        optim.SGD(_params(), lr=0.1).load_state_dict(bad)


@pytest.mark.parametrize("bad", [{}, {"state": {}}, {"param_groups": []}])
def test_optimizer_load_state_dict_without_its_entries_is_pytorchs_key_error(bad):
    with pytest.raises(KeyError):
        optim.SGD(_params(), lr=0.1).load_state_dict(bad)


@pytest.mark.parametrize("bad", [
    {"state": {}, "param_groups": [{"lr": 0.1}]},
    {"state": {}, "param_groups": ["group"]},
    {"state": [], "param_groups": [{"lr": 0.1, "params": [0]}]},
    {"state": {0: "buffer"}, "param_groups": [{"lr": 0.1, "params": [0]}]},
])
def test_optimizer_load_state_dict_with_a_malformed_layout_names_what_is_wrong(bad):
    with pytest.raises((TypeError, ValueError, KeyError)) as info:
        optim.SGD(_params(), lr=0.1).load_state_dict(bad)
    assert not isinstance(info.value, AttributeError)
    assert "state" in str(info.value) or "param" in str(info.value)


def test_loaded_state_of_the_wrong_shape_is_refused_before_a_step_uses_it():
    opt = optim.SGD(_params(), lr=0.1, momentum=0.9)
    saved = {"state": {0: {"momentum_buffer": nb.zeros(5)}},
             "param_groups": [dict(opt.param_groups[0], params=[0])]}
    with pytest.raises(ValueError, match=r"momentum_buffer.*\(2,\).*got \(5,\)"):
        opt.load_state_dict(saved)


def _after_one_step(make):
    params = _params()
    opt = make(params)
    params[0].grad = nb.ones(2)
    opt.step()
    return params, opt


@pytest.mark.parametrize("make,drop", [(lambda p: optim.Adam(p), "exp_avg"),
                                       (lambda p: optim.RMSprop(p), "square_avg"),
                                       (lambda p: optim.Adagrad(p), "sum")],
                         ids=["Adam", "RMSprop", "Adagrad"])
def test_loaded_state_lacking_an_entry_the_update_needs_is_refused(make, drop):
    params, opt = _after_one_step(make)
    saved = opt.state_dict()
    del saved["state"][0][drop]
    fresh = make(params)
    with pytest.raises(ValueError, match=f"lacks {drop}"):
        fresh.load_state_dict(saved)


@pytest.mark.parametrize("make,switch", [
    (lambda p: optim.Adam(p, lr=0.1), {"amsgrad": True}),
    (lambda p: optim.RMSprop(p, lr=0.1), {"momentum": 0.5}),
    (lambda p: optim.RMSprop(p, lr=0.1), {"centered": True})],
    ids=["Adam amsgrad", "RMSprop momentum", "RMSprop centered"])
def test_an_option_switched_on_after_the_first_step_starts_its_state(make, switch):
    params, opt = _after_one_step(make)
    opt.param_groups[0].update(switch)
    opt.step()
    assert all(math.isfinite(v) for v in params[0].tolist())


def test_a_module_loads_mapping_types_other_than_dict():
    from collections import OrderedDict
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    b.load_state_dict(OrderedDict(a.state_dict()))
    assert math.isclose(float((a.weight - b.weight).abs().sum()), 0.0)


# ---- nn.init and the schedulers: arguments PyTorch refuses -------------------------------------
@pytest.mark.parametrize("call,error", [
    (lambda w: nn.init.uniform_(w, 1.0, 0.0), RuntimeError),
    (lambda w: nn.init.uniform_(w, float("nan"), 1.0), RuntimeError),
    (lambda w: nn.init.uniform_(w, 0.0, float("inf")), RuntimeError),
    (lambda w: nn.init.uniform_(w, "0", 1.0), TypeError),
    (lambda w: nn.init.normal_(w, 0.0, -1.0), RuntimeError),
    (lambda w: nn.init.normal_(w, 0.0, float("nan")), RuntimeError),
    (lambda w: nn.init.normal_(w, 0.0, "1"), TypeError),
    (lambda w: nn.init.constant_(w, "a"), TypeError),
    (lambda w: nn.init.constant_(w, None), TypeError),
    (lambda w: nn.init.xavier_uniform_(w, gain=-1.0), RuntimeError),
], ids=["uniform a>b", "uniform nan", "uniform inf", "uniform str", "normal std<0",
        "normal std nan", "normal std str", "constant str", "constant None", "xavier gain<0"])
def test_init_refuses_what_pytorch_refuses_and_leaves_the_tensor_unchanged(call, error):
    w = nb.zeros(2, 2)
    with pytest.raises(error):
        call(w)
    assert w.tolist() == [[0.0, 0.0], [0.0, 0.0]]


@pytest.mark.parametrize("fn", [nn.init.xavier_uniform_, nn.init.xavier_normal_,
                                nn.init.kaiming_uniform_, nn.init.kaiming_normal_,
                                nn.init.uniform_, nn.init.normal_, nn.init.zeros_])
def test_init_of_something_that_is_not_a_tensor_is_a_type_error(fn):
    with pytest.raises(TypeError, match="Tensor"):
        fn([[1.0, 2.0], [3.0, 4.0]])


def _scheduler_optimizer():
    return optim.SGD(_params(), lr=0.1)


@pytest.mark.parametrize("make,error", [
    (lambda o: optim.lr_scheduler.StepLR(o, step_size="a"), TypeError),
    (lambda o: optim.lr_scheduler.StepLR(o, step_size=2.5), ValueError),
    (lambda o: optim.lr_scheduler.StepLR(o, step_size=2, gamma="x"), TypeError),
    (lambda o: optim.lr_scheduler.ExponentialLR(o, gamma=None), TypeError),
    (lambda o: optim.lr_scheduler.ExponentialLR(o, gamma=float("nan")), ValueError),
    (lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max="10"), TypeError),
    (lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError),
], ids=["step_size str", "step_size 2.5", "gamma str", "gamma None", "gamma nan",
        "T_max str", "T_max 0"])
def test_scheduler_options_are_checked_when_it_is_made(make, error):
    opt = _scheduler_optimizer()
    with pytest.raises(error):
        make(opt)
    assert opt.param_groups[0]["lr"] == 0.1


def test_scheduler_load_state_dict_takes_only_a_mapping_of_its_own_entries():
    scheduler = optim.lr_scheduler.StepLR(_scheduler_optimizer(), step_size=2)
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        scheduler.load_state_dict(None)
    with pytest.raises(KeyError, match="optimizer"):
        scheduler.load_state_dict({"optimizer": None})
    saved = scheduler.state_dict()
    scheduler.step()
    scheduler.load_state_dict(saved)
    assert scheduler.last_epoch == saved["last_epoch"]
