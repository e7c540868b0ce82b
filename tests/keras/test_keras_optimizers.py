"""Keras optimizers follow Keras 3's published update rules and defaults (not PyTorch's):
checked in float64 against the rules written out in NumPy, step by step."""
import math
import warnings

import numpy as np
import pytest

import numbanet as nb
from numbanet import keras
from numbanet.keras import optimizers

STEPS = 12
RNG = np.random.default_rng(0)
P0 = RNG.standard_normal((5, 3))
GRADS = [RNG.standard_normal((5, 3)) for _ in range(STEPS)]


# ---- Keras 3's rules (keras/src/optimizers/{sgd,adam,rmsprop}.py), in NumPy ---------------
def keras_sgd(lr=0.01, momentum=0.0, nesterov=False):
    p, v = P0.copy(), np.zeros_like(P0)
    for g in GRADS:
        if momentum:
            v = momentum * v - lr * g
            p = p + (momentum * v - lr * g if nesterov else v)
        else:
            p = p - lr * g
    return p


def keras_adam(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    p, m, v, v_hat = P0.copy(), np.zeros_like(P0), np.zeros_like(P0), np.zeros_like(P0)
    for t, g in enumerate(GRADS, 1):
        alpha = lr * math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
        m = m + (g - m) * (1 - beta_1)
        v = v + (g * g - v) * (1 - beta_2)
        if amsgrad:
            v_hat = np.maximum(v_hat, v)
        p = p - alpha * m / (np.sqrt(v_hat if amsgrad else v) + epsilon)
    return p


def keras_rmsprop(lr=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    p, v, a, b = P0.copy(), np.zeros_like(P0), np.zeros_like(P0), np.zeros_like(P0)
    for g in GRADS:
        v = rho * v + (1 - rho) * g * g
        if centered:
            a = rho * a + (1 - rho) * g
            denominator = v - a * a + epsilon
        else:
            denominator = v + epsilon
        increment = lr * g / np.sqrt(denominator)
        if momentum > 0:
            b = momentum * b + increment
            p = p - b
        else:
            p = p - increment
    return p


def run(optimizer):
    p = nb.nn.Parameter(nb.tensor(P0, dtype=nb.float64))
    for g in GRADS:
        optimizer.apply_gradients([(nb.tensor(g, dtype=nb.float64), p)])
    assert optimizer.iterations == STEPS
    return p.detach().numpy()


@pytest.mark.parametrize("kwargs", [dict(), dict(learning_rate=0.1, momentum=0.9),
                                    dict(learning_rate=0.05, momentum=0.5, nesterov=True)])
def test_sgd_follows_keras_momentum_rule(kwargs):
    np.testing.assert_allclose(run(optimizers.SGD(**kwargs)), keras_sgd(**{
        "lr": kwargs.get("learning_rate", 0.01), "momentum": kwargs.get("momentum", 0.0),
        "nesterov": kwargs.get("nesterov", False)}), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs", [dict(), dict(learning_rate=0.05, beta_1=0.8, beta_2=0.99),
                                    dict(learning_rate=0.02, epsilon=1e-3),
                                    dict(learning_rate=0.05, amsgrad=True)])
def test_adam_follows_keras_rule(kwargs):
    reference = keras_adam(**{("lr" if k == "learning_rate" else k): v for k, v in kwargs.items()})
    np.testing.assert_allclose(run(optimizers.Adam(**kwargs)), reference, rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("kwargs", [dict(), dict(learning_rate=0.01, rho=0.8, momentum=0.9),
                                    dict(learning_rate=0.01, centered=True, epsilon=1e-4),
                                    dict(learning_rate=0.01, momentum=0.5, centered=True)])
def test_rmsprop_follows_keras_rule(kwargs):
    reference = keras_rmsprop(**{("lr" if k == "learning_rate" else k): v
                                 for k, v in kwargs.items()})
    np.testing.assert_allclose(run(optimizers.RMSprop(**kwargs)), reference, rtol=1e-10,
                               atol=1e-12)


def test_keras_defaults():
    sgd, adam, rms = optimizers.SGD(), optimizers.Adam(), optimizers.RMSprop()
    assert (sgd.learning_rate, sgd.momentum, sgd.nesterov) == (0.01, 0.0, False)
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == \
        (0.001, 0.9, 0.999, 1e-7)
    assert (rms.learning_rate, rms.rho, rms.momentum, rms.epsilon, rms.centered) == \
        (0.001, 0.9, 0.0, 1e-7, False)


def test_optimizers_by_name_any_case_and_unknown_names_list_the_valid_ones():
    assert isinstance(optimizers.get("Adam"), optimizers.Adam)
    assert isinstance(optimizers.get("sgd"), optimizers.SGD)
    assert isinstance(optimizers.get("RMSprop"), optimizers.RMSprop)
    model = keras.Sequential([keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"Unknown optimizer 'adamx'.*\['adam', 'rmsprop', "
                                         r"'sgd'\]"):
        model.compile(optimizer="adamx", loss="mse")
    with pytest.raises(TypeError, match="numbanet.optim optimizer follows PyTorch"):
        model.compile(optimizer=nb.optim.SGD([nb.zeros(1, requires_grad=True)], lr=0.1),
                      loss="mse")


def test_lr_is_the_keras_1_name_of_learning_rate():
    with pytest.warns(DeprecationWarning, match=r"SGD\(learning_rate=0.5\)"):
        sgd = optimizers.SGD(lr=0.5)
    assert sgd.learning_rate == 0.5
    with pytest.raises(TypeError, match="decay argument was removed in Keras 3"):
        optimizers.SGD(learning_rate=0.1, decay=1e-6)


def test_clipping_and_weight_decay():
    p = nb.nn.Parameter(nb.tensor([1.0, 1.0], dtype=nb.float64))
    optimizers.SGD(learning_rate=1.0, clipvalue=0.5).apply_gradients(
        [(nb.tensor([2.0, -0.1], dtype=nb.float64), p)])
    np.testing.assert_allclose(p.detach().numpy(), [0.5, 1.1])
    p = nb.nn.Parameter(nb.tensor([0.0, 0.0], dtype=nb.float64))
    optimizers.SGD(learning_rate=1.0, clipnorm=1.0).apply_gradients(
        [(nb.tensor([3.0, 4.0], dtype=nb.float64), p)])
    np.testing.assert_allclose(p.detach().numpy(), [-0.6, -0.8])
    p = nb.nn.Parameter(nb.tensor([2.0], dtype=nb.float64))
    optimizers.SGD(learning_rate=0.1, weight_decay=0.5).apply_gradients(
        [(nb.tensor([0.0], dtype=nb.float64), p)])
    np.testing.assert_allclose(p.detach().numpy(), [2.0 - 2.0 * 0.5 * 0.1])


def test_fit_follows_the_rule_too():
    """The same rule through fit: a float64 linear model on a least-squares problem."""
    x = RNG.standard_normal((8, 5))
    y = RNG.standard_normal((8, 3))
    model = keras.Sequential([keras.Input((5,), dtype="float64"),
                              keras.layers.Dense(3, dtype="float64")])
    kernel0 = RNG.standard_normal((5, 3))
    model.set_weights([kernel0, np.zeros(3)])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1, momentum=0.9), loss="mse")
    model.fit(x, y, epochs=5, batch_size=8, shuffle=False, verbose=0)
    k, b, vk, vb = kernel0.copy(), np.zeros(3), np.zeros((5, 3)), np.zeros(3)
    for _ in range(5):
        d = 2 * (x @ k + b - y) / y.size            # gradient of mean((xk + b - y)^2)
        vk, vb = 0.9 * vk - 0.1 * (x.T @ d), 0.9 * vb - 0.1 * d.sum(0)
        k, b = k + vk, b + vb
    got_k, got_b = model.get_weights()
    np.testing.assert_allclose(got_k, k, rtol=1e-10)
    np.testing.assert_allclose(got_b, b, rtol=1e-10, atol=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        optimizers.get({"class_name": "SGD", "config": model.optimizer.get_config()})
