"""Conformance with PyTorch of the convolutional, normalization, embedding and recurrent
layers: a PyTorch ``state_dict`` converted to NumPy loads into the numbanet layer of the
same arguments, and then the same input gives the same output, the same input gradient
and the same weight gradients (float64, CPU). Layers print like PyTorch's.

The recurrent layers also have their gradients checked by central differences here, on
both devices (the time loop is plain autograd, so tiny shapes suffice).
"""
from __future__ import annotations

import numpy as np
import pytest

import numbanet as nb
from numbanet import nn
from numbanet.autograd import gradcheck

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(7)


def load_from_torch(ours: nn.Module, theirs) -> None:
    ours.load_state_dict({k: nb.tensor(v.detach().cpu().numpy())
                          for k, v in theirs.state_dict().items()})


def as_tensors(array):
    return (nb.tensor(array, dtype=nb.float64, requires_grad=True),
            torch.tensor(array, dtype=torch.float64, requires_grad=True))


def first(out):
    """The tensor to compare of a layer's output (a RNN's output sequence)."""
    return out[0] if isinstance(out, tuple) else out


def assert_same_training_step(ours, theirs, array, atol=1e-10):
    x, xt = as_tensors(array)
    out, ref = first(ours(x)), first(theirs(xt))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=atol,
                               rtol=1e-9)
    seed = RNG.normal(size=tuple(ref.shape))
    out.backward(nb.tensor(seed))
    ref.backward(torch.tensor(seed))
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), atol=atol, rtol=1e-9)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(),
                                   atol=atol, rtol=1e-9, err_msg=name)


CASES = {
    "Conv2d": (lambda m: m.Conv2d(3, 4, 3), (2, 3, 7, 6)),
    "Conv2d stride 2 padding 1": (lambda m: m.Conv2d(3, 4, 3, stride=2, padding=1),
                                  (2, 3, 7, 6)),
    "Conv2d stride (2, 1) padding (0, 2) dilation 2": (
        lambda m: m.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(0, 2), dilation=2),
        (1, 2, 9, 5)),
    "Conv2d groups 2 no bias": (lambda m: m.Conv2d(4, 6, 3, padding=1, groups=2, bias=False),
                                (2, 4, 5, 5)),
    "Conv2d depthwise": (lambda m: m.Conv2d(3, 3, 3, groups=3), (1, 3, 5, 4)),
    "Conv2d padding same": (lambda m: m.Conv2d(2, 3, 4, padding="same"), (1, 2, 5, 6)),
    "MaxPool2d": (lambda m: m.MaxPool2d(2), (2, 3, 6, 7)),
    "MaxPool2d 3 stride 2 padding 1 ceil": (
        lambda m: m.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (1, 2, 7, 6)),
    "MaxPool2d dilation 2": (lambda m: m.MaxPool2d(2, stride=1, dilation=2), (1, 2, 5, 5)),
    "AvgPool2d": (lambda m: m.AvgPool2d(2), (2, 3, 6, 7)),
    "AvgPool2d 3 stride 2 padding 1 ceil": (
        lambda m: m.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (1, 2, 7, 6)),
    "AvgPool2d exclude padding": (
        lambda m: m.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (1, 2, 6, 6)),
    "BatchNorm2d": (lambda m: m.BatchNorm2d(3), (4, 3, 3, 2)),
    "BatchNorm1d (N, C)": (lambda m: m.BatchNorm1d(3, affine=False), (5, 3)),
    "BatchNorm1d (N, C, L)": (lambda m: m.BatchNorm1d(3, momentum=None), (2, 3, 4)),
    "RNN": (lambda m: m.RNN(3, 4), (5, 2, 3)),
    "RNN relu 2 layers batch_first": (
        lambda m: m.RNN(3, 4, num_layers=2, nonlinearity="relu", batch_first=True),
        (2, 5, 3)),
    "LSTM": (lambda m: m.LSTM(3, 4), (5, 2, 3)),
    "LSTM 2 layers batch_first": (lambda m: m.LSTM(3, 4, num_layers=2, batch_first=True),
                                  (2, 5, 3)),
    "LSTM bidirectional no bias": (
        lambda m: m.LSTM(3, 2, num_layers=2, bias=False, bidirectional=True), (4, 2, 3)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_layer_with_torch_weights_matches_torch_in_value_and_gradients(name):
    make, shape = CASES[name]
    theirs = make(torch.nn).double()
    ours = make(nn).double()
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert repr(ours) == repr(theirs)
    load_from_torch(ours, theirs)
    assert_same_training_step(ours, theirs, RNG.normal(size=shape) * 2 + 0.5)


@pytest.mark.parametrize("name", ["BatchNorm2d", "BatchNorm1d (N, C, L)"])
def test_batchnorm_running_stats_and_eval_mode_match_torch(name):
    make, shape = CASES[name]
    theirs, ours = make(torch.nn).double(), make(nn).double()
    for _ in range(3):  # training steps update the running statistics
        assert_same_training_step(ours, theirs, RNG.normal(size=shape) * 3 + 1)
    for key in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(ours.state_dict()[key].numpy(),
                                   theirs.state_dict()[key].numpy(), rtol=1e-12)
    ours.eval(), theirs.eval()
    assert_same_training_step(ours, theirs, RNG.normal(size=shape))
    assert ours.num_batches_tracked.item() == 3


def test_lstm_with_initial_state_returns_torch_final_states():
    theirs = torch.nn.LSTM(3, 4, num_layers=2).double()
    ours = nn.LSTM(3, 4, num_layers=2).double()
    load_from_torch(ours, theirs)
    x, h0, c0 = (RNG.normal(size=s) for s in ((5, 2, 3), (2, 2, 4), (2, 2, 4)))
    out, (h, c) = ours(nb.tensor(x), (nb.tensor(h0), nb.tensor(c0)))
    ref, (ht, ct) = theirs(torch.tensor(x), (torch.tensor(h0), torch.tensor(c0)))
    for a, b in ((out, ref), (h, ht), (c, ct)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-9,
                                   atol=1e-12)
    unbatched, (hu, _) = ours(nb.tensor(x[:, 0]))  # (L, input_size): no batch dim
    assert unbatched.shape == (5, 4) and hu.shape == (2, 4)


def test_embedding_with_torch_weights_matches_torch():
    theirs = torch.nn.Embedding(6, 3, padding_idx=1).double()
    ours = nn.Embedding(6, 3, padding_idx=1).double()
    assert repr(ours) == repr(theirs)
    assert float(np.abs(ours.weight.detach().numpy()[1]).max()) == 0.0
    load_from_torch(ours, theirs)
    idx = np.array([[0, 1, 5], [1, 2, 2]])
    out, ref = ours(nb.tensor(idx)), theirs(torch.tensor(idx))
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy())
    seed = RNG.normal(size=ref.shape)
    out.backward(nb.tensor(seed)), ref.backward(torch.tensor(seed))
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy())


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("kind", ["RNN", "LSTM"])
def test_recurrent_grads_match_central_difference(device, kind):
    nb.manual_seed(0)
    layer = getattr(nn, kind)(2, 2, num_layers=2 if device == "cpu" else 1,
                              batch_first=True).double().to(device)
    x = nb.tensor(RNG.normal(size=(1, 3 if device == "cpu" else 2, 2)), dtype=nb.float64,
                  device=device, requires_grad=True)
    names = [name for name, _ in layer.named_parameters()]

    def fn(x, *values):  # the layer run with ``values`` in place of its parameters
        for name, value in zip(names, values):
            layer._parameters[name] = value
        out, state = layer(x)
        return out, state[0] if kind == "LSTM" else state
    # on CUDA (the simulator is slow) the weight_hh's and the input's gradients only
    values = [p.detach().clone().requires_grad_(device == "cpu" or "weight_hh" in name)
              for name, p in layer.named_parameters()]
    assert gradcheck(fn, (x, *values), eps=1e-6, atol=1e-5, rtol=1e-3)
