"""Keras losses and metrics by their string names, with Keras's formulas: per-sample
mean over the last axis, probabilities clipped to [1e-7, 1 - 1e-7]; 'accuracy' picks
binary, categorical or sparse from the shapes; the fused softmax path gives the same
values as the clipped formula."""
import numpy as np
import pytest

import numbanet as nb
from numbanet import keras
from numbanet.keras import losses, metrics
from numbanet.keras.utils import to_categorical

EPS = 1e-7
RNG = np.random.default_rng(0)


def t(a, dtype=nb.float64):
    return nb.tensor(np.asarray(a), dtype=dtype)


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_regression_losses_are_means_over_the_last_axis_then_the_batch():
    y, p = RNG.standard_normal((6, 4)), RNG.standard_normal((6, 4))
    for name in ("mse", "mean_squared_error", "MSE"):
        assert losses.get(name)(t(y), t(p)).item() == pytest.approx(((y - p) ** 2).mean())
    for name in ("mae", "mean_absolute_error"):
        assert losses.get(name)(t(y), t(p)).item() == pytest.approx(np.abs(y - p).mean())
    per_sample = losses.mean_squared_error(t(y), t(p)).numpy()
    np.testing.assert_allclose(per_sample, ((y - p) ** 2).mean(-1))


def test_crossentropies_clip_probabilities_like_keras():
    labels = RNG.integers(0, 5, 8)
    probs = softmax(RNG.standard_normal((8, 5)))
    probs[0] = [1.0, 0, 0, 0, 0]                       # saturated: the clipping shows
    onehot = to_categorical(labels, 5)
    clipped = np.clip(probs / probs.sum(-1, keepdims=True), EPS, 1 - EPS)
    expected = -np.log(clipped[np.arange(8), labels]).mean()
    cat = losses.get("categorical_crossentropy")(t(onehot), t(probs)).item()
    sparse = losses.get("sparse_categorical_crossentropy")(t(labels, nb.int64), t(probs)).item()
    assert cat == pytest.approx(expected, rel=1e-12)
    assert sparse == pytest.approx(expected, rel=1e-12)
    y = RNG.integers(0, 2, (8, 3)).astype(float)
    q = np.clip(1 / (1 + np.exp(-RNG.standard_normal((8, 3)))), EPS, 1 - EPS)
    bce = -(y * np.log(q) + (1 - y) * np.log(1 - q)).mean()
    assert losses.get("binary_crossentropy")(t(y), t(q)).item() == pytest.approx(bce, rel=1e-12)


def test_from_logits_variants():
    z = RNG.standard_normal((6, 4))
    labels = RNG.integers(0, 4, 6)
    expected = -np.log(softmax(z)[np.arange(6), labels]).mean()
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    assert loss(t(labels, nb.int64), t(z)).item() == pytest.approx(expected, rel=1e-12)
    loss = losses.CategoricalCrossentropy(from_logits=True)
    assert loss(t(to_categorical(labels, 4)), t(z)).item() == pytest.approx(expected, rel=1e-12)
    y = RNG.integers(0, 2, (6, 4)).astype(float)
    q = 1 / (1 + np.exp(-z))
    bce = -(y * np.log(q) + (1 - y) * np.log(1 - q)).mean()
    loss = losses.BinaryCrossentropy(from_logits=True)
    assert loss(t(y), t(z)).item() == pytest.approx(bce, rel=1e-10)


@pytest.mark.parametrize("loss_name,targets", [
    ("sparse_categorical_crossentropy", lambda lab: lab),
    ("categorical_crossentropy", lambda lab: to_categorical(lab, 5)),
])
def test_fused_softmax_path_equals_the_clipped_formula(loss_name, targets):
    """A model ending in Dense(softmax) is trained on its logits; the loss it reports is
    the loss of its probabilities (no saturation here)."""
    x = RNG.standard_normal((16, 3))
    labels = RNG.integers(0, 5, 16)
    model = keras.Sequential([keras.Input((3,), dtype="float64"),
                              keras.layers.Dense(5, activation="softmax", dtype="float64")])
    model.compile(optimizer="sgd", loss=loss_name)
    assert model._fuses_softmax
    reported = model.evaluate(x, targets(labels), verbose=0)
    probs = model.predict(x, verbose=0)
    np.testing.assert_allclose(probs.sum(-1), 1, rtol=1e-12)
    clipped = np.clip(probs, EPS, 1 - EPS)
    assert reported == pytest.approx(-np.log(clipped[np.arange(16), labels]).mean(), rel=1e-12)


def test_unknown_loss_and_metric_names_list_the_valid_ones():
    model = keras.Sequential([keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"Unknown loss 'msee'.*'mean_squared_error'.*'mse'"):
        model.compile(optimizer="sgd", loss="msee")
    with pytest.raises(ValueError, match=r"Unknown metric 'acuracy'.*'accuracy'"):
        model.compile(optimizer="sgd", loss="mse", metrics=["acuracy"])


def test_accuracy_picks_binary_sparse_or_categorical_from_the_shapes():
    assert metrics.get("accuracy", (10, 1), (None, 1)).fn is metrics.binary_accuracy
    assert metrics.get("accuracy", (10,), (None, 5)).fn is metrics.sparse_categorical_accuracy
    assert metrics.get("acc", (10, 1), (None, 5)).fn is metrics.sparse_categorical_accuracy
    assert metrics.get("accuracy", (10, 5), (None, 5)).fn is metrics.categorical_accuracy
    assert metrics.get("acc", (10, 5), (None, 5)).name == "acc"


def test_accuracy_values():
    p = np.array([[0.1, 0.7, 0.2], [0.8, 0.1, 0.1], [0.3, 0.3, 0.4], [0.5, 0.4, 0.1]])
    labels = np.array([1, 0, 0, 1])
    assert metrics.sparse_categorical_accuracy(t(labels, nb.int64), t(p)).tolist() == \
        [1, 1, 0, 0]
    assert metrics.categorical_accuracy(t(to_categorical(labels, 3)), t(p)).tolist() == \
        [1, 1, 0, 0]
    y = np.array([[1.0], [0.0], [1.0]])
    q = np.array([[0.6], [0.7], [0.2]])
    assert metrics.binary_accuracy(t(y), t(q)).tolist() == [1, 0, 0]


def test_reported_metrics_are_means_over_the_epochs_samples():
    """Batches of 4, 4 and 2: the epoch accuracy weighs each sample once."""
    x = np.eye(10)
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1, 1, 1])
    model = keras.Sequential([keras.Input((10,), dtype="float64"),
                              keras.layers.Dense(2, activation="softmax", dtype="float64")])
    kernel = np.zeros((10, 2))
    kernel[:, 1] = 1.0                                    # predicts class 1 for every sample
    model.set_weights([kernel, np.zeros(2)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, labels, batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert history.history["accuracy"] == [pytest.approx(0.6)]
    p1 = np.exp(1) / (1 + np.exp(1))
    expected = -(6 * np.log(p1) + 4 * np.log(1 - p1)) / 10
    assert history.history["loss"] == [pytest.approx(expected)]


def test_to_categorical_like_keras():
    out = to_categorical([0, 2, 1])
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    assert out.dtype == np.float64
    assert to_categorical(np.array([[1], [3]]), 5).shape == (2, 5)
    with pytest.raises(ValueError, match=r"class labels must be in \[0, 2\]"):
        to_categorical([0, 3], 3)
